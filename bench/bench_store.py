"""Store timings behind the CLI's budgets: apply of 1,000 objects, diff of 10,000, `get -l` over 10,000.

Run: python3 bench/bench_store.py   (uses a temporary state file; prints one line per measurement)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gitkube.labels.selector import parse  # noqa: E402
from gitkube.store import ObjectKey, SqliteStore  # noqa: E402


def pod(name: str, app: str) -> dict:
    """A pod of realistic size (~600 bytes of JSON), like one a controller creates."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default",
                     "labels": {"app": app, "tier": "web", "pod-template-hash": "5d8f7c9b6"},
                     "annotations": {"gitkube.io/source": "dir:/srv/app"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
                                 "env": [{"name": "MODE", "value": "production"}],
                                 "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}}],
                 "restartPolicy": "Always", "terminationGracePeriodSeconds": 30},
    }


RESULTS: dict[str, float] = {}  # label -> median ms, filled by every measurement (for run())


def timed(label: str, fn, repeat: int = 5) -> None:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    RESULTS[f"{label} (median ms)"] = round(statistics.median(runs) * 1000, 2)
    print(f"{label:<58} median {statistics.median(runs) * 1000:8.1f} ms   min {min(runs) * 1000:8.1f} ms")


def bench_creates(directory: str) -> None:
    counter = iter(range(10**9))

    def run() -> None:
        store = SqliteStore(os.path.join(directory, f"creates-{next(counter)}.db"))
        with store.atomic():
            for i in range(1000):
                store.create(pod(f"p{i}", f"a{i % 100}"))
        store.close()

    timed("1,000 creates in one transaction (incl. open+migrate)", run)


def bench_reads(directory: str) -> None:
    store = SqliteStore(os.path.join(directory, "reads.db"))
    with store.atomic():
        for i in range(10_000):
            store.create(pod(f"p{i}", f"a{i % 100}"))
    keys = [ObjectKey("", "Pod", "default", f"p{i}") for i in range(10_000)]
    timed("get_many of 10,000", lambda: store.get_many(keys))
    selector = parse("app=a7")
    assert len(store.list("Pod", "default", selector)) == 100
    timed("list Pod/default app=a7 over 10,000 (100 match)", lambda: store.list("Pod", "default", selector),
          repeat=50)
    both = parse("app=a7,tier=web")
    timed("list app=a7,tier=web (two index pairs, 100 match)", lambda: store.list("Pod", "default", both),
          repeat=50)
    notin = parse("app notin (a7)")
    timed("list app notin (a7) (no index pair, 9,900 match)", lambda: store.list("Pod", "default", notin))
    timed("list all 10,000 pods", lambda: store.list("Pod"))
    with store.atomic():
        timed("update_status x1,000 in one transaction", lambda: [
            store.update_status("Pod", "default", f"p{i}", {"phase": "Running", "n": time.time()})
            for i in range(1000)], repeat=3)
    store.close()


WRITER = """
import random, sys, time
sys.path.insert(0, sys.argv[3])
from gitkube.store import SqliteStore
store = SqliteStore(sys.argv[1])
sys.stdin.readline()
for i in range(int(sys.argv[2])):
    time.sleep(random.uniform(0.2, 0.4))  # idle: the waiter is at its longest poll interval, any phase
    print(time.time(), flush=True)
    store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"w{i}"}})
"""


def bench_wake_latency(directory: str, writes: int = 20) -> None:
    """Time from a write in another process to `wait_for_change` returning here."""
    path = os.path.join(directory, "wake.db")
    store = SqliteStore(path)
    repo = str(Path(__file__).resolve().parent.parent)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, path, str(writes), repo], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)  # let the writer open the store
    writer.stdin.write("go\n")
    writer.stdin.flush()
    latencies = []
    rev = store.revision()
    for _ in range(writes):
        rev = store.wait_for_change(rev, 5.0)
        woke = time.time()
        latencies.append(woke - float(writer.stdout.readline()))
    writer.wait()
    store.close()
    RESULTS["wait_for_change wake-up after a write in another process (median ms)"] = \
        round(statistics.median(latencies) * 1000, 2)
    RESULTS["wait_for_change wake-up (max ms)"] = round(max(latencies) * 1000, 2)
    print(f"{'wait_for_change wake-up after a write in another process':<58} "
          f"median {statistics.median(latencies) * 1000:8.1f} ms   max {max(latencies) * 1000:8.1f} ms")


def run(quick: bool = False) -> dict:
    """For `python3 -m bench`: every measurement's median in ms (quick: 8 wake-ups instead of 20)."""
    RESULTS.clear()
    with tempfile.TemporaryDirectory() as directory:
        bench_creates(directory)
        bench_reads(directory)
        bench_wake_latency(directory, 8 if quick else 20)
    return dict(RESULTS)


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        bench_creates(directory)
        bench_reads(directory)
        bench_wake_latency(directory)


if __name__ == "__main__":
    main()
