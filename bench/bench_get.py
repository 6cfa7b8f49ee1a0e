"""Wall time of a whole `gitkube get pods -l app=x` process over a state file with 10,000 pods.

Why: `get` is what people type most; the budget is 0.5 s for the entire process (interpreter start,
imports, opening the store, the indexed selector query, printing). 100 of the pods carry app=x.
Run: python3 bench/bench_get.py [PODS] [RUNS]   (prints every run and the median)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gitkube.store import open_store  # noqa: E402

BUDGET_S = 0.5


def pod(i: int) -> dict:
    app = "x" if i % 100 == 0 else f"app-{i % 97}"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"pod-{i:05d}", "namespace": "default", "labels": {"app": app, "shard": str(i % 10)}},
        "spec": {"nodeName": "local", "containers": [{"name": "main", "image": "busybox:1.36",
                                                      "ports": [{"containerPort": 8080}]}]},
        "status": {"phase": "Running", "podIP": f"10.1.{i // 250}.{i % 250}", "containerStatuses": [
            {"name": "main", "ready": True, "restartCount": 0,
             "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}}]},
    }


def fill(path: str, pods: int) -> None:
    """All pods in one transaction, through the store itself."""
    store = open_store(path)
    with store.atomic():
        store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
        for i in range(pods):
            store.create(pod(i))
    store.close()


def time_get(path: str) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "gitkube", "--state", path, "get", "pods", "-l", "app=x"]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout


def run(quick: bool = False, pods: int = 10_000, runs: int | None = None) -> dict:
    """For `python3 -m bench`: median wall time of the whole `get pods -l app=x` process."""
    runs = runs or (3 if quick else 5)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "state.db")
        t0 = time.perf_counter()
        fill(path, pods)
        fill_s = time.perf_counter() - t0
        time_get(path)  # warm the OS file cache and the bytecode cache
        times, out = [], ""
        for _ in range(runs):
            elapsed, out = time_get(path)
            times.append(elapsed)
    return {"pods": pods, "median_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times],
            "rows": len(out.splitlines()) - 1, "budget_s": BUDGET_S, "fill_s": round(fill_s, 2)}


def main() -> int:
    pods = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "state.db")
        t0 = time.perf_counter()
        fill(path, pods)
        print(f"filled {pods} pods in {time.perf_counter() - t0:.2f} s")
        time_get(path)  # warm the OS file cache and the bytecode cache
        times = []
        for _ in range(runs):
            elapsed, out = time_get(path)
            times.append(elapsed)
        rows = len(out.splitlines()) - 1
        median = statistics.median(times)
        print("runs: " + " ".join(f"{t:.3f}" for t in times) + " s")
        print(f"median {median:.3f} s for {rows} rows (budget {BUDGET_S} s): {'ok' if median <= BUDGET_S else 'OVER'}")
    return 0 if median <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
