"""DaemonSet: one pod on every eligible node, replaced node by node when the template changes.

A node is eligible when it is Ready and its labels (plus the implicit `kubernetes.io/hostname`)
match `spec.template.spec.nodeSelector`; `spec.unschedulable` does not keep daemons away. Pods are
created already bound (`spec.nodeName`) and labelled `controller-revision-hash=<template hash>`.
Each pass, per DaemonSet (`pkg/controller/daemon` upstream, without surge):

- claim pods by the selector (adopt orphans, release the ones that stopped matching);
- per node: an eligible node without a pod gets one, once no pod of this set is still terminating
  there (a container being stopped may still hold the host ports); an eligible node with several
  keeps the oldest; a node that is not eligible any more, or is gone, loses its pods; finished
  (Succeeded/Failed) pods are deleted and replaced. Pods on a node that is NotReady but still
  matches are left alone: neither replaced nor counted (node lifecycle handles them).
- RollingUpdate: delete old-template pods, at most `maxUnavailable` nodes without an available
  up-to-date pod at a time (old pods that are not available anyway go at once); the create step
  puts the new pod there on a later pass. OnDelete: pods are only replaced once someone deletes
  them. `maxSurge` is not supported (treated as 0).
- status: the counts of `kubectl get ds`, written only when changed.
"""

from __future__ import annotations

from gitkube.controllers.base import Changes, Snapshot, is_active, is_ready, pod_from_template
from gitkube.controllers.deployment import availability, scaled_value
from gitkube.controllers.hashing import CONTROLLER_REVISION_HASH, template_hash
from gitkube.controllers.replicaset import claim
from gitkube.errors import SelectorError
from gitkube.labels.selector import from_label_selector
from gitkube.schema.defaults import apply_defaults

HOSTNAME_LABEL = "kubernetes.io/hostname"


class DaemonSetController:
    name = "daemonset"

    def sync(self, snap: Snapshot) -> Changes:
        changes = Changes()
        pods_by_ns: dict[str, list[dict]] = {}
        for p in snap.of("Pod"):
            pods_by_ns.setdefault(p["metadata"].get("namespace", "default"), []).append(p)
        nodes = snap.of("Node")
        for ds in snap.of("DaemonSet"):
            ns = ds["metadata"].get("namespace", "default")
            changes.merge(sync_daemonset(ds, nodes, pods_by_ns.get(ns, []), snap.now))
        return changes


def node_ready(node: dict) -> bool:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def node_matches(node: dict, node_selector: dict) -> bool:
    name = node["metadata"]["name"]
    labels = {**(node["metadata"].get("labels") or {}), HOSTNAME_LABEL: name}
    return all(labels.get(k) == v for k, v in node_selector.items())


def _age(pod: dict) -> tuple:
    """podByCreationTimestampAndPhase: bound first, then oldest, then by name."""
    md = pod["metadata"]
    return (0 if (pod.get("spec") or {}).get("nodeName") else 1, md.get("creationTimestamp", ""), md.get("name", ""))


def sync_daemonset(ds: dict, nodes: list[dict], pods: list[dict], now: float) -> Changes:
    changes = Changes()
    md = ds["metadata"]
    if md.get("deletionTimestamp"):
        return changes  # the garbage collector removes the pods
    spec = apply_defaults(ds).get("spec") or {}
    try:
        selector = from_label_selector(spec.get("selector"))
    except SelectorError as exc:
        changes.events.append((ds, "Warning", "InvalidSelector", str(exc)))
        return changes
    if selector.empty:
        changes.events.append((ds, "Warning", "SelectingAll",
                               "This daemon set is selecting all pods. A non-empty selector is required."))
        return changes
    template = spec.get("template") or {}
    node_selector = (template.get("spec") or {}).get("nodeSelector") or {}
    hash_ = template_hash(template)
    min_ready = int(spec.get("minReadySeconds") or 0)
    owned = claim(ds, selector, pods, changes)

    active: dict[str, list[dict]] = {}  # node name ("" = unbound) -> active pods, oldest first
    terminating: set[str] = set()
    for pod in owned:
        node = (pod.get("spec") or {}).get("nodeName") or ""
        if pod["metadata"].get("deletionTimestamp"):
            terminating.add(node)
        elif is_active(pod):
            active.setdefault(node, []).append(pod)
        else:  # Succeeded or Failed: a daemon should keep running, so replace it
            _delete(changes, ds, pod, "it finished")
    for node_pods in active.values():
        node_pods.sort(key=_age)

    by_name = {n["metadata"]["name"]: n for n in nodes}
    eligible = sorted(name for name, n in by_name.items() if node_ready(n) and node_matches(n, node_selector))
    eligible_set = set(eligible)
    left_alone = {name for name, n in by_name.items() if not node_ready(n) and node_matches(n, node_selector)}

    # placement
    for node in eligible:
        node_pods = active.get(node, [])
        if not node_pods:
            if node not in terminating:
                changes.creates.append(pod_from_template(ds, template, md["name"], {CONTROLLER_REVISION_HASH: hash_},
                                                         node_name=node))
                changes.events.append((ds, "Normal", "SuccessfulCreate", f"Created pod on node {node}"))
        for extra in node_pods[1:]:
            _delete(changes, ds, extra, f"more than one daemon pod on node {node}")
    for node, node_pods in sorted(active.items()):
        if node in eligible_set or node in left_alone:
            continue
        why = "the node is gone" if node and node not in by_name else \
            "the pod is not bound to a node" if not node else f"node {node} does not match the node selector"
        for pod in node_pods:
            _delete(changes, ds, pod, why)

    # rolling update
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        try:
            _roll(ds, strategy, eligible, active, hash_, min_ready, now, changes)
        except ValueError as exc:
            changes.events.append((ds, "Warning", "InvalidUpdateStrategy", str(exc)))

    # status
    desired = current = ready = available = updated = misscheduled = 0
    for node in sorted(by_name):
        node_pods = active.get(node, [])
        if node in eligible_set:
            desired += 1
            if not node_pods:
                continue
            current += 1
            pod = node_pods[0]
            if is_ready(pod):
                ready += 1
                left = availability(pod, min_ready, now)
                if left == 0:
                    available += 1
                elif left is not None:
                    changes.wake_in(left)
            if (pod["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH) == hash_:
                updated += 1
        elif node not in left_alone and node_pods:
            misscheduled += 1
    status = {
        "currentNumberScheduled": current,
        "desiredNumberScheduled": desired,
        "numberAvailable": available,
        "numberMisscheduled": misscheduled,
        "numberReady": ready,
        "numberUnavailable": desired - available,
        "observedGeneration": md.get("generation", 1),
        "updatedNumberScheduled": updated,
    }
    old = ds.get("status") or {}
    if old.get("conditions"):
        status["conditions"] = old["conditions"]
    changes.set_status(ds, status)
    return changes


def _roll(ds: dict, strategy: dict, eligible: list[str], active: dict[str, list[dict]], hash_: str,
          min_ready: int, now: float, changes: Changes) -> None:
    """Delete old pods while at most maxUnavailable eligible nodes lack an available new pod."""
    rolling = strategy.get("rollingUpdate") or {}
    scaled_value(rolling.get("maxSurge", 0), len(eligible), True)  # validated; surging is not supported
    # 0 (with maxSurge, which counts as 0 here) resolves to 1, like upstream's fencepost
    max_unavailable = scaled_value(rolling.get("maxUnavailable", 1), len(eligible), True) or 1
    unavailable = 0
    replace: list[dict] = []
    candidates: list[dict] = []
    for node in eligible:
        node_pods = active.get(node, [])
        if len(node_pods) != 1:
            unavailable += 1  # being created, or duplicates being cleaned up
            continue
        pod = node_pods[0]
        is_new = (pod["metadata"].get("labels") or {}).get(CONTROLLER_REVISION_HASH) == hash_
        up = availability(pod, min_ready, now) == 0
        if is_new:
            if not up:
                unavailable += 1
        elif not up:
            replace.append(pod)  # not serving anyway: replace it now
        else:
            candidates.append(pod)
    room = max(0, max_unavailable - unavailable)
    for pod in replace + candidates[:room]:
        _delete(changes, ds, pod, "it runs an old template")


def _delete(changes: Changes, ds: dict, pod: dict, why: str) -> None:
    md = pod["metadata"]
    changes.deletes.append(("Pod", md.get("namespace", "default"), md["name"], "background"))
    changes.events.append((ds, "Normal", "SuccessfulDelete", f"Deleted pod: {md['name']} ({why})"))
