"""Endpoints: for every Service with a selector, an Endpoints object of the same name listing the
matching pods' addresses and target ports (the upstream endpoints controller, `syncService`).

* Labels are copied from the Service; a headless Service adds `service.kubernetes.io/headless`.
* Pods that finished (Succeeded/Failed), have no IP yet, or are terminating are left out
  (terminating ones stay when `publishNotReadyAddresses` is set).
* A named `targetPort` is resolved against each pod's container ports (`FindPort`); a pod without
  that port is skipped for that Service port only.
* Ready pods go to `addresses`, the others to `notReadyAddresses`; subsets are repacked so that
  addresses with the same set of ports share one subset, sorted for stable output.
* Services without a selector (and ExternalName Services) are left to the user: a manually declared
  Endpoints object is never touched. The objects this controller writes carry the annotation
  `gitkube.io/managed-by: endpoints-controller`; they are deleted with their Service (or when it
  loses its selector), manual ones never.
"""

from __future__ import annotations

from typing import Any

from gitkube.controllers.base import Changes, Snapshot, is_ready
from gitkube.errors import SelectorError
from gitkube.labels.selector import from_map

MANAGED_BY = "gitkube.io/managed-by"
MANAGER = "endpoints-controller"
HEADLESS_LABEL = "service.kubernetes.io/headless"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
MAX_CAPACITY = 1000


class EndpointsController:
    name = "endpoints"

    def sync(self, snap: Snapshot) -> Changes:
        changes = Changes()
        pods_by_ns: dict[str, list[dict]] = {}
        for p in snap.of("Pod"):
            pods_by_ns.setdefault(p["metadata"].get("namespace") or "default", []).append(p)
        existing = {_key(e): e for e in snap.of("Endpoints")}
        services = {_key(s): s for s in snap.of("Service") if not s["metadata"].get("deletionTimestamp")}
        for key, svc in services.items():
            current = existing.get(key)
            if not _has_selector(svc):
                if current is not None and is_managed(current):  # lost its selector: ours goes
                    changes.deletes.append(("Endpoints", key[0], key[1], "background"))
                continue
            try:
                want = desired_endpoints(svc, pods_by_ns.get(key[0], []))
            except SelectorError as exc:
                changes.events.append((svc, "Warning", "InvalidSelector", str(exc)))
                continue
            if current is None:
                changes.creates.append(want)
            elif _content(current) != _content(want):
                md = {**current["metadata"], "labels": want["metadata"]["labels"],
                      "annotations": {**(current["metadata"].get("annotations") or {}),
                                      **want["metadata"]["annotations"]}}
                if OVER_CAPACITY not in want["metadata"]["annotations"]:
                    md["annotations"].pop(OVER_CAPACITY, None)
                updated = {k: v for k, v in current.items() if k != "subsets"}
                updated["metadata"] = md
                if want.get("subsets"):
                    updated["subsets"] = want["subsets"]
                changes.updates.append(updated)
        for key, ep in existing.items():
            if key not in services and is_managed(ep):
                changes.deletes.append(("Endpoints", key[0], key[1], "background"))
        return changes


def is_managed(endpoints: dict) -> bool:
    return (endpoints["metadata"].get("annotations") or {}).get(MANAGED_BY) == MANAGER


def _key(obj: dict) -> tuple[str, str]:
    md = obj["metadata"]
    return (md.get("namespace") or "default", md["name"])


def _has_selector(svc: dict) -> bool:
    spec = svc.get("spec") or {}
    return bool(spec.get("selector")) and spec.get("type") != "ExternalName"


def _content(ep: dict) -> tuple:
    md = ep["metadata"]
    ann = md.get("annotations") or {}
    return (md.get("labels") or {}, ann.get(MANAGED_BY), ann.get(OVER_CAPACITY), ep.get("subsets") or [])


# --- the pure part -------------------------------------------------------------------------------

def desired_endpoints(svc: dict, pods: list[dict]) -> dict:
    """The Endpoints object for a Service with a selector, from the pods of its namespace."""
    md, spec = svc["metadata"], svc.get("spec") or {}
    selector = from_map(spec.get("selector") or {})
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    headless = spec.get("clusterIP") == "None"
    ports = spec.get("ports") or []
    entries: list[tuple[dict, bool, tuple]] = []  # (address, ready, ((port name, number, protocol), ...))
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        if not selector.matches(pod["metadata"].get("labels") or {}) or not should_list(pod, publish_not_ready):
            continue
        address = pod_address(pod, md["name"])
        ready = publish_not_ready or is_ready(pod)
        if not ports:
            if headless:  # a headless Service without ports still lists the addresses
                entries.append((address, ready, ()))
            continue
        resolved = []
        for sp in ports:
            protocol = sp.get("protocol") or "TCP"
            number = find_port(pod, sp.get("targetPort"), sp.get("port"), protocol)
            if number is None:
                continue
            resolved.append((sp.get("name") or "", number, protocol))
        if resolved:
            entries.append((address, ready, tuple(sorted(set(resolved)))))
    labels = dict(md.get("labels") or {})
    if headless:
        labels[HEADLESS_LABEL] = ""
    annotations = {MANAGED_BY: MANAGER}
    entries, truncated = _cap(entries)
    if truncated:
        annotations[OVER_CAPACITY] = "truncated"
    out: dict = {"apiVersion": "v1", "kind": "Endpoints",
                 "metadata": {"name": md["name"], "namespace": md.get("namespace") or "default",
                              "labels": labels, "annotations": annotations}}
    subsets = repack(entries)
    if subsets:
        out["subsets"] = subsets
    return out


def should_list(pod: dict, publish_not_ready: bool) -> bool:
    """ShouldPodBeInEndpoints: not finished, has an IP, not terminating (unless publishing not-ready)."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return False
    if not status.get("podIP"):
        return False
    if pod["metadata"].get("deletionTimestamp") and not publish_not_ready:
        return False
    return True


def pod_address(pod: dict, service_name: str) -> dict:
    md, spec = pod["metadata"], pod.get("spec") or {}
    address: dict[str, Any] = {"ip": pod["status"]["podIP"]}
    if spec.get("hostname") and spec.get("subdomain") == service_name:
        address["hostname"] = spec["hostname"]
    if spec.get("nodeName"):
        address["nodeName"] = spec["nodeName"]
    address["targetRef"] = {"kind": "Pod", "namespace": md.get("namespace") or "default", "name": md["name"],
                            "uid": md.get("uid", "")}
    return address


def find_port(pod: dict, target: Any, port: Any, protocol: str) -> int | None:
    """FindPort: a number is taken as is; a name is looked up in the pod's container ports of the
    same protocol. A missing targetPort means the Service port itself."""
    if target in (None, "", 0):
        target = port
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and (p.get("protocol") or "TCP") == protocol:
                return p.get("containerPort")
    return None


def _ip_key(address: dict) -> tuple:
    try:
        return (0, tuple(int(x) for x in address["ip"].split(".")))
    except ValueError:
        return (1, address["ip"])


def _cap(entries: list[tuple[dict, bool, tuple]]) -> tuple[list[tuple[dict, bool, tuple]], bool]:
    """At most MAX_CAPACITY addresses, ready ones kept first."""
    if len(entries) <= MAX_CAPACITY:
        return entries, False
    ready = [e for e in entries if e[1]]
    not_ready = [e for e in entries if not e[1]]
    return (ready + not_ready)[:MAX_CAPACITY], True


def repack(entries: list[tuple[dict, bool, tuple]]) -> list[dict]:
    """Group addresses sharing the same port set into one subset (RepackSubsets), sorted."""
    groups: dict[tuple, dict[str, list[dict]]] = {}
    for address, ready, ports in entries:
        group = groups.setdefault(ports, {"addresses": [], "notReadyAddresses": []})
        group["addresses" if ready else "notReadyAddresses"].append(address)
    subsets = []
    for ports in sorted(groups):
        group = groups[ports]
        subset: dict[str, Any] = {}
        for field in ("addresses", "notReadyAddresses"):
            if group[field]:
                subset[field] = sorted(group[field], key=_ip_key)
        if ports:
            subset["ports"] = [{**({"name": name} if name else {}), "port": port, "protocol": protocol}
                               for name, port, protocol in ports]
        subsets.append(subset)
    return subsets
