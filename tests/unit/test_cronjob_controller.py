"""The CronJob controller (K8S-SEMANTICS 4.5, controller v2 for more than 100 missed times): hand-built
snapshots with injected time, and simulated minutes against a real in-memory Store."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from gitkube.agent.controllers import take_snapshot, write_changes
from gitkube.controllers.base import Changes, Snapshot
from gitkube.controllers.cronjob import (SCHEDULED_ANNOTATION, TOO_MANY_MESSAGE, CronJobController, job_name,
                                         most_recent_fire)
from gitkube.controllers.job import format_time
from gitkube.schema.cron import parse_schedule
from gitkube.store.sqlite import SqliteStore

CJ_UID = "7c0d2b9e-cron"


def at(text: str) -> float:
    """`2024-01-01T10:00:00Z` → epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def make_cronjob(schedule: str = "*/5 * * * *", *, created: str = "2024-01-01T00:00:30Z",
                 last: str | None = None, status: dict | None = None, **spec: object) -> dict:
    body: dict = {"schedule": schedule,
                  "jobTemplate": {"metadata": {"labels": {"app": "hello"}, "annotations": {"team": "batch"}},
                                  "spec": {"backoffLimit": 2, "template": {"spec": {
                                      "restartPolicy": "OnFailure",
                                      "containers": [{"name": "main", "image": "busybox:1.36"}]}}}}}
    body.update(spec)
    cj = {"apiVersion": "batch/v1", "kind": "CronJob",
          "metadata": {"name": "hello", "namespace": "default", "uid": CJ_UID, "resourceVersion": "3",
                       "creationTimestamp": created},
          "spec": body}
    st = dict(status or {})
    if last:
        st["lastScheduleTime"] = last
    if st:
        cj["status"] = st
    return cj


def make_job(name: str, *, state: str = "running", start: str = "2024-01-01T00:00:00Z",
             completed: str | None = None, manual: bool = False, owner_uid: str = CJ_UID) -> dict:
    md: dict = {"name": name, "namespace": "default", "uid": f"uid-{name}", "creationTimestamp": start,
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "hello",
                                     "uid": owner_uid, "controller": True}]}
    if manual:
        md["annotations"] = {"cronjob.kubernetes.io/instantiate": "manual"}
    status: dict = {"startTime": start}
    if state in ("Complete", "Failed"):
        status["conditions"] = [{"type": state, "status": "True",
                                 "lastTransitionTime": completed or start}]
        if state == "Complete":
            status["completionTime"] = completed or start
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": md, "spec": {}, "status": status}


def plan(cj: dict, jobs: list[dict] = (), now: float = 0.0) -> Changes:  # type: ignore[assignment]
    return CronJobController().sync(Snapshot(now, {"CronJob": [cj], "Job": list(jobs)}))


def created_names(changes: Changes) -> list[str]:
    return [o["metadata"]["name"] for o in changes.creates]


def deleted_jobs(changes: Changes) -> list[tuple[str, str]]:
    return [(name, propagation) for kind, _, name, propagation in changes.deletes if kind == "Job"]


def written_status(changes: Changes) -> dict:
    assert len(changes.statuses) == 1, changes.statuses
    return changes.statuses[0][3]


def reasons(changes: Changes) -> list[tuple[str, str]]:
    return [(type_, reason) for _, type_, reason, _ in changes.events]


def name_at(text: str) -> str:
    return job_name("hello", at(text))


# --- due times -----------------------------------------------------------------------------------------

def test_a_job_is_named_after_its_scheduled_time_in_unix_minutes() -> None:
    assert job_name("hello", at("2024-01-01T00:00:00Z")) == "hello-28401120"


DUE = [
    pytest.param("*/5 * * * *", None, "2024-01-01T00:00:00Z", "2024-01-01T00:04:59Z", None,
                 id="nothing is due before the next activation"),
    pytest.param("*/5 * * * *", None, "2024-01-01T00:00:00Z", "2024-01-01T00:05:00Z", "2024-01-01T00:05:00Z",
                 id="an activation is due at its exact minute"),
    pytest.param("*/5 * * * *", None, "2024-01-01T00:00:00Z", "2024-01-01T00:07:40Z", "2024-01-01T00:05:00Z",
                 id="a late pass still finds the activation it missed"),
    pytest.param("@hourly", None, "2024-01-01T00:00:30Z", "2024-01-01T01:00:10Z", "2024-01-01T01:00:00Z",
                 id="the hourly macro fires at minute zero"),
    pytest.param("0 9 * * *", "Europe/Berlin", "2024-01-01T00:00:00Z", "2024-01-01T08:00:30Z",
                 "2024-01-01T08:00:00Z", id="nine o'clock in Berlin is eight UTC in winter"),
    pytest.param("0 9 * * *", None, "2024-01-01T00:00:00Z", "2024-01-01T08:00:30Z", None,
                 id="without a time zone the schedule is read in UTC"),
    pytest.param("0 9 * * *", "America/New_York", "2024-07-01T00:00:00Z", "2024-07-01T13:00:00Z",
                 "2024-07-01T13:00:00Z", id="nine o'clock in New York is thirteen UTC in summer"),
    pytest.param("0 9 * * 1-5", None, "2023-10-01T00:00:00Z", "2024-01-08T08:00:00Z", "2024-01-05T09:00:00Z",
                 id="after weeks of downtime the most recent weekday run is found across a weekend"),
    pytest.param("@every 90s", None, "2024-01-01T00:00:00Z", "2024-01-01T00:05:00Z", "2024-01-01T00:04:30Z",
                 id="every counts fixed intervals from the last schedule"),
]


@pytest.mark.parametrize("schedule, tz, since, now, due", DUE)
def test_the_due_time_is_the_latest_activation_since_the_last_schedule(schedule: str, tz: str | None, since: str,
                                                                       now: str, due: str | None) -> None:
    zone = ZoneInfo(tz) if tz else timezone.utc
    found = most_recent_fire(parse_schedule(schedule), zone, at(since), at(now))
    assert found == (at(due) if due else None)
    spec = {"timeZone": tz} if tz else {}
    changes = plan(make_cronjob(schedule, last=since, **spec), now=at(now))
    assert created_names(changes) == ([name_at(due)] if due else [])


def test_a_new_cronjob_counts_from_its_creation() -> None:
    cj = make_cronjob("* * * * *", created="2024-01-01T00:00:30Z")
    assert created_names(plan(cj, now=at("2024-01-01T00:00:59Z"))) == []
    assert created_names(plan(cj, now=at("2024-01-01T00:01:00Z"))) == [name_at("2024-01-01T00:01:00Z")]


# --- the Job it creates -------------------------------------------------------------------------------

def test_the_job_comes_from_the_template_with_an_owner_and_the_scheduled_timestamp() -> None:
    cj = make_cronjob("0 9 * * *", last="2024-01-01T08:00:00Z", timeZone="Europe/Berlin")
    changes = plan(cj, now=at("2024-01-02T08:00:05Z"))
    [job] = changes.creates
    assert job == {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name_at("2024-01-02T08:00:00Z"), "namespace": "default", "labels": {"app": "hello"},
                     "annotations": {"team": "batch", SCHEDULED_ANNOTATION: "2024-01-02T09:00:00+01:00"},
                     "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "hello",
                                          "uid": CJ_UID, "controller": True, "blockOwnerDeletion": True}]},
        "spec": cj["spec"]["jobTemplate"]["spec"]}
    assert job["spec"] is not cj["spec"]["jobTemplate"]["spec"]
    status = written_status(changes)
    assert status["lastScheduleTime"] == "2024-01-02T08:00:00Z"
    assert status["active"] == [{"apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"],
                                 "namespace": "default"}]
    assert ("Normal", "SuccessfulCreate") in reasons(changes)


def test_the_scheduled_timestamp_in_utc_ends_in_z() -> None:
    changes = plan(make_cronjob(last="2024-01-01T00:00:00Z"), now=at("2024-01-01T00:05:00Z"))
    assert changes.creates[0]["metadata"]["annotations"][SCHEDULED_ANNOTATION] == "2024-01-01T00:05:00Z"


def test_a_retried_pass_finds_its_job_and_only_catches_up_the_status() -> None:
    cj = make_cronjob(last="2024-01-01T00:00:00Z")
    job = make_job(name_at("2024-01-01T00:05:00Z"), start="2024-01-01T00:05:00Z")
    changes = plan(cj, [job], now=at("2024-01-01T00:05:10Z"))
    assert changes.creates == []
    status = written_status(changes)
    assert status["lastScheduleTime"] == "2024-01-01T00:05:00Z"
    assert status["active"][0]["uid"] == job["metadata"]["uid"]


def test_the_same_plan_written_twice_starts_the_run_once() -> None:
    store, clock = _store("2024-01-01T00:00:30Z")
    store.create(_stored_cronjob("*/5 * * * *"))
    snap = take_snapshot(store, at("2024-01-01T00:05:00Z"))
    first, second = CronJobController().sync(snap), CronJobController().sync(snap)  # a stale second look
    write_changes(store, first)
    write_changes(store, second)
    assert [j["metadata"]["name"] for j in store.list("Job")] == [name_at("2024-01-01T00:05:00Z")]
    again = CronJobController().sync(take_snapshot(store, at("2024-01-01T00:05:20Z")))
    assert again.creates == []


# --- missed runs -----------------------------------------------------------------------------------------

MISSED = [
    pytest.param(None, "2024-01-01T10:00:00Z", "2024-01-01T10:30:30Z", ["2024-01-01T10:30:00Z"], [],
                 id="after downtime only the most recent missed run starts"),
    pytest.param(20, "2024-01-01T10:00:00Z", "2024-01-01T10:30:30Z", [], [("Warning", "MissSchedule")],
                 id="a missed run past its starting deadline is skipped with a warning"),
    pytest.param(200, "2024-01-01T10:00:00Z", "2024-01-01T10:30:30Z", ["2024-01-01T10:30:00Z"], [],
                 id="a missed run within its starting deadline starts late"),
    pytest.param(None, "2024-01-01T08:29:00Z", "2024-01-01T10:21:10Z", ["2024-01-01T10:21:00Z"],
                 [("Warning", "TooManyMissedTimes")],
                 id="more than 100 missed runs warn and still start the most recent"),
    pytest.param(None, "2024-01-01T08:41:00Z", "2024-01-01T10:21:10Z", ["2024-01-01T10:21:00Z"], [],
                 id="exactly 100 missed runs do not warn"),
    pytest.param(200, "2024-01-01T08:29:00Z", "2024-01-01T10:21:10Z", ["2024-01-01T10:21:00Z"], [],
                 id="a starting deadline limits the missed runs counted"),
]


@pytest.mark.parametrize("deadline, last, now, started, warnings", MISSED)
def test_catching_up_after_downtime(deadline: int | None, last: str, now: str, started: list[str],
                                    warnings: list[tuple[str, str]]) -> None:
    spec = {} if deadline is None else {"startingDeadlineSeconds": deadline}
    changes = plan(make_cronjob("* * * * *", last=last, **spec), now=at(now))
    assert created_names(changes) == [name_at(t) for t in started]
    assert [r for r in reasons(changes) if r[0] == "Warning"] == warnings
    if warnings == [("Warning", "TooManyMissedTimes")]:
        assert changes.events[0][3] == TOO_MANY_MESSAGE
    status = written_status(changes) if changes.statuses else {"lastScheduleTime": last}
    assert status["lastScheduleTime"] == (format_time(at(started[0])) if started else last)


# --- concurrency policy -------------------------------------------------------------------------------------

RUNNING = make_job("hello-28401120", start="2024-01-01T00:00:00Z")
CONCURRENCY = [
    pytest.param("Allow", [RUNNING], True, [], id="allow starts the run next to a running job"),
    pytest.param("Forbid", [RUNNING], False, [], id="forbid skips the run while a job is running"),
    pytest.param("Forbid", [make_job("hello-28401120", state="Complete", completed="2024-01-01T00:01:00Z")], True, [],
                 id="forbid starts the run once the previous job finished"),
    pytest.param("Forbid", [make_job("by-hand", manual=True)], True, [],
                 id="forbid is not blocked by a job created by hand"),
    pytest.param("Replace", [RUNNING], True, [("hello-28401120", "background")],
                 id="replace deletes the running job and starts the run"),
]


@pytest.mark.parametrize("policy, jobs, starts, deletes", CONCURRENCY)
def test_concurrency_policy(policy: str, jobs: list[dict], starts: bool, deletes: list[tuple[str, str]]) -> None:
    cj = make_cronjob(last="2024-01-01T00:00:00Z", concurrencyPolicy=policy)
    changes = plan(cj, jobs, now=at("2024-01-01T00:05:00Z"))
    assert created_names(changes) == ([name_at("2024-01-01T00:05:00Z")] if starts else [])
    assert deleted_jobs(changes) == deletes
    if policy == "Forbid" and not starts:
        assert ("Normal", "JobAlreadyActive") in reasons(changes)
        assert written_status(changes)["lastScheduleTime"] == "2024-01-01T00:00:00Z"  # the run stays missed
    if policy == "Replace":
        assert [a["name"] for a in written_status(changes)["active"]] == [name_at("2024-01-01T00:05:00Z")]


def test_a_run_skipped_by_forbid_starts_late_within_its_deadline() -> None:
    cj = make_cronjob(last="2024-01-01T00:00:00Z", concurrencyPolicy="Forbid", startingDeadlineSeconds=120)
    done = make_job("hello-28401120", state="Complete", completed="2024-01-01T00:06:00Z")
    assert created_names(plan(cj, [done], now=at("2024-01-01T00:06:10Z"))) == [name_at("2024-01-01T00:05:00Z")]
    assert created_names(plan(cj, [done], now=at("2024-01-01T00:07:10Z"))) == []


# --- suspend ------------------------------------------------------------------------------------------------

def test_a_suspended_cronjob_starts_nothing() -> None:
    cj = make_cronjob(last="2024-01-01T00:00:00Z", suspend=True)
    changes = plan(cj, now=at("2024-01-01T00:30:00Z"))
    assert changes.creates == [] and changes.requeue_after is None


def test_runs_missed_while_suspended_start_once_on_resume() -> None:
    cj = make_cronjob(last="2024-01-01T00:00:00Z", suspend=False)
    changes = plan(cj, now=at("2024-01-01T00:31:00Z"))
    assert created_names(changes) == [name_at("2024-01-01T00:30:00Z")]


# --- history --------------------------------------------------------------------------------------------------

def _finished(n: int, state: str) -> list[dict]:
    return [make_job(f"hello-{state.lower()}-{i}", state=state, start=f"2024-01-01T0{i}:00:00Z",
                     completed=f"2024-01-01T0{i}:00:30Z") for i in range(n)]


HISTORY = [
    pytest.param({}, 5, 3, ["hello-complete-0", "hello-complete-1", "hello-failed-0", "hello-failed-1"],
                 id="three successful and one failed job are kept by default, the oldest go"),
    pytest.param({"successfulJobsHistoryLimit": 0, "failedJobsHistoryLimit": 0}, 2, 1,
                 ["hello-complete-0", "hello-complete-1", "hello-failed-0"], id="limits of zero keep no finished job"),
    pytest.param({"successfulJobsHistoryLimit": 5}, 5, 1, [], id="jobs within the limits are kept"),
]


@pytest.mark.parametrize("spec, complete, failed, deleted", HISTORY)
def test_history_limits(spec: dict, complete: int, failed: int, deleted: list[str]) -> None:
    cj = make_cronjob(last="2024-01-01T10:00:00Z", suspend=True, **spec)
    jobs = _finished(complete, "Complete") + _finished(failed, "Failed") + [make_job("hello-running")]
    changes = plan(cj, jobs, now=at("2024-01-01T10:01:00Z"))
    assert sorted(n for n, _ in deleted_jobs(changes)) == deleted
    assert all(p == "background" for _, p in deleted_jobs(changes))


# --- status ------------------------------------------------------------------------------------------------------

def test_status_lists_running_scheduled_jobs_and_the_last_success() -> None:
    cj = make_cronjob(last="2024-01-01T10:00:00Z",
                      status={"active": [{"kind": "Job", "name": "hello-old", "namespace": "default"},
                                         {"kind": "Job", "name": "hello-gone", "namespace": "default"}]})
    jobs = [make_job("hello-old", state="Complete", completed="2024-01-01T09:00:30Z"),
            make_job("hello-earlier", state="Complete", completed="2024-01-01T08:00:30Z"),
            make_job("hello-now", start="2024-01-01T10:00:00Z"), make_job("by-hand", manual=True),
            make_job("foreign", owner_uid="someone-else")]
    changes = plan(cj, jobs, now=at("2024-01-01T10:01:00Z"))
    status = written_status(changes)
    assert [a["name"] for a in status["active"]] == ["hello-now"]
    assert status["active"][0]["uid"] == "uid-hello-now"
    assert status["lastSuccessfulTime"] == "2024-01-01T09:00:30Z"
    assert ("Normal", "SawCompletedJob") in reasons(changes) and ("Normal", "MissingJob") in reasons(changes)


def test_an_unchanged_cronjob_writes_nothing() -> None:
    cj = make_cronjob(last="2024-01-01T00:00:00Z")
    assert plan(cj, now=at("2024-01-01T00:02:00Z")).empty


BAD = [
    pytest.param({"timeZone": "Mars/Olympus"}, "UnknownTimeZone", id="an unknown time zone is reported, not guessed"),
    pytest.param({"schedule": "* * * * 7"}, "UnparseableSchedule", id="a schedule robfig rejects is reported"),
    pytest.param({"schedule": "59 23 31 2 *"}, "InvalidSchedule", id="a schedule that never fires is reported"),
]


@pytest.mark.parametrize("spec, reason", BAD)
def test_a_broken_schedule_starts_nothing_and_warns(spec: dict, reason: str) -> None:
    cj = make_cronjob(last="2024-01-01T00:00:00Z")
    cj["spec"].update(spec)
    changes = plan(cj, now=at("2024-01-01T00:30:00Z"))
    assert changes.creates == [] and reasons(changes) == [("Warning", reason)]


def test_a_cronjob_being_deleted_starts_nothing() -> None:
    cj = make_cronjob(last="2024-01-01T00:00:00Z")
    cj["metadata"]["deletionTimestamp"] = "2024-01-01T00:04:00Z"
    assert plan(cj, now=at("2024-01-01T00:30:00Z")).creates == []


REQUEUE = [
    pytest.param("*/5 * * * *", "2024-01-01T00:04:30Z", 30.0, id="the agent is woken at the next activation"),
    pytest.param("@daily", "2024-01-01T00:04:30Z", 60.0, id="a distant activation is checked again within a minute"),
    pytest.param("@every 90s", "2024-01-01T00:01:00Z", 30.0, id="every wakes the agent on its own interval"),
]


@pytest.mark.parametrize("schedule, now, requeue", REQUEUE)
def test_requeue_after_is_the_time_to_the_next_activation_at_most_a_minute(schedule: str, now: str,
                                                                            requeue: float) -> None:
    changes = plan(make_cronjob(schedule, last="2024-01-01T00:00:00Z"), now=at(now))
    assert changes.requeue_after == pytest.approx(requeue)


# --- simulated minutes against a real Store -----------------------------------------------------------------------

class Clock:
    def __init__(self, now: float) -> None:
        self.now = now


def _store(start: str) -> tuple[SqliteStore, Clock]:
    clock = Clock(at(start))
    return SqliteStore(":memory:", clock=lambda: clock.now), clock


def _stored_cronjob(schedule: str, **spec: object) -> dict:
    cj = make_cronjob(schedule, **spec)
    cj["metadata"] = {"name": "hello", "namespace": "default"}
    return cj


def test_an_every_minute_schedule_over_five_minutes_makes_five_jobs() -> None:
    store, clock = _store("2024-01-01T00:00:30Z")
    store.create(_stored_cronjob("* * * * *", successfulJobsHistoryLimit=10))
    end = at("2024-01-01T00:05:30Z")
    while clock.now < end:
        changes = CronJobController().sync(take_snapshot(store, clock.now))
        write_changes(store, changes)
        assert changes.requeue_after is not None and changes.requeue_after <= 60
        clock.now += min(changes.requeue_after, 7.0)
    names = sorted(j["metadata"]["name"] for j in store.list("Job"))
    assert names == [name_at(f"2024-01-01T00:0{m}:00Z") for m in range(1, 6)]
    cj = store.get("CronJob", "default", "hello")
    assert cj["status"]["lastScheduleTime"] == "2024-01-01T00:05:00Z"
    assert sorted(a["name"] for a in cj["status"]["active"]) == names
    assert all(a.get("uid") for a in cj["status"]["active"][:-1])
