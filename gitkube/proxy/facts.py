"""Facts about a node's Docker host that the data plane needs: the default bridge's subnet (the
host's pod CIDR) and gateway (where the node's DNS answerer listens), and the engine ID (nodes on
one engine are one host). Cached per node URL; shared by the proxy and the kubelet's DNS settings.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass

CACHE_SECONDS = 300.0


@dataclass(frozen=True)
class Bridge:
    subnet: str  # e.g. 172.17.0.0/16
    gateway: str  # e.g. 172.17.0.1
    name: str = "docker0"


_lock = threading.Lock()
_bridges: dict[str, tuple[float, Bridge]] = {}
_dns_down: dict[str, str] = {}  # node URL -> why its DNS answerer is not running


def bridge_of(network: dict) -> Bridge | None:
    """From `docker network inspect bridge`. Pure."""
    for cfg in (network.get("IPAM") or {}).get("Config") or []:
        subnet = cfg.get("Subnet") or ""
        try:
            net = ipaddress.ip_network(subnet, strict=False)
        except ValueError:
            continue
        if net.version != 4:
            continue
        gateway = cfg.get("Gateway") or str(next(net.hosts()))
        name = (network.get("Options") or {}).get("com.docker.network.bridge.name") or "docker0"
        return Bridge(str(net), gateway.split("/")[0], name)
    return None


def bridge(node: object, refresh: bool = False) -> Bridge | None:
    """The node's bridge (NodeHandle with a connected `conn`); None if it cannot be asked now."""
    url = getattr(node, "url", "")
    with _lock:
        cached = _bridges.get(url)
    if cached and not refresh and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    conn = getattr(node, "conn", None)
    if conn is None:
        return cached[1] if cached else None
    try:
        found = bridge_of(conn.api.inspect_network("bridge"))
    except Exception:
        return cached[1] if cached else None
    if found is not None:
        with _lock:
            _bridges[url] = (time.monotonic(), found)
    return found


def engine_id(node: object) -> str:
    info = getattr(node, "info", None) or {}
    return str(info.get("ID") or "") or f"node:{getattr(node, 'name', '')}"


def set_dns_state(url: str, problem: str | None) -> None:
    with _lock:
        if problem:
            _dns_down[url] = problem
        else:
            _dns_down.pop(url, None)


def dns_problem(url: str) -> str | None:
    with _lock:
        return _dns_down.get(url)
