"""Job: run pods to completion (K8S-SEMANTICS 4.4, NonIndexed completion mode).

Per Job, one pass:
- finished (condition Complete or Failed): nothing but `ttlSecondsAfterFinished` and removing any
  pod still running; the status is frozen and the pods are kept;
- `activeDeadlineSeconds` past `status.startTime` → Failed/DeadlineExceeded (checked first: it takes
  precedence over the back-off limit), then more failures than `backoffLimit` (or, with restartPolicy
  OnFailure, the active pods' container restarts reaching it) → Failed/BackoffLimitExceeded; either
  way the running pods are deleted;
- `completions` successes (work-queue mode, `completions` unset: one success and nothing running)
  → Complete;
- otherwise keep min(parallelism, completions − succeeded) pods running: create with generateName
  after the failure back-off (10 s doubling, capped at 6 min, counted from the last failure after the
  last success), delete the surplus in Kubernetes' order (scale-down, `suspend`).

Pods are found by their controller ownerReference. A pod being deleted still holds its slot until it
is gone (its containers may still run), so there are never more than `parallelism` pods running.
Counts only grow (`max` of the stored and the observed count): deleting a finished pod by hand does
not make the Job run it again.
"""

from __future__ import annotations

from datetime import datetime, timezone

from gitkube.controllers.base import Changes, Snapshot, controller_ref, is_active, is_ready, pod_from_template
from gitkube.controllers.replicaset import deletion_order

LABEL_CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
LABEL_JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"

BACKOFF_INITIAL = 10.0  # seconds before the pod replacing the first failure (DefaultJobPodFailureBackOff)
BACKOFF_MAX = 360.0  # 6 minutes, as the Job docs say
DEFAULT_BACKOFF_LIMIT = 6

BACKOFF_MESSAGE = "Job has reached the specified backoff limit"
DEADLINE_MESSAGE = "Job was active longer than specified deadline"
COMPLETE_MESSAGE = "Reached expected number of succeeded pods"


class JobController:
    name = "job"

    def sync(self, snap: Snapshot) -> Changes:
        changes = Changes()
        for job in snap.of("Job"):
            uid = job["metadata"]["uid"]
            pods = [p for p in snap.owned_by(uid, "Pod") if (controller_ref(p) or {}).get("uid") == uid]
            changes.merge(sync_job(job, pods, snap.now))
        return changes


# --- time -----------------------------------------------------------------------------------------

def format_time(epoch: float) -> str:
    """RFC 3339 in UTC, whole seconds: how metav1.Time serializes."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object) -> float | None:
    """RFC 3339 (any offset, optional fraction) → epoch seconds; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


# --- reading a Job --------------------------------------------------------------------------------

def sizes(spec: dict) -> tuple[int | None, int]:
    """(completions, parallelism) after SetDefaults_Job; completions None means work-queue mode."""
    completions, parallelism = spec.get("completions"), spec.get("parallelism")
    if completions is None and parallelism is None:
        return 1, 1
    return completions, 1 if parallelism is None else max(parallelism, 0)


def condition(status: dict, kind: str) -> dict | None:
    for c in status.get("conditions") or []:
        if c.get("type") == kind:
            return c
    return None


def finished_condition(job: dict) -> dict | None:
    """The Complete or Failed condition that is True, if the Job has finished."""
    status = job.get("status") or {}
    for kind in ("Complete", "Failed"):
        c = condition(status, kind)
        if c is not None and c.get("status") == "True":
            return c
    return None


def finished_at(job: dict) -> float | None:
    """When a finished Job finished: completionTime, else the Failed condition's transition."""
    status = job.get("status") or {}
    done = parse_time(status.get("completionTime"))
    if done is not None:
        return done
    c = finished_condition(job)
    return parse_time(c.get("lastTransitionTime")) if c else None


def pod_finished_at(pod: dict) -> float:
    """The last container finish time of a terminated pod (falls back on Ready's transition, then
    on the pod's creation)."""
    status = pod.get("status") or {}
    times = [parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
             for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])]
    known = [t for t in times if t is not None]
    if known:
        return max(known)
    ready = condition(status, "Ready")
    for value in ((ready or {}).get("lastTransitionTime"), pod["metadata"].get("creationTimestamp")):
        t = parse_time(value)
        if t is not None:
            return t
    return 0.0


def restarts(pods: list[dict]) -> int:
    """Container restarts of the pods still running (what OnFailure spends of the back-off limit)."""
    total = 0
    for p in pods:
        status = p.get("status") or {}
        for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
            total += cs.get("restartCount", 0) or 0
    return total


def backoff_remaining(succeeded: list[dict], failed: list[dict], now: float) -> float:
    """Seconds before another pod may start: 10 s after the first failure since the last success,
    doubling per further failure, capped at 6 min, counted from the last failure."""
    last_success = max((pod_finished_at(p) for p in succeeded), default=None)
    failures = [t for t in (pod_finished_at(p) for p in failed) if last_success is None or t > last_success]
    if not failures:
        return 0.0
    delay = min(BACKOFF_INITIAL * 2 ** min(len(failures) - 1, 16), BACKOFF_MAX)
    return max(0.0, max(failures) + delay - now)


def is_terminating(pod: dict) -> bool:
    """Deleted but not gone: its containers may still run, so it still holds a slot."""
    phase = (pod.get("status") or {}).get("phase")
    return bool(pod["metadata"].get("deletionTimestamp")) and phase not in ("Succeeded", "Failed")


def pod_labels(job: dict) -> dict:
    """The labels a Job's pods get besides the template's (the generated selector)."""
    md = job["metadata"]
    return {LABEL_CONTROLLER_UID: md["uid"], LABEL_JOB_NAME: md["name"],
            LEGACY_CONTROLLER_UID: md["uid"], LEGACY_JOB_NAME: md["name"]}


# --- conditions -----------------------------------------------------------------------------------

def set_condition(conditions: list[dict], kind: str, status: str, reason: str, message: str,
                  stamp: str) -> bool:
    """ensureJobConditionStatus: add or change the condition in place; the transition time moves only
    when the status does. A False condition is never added. True when something changed."""
    for i, c in enumerate(conditions):
        if c.get("type") != kind:
            continue
        if c.get("status") == status and c.get("reason") == reason and c.get("message") == message:
            return False
        since = c.get("lastTransitionTime", stamp) if c.get("status") == status else stamp
        conditions[i] = {"type": kind, "status": status, "lastProbeTime": stamp, "lastTransitionTime": since,
                         "reason": reason, "message": message}
        return True
    if status != "True":
        return False
    conditions.append({"type": kind, "status": status, "lastProbeTime": stamp, "lastTransitionTime": stamp,
                       "reason": reason, "message": message})
    return True


# --- one Job --------------------------------------------------------------------------------------

def sync_job(job: dict, pods: list[dict], now: float) -> Changes:
    changes = Changes()
    md, spec = job["metadata"], job.get("spec") or {}
    if md.get("deletionTimestamp"):
        return changes
    active = [p for p in pods if is_active(p)]
    if finished_condition(job) is not None:
        _delete_pods(job, active, changes)
        _expire(job, now, changes)
        return changes

    old = job.get("status") or {}
    stamp = format_time(now)
    completions, parallelism = sizes(spec)
    suspended = bool(spec.get("suspend"))
    policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
    succeeded_pods = [p for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"]
    failed_pods = [p for p in pods if (p.get("status") or {}).get("phase") == "Failed"]
    succeeded = max(old.get("succeeded", 0) or 0, len(succeeded_pods))
    failed = max(old.get("failed", 0) or 0, len(failed_pods))
    terminating = sum(1 for p in pods if is_terminating(p))
    conditions = [dict(c) for c in old.get("conditions") or []]
    start = old.get("startTime")

    if suspended:
        if set_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended", stamp):
            changes.events.append((job, "Normal", "Suspended", "Job suspended"))
    elif set_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed", stamp):
        changes.events.append((job, "Normal", "Resumed", "Job resumed"))
        start = stamp  # the deadline counts the time the Job is continuously active
    if start is None and not suspended:
        start = stamp

    failure = None
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not suspended and start is not None:
        ends = (parse_time(start) or now) + deadline
        if now >= ends:
            failure = ("DeadlineExceeded", DEADLINE_MESSAGE)
        else:
            changes.wake_in(ends - now)
    limit = spec.get("backoffLimit")
    limit = DEFAULT_BACKOFF_LIMIT if limit is None else limit
    if failure is None:
        spent = restarts(active) if policy == "OnFailure" else 0
        if failed > limit or (policy == "OnFailure" and (spent >= limit if limit > 0 else spent > 0)):
            failure = ("BackoffLimitExceeded", BACKOFF_MESSAGE)

    completed = failure is None and (succeeded >= completions if completions is not None
                                     else succeeded > 0 and not active)
    created = 0
    deleted: set[str] = set()
    if failure is not None or completed:
        deleted = _delete_pods(job, active, changes)
        if failure is not None:
            reason, message = failure
            set_condition(conditions, "FailureTarget", "True", reason, message, stamp)
            set_condition(conditions, "Failed", "True", reason, message, stamp)
            changes.events.append((job, "Warning", reason, message))
        else:
            set_condition(conditions, "SuccessCriteriaMet", "True", "CompletionsReached", COMPLETE_MESSAGE, stamp)
            set_condition(conditions, "Complete", "True", "CompletionsReached", COMPLETE_MESSAGE, stamp)
            changes.events.append((job, "Normal", "Completed", "Job completed"))
    else:
        if suspended:
            want = 0
        elif completions is None:  # work queue: after the first success, let the running ones finish
            want = len(active) if succeeded > 0 else parallelism
        else:
            want = max(0, min(parallelism, completions - succeeded))
        if len(active) > want:
            deleted = _delete_pods(job, deletion_order(active)[: len(active) - want], changes)
        elif len(active) + terminating < want:
            wait = backoff_remaining(succeeded_pods, failed_pods, now)
            if wait > 0:
                changes.wake_in(wait)
            else:
                created = want - len(active) - terminating
                template = spec.get("template") or {}
                for _ in range(created):
                    changes.creates.append(pod_from_template(job, template, md["name"], pod_labels(job)))
                changes.events.append((job, "Normal", "SuccessfulCreate",
                                       f"Created {created} pod{'s' if created != 1 else ''}"))

    status: dict = {}
    if start is not None:
        status["startTime"] = start
    if completed:
        status["completionTime"] = stamp
    if (count := len(active) - len(deleted) + created) > 0:
        status["active"] = count
    if succeeded:
        status["succeeded"] = succeeded
    if failed:
        status["failed"] = failed
    status["ready"] = sum(1 for p in active if p["metadata"]["name"] not in deleted and is_ready(p))
    if conditions:
        status["conditions"] = conditions
    changes.set_status(job, status)
    if failure is not None or completed:
        _expire({**job, "status": status}, now, changes)
    return changes


def _delete_pods(job: dict, pods: list[dict], changes: Changes) -> set[str]:
    for pod in pods:
        pmd = pod["metadata"]
        changes.deletes.append(("Pod", pmd.get("namespace", "default"), pmd["name"], "background"))
        changes.events.append((job, "Normal", "SuccessfulDelete", f"Deleted pod: {pmd['name']}"))
    return {p["metadata"]["name"] for p in pods}


def _expire(job: dict, now: float, changes: Changes) -> None:
    """ttlSecondsAfterFinished: delete the finished Job (its pods follow by garbage collection)."""
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    done = finished_at(job)
    if ttl is None or done is None:
        return
    if now >= done + ttl:
        md = job["metadata"]
        changes.deletes.append(("Job", md.get("namespace", "default"), md["name"], "background"))
    else:
        changes.wake_in(done + ttl - now)
