"""CronJob: create a Job at each scheduled time (K8S-SEMANTICS 4.5, controller v2 behaviour).

One pass per CronJob, with `now` injected:
- the schedule is read in `spec.timeZone`, else in UTC (gitkube's controller manager runs in UTC, where
  upstream uses the kube-controller-manager's local zone);
- the due time T is the most recent activation after `status.lastScheduleTime` (or the CronJob's
  creation) that is not after now. However many were missed while the agent was off, at most ONE
  run starts: T. It is skipped (Warning MissSchedule) when `startingDeadlineSeconds` is set and now is
  past T + deadline. More than 100 activations missed (counted since now − startingDeadlineSeconds
  when that is later): Warning TooManyMissedTimes, and T still runs (controller v2, K8S-SEMANTICS 8.1);
- the Job is named `<cronjob>-<T in Unix minutes>`, so a retried pass finds it (or the Store answers
  AlreadyExists) and never starts the same run twice;
- `concurrencyPolicy`: Forbid skips T while a scheduled Job runs (T stays missed and may start late,
  within the starting deadline), Replace deletes the running Jobs first; `suspend` starts nothing;
- finished Jobs beyond `successfulJobsHistoryLimit` (3) / `failedJobsHistoryLimit` (1) are deleted,
  oldest first;
- `status.active` lists the running Jobs the schedule created (a Job made by `create job --from` is
  not listed, as upstream never adds it), `lastScheduleTime` is T, `lastSuccessfulTime` the latest
  completion; the agent is asked to come back by the next activation (at most 60 s away).
"""

from __future__ import annotations

import copy
import math
from datetime import datetime, timezone, tzinfo

from gitkube.controllers.base import Changes, Snapshot, controller_ref, owner_reference
from gitkube.controllers.job import finished_condition, format_time, parse_time
from gitkube.schema.cron import CronSchedule, load_time_zone, parse_schedule

SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
INSTANTIATE_ANNOTATION = "cronjob.kubernetes.io/instantiate"
TOO_MANY_MISSED = 100
MAX_REQUEUE = 60.0
DEFAULT_SUCCESSFUL_HISTORY = 3
DEFAULT_FAILED_HISTORY = 1
TOO_MANY_MESSAGE = ("too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check "
                    "clock skew")
FORBID_MESSAGE = "Not starting job because prior execution is running and concurrency policy is Forbid"


class CronJobController:
    name = "cronjob"

    def sync(self, snap: Snapshot) -> Changes:
        changes = Changes()
        for cj in snap.of("CronJob"):
            uid = cj["metadata"]["uid"]
            jobs = [j for j in snap.owned_by(uid, "Job") if (controller_ref(j) or {}).get("uid") == uid]
            changes.merge(sync_cronjob(cj, jobs, snap.now))
        return changes


# --- schedule arithmetic (epoch seconds in, epoch seconds out) -------------------------------------

def job_name(cronjob_name: str, scheduled: float) -> str:
    """getJobName: the scheduled time in Unix minutes makes the name unique per run."""
    return f"{cronjob_name}-{int(scheduled // 60)}"


def next_fire(schedule: CronSchedule, tz: tzinfo, after: float) -> float | None:
    """The first activation strictly after `after`, wall clock read in `tz`."""
    dt = schedule.next_after(datetime.fromtimestamp(after, tz))
    return None if dt is None else dt.timestamp()


def fires_between(schedule: CronSchedule, tz: tzinfo, after: float, now: float, cap: int) -> tuple[int, float | None]:
    """How many activations fall in (after, now], counting at most `cap`, and the last one counted."""
    count, last, t = 0, None, after
    while count < cap:
        nxt = next_fire(schedule, tz, t)
        if nxt is None or nxt > now:
            break
        count, last, t = count + 1, nxt, nxt
    return count, last


def most_recent_fire(schedule: CronSchedule, tz: tzinfo, after: float, now: float) -> float | None:
    """The latest activation in (after, now], without walking every one of them.

    `@every` fires at after + k·interval (robfig's ConstantDelaySchedule, whole seconds). A cron
    schedule fires on whole minutes: walk a few, then bisect on the start s of "is there an activation
    in (s, now]", which only gets less true as s grows.
    """
    if schedule.every is not None:
        base, step = math.floor(after), schedule.every.total_seconds()
        k = math.floor((now - base) / step)
        return base + k * step if k >= 1 else None
    count, last = fires_between(schedule, tz, after, now, 8)
    if last is None or count < 8:
        return last
    lo, hi = int(last) - 1, math.floor(now) + 1  # an activation in (lo, now]; none in (hi, now]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        nxt = next_fire(schedule, tz, mid)
        if nxt is not None and nxt <= now:
            lo = mid
        else:
            hi = mid
    return next_fire(schedule, tz, lo)


def next_after_now(schedule: CronSchedule, tz: tzinfo, anchor: float, now: float) -> float | None:
    """The next activation after now (for `@every`, on the chain that starts at `anchor`)."""
    if schedule.every is not None:
        base, step = math.floor(anchor), schedule.every.total_seconds()
        return base + (max(math.floor((now - base) / step), 0) + 1) * step
    return next_fire(schedule, tz, now)


def rfc3339_in(epoch: float, tz: tzinfo) -> str:
    """Go's time.RFC3339 of the time in `tz`: `Z` for a zero offset, else `+01:00`."""
    text = datetime.fromtimestamp(epoch, tz).isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def rfc1123z(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")


# --- Jobs of a CronJob -----------------------------------------------------------------------------

def job_from_template(cj: dict, scheduled: float, tz: tzinfo) -> dict:
    """getJobFromTemplate2: the jobTemplate's labels, annotations and spec, a controller reference and
    the scheduled-timestamp annotation."""
    md = cj["metadata"]
    template = (cj.get("spec") or {}).get("jobTemplate") or {}
    tmd = template.get("metadata") or {}
    annotations = {**(tmd.get("annotations") or {}), SCHEDULED_ANNOTATION: rfc3339_in(scheduled, tz)}
    job_md: dict = {"name": job_name(md["name"], scheduled), "namespace": md.get("namespace", "default")}
    if tmd.get("labels"):
        job_md["labels"] = dict(tmd["labels"])
    job_md["annotations"] = annotations
    job_md["ownerReferences"] = [owner_reference(cj)]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": job_md,
            "spec": copy.deepcopy(template.get("spec") or {})}


def is_manual(job: dict) -> bool:
    return (job["metadata"].get("annotations") or {}).get(INSTANTIATE_ANNOTATION) == "manual"


def job_ref(job: dict) -> dict:
    md = job["metadata"]
    ref = {"apiVersion": job.get("apiVersion", "batch/v1"), "kind": "Job", "name": md["name"],
           "namespace": md.get("namespace", "default")}
    if md.get("uid"):
        ref["uid"] = md["uid"]
    return ref


def _age_key(job: dict) -> tuple:
    """byJobStartTime: started first, oldest first, then by name; never-started Jobs last."""
    start = parse_time((job.get("status") or {}).get("startTime"))
    return (start is None, start or 0.0, job["metadata"]["name"])


def _delete_job(cj: dict, job: dict, changes: Changes) -> None:
    md = job["metadata"]
    changes.deletes.append(("Job", md.get("namespace", "default"), md["name"], "background"))
    changes.events.append((cj, "Normal", "SuccessfulDelete", f"Deleted job {md['name']}"))


def cleanup_history(cj: dict, jobs: list[dict], changes: Changes) -> set[str]:
    """Delete the oldest finished Jobs beyond the history limits; returns their names."""
    spec = cj.get("spec") or {}
    gone: set[str] = set()
    for kind, key, default in (("Complete", "successfulJobsHistoryLimit", DEFAULT_SUCCESSFUL_HISTORY),
                               ("Failed", "failedJobsHistoryLimit", DEFAULT_FAILED_HISTORY)):
        limit = spec.get(key)
        limit = default if limit is None else max(limit, 0)
        done = sorted((j for j in jobs if not j["metadata"].get("deletionTimestamp")
                       and (finished_condition(j) or {}).get("type") == kind), key=_age_key)
        for job in done[: max(0, len(done) - limit)]:
            _delete_job(cj, job, changes)
            gone.add(job["metadata"]["name"])
    return gone


# --- one CronJob ----------------------------------------------------------------------------------

def sync_cronjob(cj: dict, jobs: list[dict], now: float) -> Changes:
    changes = Changes()
    md, old = cj["metadata"], cj.get("status") or {}
    names = {j["metadata"]["name"] for j in jobs}
    running = sorted((j for j in jobs if finished_condition(j) is None and not is_manual(j)),
                     key=lambda j: (j["metadata"].get("creationTimestamp", ""), j["metadata"]["name"]))
    listed = {a.get("name") for a in old.get("active") or []}
    for job in jobs:
        done = finished_condition(job)
        if done is not None and job["metadata"]["name"] in listed:
            changes.events.append((cj, "Normal", "SawCompletedJob",
                                   f"Saw completed job: {job['metadata']['name']}, condition: {done['type']}"))
    for name in sorted(listed - names - {None}):
        changes.events.append((cj, "Normal", "MissingJob", f"Active job went missing: {name}"))

    last_success = parse_time(old.get("lastSuccessfulTime"))
    for job in jobs:
        if (finished_condition(job) or {}).get("type") == "Complete":
            done_at = parse_time((job.get("status") or {}).get("completionTime"))
            if done_at is not None and (last_success is None or done_at > last_success):
                last_success = done_at

    active = [job_ref(j) for j in running]
    last_schedule = old.get("lastScheduleTime")
    if not md.get("deletionTimestamp"):
        cleanup_history(cj, jobs, changes)
        outcome = _schedule(cj, jobs, running, now, changes)
        if outcome is not None:
            scheduled, created, replaced = outcome
            last_schedule = format_time(scheduled)
            active = [a for a in active if a["name"] not in replaced]
            if created is not None and created["metadata"]["name"] not in {a["name"] for a in active}:
                active.append(job_ref(created))

    status: dict = {}
    if active:
        status["active"] = active
    if last_schedule:
        status["lastScheduleTime"] = last_schedule
    if last_success is not None:
        status["lastSuccessfulTime"] = format_time(last_success)
    changes.set_status(cj, status)
    return changes


def _schedule(cj: dict, jobs: list[dict], running: list[dict], now: float,
              changes: Changes) -> tuple[float, dict | None, set[str]] | None:
    """Start the due run if there is one: (scheduled time, Job created or found, Jobs replaced)."""
    md, spec, old = cj["metadata"], cj.get("spec") or {}, cj.get("status") or {}
    if spec.get("suspend"):
        return None
    tz: tzinfo = timezone.utc
    if spec.get("timeZone") is not None:
        try:
            tz = load_time_zone(spec["timeZone"])
        except ValueError as exc:
            changes.events.append((cj, "Warning", "UnknownTimeZone", f'invalid timeZone: "{spec["timeZone"]}": {exc}'))
            return None
    try:
        schedule = parse_schedule(spec.get("schedule", ""))
    except ValueError as exc:
        changes.events.append((cj, "Warning", "UnparseableSchedule",
                               f'unparseable schedule: "{spec.get("schedule", "")}" : {exc}'))
        return None
    earliest = parse_time(old.get("lastScheduleTime")) or parse_time(md.get("creationTimestamp")) or now
    if next_fire(schedule, tz, earliest) is None:
        changes.events.append((cj, "Warning", "InvalidSchedule",
                               f"invalid schedule: {spec.get('schedule')} : it never fires within five years"))
        return None

    due = most_recent_fire(schedule, tz, earliest, now)
    anchor = due if due is not None else earliest
    nxt = next_after_now(schedule, tz, anchor, now)
    if nxt is not None:
        changes.wake_in(min(nxt - now, MAX_REQUEUE))
    if due is None:
        return None

    deadline = spec.get("startingDeadlineSeconds")
    window_start = earliest if deadline is None else max(earliest, now - deadline)
    missed, _ = fires_between(schedule, tz, window_start, now, TOO_MANY_MISSED + 1)
    if missed > TOO_MANY_MISSED:
        changes.events.append((cj, "Warning", "TooManyMissedTimes", TOO_MANY_MESSAGE))
    if deadline is not None and due + deadline < now:
        changes.events.append((cj, "Warning", "MissSchedule",
                               f"Missed scheduled time to start a job: {rfc1123z(due)}"))
        return None

    name = job_name(md["name"], due)
    existing = next((j for j in jobs if j["metadata"]["name"] == name), None)
    if existing is not None:  # a retried pass: the run started, only the status is behind
        return due, existing if finished_condition(existing) is None else None, set()
    policy = spec.get("concurrencyPolicy") or "Allow"
    if policy == "Forbid" and running:
        changes.events.append((cj, "Normal", "JobAlreadyActive", FORBID_MESSAGE))
        return None
    replaced: set[str] = set()
    if policy == "Replace":
        for job in running:
            _delete_job(cj, job, changes)
            replaced.add(job["metadata"]["name"])
    job = job_from_template(cj, due, tz)
    changes.creates.append(job)
    changes.events.append((cj, "Normal", "SuccessfulCreate", f"Created job {name}"))
    return due, job, replaced
