"""The kubelet's decisions for one pod, as data.

`plan_pod(pod, observed, probes, pulls, now)` looks at the pod as declared, the containers that
exist for it on its node, probe results and image-pull back-offs, and returns what to do next
(start the sandbox, start or kill a container, remove leftovers, finish a deletion) together
with the status the pod has right now. It never acts; the executor does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Protocol, Sequence

from gitkube.runtime.labels import SANDBOX

BACKOFF_INITIAL = 10.0  # seconds; doubles per restart (kubelet's backOffPeriod)
BACKOFF_MAX = 300.0  # MaxContainerBackOff
BACKOFF_RESET = 600.0  # a container that ran this long restarts without delay


class Observed(Protocol):
    """What the planner needs to know about one container (runtime.pods.ObservedContainer)."""

    id: str
    pod_uid: str
    container: str
    attempt: int
    spec_hash: str
    sandbox_id: str
    state: str
    exit_code: int | None
    oom_killed: bool
    error: str
    started_at: str
    finished_at: str
    ip: str
    image: str


@dataclass(frozen=True, slots=True)
class ProbeState:
    """Probe verdicts for one container instance (keyed by container id)."""

    ready: bool = True  # readiness: True when no readiness probe
    started: bool = True  # startup: True when no startup probe
    liveness_failed: bool = False  # liveness or startup reached failureThreshold
    message: str = ""


@dataclass(frozen=True, slots=True)
class PullState:
    """An image pull that failed; no retry before `retry_at`."""

    reason: str  # ErrImagePull | ErrImageNeverPull
    message: str
    failures: int
    retry_at: float


@dataclass(frozen=True, slots=True)
class Action:
    op: str  # start-sandbox | start-container | kill | remove | terminate-pod | stop-sandbox
    pod_uid: str
    container: str = ""  # container name (start-container)
    container_id: str = ""  # target (kill/remove)
    attempt: int = 0
    grace: int = 0
    reason: str = ""

    @property
    def target(self) -> str:
        """Two actions with the same target never run at once (the executor dedups on it)."""
        if self.op in ("start-sandbox", "terminate-pod"):
            return f"pod:{self.pod_uid}"
        if self.op == "start-container":
            return f"ctr:{self.pod_uid}:{self.container}"
        return f"id:{self.container_id}"


@dataclass
class PodPlan:
    actions: list[Action] = field(default_factory=list)
    status: dict | None = None
    requeue_after: float | None = None
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)

    def wake_in(self, seconds: float) -> None:
        seconds = max(seconds, 0.05)
        self.requeue_after = seconds if self.requeue_after is None else min(self.requeue_after, seconds)


def spec_hash(container: dict) -> str:
    """A container is recreated when this changes (the kubelet's container hash)."""
    return hashlib.sha256(json.dumps(container, sort_keys=True).encode()).hexdigest()[:12]


def parse_time(value: str) -> float | None:
    """Docker's RFC 3339 with nanoseconds → epoch seconds; None for the zero time."""
    if not value or value.startswith("0001-"):
        return None
    text = value.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    try:
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def restart_delay(restart_count: int, ran_for: float | None) -> float:
    """0 for the first restart, then 10 s doubling to 5 min; reset after 10 min of running."""
    if restart_count <= 0 or (ran_for is not None and ran_for >= BACKOFF_RESET):
        return 0.0
    return min(BACKOFF_INITIAL * (2 ** (restart_count - 1)), BACKOFF_MAX)


def grace_period(pod: dict) -> int:
    md, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    for value in (md.get("deletionGracePeriodSeconds"), spec.get("terminationGracePeriodSeconds")):
        if isinstance(value, int):
            return max(value, 0)
    return 30


def should_restart(policy: str, exit_code: int | None) -> bool:
    if policy == "Always":
        return True
    if policy == "OnFailure":
        return exit_code != 0
    return False


def plan_pod(pod: dict, observed: Sequence[Observed], probes: Mapping[str, ProbeState],
             pulls: Mapping[tuple[str, str], PullState], now: float, host_ip: str = "") -> PodPlan:
    md, spec = pod["metadata"], pod.get("spec") or {}
    uid = md["uid"]
    mine = [c for c in observed if c.pod_uid == uid]
    sandboxes = sorted((c for c in mine if c.container == SANDBOX), key=lambda c: c.attempt)
    apps = [c for c in mine if c.container != SANDBOX]
    result = PodPlan()

    if md.get("deletionTimestamp"):
        result.actions.append(Action("terminate-pod", uid, grace=grace_period(pod), reason="deleted"))
        return result

    policy = spec.get("restartPolicy") or "Always"
    containers = spec.get("containers") or []
    previous_status = pod.get("status") or {}
    if previous_status.get("phase") in ("Succeeded", "Failed") and policy != "Always":
        for s in sandboxes:
            if s.state == "running":
                result.actions.append(Action("stop-sandbox", uid, container_id=s.id, reason="pod finished"))
        return result

    sandbox = sandboxes[-1] if sandboxes and sandboxes[-1].state == "running" else None
    for old in sandboxes:
        if old is not sandbox and old.state != "running":
            result.actions.append(Action("remove", uid, container_id=old.id, reason="old sandbox"))

    statuses = []
    finished: list[bool] = []  # per container: terminated and will not restart
    for c in containers:
        history = sorted((a for a in apps if a.container == c["name"]), key=lambda a: a.attempt)
        st, done = _container(pod, c, history, sandbox, probes, pulls, now, policy, result)
        statuses.append(st)
        finished.append(done)
    if sandbox is None and not all(finished):
        # A new sandbox means new app containers: running ones sit in a dead network namespace.
        for a in apps:
            if a.state == "running":
                result.actions.append(Action("kill", uid, container_id=a.id, grace=grace_period(pod),
                                             reason="sandbox changed"))
        if not any(a.state == "running" for a in apps):
            attempt = sandboxes[-1].attempt + 1 if sandboxes else 0
            result.actions.append(Action("start-sandbox", uid, attempt=attempt))
    result.status = _pod_status(pod, statuses, finished, sandbox, previous_status, now, host_ip)
    return result


def _container(pod: dict, c: dict, history: list[Observed], sandbox: Observed | None,
               probes: Mapping[str, ProbeState], pulls: Mapping[tuple[str, str], PullState], now: float,
               policy: str, plan: PodPlan) -> tuple[dict, bool]:
    """Status of one container and the actions it needs; returns (containerStatus, finished)."""
    uid = pod["metadata"]["uid"]
    name = c["name"]
    latest = history[-1] if history else None
    restarts = latest.attempt if latest else 0
    status: dict[str, Any] = {"name": name, "image": c.get("image", ""), "restartCount": restarts,
                              "ready": False, "started": False}
    previous = history[-2] if len(history) > 1 else None
    if latest is not None and latest.state != "running" and latest.state != "created":
        last_term = latest
    else:
        last_term = previous
    if last_term is not None and last_term is not latest:
        status["lastState"] = {"terminated": _terminated(last_term)}

    for old in history[:-2]:
        plan.actions.append(Action("remove", uid, container_id=old.id, reason="old attempt"))

    if latest is None or latest.state == "created":
        attempt = latest.attempt if latest else 0
        pull = pulls.get((uid, name))
        if pull is not None and now < pull.retry_at:
            reason = "ImagePullBackOff" if pull.reason == "ErrImagePull" else pull.reason
            status["state"] = {"waiting": {"reason": reason, "message": pull.message}}
            plan.wake_in(pull.retry_at - now)
        else:
            if pull is not None:
                status["state"] = {"waiting": {"reason": pull.reason, "message": pull.message}}
            else:
                status["state"] = {"waiting": {"reason": "ContainerCreating"}}
            if sandbox is not None:
                if latest is not None:  # created but never started (the agent died in between)
                    plan.actions.append(Action("remove", uid, container_id=latest.id, reason="never started"))
                plan.actions.append(Action("start-container", uid, container=name, attempt=attempt))
        return status, False

    stale = sandbox is None or (latest.sandbox_id and latest.sandbox_id != sandbox.id)
    if latest.state == "running":
        probe = probes.get(latest.id, ProbeState())
        status["state"] = {"running": {"startedAt": _time(latest.started_at)}}
        status["started"] = probe.started
        status["ready"] = probe.started and probe.ready
        status["containerID"] = f"docker://{latest.id}"
        if stale and sandbox is not None:
            plan.actions.append(Action("kill", uid, container_id=latest.id, grace=grace_period(pod),
                                       reason="sandbox changed"))
        elif latest.spec_hash and latest.spec_hash != spec_hash(c):
            plan.actions.append(Action("kill", uid, container_id=latest.id, grace=grace_period(pod),
                                       reason="container spec changed"))
            plan.events.append(("Normal", "Killing", f"Container {name} definition changed, will be restarted"))
        elif probe.liveness_failed:
            plan.actions.append(Action("kill", uid, container_id=latest.id, grace=grace_period(pod),
                                       reason="liveness probe failed"))
            plan.events.append(("Normal", "Killing",
                                f"Container {name} failed liveness probe, will be restarted"))
        return status, False

    # exited or dead
    term = _terminated(latest)
    status["containerID"] = f"docker://{latest.id}"
    if not should_restart(policy, latest.exit_code):
        status["state"] = {"terminated": term}
        return status, True
    started, ended = parse_time(latest.started_at), parse_time(latest.finished_at)
    ran_for = ended - started if started is not None and ended is not None else None
    delay = restart_delay(latest.attempt, ran_for)
    ready_at = (ended or now) + delay
    status["lastState"] = {"terminated": term}
    if now >= ready_at:
        status["state"] = {"terminated": term} if sandbox is None else {"waiting": {"reason": "ContainerCreating"}}
        if sandbox is not None:
            plan.actions.append(Action("start-container", uid, container=name, attempt=latest.attempt + 1))
            if previous is not None:
                plan.actions.append(Action("remove", uid, container_id=previous.id, reason="old attempt"))
    else:
        status["state"] = {"waiting": {
            "reason": "CrashLoopBackOff",
            "message": f"back-off {int(delay)}s restarting failed container={name} pod={pod['metadata']['name']}"}}
        plan.wake_in(ready_at - now)
    return status, False


def _terminated(c: Observed) -> dict:
    code = c.exit_code if c.exit_code is not None else -1
    if c.oom_killed:
        reason = "OOMKilled"
    elif code == 0:
        reason = "Completed"
    else:
        reason = "Error"
    out: dict[str, Any] = {"exitCode": code, "reason": reason, "containerID": f"docker://{c.id}"}
    if c.started_at and parse_time(c.started_at) is not None:
        out["startedAt"] = _time(c.started_at)
    if c.finished_at and parse_time(c.finished_at) is not None:
        out["finishedAt"] = _time(c.finished_at)
    if c.error:
        out["message"] = c.error
    return out


def _time(docker_time: str) -> str:
    t = parse_time(docker_time)
    return rfc3339(t) if t is not None else ""


def _pod_status(pod: dict, statuses: list[dict], finished: list[bool], sandbox: Observed | None,
                previous: dict, now: float, host_ip: str) -> dict:
    terminated = [s for s in statuses if "terminated" in s.get("state", {})]
    if statuses and all(finished):
        phase = "Succeeded" if all(s["state"]["terminated"]["exitCode"] == 0 for s in terminated) else "Failed"
    elif sandbox is None or any(_never_ran(s) for s in statuses):
        phase = "Pending"
    else:
        phase = "Running"
    ready = bool(statuses) and all(s["ready"] for s in statuses) and phase == "Running"
    old_conditions = {c.get("type"): c for c in previous.get("conditions") or []}
    stamp = rfc3339(now)

    def condition(kind: str, value: bool, reason: str = "") -> dict:
        text = "True" if value else "False"
        old = old_conditions.get(kind)
        since = old.get("lastTransitionTime") if old and old.get("status") == text else stamp
        out = {"type": kind, "status": text, "lastTransitionTime": since}
        if reason and not value:
            out["reason"] = reason
        return out

    not_ready = "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": [
            condition("Initialized", True),
            condition("Ready", ready, not_ready),
            condition("ContainersReady", ready, not_ready),
            condition("PodScheduled", True),
        ],
        "hostIP": host_ip or previous.get("hostIP", ""),
        "containerStatuses": statuses,
        "startTime": previous.get("startTime") or stamp,
    }
    if sandbox is not None and sandbox.ip:
        status["podIP"] = sandbox.ip
        status["podIPs"] = [{"ip": sandbox.ip}]
    elif previous.get("podIP") and phase in ("Succeeded", "Failed"):
        status["podIP"] = previous["podIP"]
    if not status["hostIP"]:
        status.pop("hostIP")
    return status


def _never_ran(status: dict) -> bool:
    waiting = status.get("state", {}).get("waiting")
    return bool(waiting) and status["restartCount"] == 0 and "lastState" not in status and \
        waiting.get("reason") in ("ContainerCreating", "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull")
