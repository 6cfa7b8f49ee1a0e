"""`gitkube rollout status|history|undo` against a real SQLite state file, with the real Deployment,
ReplicaSet and garbage-collector controllers driven by hand and a fake kubelet that readies pods."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import NamedTuple
from unittest import mock

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sim import running_ready_status  # noqa: E402

from gitkube.agent.controllers import take_snapshot, write_changes  # noqa: E402
from gitkube.cli.cmd_rollout import RolloutError, rollout_status  # noqa: E402
from gitkube.controllers.daemonset import DaemonSetController  # noqa: E402
from gitkube.controllers.deployment import CHANGE_CAUSE, REVISION, DeploymentController  # noqa: E402
from gitkube.controllers.gc import GarbageCollector  # noqa: E402
from gitkube.controllers.hashing import POD_TEMPLATE_HASH  # noqa: E402
from gitkube.controllers.replicaset import SLOW_START_BATCH, ReplicaSetController  # noqa: E402
from gitkube.store import open_store  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


class Result(NamedTuple):
    code: int
    out: str
    err: str


def gk(state: Path, *args: str) -> Result:
    """`gitkube --state STATE ARGS…` through the real entry point, in-process."""
    from gitkube.cli.main import run

    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(sys, "argv", ["gitkube", "--state", str(state), *args]), \
            redirect_stdout(out), redirect_stderr(err):
        try:
            run()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Result(code, out.getvalue(), err.getvalue())


def deployment(image: str = "v1", replicas: int = 2, namespace: str = "default", **spec) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}, **spec}}


def image_of(d: dict) -> str:
    return d["spec"]["template"]["spec"]["containers"][0]["image"]


def step(store, ready: bool = True) -> None:
    """One agent pass without Docker: the controllers, then a kubelet that readies and removes pods."""
    for controller in (DeploymentController(), DaemonSetController(), ReplicaSetController(), GarbageCollector()):
        write_changes(store, controller.sync(take_snapshot(store, time.time())))
    for pod in store.list("Pod"):
        md = pod["metadata"]
        if md.get("deletionTimestamp"):
            store.remove("Pod", md["namespace"], md["name"])
        elif ready and (pod.get("status") or {}).get("phase") != "Running":
            store.update_status("Pod", md["namespace"], md["name"], running_ready_status(time.time()))


def settle(store, passes: int = 12) -> None:
    for _ in range(passes):
        step(store)


def set_image(store, image: str, namespace: str = "default", cause: str | None = None) -> None:
    d = store.get("Deployment", namespace, "web")
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    if cause:
        d["metadata"].setdefault("annotations", {})[CHANGE_CAUSE] = cause
    store.update(d)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def store(state: Path):
    s = open_store(str(state))
    yield s
    s.close()


@pytest.fixture
def rolled(store, state: Path) -> Path:
    """web rolled out v1, then v2 (with a change-cause), both finished."""
    store.create(deployment("v1"))
    settle(store)
    set_image(store, "v2", cause="image bumped to v2")
    settle(store)
    return state


# --- status --------------------------------------------------------------------------------------

def test_status_of_a_finished_rollout(rolled):
    r = gk(rolled, "rollout", "status", "deploy/web")
    assert (r.code, r.out, r.err) == (0, 'deployment "web" successfully rolled out\n', "")


@pytest.mark.parametrize("resource", [
    pytest.param(["deployment/web"], id="deployment slash name"),
    pytest.param(["deployment.apps/web"], id="deployment dot apps slash name"),
    pytest.param(["deploy", "web"], id="type and name as two words"),
])
def test_status_accepts_the_ways_kubectl_names_a_deployment(rolled, resource):
    assert gk(rolled, "rollout", "status", *resource).code == 0


def test_status_without_watch_prints_once_mid_rollout(store, state):
    store.create(deployment("v1", replicas=SLOW_START_BATCH + 2))
    step(store, ready=False)  # the ReplicaSet and its first batch of pods (slow start) exist, nothing is ready
    step(store, ready=False)
    r = gk(state, "rollout", "status", "deploy/web", "--watch=false")
    assert r.code == 0
    assert r.out == (f'Waiting for deployment "web" rollout to finish: {SLOW_START_BATCH} out of '
                     f'{SLOW_START_BATCH + 2} new replicas have been updated...\n')


def test_status_watches_until_the_rollout_is_done(store, state):
    store.create(deployment("v1", replicas=2))
    step(store, ready=False)

    def agent() -> None:
        time.sleep(0.3)
        s = open_store(str(state))
        try:
            settle(s)
        finally:
            s.close()

    t = threading.Thread(target=agent)
    t.start()
    r = gk(state, "rollout", "status", "deploy/web", "--timeout=20s")
    t.join()
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith('Waiting for deployment "web" rollout to finish')
    assert lines[-1] == 'deployment "web" successfully rolled out'
    assert len(lines) == len(set(lines))  # a line only when the status changes


@pytest.mark.parametrize("flag", ["-w", "--watch", "-w=true", "--watch=True"])
def test_watch_can_be_given_bare_or_with_a_value(rolled, flag):
    assert gk(rolled, "rollout", "status", "deploy/web", flag).code == 0


def test_status_times_out(store, state):
    store.create(deployment("v1"))
    r = gk(state, "rollout", "status", "deploy/web", "--timeout=0.3s")
    assert r.code == 1
    assert r.out == "Waiting for deployment spec update to be observed...\n"
    assert r.err == "error: timed out waiting for the condition\n"


def test_status_fails_once_the_progress_deadline_is_exceeded(rolled, store):
    d = store.get("Deployment", "default", "web")
    status = d["status"]
    status["conditions"] = [c if c["type"] != "Progressing" else
                            {**c, "status": "False", "reason": "ProgressDeadlineExceeded"}
                            for c in status["conditions"]]
    store.update_status("Deployment", "default", "web", status)
    r = gk(rolled, "rollout", "status", "deploy/web")
    assert r.code == 1
    assert r.err == 'error: deployment "web" exceeded its progress deadline\n'


def test_status_of_a_daemonset(store, state):
    store.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
                  "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    store.create({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
                  "spec": {"selector": {"matchLabels": {"app": "agent"}},
                           "template": {"metadata": {"labels": {"app": "agent"}},
                                        "spec": {"containers": [{"name": "c", "image": "a"}]}}}})
    settle(store, 4)
    r = gk(state, "rollout", "status", "ds/agent")
    assert (r.code, r.out) == (0, 'daemon set "agent" successfully rolled out\n')


STATUS_LINES = [
    ("the controller has not seen the new generation", {"generation": 2},
     {"observedGeneration": 1}, "Waiting for deployment spec update to be observed...", False),
    ("updated replicas are missing", {}, {"observedGeneration": 1, "updatedReplicas": 1, "replicas": 3},
     'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...', False),
    ("old replicas are still there", {}, {"observedGeneration": 1, "updatedReplicas": 3, "replicas": 4},
     'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...', False),
    ("updated replicas are not available yet", {},
     {"observedGeneration": 1, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 1},
     'Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available...', False),
    ("everything is updated and available", {},
     {"observedGeneration": 1, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 3},
     'deployment "web" successfully rolled out', True),
]


@pytest.mark.parametrize("meta,status,line,done", [pytest.param(*c[1:], id=c[0]) for c in STATUS_LINES])
def test_status_lines(meta, status, line, done):
    d = {**deployment(replicas=3), "status": status}
    d["metadata"]["generation"] = 1
    d["metadata"].update(meta)
    assert rollout_status(d) == (line, done)


def test_status_of_an_on_delete_daemonset_is_refused():
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "generation": 1},
          "spec": {"updateStrategy": {"type": "OnDelete"}}, "status": {"observedGeneration": 1}}
    with pytest.raises(RolloutError, match="only available for RollingUpdate"):
        rollout_status(ds)


def test_status_line_raises_past_the_deadline():
    d = {**deployment(), "status": {"observedGeneration": 1, "conditions": [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}}
    d["metadata"]["generation"] = 1
    with pytest.raises(RolloutError, match="exceeded its progress deadline"):
        rollout_status(d)


# --- history -------------------------------------------------------------------------------------

def test_history_lists_revisions_with_their_change_cause(rolled):
    r = gk(rolled, "rollout", "history", "deploy/web")
    assert r.code == 0
    assert r.out == ("deployment.apps/web \n"
                     "REVISION  CHANGE-CAUSE\n"
                     "1         <none>\n"
                     "2         image bumped to v2\n\n")


def test_history_of_one_revision_shows_its_template(rolled):
    r = gk(rolled, "rollout", "history", "deploy/web", "--revision=1")
    assert r.code == 0
    assert r.out.startswith("deployment.apps/web with revision #1\nPod Template:\n")
    assert "Image:" in r.out and "v1" in r.out and "v2" not in r.out


def test_history_of_a_missing_revision_fails(rolled):
    r = gk(rolled, "rollout", "history", "deploy/web", "--revision=9")
    assert (r.code, r.err) == (1, "error: unable to find the specified revision 9\n")


# --- undo ----------------------------------------------------------------------------------------

def test_undo_goes_back_to_the_previous_template(rolled, store):
    r = gk(rolled, "rollout", "undo", "deploy/web")
    assert (r.code, r.out) == (0, "deployment.apps/web rolled back\n")
    d = store.get("Deployment", "default", "web")
    assert image_of(d) == "v1"
    assert POD_TEMPLATE_HASH not in d["spec"]["template"]["metadata"]["labels"]
    assert CHANGE_CAUSE not in (d["metadata"].get("annotations") or {})  # revision 1 had none
    settle(store)
    sets = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in store.list("ReplicaSet")}
    assert sets["v1"]["metadata"]["annotations"][REVISION] == "3"  # the old ReplicaSet, renumbered
    assert sets["v1"]["spec"]["replicas"] == 2 and sets["v2"]["spec"]["replicas"] == 0
    assert gk(rolled, "rollout", "status", "deploy/web").code == 0
    history = gk(rolled, "rollout", "history", "deploy/web").out
    assert "\n2         image bumped to v2\n3         <none>\n" in history


def test_undo_to_a_revision(rolled, store):
    r = gk(rolled, "rollout", "undo", "deploy/web", "--to-revision=1")
    assert r.code == 0
    settle(store)
    r = gk(rolled, "rollout", "undo", "deploy/web", "--to-revision=2")
    assert r.code == 0
    d = store.get("Deployment", "default", "web")
    assert image_of(d) == "v2"
    assert d["metadata"]["annotations"][CHANGE_CAUSE] == "image bumped to v2"


def test_undo_to_the_current_template_is_skipped(rolled, store):
    before = store.get("Deployment", "default", "web")
    r = gk(rolled, "rollout", "undo", "deploy/web", "--to-revision=2")
    assert (r.code, r.out) == (0, "deployment.apps/web skipped rollback (current template already matches "
                                  "revision 2)\n")
    assert store.get("Deployment", "default", "web")["metadata"]["resourceVersion"] == \
        before["metadata"]["resourceVersion"]


@pytest.mark.parametrize("setup,args,err", [
    pytest.param(None, ["--to-revision=7"], "error: unable to find specified revision 7 in history\n",
                 id="an unknown revision fails"),
    pytest.param("pause", [], "error: you cannot rollback a paused deployment; resume it first (set spec.paused "
                              "to false) and try again\n", id="a paused deployment is not rolled back"),
])
def test_undo_failures(rolled, store, setup, args, err):
    if setup == "pause":
        d = store.get("Deployment", "default", "web")
        d["spec"]["paused"] = True
        store.update(d)
    r = gk(rolled, "rollout", "undo", "deploy/web", *args)
    assert (r.code, r.err) == (1, err)


def test_undo_without_history_fails(store, state):
    store.create(deployment("v1"))
    settle(store)
    r = gk(state, "rollout", "undo", "deploy/web")
    assert (r.code, r.err) == (1, 'error: no rollout history found for deployment "web"\n')


def test_namespaces(store, state):
    store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}})
    store.create(deployment("v1", namespace="prod"))
    settle(store)
    set_image(store, "v2", namespace="prod")
    settle(store)
    assert gk(state, "rollout", "status", "deploy/web").code == 1  # not in default
    assert gk(state, "rollout", "status", "deploy/web", "-n", "prod").code == 0
    assert gk(state, "rollout", "undo", "deploy/web", "-n", "prod").code == 0
    assert image_of(store.get("Deployment", "prod", "web")) == "v1"


# --- errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("args,code,err", [
    pytest.param(["status", "deploy/nope"], 1,
                 'Error from server (NotFound): deployments.apps "nope" not found\n', id="a missing deployment"),
    pytest.param(["status"], 2, "error: required resource not specified: give TYPE/NAME, like deployment/web\n",
                 id="no resource at all"),
    pytest.param(["status", "web"], 2, "error: you must give a name with the type, like web/NAME or web NAME\n",
                 id="a name without a type"),
    pytest.param(["history", "svc/web"], 2, 'error: no history viewer has been implemented for "Service"\n',
                 id="history of a kind without history"),
    pytest.param(["undo", "ds/web"], 2, 'error: no rollbacker has been implemented for "DaemonSet"\n',
                 id="undo of a daemonset"),
    pytest.param(["status", "deploy/web", "--watch=maybe"], 2,
                 'error: invalid argument "maybe" for "-w, --watch" flag: use true or false\n',
                 id="a watch value that is not a boolean"),
    pytest.param(["status", "deploy/web", "--timeout=soon"], 2,
                 "error: invalid duration 'soon' (examples: 90s, 5m, 1h30m)\n", id="a timeout that is no duration"),
])
def test_errors(rolled, args, code, err):
    r = gk(rolled, "rollout", *args)
    assert (r.code, r.err) == (code, err)


def test_the_command_runs_as_a_process(rolled):
    done = subprocess.run([sys.executable, "-m", "gitkube", "--state", str(rolled), "rollout", "history", "deploy/web"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "REVISION  CHANGE-CAUSE" in done.stdout
