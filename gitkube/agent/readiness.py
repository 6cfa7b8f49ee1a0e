"""Is an object done yet? What `apply --wait` asks of every applied object.

Each object is ready, still progressing, or failed for good (an image that cannot be pulled, a
crash loop, a failed Job): `--wait` fails fast on those instead of waiting out its timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

State = Literal["ready", "progressing", "failed"]

FATAL_WAITING = ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "CrashLoopBackOff",
                 "CreateContainerConfigError", "InvalidImageName", "CreateContainerError")


@dataclass(frozen=True, slots=True)
class Verdict:
    state: State
    message: str


def verdict(obj: dict | None) -> Verdict:
    if obj is None:
        return Verdict("progressing", "not found")
    kind = obj.get("kind")
    if kind == "Pod":
        return pod_verdict(obj)
    if kind in ("ReplicaSet", "ReplicationController", "Deployment", "DaemonSet", "Job"):
        return workload_verdict(obj)
    return Verdict("ready", "stored")


def pod_verdict(pod: dict) -> Verdict:
    md, status = pod.get("metadata") or {}, pod.get("status") or {}
    if md.get("deletionTimestamp"):
        return Verdict("progressing", "Terminating")
    phase = status.get("phase") or "Pending"
    if phase == "Succeeded":
        return Verdict("ready", "Completed")
    if phase == "Failed":
        return Verdict("failed", _last_reason(status) or "Failed")
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in FATAL_WAITING:
            msg = waiting.get("message", "")
            return Verdict("failed", f"{cs.get('name')}: {waiting['reason']}" + (f": {msg}" if msg else ""))
    for c in status.get("conditions") or []:
        if c.get("type") == "Ready" and c.get("status") == "True":
            return Verdict("ready", "Running")
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return Verdict("progressing", f"Pending: {c.get('message', '')}")
    return Verdict("progressing", _last_reason(status) or phase)


def workload_verdict(obj: dict) -> Verdict:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    kind = obj.get("kind")
    if kind == "Job":
        for c in status.get("conditions") or []:
            if c.get("type") == "Complete" and c.get("status") == "True":
                return Verdict("ready", "Complete")
            if c.get("type") == "Failed" and c.get("status") == "True":
                return Verdict("failed", f"Failed: {c.get('reason', '')} {c.get('message', '')}".strip())
        return Verdict("progressing", f"{status.get('succeeded', 0)} succeeded, {status.get('active', 0)} active")
    if status.get("observedGeneration", 0) < (obj.get("metadata") or {}).get("generation", 1):
        return Verdict("progressing", "waiting for the controller")
    if kind == "DaemonSet":
        want, ready = status.get("desiredNumberScheduled", 0), status.get("numberReady", 0)
        if ready >= want and status.get("updatedNumberScheduled", want) >= want:
            return Verdict("ready", f"{ready}/{want} ready")
        return Verdict("progressing", f"{ready}/{want} ready")
    want = spec.get("replicas", 1)
    ready = status.get("readyReplicas", 0)
    if kind == "Deployment":
        updated = status.get("updatedReplicas", 0)
        if ready >= want and updated >= want and status.get("replicas", 0) == want:
            return Verdict("ready", f"{ready}/{want} ready")
        return Verdict("progressing", f"{updated}/{want} updated, {ready} ready")
    if ready >= want:
        return Verdict("ready", f"{ready}/{want} ready")
    return Verdict("progressing", f"{ready}/{want} ready")


def _last_reason(status: dict) -> str:
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        for k in ("waiting", "terminated"):
            if state.get(k, {}).get("reason"):
                return f"{cs.get('name')}: {state[k]['reason']}"
    return ""
