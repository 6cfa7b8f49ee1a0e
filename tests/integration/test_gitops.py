"""Git sources end to end: `apply/diff/validate --repo`, `gitkube sync` with its in-process agent running
real pods on Docker, drift and self-heal, and `gitkube status` -- against repositories made by the tests
(local paths and file:// URLs) and a real SQLite state file."""

from __future__ import annotations

import http.server
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from clusterkit import IMAGE, ROOT, containers, is_running_ready

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: {value}\n"
RS = """apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web
  labels: {app: web}
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


def rs(replicas: int) -> str:
    return RS.replace("REPLICAS", str(replicas))


class GitRepo:
    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", "Ann Author")
        self.git("config", "user.email", "ann@example.com")

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.path, check=True, capture_output=True, text=True).stdout.strip()

    def write(self, rel: str, text: str) -> None:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)

    def remove(self, rel: str) -> None:
        (self.path / rel).unlink()

    def commit(self, message: str, author: str | None = None) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, *(["--author", author] if author else []))
        return self.git("rev-parse", "HEAD")

    @property
    def url(self) -> str:
        return f"file://{self.path}"


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {**os.environ, "GITKUBE_STATE": str(tmp_path / "state.db"), "XDG_CACHE_HOME": str(tmp_path / "cache")}


def gk(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gitkube", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


def get(env: dict, kind: str, name: str) -> dict | None:
    r = gk(env, "get", kind, name, "-o", "json")
    return json.loads(r.stdout) if r.returncode == 0 else None


def count_objects(env: dict) -> int:
    if not Path(env["GITKUBE_STATE"]).exists():
        return 0
    with sqlite3.connect(env["GITKUBE_STATE"]) as db:
        return db.execute("SELECT COUNT(*) FROM objects WHERE kind != 'Namespace'").fetchone()[0]


@pytest.fixture
def repo(tmp_path) -> GitRepo:
    r = GitRepo(tmp_path / "repo")
    r.write("deploy/settings.yaml", CM.format(name="settings", value="v1"))
    r.write("deploy/extra.yaml", CM.format(name="extra", value="x"))
    r.write("other/ignored.yaml", CM.format(name="ignored", value="x"))
    r.commit("v1")
    r.git("tag", "v1")
    return r


# --- apply / diff / validate --repo ---------------------------------------------------------------

def test_apply_at_a_tag_then_at_a_branch_that_moves(env, repo, tmp_path):
    v1 = repo.git("rev-parse", "v1")
    repo.write("deploy/settings.yaml", CM.format(name="settings", value="v2"))
    v2 = repo.commit("v2")

    r = gk(env, "apply", "--repo", str(repo.path), "--ref", "v1", "--path", "deploy")
    assert r.returncode == 0, r.stderr
    assert "configmap/settings created" in r.stdout and "ignored" not in r.stdout
    settings = get(env, "configmap", "settings")
    assert settings["data"] == {"key": "v1"}
    ann = settings["metadata"]["annotations"]
    assert ann["gitkube.io/source"] == f"git:{repo.path}#deploy"
    assert ann["gitkube.io/commit"] == v1
    assert ann["gitkube.io/source-file"] == f"{repo.path}@{v1[:7]}:deploy/settings.yaml"

    # the same repository as a file:// URL is the same source; main is one commit ahead
    r = gk(env, "apply", "--repo", repo.url, "--ref", "main", "--path", "deploy")
    assert r.returncode == 0, r.stderr
    assert "configmap/settings configured" in r.stdout and "configmap/extra unchanged" in r.stdout
    settings = get(env, "configmap", "settings")
    assert settings["data"] == {"key": "v2"} and settings["metadata"]["annotations"]["gitkube.io/commit"] == v2

    # the branch moves; uncommitted edits in the work tree are never read
    repo.write("deploy/settings.yaml", CM.format(name="settings", value="v3"))
    v3 = repo.commit("v3")
    repo.write("deploy/settings.yaml", CM.format(name="settings", value="dirty"))
    repo.write("deploy/untracked.yaml", CM.format(name="untracked", value="x"))
    diff = gk(env, "diff", "--repo", repo.url, "--ref", "main", "--path", "deploy")
    assert diff.returncode == 1 and "+  key: v3" in diff.stdout and "dirty" not in diff.stdout
    r = gk(env, "apply", "--repo", repo.url, "--ref", "main", "--path", "deploy")
    assert r.returncode == 0 and get(env, "configmap", "settings")["data"] == {"key": "v3"}
    assert get(env, "configmap", "untracked") is None
    assert gk(env, "diff", "--repo", repo.url, "--ref", "main", "--path", "deploy").returncode == 0

    # the mirror: one bare clone per URL in the cache, and the inventory knows the commit
    mirrors = [p for p in (tmp_path / "cache" / "gitkube" / "repos").iterdir() if p.is_dir()]
    assert len(mirrors) == 1 and (mirrors[0] / "HEAD").is_file() and not (mirrors[0] / ".git").exists()
    status = json.loads(gk(env, "status", "-o", "json").stdout)["sources"]
    assert [(s["source"], s["commit"], s["ref"]) for s in status] == [(f"git:{repo.path}#deploy", v3, "main")]
    assert status[0]["lastSync"]["author"] == "Ann Author <ann@example.com>"


def test_prune_after_a_file_is_deleted_in_a_commit(env, repo):
    repo.write("deploy/third.yaml", CM.format(name="third", value="x"))
    repo.commit("three objects")
    assert gk(env, "apply", "--repo", str(repo.path), "--path", "deploy").returncode == 0
    repo.remove("deploy/extra.yaml")
    repo.commit("drop extra")
    kept = gk(env, "apply", "--repo", str(repo.path), "--path", "deploy")
    assert kept.returncode == 0 and get(env, "configmap", "extra") is not None  # no --prune: kept
    pruned = gk(env, "apply", "--repo", str(repo.path), "--path", "deploy", "--prune")
    assert pruned.returncode == 0, pruned.stderr
    assert "configmap/extra pruned" in pruned.stdout
    assert get(env, "configmap", "extra") is None and get(env, "configmap", "settings") is not None


def test_right_after_apply_status_finds_every_object_in_sync_and_then_sees_drift(env):
    examples = ROOT / "examples" / "manifests"
    r = gk(env, "apply", "-f", str(examples))
    assert r.returncode == 0, r.stderr
    [src] = json.loads(gk(env, "status", "-o", "json").stdout)["sources"]
    assert src["source"] == f"path:{examples}" and src["drifted"] is False
    assert src["objects"]["inSync"] == src["objects"]["total"] == 16, src["items"]
    assert gk(env, "scale", "rs", "kubia", "--replicas", "1").returncode == 0
    assert gk(env, "label", "cm", "kubia-config", "edited=by-hand").returncode == 0
    [src] = json.loads(gk(env, "status", "-o", "json").stdout)["sources"]
    out = sorted(i["name"] for i in src["items"] if i["state"] == "out-of-sync")
    assert src["drifted"] is True and out == ["kubia", "kubia-config"]
    assert gk(env, "apply", "-f", str(examples)).returncode == 0  # Git's version again
    [src] = json.loads(gk(env, "status", "-o", "json").stdout)["sources"]
    assert src["drifted"] is False


def test_sync_once_applies_a_good_commit_and_exits_2_on_a_bad_one(env, repo):
    once = ["sync", "--once", "--no-agent", "--repo", repo.url, "--path", "deploy"]
    ok = gk(env, *once)
    assert ok.returncode == 0, ok.stderr
    assert "configmap/settings created" in ok.stdout and get(env, "configmap", "settings")["data"] == {"key": "v1"}
    repo.write("deploy/settings.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels: x\n")
    bad = repo.commit("labels must be a map", author="Bob <bob@example.com>")
    r = gk(env, *once)
    assert r.returncode == 2
    assert f'commit {bad[:7]} "labels must be a map" by Bob <bob@example.com> was rejected' in r.stderr
    assert f"{repo.path}@{bad[:7]}:deploy/settings.yaml:5:" in r.stderr
    assert get(env, "configmap", "settings")["data"] == {"key": "v1"}
    text = gk(env, "status").stdout
    assert f"last sync: invalid {bad[:7]}" in text and "by Bob <bob@example.com>" in text


class _Unauthorized(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def auth_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorized)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/org/private.git"
    server.shutdown()


@pytest.mark.parametrize("case", ["unknown ref", "unknown sha", "missing repository", "missing file url",
                                  "missing path", "authentication", "both -f and --repo"])
@pytest.mark.parametrize("command", ["apply", "diff", "validate"])
def test_source_errors_are_one_line_exit_2_and_nothing_is_applied(env, repo, tmp_path, auth_server, case, command):
    args = {
        "unknown ref": ["--repo", str(repo.path), "--ref", "v9"],
        "unknown sha": ["--repo", repo.url, "--ref", "0123456789abcdef0123456789abcdef01234567"],
        "missing repository": ["--repo", str(tmp_path / "nowhere")],
        "missing file url": ["--repo", f"file://{tmp_path}/nowhere"],
        "missing path": ["--repo", str(repo.path), "--path", "no/such/dir"],
        "authentication": ["--repo", auth_server],
        "both -f and --repo": ["--repo", str(repo.path), "-f", str(repo.path / "deploy")],
    }[case]
    if command == "validate" and "-f" in args:
        args = [a for a in args if a != "-f"]  # validate takes paths as arguments
    r = gk(env, command, *args)
    assert r.returncode >= 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    expected = {"unknown ref": "unknown ref 'v9'", "unknown sha": "no commit with that id",
                "missing repository": "cannot reach repository", "missing file url": "cannot reach repository",
                "missing path": "'no/such/dir' does not exist", "authentication": "authentication to repository",
                "both -f and --repo": "not both"}[case]
    assert expected in lines[0]
    assert count_objects(env) == 0


def test_validate_and_diff_of_an_invalid_commit_point_into_the_commit(env, repo):
    repo.write("deploy/settings.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
                                       "data:\n  key: v1\nspec: {}\n")
    sha = repo.commit("typo")
    where = f"{repo.path}@{sha[:7]}:deploy/settings.yaml:7:1:"
    v = gk(env, "validate", "--repo", str(repo.path), "--path", "deploy")
    assert v.returncode == 1 and v.stdout.startswith(where), v.stdout
    gh = gk(env, "validate", "--repo", str(repo.path), "--path", "deploy", "-o", "github")
    assert gh.returncode == 1 and gh.stdout.startswith("::error file=")
    ok = gk(env, "validate", "--repo", str(repo.path), "--ref", "v1", "--path", "deploy")
    assert ok.returncode == 0 and "2 objects in 2 files: valid" in ok.stdout
    d = gk(env, "diff", "--repo", str(repo.path), "--path", "deploy")
    assert d.returncode == 2 and where in d.stderr and f'at {sha[:7]} "typo" by Ann Author' in d.stderr
    a = gk(env, "apply", "--repo", str(repo.path), "--path", "deploy")
    assert a.returncode == 2 and count_objects(env) == 0


# --- sync: the agent running real pods ------------------------------------------------------------

class SyncProcess:
    def __init__(self, cluster, repo: GitRepo, *args: str):
        self.log = cluster.dir / f"sync-{time.monotonic_ns()}.log"
        self.env = {**cluster.env, "XDG_CACHE_HOME": str(cluster.dir / "cache")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gitkube", "sync", "--repo", repo.url, "--ref", "main", "--path", "deploy",
             "--interval", "1s", *args], stdout=self.log.open("w"), stderr=subprocess.STDOUT, env=self.env, cwd=ROOT)

    def text(self) -> str:
        return self.log.read_text()

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
def syncs():
    started: list[SyncProcess] = []
    yield started
    for s in started:
        s.stop()


def app_containers(docker_engine, cluster, running: bool = True) -> dict[str, str]:
    """id -> pod name of the app containers of this cluster."""
    return {c["Id"]: c["Labels"].get("gitkube.io/pod", "") for c in containers(docker_engine, cluster.cluster_id(),
                                                                                 all_=not running)
            if c["Labels"].get("gitkube.io/role") == "app"}


def running_web_pods(cluster) -> int:
    return sum(1 for p in cluster.pods("app=web") if is_running_ready(p) and not p["metadata"].get("deletionTimestamp"))


def rs_replicas(cluster) -> int:
    return cluster.get("rs", "web")["spec"]["replicas"]


def test_sync_applies_new_commits_rejects_a_bad_one_and_prunes(cluster, docker_engine, tmp_path, syncs):
    repo = GitRepo(tmp_path / "gitrepo")
    repo.write("deploy/web.yaml", rs(2))
    repo.write("deploy/settings.yaml", CM.format(name="settings", value="v1"))
    repo.write("deploy/flags.yaml", CM.format(name="flags", value="on"))
    first = repo.commit("web with two replicas")
    s = SyncProcess(cluster, repo, "--prune")
    syncs.append(s)

    cluster.wait(lambda: running_web_pods(cluster) == 2, timeout=90, what="two web pods running")
    assert cluster.get("rs", "web")["metadata"]["annotations"]["gitkube.io/commit"] == first
    assert len(app_containers(docker_engine, cluster)) == 2

    # a new commit is picked up within one interval
    repo.write("deploy/web.yaml", rs(3))
    committed = time.monotonic()
    second = repo.commit("three replicas")
    cluster.wait(lambda: rs_replicas(cluster) == 3, timeout=10, interval=0.1, what="replicas 3 applied")
    picked_up = time.monotonic() - committed
    assert picked_up < 3.0, f"took {picked_up:.1f} s with --interval 1s"
    cluster.wait(lambda: running_web_pods(cluster) == 3, timeout=90, what="three web pods running")
    before = app_containers(docker_engine, cluster)
    web = cluster.get("rs", "web")

    # a bad commit: reported with file:line, commit and author; nothing of it applied, pods untouched
    broken = rs(1).replace("imagePullPolicy: Never", "imagePullPolicy: Never\n        restart: always")
    line = broken.splitlines().index("        restart: always") + 1
    repo.write("deploy/web.yaml", broken)
    repo.write("deploy/settings.yaml", CM.format(name="settings", value="from-the-bad-commit"))
    bad = repo.commit("broken", author="Mallory Maker <mallory@example.com>")
    cluster.wait(lambda: "was rejected" in s.text(), timeout=10, what="the bad commit to be reported")
    time.sleep(2.5)  # two more intervals: still nothing of it
    log = s.text()
    assert f'commit {bad[:7]} "broken" by Mallory Maker <mallory@example.com> was rejected' in log
    assert f"{repo.path}@{bad[:7]}:deploy/web.yaml:{line}:9: error[unknown-field]" in log
    assert f"{second[:7]} stays in force" in log
    assert log.count("was rejected") == 1
    after = cluster.get("rs", "web")
    assert after["spec"]["replicas"] == 3 and after["metadata"]["generation"] == web["metadata"]["generation"]
    assert cluster.get("configmap", "settings")["data"] == {"key": "v1"}
    assert app_containers(docker_engine, cluster) == before  # the same containers, still running
    status = json.loads(cluster.run("status", "-o", "json").stdout)["sources"][0]
    assert status["commit"] == second and status["lastSync"]["result"] == "invalid"
    assert status["lastSync"]["commit"] == bad and status["lastSync"]["author"].startswith("Mallory Maker")

    # the fix, which also deletes a file: its object is pruned (--prune)
    repo.write("deploy/web.yaml", rs(3))
    repo.write("deploy/settings.yaml", CM.format(name="settings", value="v2"))
    repo.remove("deploy/flags.yaml")
    fixed = repo.commit("fix; drop flags")
    cluster.wait(lambda: cluster.get("configmap", "settings")["data"] == {"key": "v2"}, timeout=10,
                 what="the fixed commit applied")
    assert cluster.run("get", "configmap", "flags", check=False).returncode == 1
    assert "configmap/flags pruned" in s.text()
    assert app_containers(docker_engine, cluster) == before  # the ReplicaSet did not change
    status = json.loads(cluster.run("status", "-o", "json").stdout)["sources"][0]
    assert status["commit"] == fixed and status["lastSync"]["result"] == "applied" and status["drifted"] is False

    assert s.stop() == 0
    assert "gitkube sync stopped" in s.text()
    assert len(app_containers(docker_engine, cluster)) == 3  # containers keep running after sync stops


def test_self_heal_reverts_a_scale_and_a_label(cluster, tmp_path, syncs):
    repo = GitRepo(tmp_path / "gitrepo")
    repo.write("deploy/web.yaml", rs(2))
    repo.commit("web")
    s = SyncProcess(cluster, repo, "--self-heal")
    syncs.append(s)
    cluster.wait(lambda: running_web_pods(cluster) == 2, timeout=90, what="two web pods running")

    cluster.run("scale", "rs", "web", "--replicas", "1")  # (the next pass may revert it before we look)
    cluster.wait(lambda: "spec.replicas: 1 → 2" in s.text(), timeout=10, interval=0.2, what="the scale reverted")
    assert "self-heal: reverted live changes" in s.text() and rs_replicas(cluster) == 2

    cluster.run("label", "rs", "web", "owner=someone-by-hand")
    cluster.wait(lambda: "owner" not in cluster.get("rs", "web")["metadata"].get("labels", {}), timeout=10,
                 interval=0.2, what="the label to be reverted")
    cluster.wait(lambda: running_web_pods(cluster) == 2, timeout=90, what="two web pods running again")
    status = json.loads(cluster.run("status", "-o", "json").stdout)["sources"][0]
    assert status["drifted"] is False and status["objects"]["inSync"] == 1


def test_without_self_heal_drift_is_reported_and_shown_by_status(cluster, tmp_path, syncs):
    repo = GitRepo(tmp_path / "gitrepo")
    repo.write("deploy/web.yaml", rs(1))
    repo.commit("web")
    s = SyncProcess(cluster, repo)
    syncs.append(s)
    cluster.wait(lambda: running_web_pods(cluster) == 1, timeout=90, what="the web pod running")
    cluster.run("scale", "rs", "web", "--replicas", "2")
    cluster.wait(lambda: "drift: live state differs" in s.text(), timeout=10, what="drift reported")
    assert "replicaset.apps/web: spec.replicas: 2 → 1" in s.text()
    time.sleep(1.5)
    assert rs_replicas(cluster) == 2  # reported, not reverted
    text = cluster.run("status").stdout
    assert "1 out of sync" in text and "drift:     yes" in text and "out-of-sync   replicaset.apps/web" in text
