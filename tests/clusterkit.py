"""Test helpers: a gitkube "cluster" per test: its own state file, CLI runner, agent process, and cleanup of every
container labelled with that state's cluster id (so parallel runs on one engine never collide)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "gitkube.test/busybox:1"


class Cluster:
    def __init__(self, tmp: Path, env: dict[str, str]):
        self.state = str(tmp / "state.db")
        self.dir = tmp
        self.env = {**os.environ, "GITKUBE_STATE": self.state, **env}
        self.agents: list[subprocess.Popen] = []

    def run(self, *args: str, check: bool = True, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        r = subprocess.run([sys.executable, "-m", "gitkube", *args], capture_output=True, text=True, env=self.env,
                           input=stdin, timeout=timeout, cwd=ROOT)
        if check and r.returncode != 0:
            raise AssertionError(f"gitkube {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r

    def apply(self, text: str, *extra: str) -> subprocess.CompletedProcess:
        return self.run("apply", "-f", "-", *extra, stdin=text)

    def get(self, kind: str, name: str, namespace: str = "default") -> dict:
        return json.loads(self.run("get", kind, name, "-n", namespace, "-o", "json").stdout)

    def pods(self, selector: str = "") -> list[dict]:
        args = ["get", "pods", "-o", "json"] + (["-l", selector] if selector else [])
        out = json.loads(self.run(*args).stdout)
        return out.get("items", [out] if out.get("kind") == "Pod" else [])

    def start_agent(self, *extra: str) -> subprocess.Popen:
        log = open(self.dir / f"agent-{len(self.agents)}.log", "w")
        p = subprocess.Popen([sys.executable, "-m", "gitkube", "agent", "--resync", "2", *extra], env=self.env,
                             stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        self.agents.append(p)
        return p

    def stop_agents(self) -> None:
        for p in self.agents:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.agents.clear()

    def cluster_id(self) -> str:
        from gitkube.store import open_store

        store = open_store(self.state)
        try:
            return store.cluster_id()
        finally:
            store.close()

    def wait(self, predicate, timeout: float = 60, interval: float = 0.3, what: str = "condition"):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        logs = "".join(p.read_text()[-3000:] for p in self.dir.glob("agent-*.log"))
        raise AssertionError(f"timed out waiting for {what}; last value: {last!r}\nagent log tail:\n{logs}")


def containers(client, cluster_id: str, all_: bool = True) -> list[dict]:
    return client.api.containers(all=all_, filters={"label": f"gitkube.io/cluster={cluster_id}"})




def ready_count(pod: dict) -> tuple[int, int]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return sum(1 for s in statuses if s.get("ready")), len((pod.get("spec") or {}).get("containers") or [])


def is_running_ready(pod: dict) -> bool:
    st = pod.get("status") or {}
    return st.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or [])
