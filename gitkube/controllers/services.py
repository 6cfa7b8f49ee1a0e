"""Service allocation: cluster IPs from the service CIDR, node ports from 30000-32767, and the
load balancer status of LoadBalancer Services (the API server's allocators, as a controller).

The allocation lives where Kubernetes keeps it: `spec.clusterIP`/`spec.clusterIPs` and
`spec.ports[].nodePort`, written by this controller (apply carries them over from the live object,
see `gitkube.diff.essence.carry_allocated`). An explicit value must be valid and free: otherwise the
Service gets a Warning event and the condition `Allocated=False` with the reason, and that value is
not programmed on the nodes. Conflicts are settled by age: the older Service keeps the value.

`claims()` is the pure core; the proxy, DNS and the environment variables use it too, so every part
agrees on which addresses and ports are really in use.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from dataclasses import dataclass, field

from gitkube.controllers.base import Changes, Snapshot

DEFAULT_SERVICE_CIDR = "10.96.0.0/16"
SERVICE_CIDR_ENV = "GITKUBE_SERVICE_CIDR"
NODE_PORT_RANGE = (30000, 32767)
CONDITION = "Allocated"
# Offsets inside the CIDR never handed out automatically: .1 is the conventional `kubernetes`
# Service and .10 the conventional cluster DNS address (both may still be asked for explicitly).
RESERVED_OFFSETS = (1, 10)

Key = tuple[str, str]  # (namespace, name)


def service_cidr(value: str | None = None) -> ipaddress.IPv4Network:
    """The configured service CIDR: `value`, else $GITKUBE_SERVICE_CIDR, else 10.96.0.0/16."""
    text = value or os.environ.get(SERVICE_CIDR_ENV) or DEFAULT_SERVICE_CIDR
    net = ipaddress.ip_network(text, strict=False)
    if not isinstance(net, ipaddress.IPv4Network) or net.num_addresses < 16:
        raise ValueError(f"service CIDR {text!r}: need an IPv4 network of at least 16 addresses")
    return net


def key_of(obj: dict) -> Key:
    md = obj["metadata"]
    return (md.get("namespace") or "default", md["name"])


@dataclass
class Claims:
    """What each Service validly holds, plus what it should be given and what went wrong."""

    cluster_ips: dict[Key, str] = field(default_factory=dict)  # valid allocations (existing + new)
    node_ports: dict[tuple[Key, int, str], int] = field(default_factory=dict)  # (svc, port, proto) -> nodePort
    new_ips: dict[Key, str] = field(default_factory=dict)  # to be written into spec
    new_node_ports: dict[tuple[Key, int, str], int] = field(default_factory=dict)
    problems: dict[Key, list[tuple[str, str]]] = field(default_factory=dict)  # (reason, message)

    def problem(self, key: Key, reason: str, message: str) -> None:
        self.problems.setdefault(key, []).append((reason, message))


def has_cluster_ip(svc: dict) -> bool:
    """ClusterIP, NodePort and LoadBalancer Services get a virtual IP; headless and ExternalName don't."""
    spec = svc.get("spec") or {}
    return spec.get("type", "ClusterIP") != "ExternalName" and spec.get("clusterIP") != "None"


def wants_node_ports(svc: dict) -> bool:
    spec = svc.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    if kind == "NodePort":
        return True
    return kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False


def _order(svc: dict) -> tuple:
    md = svc["metadata"]
    return (md.get("creationTimestamp") or "", md.get("namespace") or "default", md["name"])


def claims(services: list[dict], cidr: ipaddress.IPv4Network,
           port_range: tuple[int, int] = NODE_PORT_RANGE) -> Claims:
    """Settle every Service's cluster IP and node ports; older Services first. Pure."""
    out = Claims()
    live = sorted((s for s in services if not s["metadata"].get("deletionTimestamp")), key=_order)
    ip_owner: dict[str, Key] = {}
    port_owner: dict[tuple[int, str], Key] = {}
    # 1. values already in the specs, first come first served
    for svc in live:
        key, spec = key_of(svc), svc.get("spec") or {}
        if has_cluster_ip(svc) and spec.get("clusterIP"):
            ip = spec["clusterIP"]
            reason = _ip_problem(ip, cidr)
            if reason is None and ip in ip_owner:
                reason = ("ClusterIPAlreadyAllocated",
                          f"cluster IP {ip} is already allocated to Service {'/'.join(ip_owner[ip])}")
            if reason is not None:
                out.problem(key, *reason)
            else:
                ip_owner[ip] = key
                out.cluster_ips[key] = ip
        if wants_node_ports(svc) or spec.get("type") == "LoadBalancer":
            for p in spec.get("ports") or []:
                np_ = p.get("nodePort")
                if not np_:
                    continue
                proto = p.get("protocol") or "TCP"
                if not isinstance(np_, int) or not port_range[0] <= np_ <= port_range[1]:
                    out.problem(key, "NodePortOutOfRange",
                                f"nodePort {np_}: provided port is not in the valid range "
                                f"{port_range[0]}-{port_range[1]}")
                    continue
                owner = port_owner.get((np_, proto))
                if owner is not None and owner != key:
                    out.problem(key, "NodePortAlreadyAllocated",
                                f"nodePort {np_}/{proto} is already allocated to Service {'/'.join(owner)}")
                    continue
                port_owner[(np_, proto)] = key
                out.node_ports[(key, p.get("port"), proto)] = np_
    # 2. new values for the Services that need one
    for svc in live:
        key, spec = key_of(svc), svc.get("spec") or {}
        uid = svc["metadata"].get("uid") or "/".join(key)
        if has_cluster_ip(svc) and not spec.get("clusterIP"):
            ip = _free_ip(cidr, ip_owner, uid)
            if ip is None:
                out.problem(key, "ClusterIPRangeFull", f"no free address left in the service CIDR {cidr}")
            else:
                ip_owner[ip] = key
                out.cluster_ips[key] = out.new_ips[key] = ip
        if wants_node_ports(svc):
            for p in spec.get("ports") or []:
                if p.get("nodePort"):
                    continue
                proto = p.get("protocol") or "TCP"
                np_ = _free_port(port_range, port_owner, proto, f"{uid}/{p.get('port')}/{proto}")
                if np_ is None:
                    out.problem(key, "NodePortRangeFull", "no free node port left")
                    continue
                port_owner[(np_, proto)] = key
                out.node_ports[(key, p.get("port"), proto)] = out.new_node_ports[(key, p.get("port"), proto)] = np_
    return out


def _ip_problem(ip: str, cidr: ipaddress.IPv4Network) -> tuple[str, str] | None:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ("ClusterIPInvalid", f"cluster IP {ip!r} is not a valid IP address")
    if addr not in cidr or addr in (cidr.network_address, cidr.broadcast_address):
        return ("ClusterIPNotInRange", f"cluster IP {ip} is not in the service CIDR {cidr}")
    return None


def _probe_start(seed: str, size: int) -> int:
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big") % size


def _free_ip(cidr: ipaddress.IPv4Network, taken: dict[str, Key], seed: str) -> str | None:
    """A free address, probing from a point derived from the Service's uid: stable for one Service,
    spread over the range so a deleted Service's address is rarely handed out again at once."""
    size = cidr.num_addresses
    start = _probe_start(seed, size)
    base = int(cidr.network_address)
    for i in range(size):
        offset = (start + i) % size
        if offset == 0 or offset == size - 1 or offset in RESERVED_OFFSETS:
            continue
        ip = str(ipaddress.IPv4Address(base + offset))
        if ip not in taken:
            return ip
    return None


def _free_port(port_range: tuple[int, int], taken: dict[tuple[int, str], Key], proto: str, seed: str) -> int | None:
    size = port_range[1] - port_range[0] + 1
    start = _probe_start(seed, size)
    for i in range(size):
        port = port_range[0] + (start + i) % size
        if (port, proto) not in taken:
            return port
    return None


class ServiceController:
    """Writes allocations into Service specs and `Allocated`/load balancer status."""

    name = "services"

    def __init__(self, cidr: str | None = None, port_range: tuple[int, int] = NODE_PORT_RANGE):
        self.cidr = service_cidr(cidr)
        self.port_range = port_range

    def sync(self, snap: Snapshot) -> Changes:
        changes = Changes()
        services = snap.of("Service")
        settled = claims(services, self.cidr, self.port_range)
        ingress = lb_ingress(snap.of("Node"))
        for svc in services:
            if svc["metadata"].get("deletionTimestamp"):
                continue
            key = key_of(svc)
            spec = updated_spec(svc, settled)
            if spec != (svc.get("spec") or {}):
                changes.updates.append({**svc, "spec": spec})
            status = desired_status(svc, settled.problems.get(key, []), ingress, snap.now)
            if status != (svc.get("status") or {}):
                changes.set_status(svc, status)
                _events(svc, status, changes)
        return changes


def updated_spec(svc: dict, settled: Claims) -> dict:
    """The spec with new allocations written in (and values the type no longer allows wiped)."""
    key, spec = key_of(svc), dict(svc.get("spec") or {})
    kind = spec.get("type", "ClusterIP")
    if kind == "ExternalName":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    elif key in settled.new_ips:
        spec["clusterIP"] = settled.new_ips[key]
        spec["clusterIPs"] = [settled.new_ips[key]]
    elif has_cluster_ip(svc) and spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    ports = spec.get("ports") or []
    new_ports = []
    for p in ports:
        proto = p.get("protocol") or "TCP"
        if kind in ("ClusterIP", "ExternalName") and "nodePort" in p:
            p = {k: v for k, v in p.items() if k != "nodePort"}
        elif (key, p.get("port"), proto) in settled.new_node_ports:
            p = {**p, "nodePort": settled.new_node_ports[(key, p.get("port"), proto)]}
        new_ports.append(p)
    if ports:
        spec["ports"] = new_ports
    return spec


def lb_ingress(nodes: list[dict]) -> list[dict]:
    """The nodes' InternalIPs (Ready nodes; all nodes when none is Ready), sorted, no duplicates."""
    def addresses(ns: list[dict]) -> list[str]:
        out = set()
        for n in ns:
            for a in (n.get("status") or {}).get("addresses") or []:
                if a.get("type") == "InternalIP" and a.get("address"):
                    out.add(a["address"])
        return sorted(out)

    ready = [n for n in nodes if any(c.get("type") == "Ready" and c.get("status") == "True"
                                     for c in (n.get("status") or {}).get("conditions") or [])]
    return [{"ip": ip} for ip in addresses(ready) or addresses(nodes)]


def desired_status(svc: dict, problems: list[tuple[str, str]], ingress: list[dict], now: float) -> dict:
    old = svc.get("status") or {}
    spec = svc.get("spec") or {}
    status = {k: v for k, v in old.items() if k not in ("loadBalancer", "conditions")}
    status["loadBalancer"] = {"ingress": ingress} if spec.get("type") == "LoadBalancer" and ingress else {}
    if problems:
        cond = {"type": CONDITION, "status": "False", "reason": problems[0][0],
                "message": "; ".join(m for _, m in problems)}
    else:
        cond = {"type": CONDITION, "status": "True", "reason": "Allocated",
                "message": "cluster IP and node ports are allocated" if has_cluster_ip(svc) else "nothing to allocate"}
    previous = next((c for c in old.get("conditions") or [] if c.get("type") == CONDITION), None)
    same = previous is not None and (previous.get("status"), previous.get("reason")) == (cond["status"], cond["reason"])
    cond["lastTransitionTime"] = previous.get("lastTransitionTime") if same and previous else _rfc3339(now)
    others = [c for c in old.get("conditions") or [] if c.get("type") != CONDITION]
    status["conditions"] = others + [cond]
    return status


def _events(svc: dict, status: dict, changes: Changes) -> None:
    """A Warning event when the condition turns False or its reason changes."""
    new = next(c for c in status["conditions"] if c["type"] == CONDITION)
    old = next((c for c in (svc.get("status") or {}).get("conditions") or [] if c.get("type") == CONDITION), None)
    if new["status"] == "False" and (old is None or (old.get("status"), old.get("reason"), old.get("message"))
                                     != (new["status"], new["reason"], new["message"])):
        changes.events.append((svc, "Warning", new["reason"], new["message"]))


def _rfc3339(epoch: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def allocated_ok(svc: dict) -> bool:
    """The controller accepted this Service's values (no `Allocated=False`)."""
    for c in (svc.get("status") or {}).get("conditions") or []:
        if c.get("type") == CONDITION:
            return c.get("status") == "True"
    return True
