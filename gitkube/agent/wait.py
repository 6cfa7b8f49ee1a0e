"""`apply --wait`: drive the agent in-process (or watch another agent's work) until every
applied object is ready, one of them failed for good, or the timeout passes."""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from gitkube.agent.readiness import Verdict, verdict
from gitkube.errors import UsageError
from gitkube.store.base import ObjectKey, Store

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Go-style durations as kubectl takes them: 90s, 5m, 1h30m, 500ms; a bare number is seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise UsageError(f"invalid duration {text!r} (examples: 90s, 5m, 1h30m)")
    return total


@dataclass
class WaitResult:
    ok: bool
    verdicts: dict[ObjectKey, Verdict] = field(default_factory=dict)

    @property
    def failed(self) -> dict[ObjectKey, Verdict]:
        return {k: v for k, v in self.verdicts.items() if v.state == "failed"}

    @property
    def pending(self) -> dict[ObjectKey, Verdict]:
        return {k: v for k, v in self.verdicts.items() if v.state == "progressing"}


def wait_for(store: Store, keys: list[ObjectKey], timeout: float,
             report: Callable[[ObjectKey, Verdict], None] | None = None,
             agent_factory: Callable[[], object] | None = None) -> WaitResult:
    result = WaitResult(False)
    last: dict[ObjectKey, Verdict] = {}

    def check() -> bool:
        found = store.get_many(keys)
        done = True
        for k in keys:
            v = verdict(found.get(k))
            result.verdicts[k] = v
            if last.get(k) != v and report is not None:
                report(k, v)
            last[k] = v
            if v.state == "failed":
                return True
            if v.state != "ready":
                done = False
        return done

    if agent_factory is not None:
        agent = agent_factory()
        agent.run(until=check, timeout=timeout)
    else:
        deadline = time.monotonic() + timeout
        while not check() and time.monotonic() < deadline:
            store.wait_for_change(store.revision(), 0.5)
    result.ok = bool(result.verdicts) and all(v.state == "ready" for v in result.verdicts.values())
    return result


def plain_reporter(stream=sys.stdout) -> Callable[[ObjectKey, Verdict], None]:
    def report(key: ObjectKey, v: Verdict) -> None:
        stream.write(f"{key.kind.lower()}/{key.name}: {v.state}: {v.message}\n")
        stream.flush()

    return report
