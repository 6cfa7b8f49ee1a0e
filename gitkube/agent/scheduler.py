"""Bind unscheduled pods to nodes, as a pure plan.

Filters (a node must pass all): Ready, schedulable (DaemonSet pods ignore `unschedulable`),
`nodeSelector` ⊆ node labels, resource requests fit what the node has left. Score: fewest pods
of the same owner on the node (spreading replicas), then fewest pods, then name.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from gitkube.runtime.quantity import to_bytes, to_millicpu


@dataclass(frozen=True, slots=True)
class Binding:
    namespace: str
    name: str
    uid: str
    node: str | None  # None: no node fits
    message: str = ""  # why not, in the scheduler's words


def node_ready(node: dict) -> bool:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def controller_uid(obj: dict) -> str:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid", "")
    return ""


def _owner_kind(obj: dict) -> str:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("kind", "")
    return ""


def pod_requests(pod: dict) -> tuple[int, int]:
    """(cpu millicores, memory bytes) the pod asks for; limits stand in for missing requests."""
    cpu = mem = 0
    for c in (pod.get("spec") or {}).get("containers") or []:
        res = c.get("resources") or {}
        req = {**(res.get("limits") or {}), **(res.get("requests") or {})}
        if "cpu" in req:
            cpu += to_millicpu(req["cpu"])
        if "memory" in req:
            mem += to_bytes(req["memory"])
    return cpu, mem


def capacity(node: dict) -> tuple[int, int]:
    cap = (node.get("status") or {}).get("allocatable") or (node.get("status") or {}).get("capacity") or {}
    cpu = to_millicpu(cap["cpu"]) if "cpu" in cap else 0
    mem = to_bytes(cap["memory"]) if "memory" in cap else 0
    return cpu, mem


def schedule(pending: Iterable[dict], nodes: list[dict], bound: Iterable[dict]) -> list[Binding]:
    """One Binding per pending pod. `bound` are pods already on nodes (for spreading and fit)."""
    per_node: Counter[str] = Counter()
    per_owner: Counter[tuple[str, str]] = Counter()
    used: dict[str, list[int]] = {}
    for p in bound:
        node = (p.get("spec") or {}).get("nodeName")
        if not node:
            continue
        per_node[node] += 1
        per_owner[(node, controller_uid(p))] += 1
        cpu, mem = pod_requests(p)
        acc = used.setdefault(node, [0, 0])
        acc[0] += cpu
        acc[1] += mem
    out = []
    for pod in pending:
        md, spec = pod["metadata"], pod.get("spec") or {}
        selector = spec.get("nodeSelector") or {}
        want_cpu, want_mem = pod_requests(pod)
        daemon = _owner_kind(pod) == "DaemonSet"
        reasons: Counter[str] = Counter()
        fits = []
        for node in nodes:
            name = node["metadata"]["name"]
            labels = {**(node["metadata"].get("labels") or {}), "kubernetes.io/hostname": name}
            if not node_ready(node):
                reasons["node(s) were not ready"] += 1
            elif (node.get("spec") or {}).get("unschedulable") and not daemon:
                reasons["node(s) were unschedulable"] += 1
            elif any(labels.get(k) != v for k, v in selector.items()):
                reasons["node(s) didn't match Pod's node affinity/selector"] += 1
            elif not _fits(node, used.get(name, [0, 0]), want_cpu, want_mem, reasons):
                pass
            else:
                fits.append(name)
        if not fits:
            detail = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items()))
            out.append(Binding(md["namespace"], md["name"], md["uid"], None,
                               f"0/{len(nodes)} nodes are available: {detail or 'no nodes registered'}."))
            continue
        owner = controller_uid(pod)
        best = min(fits, key=lambda n: (per_owner[(n, owner)] if owner else 0, per_node[n], n))
        per_node[best] += 1
        per_owner[(best, owner)] += 1
        acc = used.setdefault(best, [0, 0])
        acc[0] += want_cpu
        acc[1] += want_mem
        out.append(Binding(md["namespace"], md["name"], md["uid"], best))
    return out


def _fits(node: dict, used: list[int], cpu: int, mem: int, reasons: Counter[str]) -> bool:
    cap_cpu, cap_mem = capacity(node)
    if cpu and cap_cpu and used[0] + cpu > cap_cpu:
        reasons["Insufficient cpu"] += 1
        return False
    if mem and cap_mem and used[1] + mem > cap_mem:
        reasons["Insufficient memory"] += 1
        return False
    return True
