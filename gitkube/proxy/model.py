"""What the data plane is built from, as plain values: Service ports with their ready backends, and
one host's view of the pod network. `service_ports()` turns Services + Endpoints (+ the settled
allocations) into that form; every field is validated here, so the rule text built from it never
carries anything but addresses, numbers and sanitized names.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from gitkube.controllers.services import Claims, has_cluster_ip, key_of

DEFAULT_AFFINITY_SECONDS = 10800
PROTOCOLS = ("tcp", "udp", "sctp")
_SAFE = re.compile(r"[^a-z0-9./:_-]")


@dataclass(frozen=True, order=True)
class Backend:
    ip: str
    port: int
    node: str = ""  # nodeName of the pod; "" for manually declared addresses


@dataclass(frozen=True)
class ServicePort:
    """One port of one Service, as the proxy programs it."""

    namespace: str
    name: str
    port_name: str
    protocol: str  # tcp | udp | sctp
    port: int
    cluster_ip: str | None
    node_port: int | None = None
    external_ips: tuple[str, ...] = ()
    affinity: int | None = None  # ClientIP affinity timeout in seconds
    local_external: bool = False  # externalTrafficPolicy: Local
    backends: tuple[Backend, ...] = ()

    @property
    def id(self) -> str:
        """`ns/name:port/proto`: unique per Service port, the seed of its chain names."""
        return f"{self.namespace}/{self.name}:{self.port_name or self.port}/{self.protocol}"

    @property
    def comment(self) -> str:
        text = f"{self.namespace}/{self.name}" + (f":{self.port_name}" if self.port_name else "")
        return _SAFE.sub("", text.lower())[:200]


@dataclass(frozen=True)
class Peer:
    """Another host whose pod subnet is routed from this one."""

    cidr: str
    address: str


@dataclass(frozen=True)
class HostView:
    """One Docker host as its rules see it."""

    nodes: frozenset[str] = frozenset()  # node names on this host: their endpoints are local
    pod_cidr: str | None = None  # this host's bridge subnet
    peers: tuple[Peer, ...] = ()  # routed peer hosts (pod-to-pod without NAT)
    reachable: frozenset[str] = frozenset()  # node names whose pods this host can reach
    cluster_cidrs: tuple[str, ...] = field(default=())  # every pod subnet: such sources are pods

    def can_reach(self, b: Backend) -> bool:
        return not b.node or b.node in self.nodes or b.node in self.reachable

    def is_local(self, b: Backend) -> bool:
        return b.node in self.nodes


def _ipv4(value: object) -> str | None:
    try:
        addr = ipaddress.ip_address(str(value))
    except ValueError:
        return None
    return str(addr) if addr.version == 4 else None


def _port(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535 else None


def backends_of(endpoints: dict | None, port_name: str, protocol: str) -> tuple[Backend, ...]:
    """Ready addresses of an Endpoints object for one Service port (matched by name and protocol)."""
    out: set[Backend] = set()
    for subset in (endpoints or {}).get("subsets") or []:
        for p in subset.get("ports") or []:
            if (p.get("name") or "") != port_name or (p.get("protocol") or "TCP").lower() != protocol:
                continue
            number = _port(p.get("port"))
            if number is None:
                continue
            for a in subset.get("addresses") or []:
                ip = _ipv4(a.get("ip"))
                if ip is not None:
                    out.add(Backend(ip, number, str(a.get("nodeName") or "")))
    return tuple(sorted(out, key=lambda b: (ipaddress.IPv4Address(b.ip), b.port, b.node)))


def service_ports(services: list[dict], endpoints: list[dict], settled: Claims) -> list[ServicePort]:
    """Every Service port with a valid cluster IP, sorted by id. Pure."""
    eps = {key_of(e): e for e in endpoints}
    out = []
    for svc in services:
        key = key_of(svc)
        if svc["metadata"].get("deletionTimestamp") or not has_cluster_ip(svc) or key not in settled.cluster_ips:
            continue
        spec = svc.get("spec") or {}
        affinity = None
        if spec.get("sessionAffinity") == "ClientIP":
            timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
            affinity = timeout if isinstance(timeout, int) and 0 < timeout <= 86400 else DEFAULT_AFFINITY_SECONDS
        externals = tuple(sorted({ip for ip in (_ipv4(x) for x in spec.get("externalIPs") or []) if ip}))
        local = spec.get("externalTrafficPolicy") == "Local"
        for p in spec.get("ports") or []:
            protocol = (p.get("protocol") or "TCP").lower()
            number = _port(p.get("port"))
            if protocol not in PROTOCOLS or number is None:
                continue
            name = p.get("name") or ""
            out.append(ServicePort(
                namespace=key[0], name=key[1], port_name=name, protocol=protocol, port=number,
                cluster_ip=settled.cluster_ips[key],
                node_port=settled.node_ports.get((key, p.get("port"), p.get("protocol") or "TCP")),
                external_ips=externals, affinity=affinity, local_external=local,
                backends=backends_of(eps.get(key), name, protocol)))
    return sorted(out, key=lambda sp: sp.id)
