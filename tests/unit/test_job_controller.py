"""The Job controller (K8S-SEMANTICS 4.4): hand-built snapshots with injected time, simulated runs
against a real in-memory Store, and a property test of its invariants under random pod outcomes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitkube.agent.controllers import take_snapshot, write_changes
from gitkube.controllers.base import Changes, Snapshot, is_active
from gitkube.controllers.job import (BACKOFF_MESSAGE, DEADLINE_MESSAGE, JobController, finished_condition,
                                     format_time, sizes)
from gitkube.store.sqlite import SqliteStore

NOW = 1_700_000_000.0
JOB_UID = "0b6f1a3e-job"


def make_job(name: str = "pi", *, policy: str = "Never", status: dict | None = None, uid: str = JOB_UID,
             created: float = NOW - 60, **spec: object) -> dict:
    body: dict = {"template": {"metadata": {"labels": {"app": name}},
                               "spec": {"restartPolicy": policy,
                                        "containers": [{"name": "main", "image": "busybox:1.36"}]}}}
    body.update(spec)
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": name, "namespace": "default", "uid": uid, "resourceVersion": "1",
                        "creationTimestamp": format_time(created)},
           "spec": body}
    if status is not None:
        job["status"] = status
    return job


def make_pod(job: dict, name: str, phase: str = "Running", *, created: float = NOW - 30,
             finished: float | None = None, restarts: int = 0, ready: bool = False, deleting: bool = False,
             controller: bool = True) -> dict:
    md = job["metadata"]
    state: dict
    if finished is not None:
        state = {"terminated": {"exitCode": 0 if phase == "Succeeded" else 1, "finishedAt": format_time(finished)}}
    else:
        state = {"running": {"startedAt": format_time(created)}}
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                        "creationTimestamp": format_time(created),
                        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": md["name"],
                                             "uid": md["uid"], "controller": controller}]},
           "spec": {"nodeName": "node-1", "restartPolicy": job["spec"]["template"]["spec"]["restartPolicy"]},
           "status": {"phase": phase,
                      "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                      "lastTransitionTime": format_time(created)}],
                      "containerStatuses": [{"name": "main", "restartCount": restarts, "state": state}]}}
    if deleting:
        pod["metadata"]["deletionTimestamp"] = format_time(NOW - 1)
    return pod


def plan(job: dict, pods: list[dict] = (), now: float = NOW) -> Changes:  # type: ignore[assignment]
    return JobController().sync(Snapshot(now, {"Job": [job], "Pod": list(pods)}))


def written_status(changes: Changes) -> dict:
    assert len(changes.statuses) == 1, changes.statuses
    return changes.statuses[0][3]


def deleted_pods(changes: Changes) -> list[str]:
    return [name for kind, _, name, _ in changes.deletes if kind == "Pod"]


def cond(status: dict, kind: str) -> dict | None:
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), None)


def running(job: dict, n: int, **kw: object) -> list[dict]:
    return [make_pod(job, f"{job['metadata']['name']}-r{i}", "Running", created=NOW - 100 + i, **kw)
            for i in range(n)]


def succeeded(job: dict, n: int, at: float = NOW - 50) -> list[dict]:
    return [make_pod(job, f"{job['metadata']['name']}-s{i}", "Succeeded", finished=at) for i in range(n)]


def failed(job: dict, n: int, at: float = NOW - 50) -> list[dict]:
    return [make_pod(job, f"{job['metadata']['name']}-f{i}", "Failed", finished=at) for i in range(n)]


# --- defaults ---------------------------------------------------------------------------------------

SIZES = [
    pytest.param({}, (1, 1), id="a job with neither completions nor parallelism runs one pod once"),
    pytest.param({"completions": 5}, (5, 1), id="parallelism defaults to one when only completions is set"),
    pytest.param({"parallelism": 3}, (None, 3), id="only parallelism set means work-queue mode"),
    pytest.param({"completions": 5, "parallelism": 2}, (5, 2), id="both set are taken as given"),
    pytest.param({"completions": 5, "parallelism": 0}, (5, 0), id="parallelism zero is kept (it pauses the job)"),
]


@pytest.mark.parametrize("spec, expected", SIZES)
def test_completions_and_parallelism_defaults(spec: dict, expected: tuple) -> None:
    assert sizes(spec) == expected


# --- what one pass creates and deletes ---------------------------------------------------------------

def test_new_pods_carry_the_generated_selector_labels_and_a_controller_reference() -> None:
    job = make_job(completions=5, parallelism=2)
    changes = plan(job)
    assert len(changes.creates) == 2
    pod = changes.creates[0]
    md = pod["metadata"]
    assert md["generateName"] == "pi-" and "name" not in md
    assert md["labels"] == {"app": "pi", "batch.kubernetes.io/controller-uid": JOB_UID,
                            "batch.kubernetes.io/job-name": "pi", "controller-uid": JOB_UID, "job-name": "pi"}
    assert md["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "Job", "name": "pi", "uid": JOB_UID,
                                      "controller": True, "blockOwnerDeletion": True}]
    assert pod["spec"]["restartPolicy"] == "Never"
    assert written_status(changes) == {"startTime": format_time(NOW), "active": 2, "ready": 0}


J = make_job  # short names for the table below
CREATES_DELETES = [
    pytest.param(J(completions=5, parallelism=2), [], 2, 0,
                 id="five completions at parallelism two start two pods"),
    pytest.param(J(completions=5, parallelism=2), succeeded(J(), 4), 1, 0,
                 id="never more pods than the completions still missing"),
    pytest.param(J(completions=3, parallelism=10), [], 3, 0,
                 id="parallelism above completions is effectively ignored"),
    pytest.param(J(completions=5, parallelism=2), running(J(), 2), 0, 0,
                 id="a job at its parallelism starts nothing"),
    pytest.param(J(completions=5, parallelism=0), [], 0, 0, id="parallelism zero starts nothing"),
    pytest.param(J(completions=5, parallelism=0), running(J(), 2), 0, 2,
                 id="parallelism zero pauses the job by deleting its running pods"),
    pytest.param(J(parallelism=3), [], 3, 0, id="work-queue mode starts parallelism pods"),
    pytest.param(J(parallelism=3), succeeded(J(), 1) + running(J(), 1), 0, 0,
                 id="work-queue mode starts nothing after the first success"),
    pytest.param(J(completions=5, parallelism=2), running(J(), 1) + [make_pod(J(), "pi-t", deleting=True)], 0, 0,
                 id="a pod being deleted holds its slot until it is gone"),
    pytest.param(J(completions=5, parallelism=1), running(J(), 3), 0, 2,
                 id="a lowered parallelism deletes the surplus at once"),
    pytest.param(J(completions=5, parallelism=2),
                 running(J(), 1) + [make_pod(J(), "pi-other", controller=False)], 1, 0,
                 id="pods without a controller reference to the job are not counted"),
]


@pytest.mark.parametrize("job, pods, creates, deletes", CREATES_DELETES)
def test_a_pass_keeps_min_of_parallelism_and_missing_completions_running(job: dict, pods: list[dict], creates: int,
                                                                          deletes: int) -> None:
    changes = plan(job, pods)
    assert (len(changes.creates), len(deleted_pods(changes))) == (creates, deletes)


def test_scale_down_deletes_the_newest_pods_first() -> None:
    job = make_job(completions=10, parallelism=1)
    pods = [make_pod(job, f"pi-{i}", created=NOW - 100 + i, ready=True) for i in range(3)]
    changes = plan(job, pods)
    assert sorted(deleted_pods(changes)) == ["pi-1", "pi-2"]
    assert written_status(changes)["active"] == 1


def test_scale_job_through_the_store_takes_effect_on_the_next_pass() -> None:
    """`gitkube scale job pi --replicas=N` writes spec.parallelism; the next pass honours it both ways."""
    from gitkube.cli.cmd_scale import scale_one
    from gitkube.kinds import BY_KIND

    store, clock = _store()
    store.create(_stored_job(completions=10, parallelism=3))
    _pass(store, clock.now)
    assert len(_active(store)) == 3
    assert scale_one(store, BY_KIND["Job"], "default", "pi", 1, -1)
    _pass(store, clock.now)
    assert len(_active(store)) == 1
    assert scale_one(store, BY_KIND["Job"], "default", "pi", 4, -1)
    _pass(store, clock.now)
    assert len(_active(store)) == 4


# --- completion ----------------------------------------------------------------------------------------

def test_the_job_completes_when_succeeded_reaches_completions() -> None:
    job = make_job(completions=2, status={"startTime": format_time(NOW - 60), "active": 1, "succeeded": 1,
                                          "ready": 0})
    changes = plan(job, succeeded(job, 2))
    status = written_status(changes)
    assert status["succeeded"] == 2 and "active" not in status
    assert status["completionTime"] == format_time(NOW)
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert cond(status, "Complete")["reason"] == "CompletionsReached"
    assert not changes.creates and not changes.deletes
    assert ("Normal", "Completed", "Job completed") in [e[1:] for e in changes.events]


WORK_QUEUE = [
    pytest.param(running(J(), 2), False, 1,
                 id="work queue: running pods alone do not complete the job and the missing one starts"),
    pytest.param(succeeded(J(), 1) + running(J(), 1), False, 0,
                 id="work queue: after a success the job waits for the running pods"),
    pytest.param(succeeded(J(), 1) + failed(J(), 1), True, 0,
                 id="work queue: one success and nothing running completes the job"),
]


@pytest.mark.parametrize("pods, complete, creates", WORK_QUEUE)
def test_work_queue_mode(pods: list[dict], complete: bool, creates: int) -> None:
    job = make_job(parallelism=3, status={"startTime": format_time(NOW - 60), "ready": 0})
    changes = plan(job, pods)
    assert len(changes.creates) == creates
    status = written_status(changes) if changes.statuses else job["status"]
    assert (cond(status, "Complete") is not None) == complete


def test_a_finished_job_keeps_its_pods_and_plans_nothing() -> None:
    job = make_job(completions=2)
    first = plan(job, succeeded(job, 2))
    job["status"] = written_status(first)
    again = plan(job, succeeded(job, 2), now=NOW + 3600)
    assert again.empty and not again.events and again.requeue_after is None


def test_the_status_is_written_only_when_it_changed_and_transition_times_stay() -> None:
    job = make_job(completions=5, parallelism=2)
    pods = running(job, 2)
    job["status"] = written_status(plan(job, pods))
    assert plan(job, pods, now=NOW + 30).statuses == []
    job["spec"]["suspend"] = True
    job["status"] = written_status(plan(job, pods, now=NOW + 40))
    since = cond(job["status"], "Suspended")["lastTransitionTime"]
    assert plan(job, [], now=NOW + 90).statuses == []
    assert cond(job["status"], "Suspended")["lastTransitionTime"] == since == format_time(NOW + 40)


def test_deleting_a_finished_pod_by_hand_does_not_run_it_again() -> None:
    job = make_job(completions=3, status={"startTime": format_time(NOW - 60), "succeeded": 2, "ready": 0})
    changes = plan(job, succeeded(job, 1))  # one of the two Succeeded pods was deleted
    assert len(changes.creates) == 1  # only the third completion is missing
    assert written_status(changes)["succeeded"] == 2


# --- failures --------------------------------------------------------------------------------------------

BACKOFF = [
    pytest.param(failed(J(), 1, at=NOW - 5), [], 0, 5.0,
                 id="never: a failed pod is replaced only 10 s after it failed"),
    pytest.param(failed(J(), 1, at=NOW - 10), [], 1, None, id="never: the replacement starts once 10 s passed"),
    pytest.param([make_pod(J(), f"pi-f{i}", "Failed", finished=NOW - 30 + i) for i in range(3)], [], 0, 12.0,
                 id="never: the back-off doubles per failure (40 s after the third)"),
    pytest.param([make_pod(J(), f"pi-f{i}", "Failed", finished=NOW - 1000 + i) for i in range(9)], [], 0, 360 - 992,
                 id="never: the back-off is capped at six minutes"),
    pytest.param(failed(J(), 2, at=NOW - 100), succeeded(J(), 1, at=NOW - 60), 1, None,
                 id="never: a success resets the back-off"),
]


@pytest.mark.parametrize("fails, wins, creates, requeue", BACKOFF)
def test_failed_pods_are_replaced_after_a_doubling_back_off(fails: list[dict], wins: list[dict], creates: int,
                                                            requeue: float | None) -> None:
    if requeue is not None and requeue < 0:
        creates, requeue = 1, None  # the capped back-off has long passed
    job = make_job(completions=5, backoffLimit=100, status={"startTime": format_time(NOW - 2000), "ready": 0})
    changes = plan(job, fails + wins)
    assert len(changes.creates) == creates
    assert changes.requeue_after == (pytest.approx(requeue) if requeue is not None else None)


def test_the_capped_back_off_holds_for_six_minutes() -> None:
    job = make_job(completions=5, backoffLimit=100, status={"startTime": format_time(NOW - 2000), "ready": 0})
    fails = [make_pod(job, f"pi-f{i}", "Failed", finished=NOW - 100) for i in range(9)]
    changes = plan(job, fails)
    assert not changes.creates and changes.requeue_after == pytest.approx(260.0)


LIMITS = [
    pytest.param("Never", {}, failed(J(), 6), [], None, id="never: six failures under the default limit of six go on"),
    pytest.param("Never", {}, failed(J(), 7), running(J(), 1), "BackoffLimitExceeded",
                 id="never: the seventh failure exceeds the default limit"),
    pytest.param("Never", {"backoffLimit": 0}, failed(J(), 1), [], "BackoffLimitExceeded",
                 id="never: with a limit of zero the first failure fails the job"),
    pytest.param("OnFailure", {}, [], running(J(), 1, restarts=5), None,
                 id="on-failure: five in-place restarts stay under the default limit"),
    pytest.param("OnFailure", {}, [], running(J(), 2, restarts=3), "BackoffLimitExceeded",
                 id="on-failure: restarts of all running pods add up to the limit"),
    pytest.param("OnFailure", {"backoffLimit": 0}, [], running(J(), 1, restarts=1), "BackoffLimitExceeded",
                 id="on-failure: with a limit of zero one restart fails the job"),
    pytest.param("Never", {"activeDeadlineSeconds": 60}, [], running(J(), 1), "DeadlineExceeded",
                 id="the active deadline counts from the start time"),
    pytest.param("Never", {"activeDeadlineSeconds": 60, "backoffLimit": 0}, failed(J(), 3), running(J(), 1),
                 "DeadlineExceeded", id="the active deadline takes precedence over the back-off limit"),
]


@pytest.mark.parametrize("policy, spec, fails, alive, reason", LIMITS)
def test_the_job_fails_on_its_back_off_limit_or_deadline(policy: str, spec: dict, fails: list[dict],
                                                          alive: list[dict], reason: str | None) -> None:
    job = make_job(policy=policy, completions=3, parallelism=2, status={"startTime": format_time(NOW - 60),
                                                                        "ready": 0}, **spec)
    for p in fails + alive:
        p["spec"]["restartPolicy"] = policy
    changes = plan(job, fails + alive)
    status = written_status(changes) if changes.statuses else job["status"]
    failed_cond = cond(status, "Failed")
    if reason is None:
        assert failed_cond is None
        return
    assert failed_cond["status"] == "True" and failed_cond["reason"] == reason
    assert failed_cond["message"] == (DEADLINE_MESSAGE if reason == "DeadlineExceeded" else BACKOFF_MESSAGE)
    assert cond(status, "FailureTarget")["reason"] == reason
    assert sorted(deleted_pods(changes)) == sorted(p["metadata"]["name"] for p in alive)
    assert not changes.creates and "completionTime" not in status and "active" not in status
    assert ("Warning", reason) in [e[1:3] for e in changes.events]


def test_before_the_deadline_the_controller_asks_to_come_back_at_it() -> None:
    job = make_job(completions=1, activeDeadlineSeconds=100, status={"startTime": format_time(NOW - 60),
                                                                     "active": 1, "ready": 0})
    changes = plan(job, running(job, 1))
    assert changes.requeue_after == pytest.approx(40.0) and not changes.deletes


# --- suspend ----------------------------------------------------------------------------------------------

def test_suspending_deletes_the_running_pods_and_sets_the_suspended_condition() -> None:
    job = make_job(completions=5, parallelism=2, suspend=True,
                   status={"startTime": format_time(NOW - 60), "active": 2, "ready": 0})
    changes = plan(job, running(job, 2))
    assert sorted(deleted_pods(changes)) == ["pi-r0", "pi-r1"] and not changes.creates
    status = written_status(changes)
    assert "active" not in status
    assert cond(status, "Suspended") == {"type": "Suspended", "status": "True", "reason": "JobSuspended",
                                         "message": "Job suspended", "lastProbeTime": format_time(NOW),
                                         "lastTransitionTime": format_time(NOW)}


def test_a_job_created_suspended_has_no_start_time_and_no_deadline() -> None:
    job = make_job(completions=1, suspend=True, activeDeadlineSeconds=10)
    changes = plan(job, now=NOW + 1000)
    status = written_status(changes)
    assert "startTime" not in status and cond(status, "Failed") is None and not changes.creates


def test_resuming_restarts_the_deadline_clock_and_the_pods() -> None:
    job = make_job(completions=2, activeDeadlineSeconds=100, suspend=True)
    job["status"] = written_status(plan(job, now=NOW))
    job["spec"]["suspend"] = False
    changes = plan(job, now=NOW + 500)
    status = written_status(changes)
    assert status["startTime"] == format_time(NOW + 500)
    assert cond(status, "Suspended")["status"] == "False" and cond(status, "Suspended")["reason"] == "JobResumed"
    assert len(changes.creates) == 1 and cond(status, "Failed") is None
    assert changes.requeue_after == pytest.approx(100.0)


# --- ttlSecondsAfterFinished ------------------------------------------------------------------------------

TTL = [
    pytest.param(100, NOW - 50, None, 50.0, id="a finished job lives on until its ttl has passed"),
    pytest.param(100, NOW - 100, "background", None, id="a finished job is deleted once its ttl has passed"),
    pytest.param(None, NOW - 10**6, None, None, id="without a ttl a finished job stays"),
]


@pytest.mark.parametrize("ttl, done, propagation, requeue", TTL)
def test_ttl_after_finished(ttl: int | None, done: float, propagation: str | None, requeue: float | None) -> None:
    spec = {} if ttl is None else {"ttlSecondsAfterFinished": ttl}
    job = make_job(completions=1, status={"startTime": format_time(done - 10), "completionTime": format_time(done),
                                          "succeeded": 1, "ready": 0,
                                          "conditions": [{"type": "Complete", "status": "True",
                                                          "lastTransitionTime": format_time(done)}]}, **spec)
    changes = plan(job, succeeded(job, 1, at=done))
    jobs_deleted = [(k, n, p) for k, _, n, p in changes.deletes if k == "Job"]
    assert jobs_deleted == ([("Job", "pi", propagation)] if propagation else [])
    assert changes.requeue_after == (pytest.approx(requeue) if requeue else None)


def test_a_failed_job_with_ttl_zero_is_deleted_in_the_pass_that_fails_it() -> None:
    job = make_job(completions=1, backoffLimit=0, ttlSecondsAfterFinished=0,
                   status={"startTime": format_time(NOW - 60), "ready": 0})
    changes = plan(job, failed(job, 1))
    assert ("Job", "default", "pi", "background") in changes.deletes


def test_a_job_being_deleted_is_left_to_the_garbage_collector() -> None:
    job = make_job(completions=3)
    job["metadata"]["deletionTimestamp"] = format_time(NOW - 1)
    assert plan(job, running(job, 1)).empty


# --- simulated runs against a real Store ------------------------------------------------------------------

class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now


def _store() -> tuple[SqliteStore, Clock]:
    clock = Clock()
    return SqliteStore(":memory:", clock=lambda: clock.now), clock


def _stored_job(policy: str = "Never", **spec: object) -> dict:
    job = make_job(policy=policy, **spec)
    job["metadata"] = {"name": "pi", "namespace": "default"}
    return job


def _active(store: SqliteStore) -> list[dict]:
    return [p for p in store.list("Pod") if is_active(p)]


def _pass(store: SqliteStore, now: float) -> Changes:
    """One controller pass, checked: the plan never leaves more than parallelism pods running."""
    snap = take_snapshot(store, now)
    job = snap.of("Job")[0]
    was_finished = finished_condition(job) is not None
    changes = JobController().sync(snap)
    if was_finished:
        assert changes.empty, "a finished job plans nothing"
    deleted = {name for kind, _, name, _ in changes.deletes if kind == "Pod"}
    after = sum(1 for p in snap.of("Pod") if is_active(p) and p["metadata"]["name"] not in deleted)
    after += len(changes.creates)
    assert after <= sizes(job["spec"])[1], "more pods planned than parallelism allows"
    write_changes(store, changes)
    return changes


def _finish(store: SqliteStore, pod: dict, outcome: str, now: float) -> None:
    """What the kubelet would report for `pod`: it succeeded, failed, restarted in place, or still runs."""
    policy = pod["spec"].get("restartPolicy")
    old = (pod.get("status") or {}).get("containerStatuses") or [{"restartCount": 0}]
    restarts = old[0].get("restartCount", 0)
    if outcome == "succeed" or (outcome == "fail" and policy == "Never"):
        phase = "Succeeded" if outcome == "succeed" else "Failed"
        state = {"terminated": {"exitCode": 0 if phase == "Succeeded" else 1, "finishedAt": format_time(now)}}
    else:
        phase = "Running"
        restarts += outcome == "fail"
        state = {"running": {"startedAt": format_time(now)}}
    store.update_status("Pod", "default", pod["metadata"]["name"],
                        {"phase": phase, "containerStatuses": [{"name": "main", "restartCount": restarts,
                                                                "state": state}]})


def test_five_completions_at_parallelism_two_never_run_more_than_two_pods() -> None:
    store, clock = _store()
    store.create(_stored_job(completions=5, parallelism=2))
    for step in range(30):
        _pass(store, clock.now)
        active = sorted(_active(store), key=lambda p: p["metadata"]["name"])
        assert len(active) <= 2
        if active:  # one pod finishes per step, so the job needs a refill every time
            _finish(store, active[0], "succeed", clock.now)
        clock.now += 5
    job = store.get("Job", "default", "pi")
    assert cond(job["status"], "Complete")["status"] == "True"
    assert job["status"]["succeeded"] == 5
    assert sum(1 for p in store.list("Pod") if p["status"]["phase"] == "Succeeded") == 5
    assert not _active(store)


def test_a_never_job_replaces_failures_until_its_back_off_limit() -> None:
    store, clock = _store()
    store.create(_stored_job(completions=1, backoffLimit=2))
    starts = []
    for _ in range(40):
        changes = _pass(store, clock.now)
        if changes.creates:
            starts.append(clock.now)
        for pod in _active(store):
            _finish(store, pod, "fail", clock.now)
        clock.now += 1
    job = store.get("Job", "default", "pi")
    assert cond(job["status"], "Failed")["reason"] == "BackoffLimitExceeded"
    assert job["status"]["failed"] == 3  # the first try and two retries
    assert [b - a for a, b in zip(starts, starts[1:])] == [10, 20]  # each pod fails as it starts


def test_an_on_failure_job_counts_in_place_restarts_against_its_back_off_limit() -> None:
    store, clock = _store()
    store.create(_stored_job(policy="OnFailure", completions=1, backoffLimit=3))
    for _ in range(10):
        _pass(store, clock.now)
        for pod in _active(store):
            _finish(store, pod, "fail", clock.now)
        clock.now += 1
    job = store.get("Job", "default", "pi")
    assert cond(job["status"], "Failed")["reason"] == "BackoffLimitExceeded"
    assert len(store.list("Pod")) == 0 or all(p["metadata"].get("deletionTimestamp") for p in store.list("Pod"))


@settings(max_examples=60, deadline=None)
@given(completions=st.one_of(st.none(), st.integers(1, 6)), parallelism=st.integers(1, 4),
       backoff_limit=st.integers(0, 4), policy=st.sampled_from(["Never", "OnFailure"]),
       outcomes=st.lists(st.sampled_from(["succeed", "fail", "run"]), max_size=60),
       step=st.sampled_from([1.0, 7.0, 30.0]))
def test_property_random_pod_outcomes_keep_the_job_within_its_limits(
        completions: int | None, parallelism: int, backoff_limit: int, policy: str, outcomes: list[str],
        step: float) -> None:
    """Whatever the pods do: never more than parallelism running, never more successes than completions,
    the job ends Complete or Failed, and once it has, the next plan is empty."""
    store, clock = _store()
    spec: dict = {"parallelism": parallelism, "backoffLimit": backoff_limit}
    if completions is not None:
        spec["completions"] = completions
    store.create(_stored_job(policy=policy, **spec))
    todo = iter(outcomes)
    for _ in range(400):
        _pass(store, clock.now)
        job = store.get("Job", "default", "pi")
        status = job.get("status") or {}
        assert len(_active(store)) <= parallelism
        if completions is not None:
            assert status.get("succeeded", 0) <= completions
        if finished_condition(job) is not None:
            break
        for pod in sorted(_active(store), key=lambda p: p["metadata"]["name"]):
            _finish(store, pod, next(todo, "succeed"), clock.now)
        clock.now += step
    job = store.get("Job", "default", "pi")
    done = finished_condition(job)
    assert done is not None and done["type"] in ("Complete", "Failed")
    if done["type"] == "Complete" and completions is not None:
        assert job["status"]["succeeded"] == completions
    clock.now += 3600
    _pass(store, clock.now)  # asserts the plan is empty
