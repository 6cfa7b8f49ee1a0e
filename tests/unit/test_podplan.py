"""The kubelet's per-pod decisions: sandbox first, containers, restarts with back-off, probes, phases."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gitkube.agent.podplan import ProbeState, PullState, plan_pod, restart_delay, spec_hash

NOW = 1_800_000_000.0


def iso(t: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


@dataclass
class C:
    id: str
    container: str
    attempt: int = 0
    state: str = "running"
    exit_code: int | None = None
    started_at: str = iso(NOW - 100)
    finished_at: str = ""
    sandbox_id: str = "sb"
    spec_hash: str = ""
    pod_uid: str = "u1"
    oom_killed: bool = False
    error: str = ""
    ip: str = ""
    image: str = "busybox:1.36"


def pod(restart="Always", containers=("app",), deleting=False, phase=None):
    specs = [{"name": n, "image": "busybox:1.36"} for n in containers]
    p = {"metadata": {"name": "p", "namespace": "default", "uid": "u1"},
         "spec": {"restartPolicy": restart, "containers": specs, "nodeName": "local"}}
    if deleting:
        p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if phase:
        p["status"] = {"phase": phase}
    return p


def sandbox(**kw):
    return C(id="sb", container="POD", ip="172.17.0.5", **kw)


def app(**kw):
    kw.setdefault("spec_hash", spec_hash({"name": kw.get("container", "app"), "image": "busybox:1.36"}))
    kw.setdefault("id", f"app{kw.get('attempt', 0)}")
    kw.setdefault("container", "app")
    return C(**kw)


def ops(plan):
    return [(a.op, a.container or a.container_id, a.attempt) for a in plan.actions]


def test_a_new_pod_starts_its_sandbox_first_and_is_pending():
    plan = plan_pod(pod(), [], {}, {}, NOW)
    assert ops(plan) == [("start-sandbox", "", 0)]
    assert plan.status["phase"] == "Pending"
    assert plan.status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}


def test_with_a_sandbox_the_containers_are_started():
    plan = plan_pod(pod(containers=("a", "b")), [sandbox()], {}, {}, NOW)
    assert ops(plan) == [("start-container", "a", 0), ("start-container", "b", 0)]


def test_a_running_pod_is_running_and_ready_without_probes():
    plan = plan_pod(pod(), [sandbox(), app()], {}, {}, NOW, host_ip="10.0.0.1")
    assert plan.actions == []
    s = plan.status
    assert s["phase"] == "Running" and s["podIP"] == "172.17.0.5" and s["hostIP"] == "10.0.0.1"
    assert {c["type"]: c["status"] for c in s["conditions"]}["Ready"] == "True"
    assert s["containerStatuses"][0]["ready"] is True


def test_a_failing_readiness_probe_makes_the_pod_not_ready():
    a = app()
    plan = plan_pod(pod(), [sandbox(), a], {a.id: ProbeState(ready=False)}, {}, NOW)
    assert {c["type"]: c["status"] for c in plan.status["conditions"]}["Ready"] == "False"


def test_a_failed_liveness_probe_kills_the_container():
    a = app()
    plan = plan_pod(pod(), [sandbox(), a], {a.id: ProbeState(liveness_failed=True)}, {}, NOW)
    assert ops(plan) == [("kill", a.id, 0)]
    assert plan.events[0][1] == "Killing"


def test_the_first_restart_is_immediate_and_keeps_the_previous_container():
    dead = app(state="exited", exit_code=1, finished_at=iso(NOW - 1))
    plan = plan_pod(pod(), [sandbox(), dead], {}, {}, NOW)
    assert ops(plan) == [("start-container", "app", 1)]


@pytest.mark.parametrize("restarts, delay", [(0, 0), (1, 10), (2, 20), (3, 40), (5, 160), (6, 300), (12, 300)],
                         ids=lambda v: str(v))
def test_back_off_doubles_from_ten_seconds_to_five_minutes(restarts, delay):
    assert restart_delay(restarts, ran_for=1.0) == delay


def test_back_off_resets_after_ten_minutes_of_running():
    assert restart_delay(5, ran_for=601.0) == 0


def test_a_crash_looping_container_waits_in_crash_loop_back_off():
    prev = app(attempt=1, id="a1", state="exited", exit_code=1, finished_at=iso(NOW - 30))
    dead = app(attempt=2, id="a2", state="exited", exit_code=1, started_at=iso(NOW - 3), finished_at=iso(NOW - 2))
    plan = plan_pod(pod(), [sandbox(), prev, dead], {}, {}, NOW)
    assert plan.actions == []
    cs = plan.status["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["restartCount"] == 2
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert plan.requeue_after == pytest.approx(18, abs=0.5)
    later = plan_pod(pod(), [sandbox(), prev, dead], {}, {}, NOW + 19)
    assert ("start-container", "app", 3) in ops(later) and ("remove", "a1", 0) in ops(later)


@pytest.mark.parametrize("policy, code, phase, restarts", [
    ("Never", 0, "Succeeded", False), ("Never", 1, "Failed", False), ("OnFailure", 0, "Succeeded", False),
    ("OnFailure", 2, "Running", True), ("Always", 0, "Running", True),
], ids=["Never and exit 0 succeeds", "Never and exit 1 fails", "OnFailure and exit 0 succeeds",
        "OnFailure and exit 2 restarts", "Always restarts even after exit 0"])
def test_restart_policy_decides_phase_and_restarts(policy, code, phase, restarts):
    done = app(state="exited", exit_code=code, finished_at=iso(NOW - 1))
    plan = plan_pod(pod(restart=policy), [sandbox(), done], {}, {}, NOW)
    assert plan.status["phase"] == phase
    assert any(a.op == "start-container" for a in plan.actions) is restarts


def test_a_finished_pod_stops_its_sandbox_and_does_nothing_else():
    plan = plan_pod(pod(restart="Never", phase="Succeeded"), [sandbox(), app(state="exited", exit_code=0)], {}, {}, NOW)
    assert ops(plan) == [("stop-sandbox", "sb", 0)]


def test_a_lost_sandbox_is_recreated_after_the_running_containers_are_killed():
    orphan = app(sandbox_id="gone")
    plan = plan_pod(pod(), [orphan], {}, {}, NOW)
    assert ops(plan) == [("kill", orphan.id, 0)]
    plan = plan_pod(pod(), [app(state="exited", exit_code=137, sandbox_id="gone"),
                             C(id="old", container="POD", state="exited")], {}, {}, NOW)
    assert ("start-sandbox", "", 1) in ops(plan) and ("remove", "old", 0) in ops(plan)


def test_a_container_whose_spec_changed_is_replaced():
    stale = app(spec_hash="0123456789ab")
    plan = plan_pod(pod(), [sandbox(), stale], {}, {}, NOW)
    assert ops(plan) == [("kill", stale.id, 0)]


def test_an_image_pull_failure_backs_off_as_image_pull_back_off():
    pulls = {("u1", "app"): PullState("ErrImagePull", "not found", 1, NOW + 10)}
    plan = plan_pod(pod(), [sandbox()], {}, pulls, NOW)
    assert plan.actions == []
    assert plan.status["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff"
    assert plan.requeue_after == pytest.approx(10)
    retry = plan_pod(pod(), [sandbox()], {}, pulls, NOW + 11)
    assert ops(retry) == [("start-container", "app", 0)]


def test_a_deleted_pod_is_terminated_with_its_grace_period():
    p = pod(deleting=True)
    p["spec"]["terminationGracePeriodSeconds"] = 7
    plan = plan_pod(p, [sandbox(), app()], {}, {}, NOW)
    assert [(a.op, a.grace) for a in plan.actions] == [("terminate-pod", 7)]


def test_condition_times_do_not_change_while_the_status_holds():
    first = plan_pod(pod(), [sandbox(), app()], {}, {}, NOW).status
    p = pod()
    p["status"] = first
    again = plan_pod(p, [sandbox(), app()], {}, {}, NOW + 50).status
    assert again == first


def test_a_container_created_but_never_started_is_replaced_under_the_same_attempt():
    half = app(state="created", attempt=2, id="half")
    plan = plan_pod(pod(), [sandbox(), half], {}, {}, NOW)
    assert ops(plan) == [("remove", "half", 0), ("start-container", "app", 2)]
