"""diff/apply/prune/dry-run through the real CLI against a real SQLite state file."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
EXAMPLES = ROOT / "examples" / "manifests"
SEED = ROOT / "tests" / "fixtures" / "seed"
VALID_SEED = sorted(p for p in SEED.glob("*.yaml") if p.name not in ("job.yaml", "rs-matchexpressions-or.yaml"))


@pytest.fixture
def state(tmp_path):
    return str(tmp_path / "state" / "gitkube.db")


def gk(state: str, *args: str, stdin: str | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gitkube", "--state", state, *args], capture_output=True,
                          text=True, input=stdin, cwd=cwd)


def count_objects(state: str) -> int:
    with sqlite3.connect(state) as db:
        return db.execute("SELECT COUNT(*) FROM objects").fetchone()[0]


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{extra}data:\n  key: {value}\n"


def write(d: Path, name: str, text: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(text)
    return d / name


def test_apply_creates_then_a_second_apply_is_unchanged_and_diff_is_empty(state):
    first = gk(state, "apply", "-f", str(EXAMPLES))
    assert first.returncode == 0, first.stderr
    assert "pod/kubia-manual created" in first.stdout
    assert "deployment.apps/kubia-deploy created" in first.stdout
    second = gk(state, "apply", "-f", str(EXAMPLES))
    assert second.returncode == 0
    assert all(line.endswith("unchanged") for line in second.stdout.splitlines())
    diff = gk(state, "diff", "-f", str(EXAMPLES))
    assert diff.returncode == 0, diff.stdout
    assert diff.stdout.strip().endswith("0 to create, 0 to change, 16 unchanged, 0 to prune")


@pytest.mark.parametrize("seed", VALID_SEED, ids=lambda p: f"after applying {p.name} its diff is empty")
def test_idempotence_over_seed_manifests(state, seed):
    assert gk(state, "apply", "-f", str(seed)).returncode == 0
    diff = gk(state, "diff", "-f", str(seed))
    assert diff.returncode == 0, diff.stdout


def test_fields_equal_to_their_defaults_make_no_difference(state, tmp_path):
    bare = write(tmp_path / "bare", "d.yaml", (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n"
        "  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n"
        "        image: busybox:1.36\n        ports:\n        - containerPort: 80\n"))
    explicit = write(tmp_path / "explicit", "d.yaml", (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  replicas: 1\n"
        "  revisionHistoryLimit: 10\n  progressDeadlineSeconds: 600\n"
        "  strategy:\n    type: RollingUpdate\n    rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}\n"
        "  selector:\n    matchLabels: {app: web}\n"
        "  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      restartPolicy: Always\n"
        "      terminationGracePeriodSeconds: 30\n      dnsPolicy: ClusterFirst\n      containers:\n      - name: web\n"
        "        image: busybox:1.36\n        imagePullPolicy: IfNotPresent\n        ports:\n"
        "        - containerPort: 80\n          protocol: TCP\n"))
    assert gk(state, "apply", "-f", str(bare)).returncode == 0
    assert gk(state, "diff", "-f", str(explicit)).returncode == 0
    assert gk(state, "apply", "-f", str(explicit)).stdout.strip() == "deployment.apps/web unchanged"
    assert gk(state, "diff", "-f", str(bare)).returncode == 0


def test_a_field_removed_from_the_manifest_is_removed_from_the_live_object(state, tmp_path):
    d = tmp_path / "m"
    write(d, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: {a: b, c: d}\ndata:\n  x: '1'\n  y: '2'\n")
    gk(state, "apply", "-f", str(d))
    write(d, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: {a: b}\ndata:\n  x: '1'\n")
    diff = gk(state, "diff", "-f", str(d), "-o", "json")
    assert diff.returncode == 1
    changes = {(c["path"], c["op"]) for c in json.loads(diff.stdout)["items"][0]["changes"]}
    assert changes == {("metadata.labels.c", "remove"), ("data.y", "remove")}
    assert "configmap/c configured" in gk(state, "apply", "-f", str(d)).stdout
    live = json.loads(gk(state, "get", "cm", "c", "-o", "json").stdout)
    assert live["data"] == {"x": "1"} and live["metadata"]["labels"] == {"a": "b"}


def test_diff_exit_codes_and_summary(state, tmp_path):
    d = tmp_path / "m"
    write(d, "a.yaml", CM.format(name="a", extra="", value="one"))
    run = gk(state, "diff", "-f", str(d))
    assert run.returncode == 1
    assert run.stdout.startswith("diff -u -N LIVE/v1.ConfigMap.default.a MERGED/v1.ConfigMap.default.a\n")
    assert run.stdout.rstrip().endswith("1 to create, 0 to change, 0 unchanged, 0 to prune")
    bad = write(tmp_path / "bad", "b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n")
    err = gk(state, "diff", "-f", str(bad))
    assert err.returncode >= 2
    assert "error[invalid-name]" in err.stderr


def test_a_failed_apply_writes_nothing(state, tmp_path):
    d = tmp_path / "m"
    write(d, "a.yaml", CM.format(name="a", extra="", value="one"))
    write(d, "b.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    imagee: x\n")
    run = gk(state, "apply", "-f", str(d))
    assert run.returncode == 2
    assert "b.yaml:8:5: error[unknown-field]" in run.stderr
    assert "nothing was changed" in run.stderr
    assert not os.path.exists(state) or count_objects(state) == 0


def test_dry_run_prints_the_plan_and_writes_nothing(state, tmp_path):
    d = tmp_path / "m"
    write(d, "a.yaml", CM.format(name="a", extra="", value="one"))
    run = gk(state, "apply", "--dry-run", "-f", str(d))
    assert run.stdout.strip() == "configmap/a created (dry run)"
    assert count_objects(state) == 0


def test_a_namespace_that_does_not_exist_is_an_error_unless_applied_together(state, tmp_path):
    d = tmp_path / "m"
    write(d, "a.yaml", CM.format(name="a", extra="  namespace: team\n", value="one").replace("name: a\n  namespace", "name: a\n  namespace") )
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: team\ndata: {k: v}\n"
    write(d, "a.yaml", text)
    run = gk(state, "apply", "-f", str(d))
    assert run.returncode == 2
    assert 'a.yaml:5:3: error[unknown-namespace]: ConfigMap/a: metadata.namespace: namespace "team" does not exist' in run.stderr
    write(d, "ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n")
    run = gk(state, "apply", "-f", str(d))
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "namespace/team created"


def test_prune_deletes_only_what_this_source_applied(state, tmp_path):
    mine, other = tmp_path / "mine", tmp_path / "other"
    for n in "abc":
        write(mine, f"{n}.yaml", CM.format(name=n, extra="", value=n))
    write(other, "z.yaml", CM.format(name="z", extra="", value="z"))
    assert gk(state, "apply", "-f", str(mine)).returncode == 0
    assert gk(state, "apply", "-f", str(other)).returncode == 0
    (mine / "c.yaml").unlink()
    diff = gk(state, "diff", "--prune", "-f", str(mine))
    assert diff.stdout.rstrip().endswith("0 to create, 0 to change, 2 unchanged, 1 to prune")
    assert gk(state, "diff", "-f", str(mine)).returncode == 0  # without --prune nothing to do
    run = gk(state, "apply", "--prune", "-f", str(mine))
    assert run.returncode == 0, run.stderr
    assert "configmap/c pruned" in run.stdout
    names = gk(state, "get", "cm", "-o", "name").stdout.split()
    assert names == ["configmap/a", "configmap/b", "configmap/z"]


def test_prune_refuses_to_delete_most_of_a_source_without_force(state, tmp_path):
    d = tmp_path / "m"
    for n in "abc":
        write(d, f"{n}.yaml", CM.format(name=n, extra="", value=n))
    gk(state, "apply", "-f", str(d))
    (d / "b.yaml").unlink()
    (d / "c.yaml").unlink()
    run = gk(state, "apply", "--prune", "-f", str(d))
    assert run.returncode == 5
    assert "configmap/b" in run.stderr and "configmap/c" in run.stderr and "--force-prune" in run.stderr
    assert len(gk(state, "get", "cm", "-o", "name").stdout.split()) == 3
    run = gk(state, "apply", "--prune", "--force-prune", "-f", str(d))
    assert run.returncode == 0
    assert gk(state, "get", "cm", "-o", "name").stdout.split() == ["configmap/a"]


def test_an_object_labelled_prune_disabled_is_never_pruned(state, tmp_path):
    d = tmp_path / "m"
    write(d, "a.yaml", CM.format(name="a", extra="", value="a"))
    write(d, "b.yaml", CM.format(name="b", extra="", value="b"))
    write(d, "keep.yaml", CM.format(name="keep", extra="  labels:\n    gitkube.io/prune: disabled\n", value="k"))
    gk(state, "apply", "-f", str(d))
    (d / "keep.yaml").unlink()
    run = gk(state, "apply", "--prune", "-f", str(d))
    assert run.returncode == 0
    assert "pruned" not in run.stdout
    assert "configmap/keep" in gk(state, "get", "cm", "-o", "name").stdout


def test_secret_values_never_appear_in_any_output(state, tmp_path):
    d = tmp_path / "m"
    old, new = secrets.token_hex(16), secrets.token_hex(16)
    text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: {v}\n  user: admin\n"
    write(d, "s.yaml", text.format(v=old))
    outputs = [gk(state, "diff", "-f", str(d)), gk(state, "apply", "-f", str(d))]
    write(d, "s.yaml", text.format(v=new) + "  extra: " + secrets.token_hex(8) + "\n")
    outputs += [gk(state, "diff", "-f", str(d)), gk(state, "diff", "-o", "json", "-f", str(d)),
                gk(state, "apply", "--dry-run", "-f", str(d))]
    import base64

    forbidden = {old, new, base64.b64encode(old.encode()).decode(), base64.b64encode(new.encode()).decode()}
    for run in outputs:
        for value in forbidden:
            assert value not in run.stdout + run.stderr
    text_diff = outputs[2].stdout
    assert "'*** (before)'" in text_diff and "'*** (after)'" in text_diff and "+  extra: '***'" in text_diff


def test_the_state_file_is_private(state, tmp_path):
    write(tmp_path / "m", "a.yaml", CM.format(name="a", extra="", value="a"))
    gk(state, "apply", "-f", str(tmp_path / "m"))
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o600


def test_apply_records_the_source_and_git_commit(state, tmp_path):
    repo = tmp_path / "repo"
    write(repo / "deploy", "a.yaml", CM.format(name="a", extra="", value="a"))
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e"}
    for cmd in (["git", "init", "-q"], ["git", "add", "."], ["git", "commit", "-qm", "one"]):
        subprocess.run(cmd, cwd=repo, check=True, env=env)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    assert gk(state, "apply", "-f", str(repo / "deploy")).returncode == 0
    live = json.loads(gk(state, "get", "cm", "a", "-o", "json").stdout)
    ann = live["metadata"]["annotations"]
    assert ann["gitkube.io/commit"] == sha
    assert ann["gitkube.io/source"] == f"path:{repo / 'deploy'}"
    assert ann["gitkube.io/source-file"].endswith("deploy/a.yaml")


def test_a_scheduled_pod_keeps_its_node_binding_across_diff_and_apply(state, tmp_path):
    from gitkube.store import open_store

    d = tmp_path / "m"
    write(d, "p.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n")
    gk(state, "apply", "-f", str(d))
    store = open_store(state)
    pod = store.get("Pod", "default", "p")
    store.update({**pod, "spec": {**pod["spec"], "nodeName": "local"}})  # what the scheduler does
    assert gk(state, "diff", "-f", str(d)).returncode == 0
    assert gk(state, "apply", "-f", str(d)).stdout.strip() == "pod/p unchanged"
    assert store.get("Pod", "default", "p")["spec"]["nodeName"] == "local"
