"""`apply` and `diff` as a user runs them (whole CLI processes, real SQLite state file).

Targets from the store issue: apply of 1,000 new objects ≤ 2 s; diff of 10,000 unchanged
objects ≤ 3 s. Also reported: apply of 10,000 new objects and a no-op re-apply of 10,000.
Run: python3 -m bench.bench_apply [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import write_corpus  # noqa: E402


def gitkube(state: str, *args: str, ok: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "gitkube", "--state", state, *args], capture_output=True,
                         text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if run.returncode not in ok:
        raise SystemExit(f"gitkube {' '.join(args)} failed ({run.returncode}):\n{run.stderr[-2000:]}")
    return elapsed


def measure(objects: int, tmp: str, attempts: int = 3, reapply: bool = True) -> dict:
    corpus = f"{tmp}/corpus-{objects}"
    write_corpus(corpus, objects)
    out = {}
    applies, diffs, reapplies = [], [], []
    for attempt in range(attempts):
        state = f"{tmp}/state-{objects}-{attempt}.db"
        applies.append(gitkube(state, "apply", "-f", corpus))
        diffs.append(gitkube(state, "diff", "-f", corpus))
        if reapply:
            reapplies.append(gitkube(state, "apply", "-f", corpus))
    out[f"apply_new_{objects}_s"] = round(min(applies), 3)
    out[f"diff_unchanged_{objects}_s"] = round(min(diffs), 3)
    if reapplies:
        out[f"reapply_unchanged_{objects}_s"] = round(min(reapplies), 3)
    return out


def run(quick: bool = False) -> dict:
    """Best of 3 attempts per size (quick: 1 attempt, no re-apply)."""
    result: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        result.update(measure(1_000, tmp, 1 if quick else 3, reapply=not quick))
        result.update(measure(10_000, tmp, 1 if quick else 3, reapply=not quick))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    r = run(ap.parse_args().quick)
    for k, v in r.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
