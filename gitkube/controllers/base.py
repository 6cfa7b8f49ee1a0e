"""What every controller sees (a Snapshot) and returns (Changes), as plain data.

A controller never writes: it reads one consistent snapshot of the Store and says what should
change. The agent writes each controller's Changes in one transaction; a conflict (someone else
wrote first) drops that write and the next pass plans again from fresh state — level-triggered.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

FATAL_WAITING = ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "CrashLoopBackOff",
                 "CreateContainerConfigError", "InvalidImageName", "CreateContainerError")


@dataclass
class Snapshot:
    now: float  # epoch seconds, injected so tests control time
    objects: dict[str, list[dict]] = field(default_factory=dict)  # kind -> objects of all namespaces

    def of(self, kind: str) -> list[dict]:
        return self.objects.get(kind, [])

    @cached_property
    def _by_owner(self) -> dict[str, list[dict]]:
        index: dict[str, list[dict]] = defaultdict(list)
        for objs in self.objects.values():
            for o in objs:
                for ref in o["metadata"].get("ownerReferences") or []:
                    index[ref.get("uid", "")].append(o)
        return index

    def owned_by(self, uid: str, kind: str | None = None) -> list[dict]:
        """Objects with an ownerReference to `uid` (controller or not)."""
        found = self._by_owner.get(uid, [])
        return [o for o in found if kind is None or o["kind"] == kind]

    @cached_property
    def uids(self) -> set[str]:
        return {o["metadata"]["uid"] for objs in self.objects.values() for o in objs}


@dataclass
class Changes:
    creates: list[dict] = field(default_factory=list)  # new objects (generateName allowed)
    updates: list[dict] = field(default_factory=list)  # whole objects carrying the resourceVersion read
    deletes: list[tuple[str, str, str, str]] = field(default_factory=list)  # (kind, namespace, name, propagation)
    statuses: list[tuple[str, str, str, dict]] = field(default_factory=list)  # (kind, namespace, name, status)
    events: list[tuple[dict, str, str, str]] = field(default_factory=list)  # (object, type, reason, message)
    requeue_after: float | None = None

    def wake_in(self, seconds: float) -> None:
        seconds = max(seconds, 0.05)
        self.requeue_after = seconds if self.requeue_after is None else min(self.requeue_after, seconds)

    def merge(self, other: Changes) -> None:
        self.creates += other.creates
        self.updates += other.updates
        self.deletes += other.deletes
        self.statuses += other.statuses
        self.events += other.events
        if other.requeue_after is not None:
            self.wake_in(other.requeue_after)

    @property
    def empty(self) -> bool:
        return not (self.creates or self.updates or self.deletes or self.statuses)

    def set_status(self, obj: dict, status: dict) -> None:
        """Queue a status write only when it differs from what is stored."""
        if (obj.get("status") or {}) != status:
            md = obj["metadata"]
            self.statuses.append((obj["kind"], md.get("namespace", ""), md["name"], status))


class Controller(Protocol):
    name: str

    def sync(self, snap: Snapshot) -> Changes: ...


# --- helpers shared by controllers --------------------------------------------------------------

def controller_ref(obj: dict) -> dict | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owner_reference(owner: dict) -> dict:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def is_active(pod: dict) -> bool:
    """FilterActivePods: not Succeeded/Failed and not being deleted."""
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed") \
        and not pod["metadata"].get("deletionTimestamp")


def is_ready(pod: dict) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def ready_since(pod: dict) -> str:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready" and c.get("status") == "True":
            return c.get("lastTransitionTime", "")
    return ""


def is_failing(pod: dict) -> bool:
    """A pod stuck on something that will not fix itself soon (bad image, crash loop)."""
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if ((cs.get("state") or {}).get("waiting") or {}).get("reason") in FATAL_WAITING:
            return True
    return False


def has_started(pod: dict) -> bool:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if "running" in (cs.get("state") or {}) or cs.get("restartCount", 0) > 0 or "terminated" in (cs.get("state") or {}):
            return True
    return False


def pod_from_template(owner: dict, template: dict, name_prefix: str, extra_labels: dict | None = None,
                      node_name: str | None = None) -> dict:
    """A new pod as a controller creates it: generateName, template labels, controller ownerReference."""
    tmd = template.get("metadata") or {}
    labels = {**(tmd.get("labels") or {}), **(extra_labels or {})}
    md: dict = {"generateName": f"{name_prefix}-", "namespace": owner["metadata"].get("namespace", "default"),
                "labels": labels, "ownerReferences": [owner_reference(owner)]}
    if tmd.get("annotations"):
        md["annotations"] = dict(tmd["annotations"])
    spec = dict(template.get("spec") or {})
    if node_name:
        spec["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}
