"""ReplicaSet and ReplicationController: keep exactly `replicas` matching, active pods.

Adopts matching orphans, releases owned pods whose labels stop matching (they keep running and
a replacement is created), creates from the template with generated names, and on scale-down
deletes in Kubernetes' order. Creation is slow-started: while no pod of the set has started a
container, at most SLOW_START_BATCH pods wait to start; while any pod is failing (bad image, crash
loop), none are created.
"""

from __future__ import annotations

from collections import Counter

from gitkube.controllers.base import (Changes, Snapshot, controller_ref, has_started, is_active, is_failing,
                                      is_ready, owner_reference, pod_from_template, ready_since)
from gitkube.errors import SelectorError
from gitkube.labels.selector import Selector, from_label_selector, from_map

#: Pods a set may have waiting for their first start while none of it has started yet: enough to keep
#: the kubelet's workers busy from the first pass, few enough that a bad image costs a handful of
#: failed starts rather than one per replica.
SLOW_START_BATCH = 8
PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"


def selector_of(owner: dict) -> Selector:
    spec = owner.get("spec") or {}
    if owner["kind"] == "ReplicationController":
        labels = spec.get("selector") or ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        return from_map(labels) if labels else Selector.nothing()
    return from_label_selector(spec.get("selector"))


class ReplicaSetController:
    name = "replicaset"
    kinds = ("ReplicaSet", "ReplicationController")

    def sync(self, snap: Snapshot) -> Changes:
        changes = Changes()
        pods_by_ns: dict[str, list[dict]] = {}
        for p in snap.of("Pod"):
            pods_by_ns.setdefault(p["metadata"].get("namespace", "default"), []).append(p)
        for kind in self.kinds:
            for owner in snap.of(kind):
                changes.merge(sync_replicas(owner, pods_by_ns.get(owner["metadata"].get("namespace", "default"), []),
                                            snap.now))
        return changes


def claim(owner: dict, selector: Selector, pods: list[dict], changes: Changes) -> list[dict]:
    """The pods this owner controls after adoption and release (ControllerRefManager rules)."""
    uid = owner["metadata"]["uid"]
    deleting = bool(owner["metadata"].get("deletionTimestamp"))
    owned = []
    for pod in pods:
        ref = controller_ref(pod)
        labels = pod["metadata"].get("labels") or {}
        if ref is not None and ref.get("uid") != uid:
            continue
        if ref is not None:
            if selector.matches(labels):
                owned.append(pod)
            elif not deleting and not pod["metadata"].get("deletionTimestamp"):
                refs = [r for r in pod["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
                changes.updates.append(_with_refs(pod, refs))
                changes.events.append((owner, "Normal", "Released",
                                       f"Released pod {pod['metadata']['name']}: its labels no longer match"))
            continue
        if deleting or pod["metadata"].get("deletionTimestamp") or not selector.matches(labels):
            continue
        refs = list(pod["metadata"].get("ownerReferences") or []) + [owner_reference(owner)]
        adopted = _with_refs(pod, refs)
        changes.updates.append(adopted)
        owned.append(adopted)
    return owned


def _with_refs(pod: dict, refs: list[dict]) -> dict:
    md = {k: v for k, v in pod["metadata"].items() if k != "ownerReferences"}
    if refs:
        md["ownerReferences"] = refs
    return {**pod, "metadata": md}


def deletion_order(pods: list[dict]) -> list[dict]:
    """ActivePodsWithRanks: the first pods are the first to delete."""
    per_node = Counter((p.get("spec") or {}).get("nodeName", "") for p in pods)

    def key(p: dict) -> tuple:
        spec, status, md = p.get("spec") or {}, p.get("status") or {}, p["metadata"]
        node = spec.get("nodeName", "")
        ready = is_ready(p)
        try:
            cost = int((md.get("annotations") or {}).get(DELETION_COST, 0))
        except ValueError:
            cost = 0
        restarts = max((cs.get("restartCount", 0) for cs in status.get("containerStatuses") or []), default=0)
        since = ready_since(p) if ready else ""
        return (
            1 if node else 0,
            PHASE_RANK.get(status.get("phase", "Pending"), 0),
            1 if ready else 0,
            cost,
            -per_node[node] if node else 0,
            _desc(since) if ready else "",
            -restarts,
            _desc(md.get("creationTimestamp", "")),
        )

    return sorted(pods, key=key)


def _desc(timestamp: str) -> str:
    """Sort RFC 3339 times newest first within an ascending sort."""
    return "".join(chr(0x10FFFF - ord(c)) for c in timestamp)


def sync_replicas(owner: dict, pods: list[dict], now: float) -> Changes:
    changes = Changes()
    md, spec = owner["metadata"], owner.get("spec") or {}
    if md.get("deletionTimestamp"):
        return changes
    try:
        selector = selector_of(owner)
    except SelectorError as exc:
        changes.events.append((owner, "Warning", "InvalidSelector", str(exc)))
        return changes
    owned = claim(owner, selector, pods, changes)
    active = [p for p in owned if is_active(p)]
    want = spec.get("replicas", 1)
    template = spec.get("template") or {}
    if len(active) < want:
        failing = any(is_failing(p) for p in active)
        started = any(has_started(p) for p in owned)
        unstarted = sum(1 for p in active if not has_started(p))
        if failing:
            allowed = 0
        elif not started:
            allowed = max(0, SLOW_START_BATCH - unstarted)
        else:
            allowed = want - len(active)
        for _ in range(min(want - len(active), allowed)):
            changes.creates.append(pod_from_template(owner, template, md["name"]))
        if allowed < want - len(active):
            changes.wake_in(5.0)
    elif len(active) > want:
        for pod in deletion_order(active)[: len(active) - want]:
            changes.deletes.append(("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"], "background"))
    template_labels = (template.get("metadata") or {}).get("labels") or {}
    ready = [p for p in active if is_ready(p)]
    status = {
        "replicas": len(active),
        "fullyLabeledReplicas": sum(1 for p in active if all(
            (p["metadata"].get("labels") or {}).get(k) == v for k, v in template_labels.items())),
        "readyReplicas": len(ready),
        "availableReplicas": len(ready),
        "observedGeneration": md.get("generation", 1),
    }
    old = owner.get("status") or {}
    if old.get("conditions"):
        status["conditions"] = old["conditions"]
    changes.set_status(owner, status)
    return changes
