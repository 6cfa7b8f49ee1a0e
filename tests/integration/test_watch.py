"""`gitkube watch DIR` driven by real file edits (create, modify, break, fix, delete) with its in-process
agent running real pods on Docker; asserts on the state file and the containers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clusterkit import IMAGE, ROOT, containers

RS = """apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web
spec:
  replicas: REPLICAS
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: IMAGE
        imagePullPolicy: Never
        command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
""".replace("IMAGE", IMAGE)
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: {value}\n"


def rs(replicas: int) -> str:
    return RS.replace("REPLICAS", str(replicas))


def save(path: Path, text: str) -> None:
    """As an editor saves: a temporary file renamed over the old one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class WatchProcess:
    def __init__(self, env: dict, directory: Path, log: Path, *args: str):
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-m", "gitkube", "watch", str(directory), *args],
                                     stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, cwd=ROOT)

    def text(self) -> str:
        return self.log.read_text()

    def passes(self) -> int:
        """Finished passes: each ends with `[time] applied`, an error saying nothing was changed, or a
        summary without changes."""
        return sum(1 for line in self.text().splitlines()
                   if line.endswith("] applied") or line.endswith("nothing was changed")
                   or re.fullmatch(r"0 to create, 0 to change, \d+ unchanged, 0 to prune", line))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def watches():
    started: list[WatchProcess] = []
    yield started
    for w in started:
        w.stop()


def app_containers(docker_engine, cluster) -> set[str]:
    return {c["Id"] for c in containers(docker_engine, cluster.cluster_id(), all_=False)
            if c["Labels"].get("gitkube.io/role") == "app"}


def get_rs(cluster) -> dict | None:
    r = cluster.run("get", "rs", "web", "-o", "json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def test_watch_applies_edits_rejects_a_broken_one_and_prunes_a_deleted_file(cluster, docker_engine, tmp_path, watches):
    d = tmp_path / "manifests"
    d.mkdir()
    (d / "settings.yaml").write_text(CM.format(name="settings", value="v1"))
    w = WatchProcess(cluster.env, d, tmp_path / "watch-1.log", "--prune")
    watches.append(w)
    cluster.wait(lambda: w.passes() >= 1, timeout=30, what="the first pass")
    assert cluster.get("configmap", "settings")["data"] == {"key": "v1"}

    # create
    (d / "web.yaml").write_text(rs(1))
    cluster.wait(lambda: len(app_containers(docker_engine, cluster)) == 1, timeout=90, what="one web container")
    assert "replicaset.apps/web created" in w.text()

    # modify
    save(d / "web.yaml", rs(2))
    cluster.wait(lambda: len(app_containers(docker_engine, cluster)) == 2, timeout=90, what="two web containers")
    assert "-  replicas: 1\n+  replicas: 2" in w.text()
    before = app_containers(docker_engine, cluster)
    generation = get_rs(cluster)["metadata"]["generation"]

    # break: errors printed with file:line, nothing changes
    n = w.passes()
    save(d / "web.yaml", rs(5).replace("  replicas: 5", "  replicas: 5\n  replica: 5"))
    cluster.wait(lambda: w.passes() > n, timeout=10, what="the broken edit to be reported")
    assert f"{d / 'web.yaml'}:7:3: error[unknown-field]" in w.text()
    assert w.text().rstrip().endswith("nothing was changed")
    time.sleep(1.0)
    assert get_rs(cluster)["spec"]["replicas"] == 2 and get_rs(cluster)["metadata"]["generation"] == generation
    assert app_containers(docker_engine, cluster) == before

    # fix
    save(d / "web.yaml", rs(3))
    cluster.wait(lambda: len(app_containers(docker_engine, cluster)) == 3, timeout=90, what="three web containers")
    assert before < app_containers(docker_engine, cluster)  # the two kept running, one was added

    # Ctrl-C: a clean exit, the containers keep running
    assert w.stop() == 0
    assert "gitkube watch stopped" in w.text() and "Traceback" not in w.text()
    time.sleep(1.0)
    running = app_containers(docker_engine, cluster)
    assert len(running) == 3

    # again, and delete the file: with --prune its objects go, and so do their containers
    w2 = WatchProcess(cluster.env, d, tmp_path / "watch-2.log", "--prune")
    watches.append(w2)
    cluster.wait(lambda: w2.passes() >= 1, timeout=30, what="the first pass of the second watch")
    assert "0 to create, 0 to change, 2 unchanged, 0 to prune" in w2.text()
    assert app_containers(docker_engine, cluster) == running
    (d / "web.yaml").unlink()
    cluster.wait(lambda: get_rs(cluster) is None, timeout=10, what="the ReplicaSet to be pruned")
    assert "replicaset.apps/web pruned" in w2.text()
    cluster.wait(lambda: not app_containers(docker_engine, cluster), timeout=90, what="its containers removed")
    assert cluster.get("configmap", "settings")["data"] == {"key": "v1"}


def test_without_prune_a_deleted_manifest_keeps_its_objects_and_hidden_files_are_ignored(tmp_path, watches):
    env = {**os.environ, "GITKUBE_STATE": str(tmp_path / "state.db")}
    d = tmp_path / "manifests"
    d.mkdir()
    (d / "a.yaml").write_text(CM.format(name="a", value="one"))
    (d / "b.yaml").write_text(CM.format(name="b", value="one"))
    w = WatchProcess(env, d, tmp_path / "watch.log", "--no-agent")
    watches.append(w)

    def cm(name: str) -> dict | None:
        r = subprocess.run([sys.executable, "-m", "gitkube", "get", "configmap", name, "-o", "json"],
                           capture_output=True, text=True, env=env, cwd=ROOT)
        return json.loads(r.stdout) if r.returncode == 0 else None

    deadline = time.monotonic() + 30
    while w.passes() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cm("a")["data"] == {"key": "one"}
    n = w.passes()
    (d / ".a.yaml.swp").write_text("garbage: [")
    (d / "notes.txt").write_text("not a manifest")
    (d / "b.yaml~").write_text("garbage: [")
    time.sleep(0.6)
    assert w.passes() == n  # none of these is a manifest
    (d / "a.yaml").unlink()
    deadline = time.monotonic() + 10
    while "no longer declared" not in w.text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "note: no longer declared, kept (run with --prune to delete): configmap/a" in w.text()
    assert cm("a") is not None
    assert w.stop() == 0
