"""Putting a RuleSet on a host: `iptables-save` to see what is there, one `iptables-restore
--noflush` that replaces gitkube's chains (declared chains are flushed and refilled, stale ones
deleted, jumps from the built-in chains added or removed) in one transaction per table, and a hash
of gitkube's part of `iptables-save` to notice when someone flushed or edited it.

Commands run through the node's connection as argument lists; the rules travel on stdin.
Only one cluster's chains (named `GK-<tag>-*`) and built-in rules jumping to them are ever touched;
`remove_all` with prefix `GK-` removes every gitkube chain of every cluster.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Protocol

from gitkube.errors import TransientError
from gitkube.proxy.rules import PREFIX, RuleSet

SAVE = ["iptables-save"]
RESTORE = ["iptables-restore", "-w", "5", "--noflush"]
TABLES = ("nat", "filter")


class Runner(Protocol):
    def run(self, argv: list[str], input: bytes | None = None, timeout: float = 30) -> tuple[int, bytes, bytes]: ...


@dataclass
class Saved:
    """gitkube's part of one `iptables-save`: per table, our chains and the rules touching them."""

    chains: dict[str, list[str]] = field(default_factory=dict)  # table -> our chain names
    rules: dict[str, list[str]] = field(default_factory=dict)  # table -> our "-A GK-..." lines
    jumps: dict[str, list[str]] = field(default_factory=dict)  # table -> "-A BUILTIN ... -j GK-..." lines

    def digest(self) -> str:
        h = hashlib.sha256()
        for table in TABLES:
            for part in (self.chains, self.rules, self.jumps):
                h.update("\n".join(part.get(table, [])).encode() + b"\0")
        return h.hexdigest()

    @property
    def empty(self) -> bool:
        return not any(self.chains.values()) and not any(self.jumps.values())


def parse_save(text: str, prefix: str = PREFIX) -> Saved:
    """Pick the chains named `prefix*`, their rules and the jumps to them out of `iptables-save`."""
    saved = Saved()
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            continue
        if table not in TABLES:
            continue
        if line.startswith(":" + prefix):
            saved.chains.setdefault(table, []).append(line[1:].split()[0])
        elif line.startswith("-A " + prefix):
            saved.rules.setdefault(table, []).append(line)
        elif line.startswith("-A ") and _target(line).startswith(prefix) and not line.startswith("-A " + PREFIX):
            saved.jumps.setdefault(table, []).append(line)
    return saved


def _target(rule: str) -> str:
    words = rule.split()
    for i, w in enumerate(words[:-1]):
        if w in ("-j", "--jump", "-g", "--goto"):
            return words[i + 1]
    return ""


def restore_input(desired: RuleSet, saved: Saved) -> str:
    """The iptables-restore text taking the host from `saved` to `desired` (gitkube's part only)."""
    out = []
    for table in TABLES:
        want = desired.tables[table]
        have_chains = saved.chains.get(table, [])
        stale = [c for c in have_chains if c not in want.chains]
        wanted_jumps = [j for j in desired.jumps if j.table == table]
        kept: set[int] = set()
        drop = []
        for line in saved.jumps.get(table, []):
            hit = next((i for i, j in enumerate(wanted_jumps) if i not in kept and _same_jump(line, j.chain, j.target)
                        and _spec_matches(line, j.spec)), None)
            if hit is None:
                drop.append(line)  # unwanted, changed or duplicated
            else:
                kept.add(hit)
        missing = [j for i, j in enumerate(wanted_jumps) if i not in kept]
        if not (want.chains or stale or drop or missing):
            continue
        out.append(f"*{table}")
        out += [f":{c} - [0:0]" for c in want.chains + stale]
        out += ["-D" + line[2:] for line in drop]
        out += want.rules
        out += [f"-I {j.chain} 1 {j.spec}" for j in reversed(missing)]
        out += [f"-X {c}" for c in stale]
        out.append("COMMIT")
    return "\n".join(out) + "\n" if out else ""


def _same_jump(line: str, chain: str, target: str) -> bool:
    return line.split()[1] == chain and _target(line) == target


def _spec_matches(line: str, spec: str) -> bool:
    """Saved jumps are normalized by iptables (e.g. `-m conntrack` order kept, quotes kept); compare
    the words that identify the jump: its comment."""
    def comment(text: str) -> str:
        if '--comment "' in text:
            return text.split('--comment "', 1)[1].split('"', 1)[0]
        return ""

    return comment(line) == comment(spec)


def save(node: Runner, prefix: str = PREFIX, timeout: float = 20) -> Saved:
    rc, out, err = node.run(SAVE, timeout=timeout)
    if rc != 0:
        raise TransientError(f"iptables-save failed ({rc}): {err.decode(errors='replace').strip()[:300]}")
    return parse_save(out.decode(errors="replace"), prefix)


def restore(node: Runner, text: str, timeout: float = 30) -> None:
    rc, _, err = node.run(RESTORE, input=text.encode(), timeout=timeout)
    if rc != 0:
        raise TransientError(f"iptables-restore failed ({rc}): {err.decode(errors='replace').strip()[:500]}")


def apply(node: Runner, desired: RuleSet, prefix: str) -> str:
    """Make the host's `prefix*` chains equal `desired`; returns the digest of what is now there."""
    before = save(node, prefix)
    text = restore_input(desired, before)
    if text:
        restore(node, text)
    return save(node, prefix).digest()


def remove_all(node: Runner, prefix: str = PREFIX) -> bool:
    """Delete every `prefix*` chain and every jump to one. Returns whether anything was there."""
    before = save(node, prefix)
    if before.empty:
        return False
    restore(node, restore_input(RuleSet(), before))
    return True
