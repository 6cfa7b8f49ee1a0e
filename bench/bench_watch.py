"""`gitkube watch` latency: from a saved edit to the printed diff, and to the changed replica count.

A `gitkube watch DIR` process runs (its agent in-process) on a directory holding one ReplicaSet.
Each round saves the file with one more replica (write a temp file, rename it over: what editors do)
and measures, from the rename:
  diff     the diff line `+  replicas: N` appears on watch's stdout            (target ≤ 300 ms)
  desired  spec.replicas == N in the state, i.e. DESIRED in `gitkube get rs`    (target ≤ 1 s)
  current  status.replicas == N: the agent created the new pod, CURRENT column  (target ≤ 1 s)
  ready    status.readyReplicas == N: READY column, includes container start
The state is polled from this process every 2 ms (a `gitkube get` is a new Python process; its own
run time is measured once and reported as `get_cli`).

Targets: diff ≤ 300 ms; desired/current ≤ 1 s (+ container start for ready).
Run: python3 -m bench.bench_watch [--rounds 5] [--no-agent] [--image IMAGE]
Needs a Docker engine and a local image (default gitkube.test/busybox:1, never pulled) unless --no-agent.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RS = """apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: bench-web
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: bench-web}}
  template:
    metadata:
      labels: {{app: bench-web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: {image}
        imagePullPolicy: Never
        command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
"""


class Lines:
    """watch's stdout, each line with the monotonic time it arrived."""

    def __init__(self, stream):
        self.lines: list[tuple[float, str]] = []
        self._cv = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._cv:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self._cv.notify_all()

    def wait_for(self, text: str, after: float, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for t, line in self.lines:
                    if t >= after and text in line:
                        return t
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SystemExit(f"timed out waiting for {text!r} on watch's output")
                self._cv.wait(left)


def save(path: Path, text: str) -> float:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    t = time.monotonic()
    os.replace(tmp, path)
    return t


def poll(store, predicate, timeout: float = 120) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rs = store.get("ReplicaSet", "default", "bench-web")
        if rs is not None and predicate(rs):
            return time.monotonic()
        time.sleep(0.002)
    raise SystemExit("timed out polling the state")


def run(rounds: int, agent: bool, image: str) -> dict:
    from gitkube.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "manifests"
        d.mkdir()
        state = f"{tmp}/state.db"
        env = {**os.environ, "GITKUBE_STATE": state, "NO_COLOR": "1"}
        manifest = d / "web.yaml"
        manifest.write_text(RS.format(replicas=1, image=image))
        args = [sys.executable, "-m", "gitkube", "watch", str(d)] + ([] if agent else ["--no-agent"])
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
        out = Lines(proc.stdout)
        store = None
        try:
            out.wait_for("] applied", 0, timeout=60)
            store = open_store(state)
            if agent:
                poll(store, lambda rs: (rs.get("status") or {}).get("readyReplicas") == 1)
            rows = []
            for i in range(rounds):
                n = 2 + i
                t0 = save(manifest, RS.format(replicas=n, image=image))
                row = {"diff": out.wait_for(f"+  replicas: {n}", t0) - t0,
                       "desired": poll(store, lambda rs: rs["spec"]["replicas"] == n) - t0}
                if agent:
                    row["current"] = poll(store, lambda rs: (rs.get("status") or {}).get("replicas") == n) - t0
                    row["ready"] = poll(store, lambda rs: (rs.get("status") or {}).get("readyReplicas") == n) - t0
                rows.append(row)
                time.sleep(0.3)
            t = time.monotonic()
            got = subprocess.run([sys.executable, "-m", "gitkube", "get", "rs", "bench-web", "-o", "json"], env=env,
                                 capture_output=True, text=True, cwd=ROOT)
            get_cli = time.monotonic() - t
            assert json.loads(got.stdout)["spec"]["replicas"] == 1 + rounds, got.stdout
            cluster_id = store.cluster_id()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
            if store is not None:
                store.close()
        if agent:
            _remove_containers(cluster_id)
    metrics: dict = {"rounds": rounds, "get_cli_s": round(get_cli, 3)}
    for key in rows[0]:
        values = [r[key] for r in rows]
        metrics[f"{key}_median_ms"] = round(statistics.median(values) * 1000, 1)
        metrics[f"{key}_max_ms"] = round(max(values) * 1000, 1)
    comparisons = [_target(f"saved edit -> {key} (max of {rounds})", metrics[f"{key}_max_ms"], TARGETS_MS[key])
                   for key in rows[0] if key in TARGETS_MS]
    return {"metrics": metrics, "comparisons": comparisons,
            "samples": {k: [round(r[k] * 1000, 1) for r in rows] for k in rows[0]},
            "notes": ["ready includes container start; `gitkube get` itself takes get_cli_s as a new process"]}


TARGETS_MS = {"diff": 300.0, "desired": 1000.0, "current": 1000.0}


def _target(what: str, value: float, target: float) -> dict:
    """The comparison shape of bench/suite.py (lower is better)."""
    return {"what": what, "ours": value, "peer": "target", "peer_value": target, "unit": "ms",
            "ratio": round(value / target, 2), "target": 1.0, "met": value <= target, "higher_is_better": False}


def _remove_containers(cluster_id: str) -> None:
    import docker

    client = docker.from_env()
    for c in client.api.containers(all=True, filters={"label": f"gitkube.io/cluster={cluster_id}"}):
        try:
            client.api.remove_container(c["Id"], force=True, v=True)
        except Exception:
            pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-agent", action="store_true", help="only diff and desired (no Docker needed)")
    ap.add_argument("--image", default="gitkube.test/busybox:1")
    a = ap.parse_args()
    r = run(a.rounds, not a.no_agent, a.image)
    for k, v in r["metrics"].items():
        print(f"{k}: {v}")
    for c in r["comparisons"]:
        print(f"{c['what']}: {c['ours']} ms (target ≤ {c['peer_value']:.0f} ms: {'met' if c['met'] else 'MISSED'})")


if __name__ == "__main__":
    main()
