"""Routes to the other hosts' pod subnets, on one host. gitkube's routes carry the routing protocol
number ROUTE_PROTO and a metric derived from the cluster (`route_metric`), so each gitkube state
owns exactly its routes: only those are replaced or deleted (two states on one host each keep their
own route; the kernel uses one), and a destination someone else routes already is left alone and
reported."""

from __future__ import annotations

import hashlib
import json

from gitkube.errors import TransientError
from gitkube.proxy.iptables import Runner

ROUTE_PROTO = "147"  # "gitkube" in /etc/iproute2/rt_protos terms; any unused number below 256


def route_metric(tag: str) -> int:
    """A per-cluster metric in 1024..33791 (never 0, the metric of everyone else's routes)."""
    return 1024 + int.from_bytes(hashlib.sha256(tag.encode()).digest()[:4], "big") % 32768


def _ip(node: Runner, *args: str, timeout: float = 15) -> bytes:
    rc, out, err = node.run(["ip", *args], timeout=timeout)
    if rc != 0:
        raise TransientError(f"ip {' '.join(args)} failed ({rc}): {err.decode(errors='replace').strip()[:300]}")
    return out


def current(node: Runner) -> list[dict]:
    """The main table's routes, as `ip -j route show` gives them."""
    return json.loads(_ip(node, "-j", "route", "show", "table", "main") or b"[]")


def plan_changes(want: dict[str, str], routes: list[dict], metric: int
                 ) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(to add or replace: (cidr, via), to delete: cidr, problems). Pure."""
    def gitkube(r: dict) -> bool:
        return str(r.get("protocol")) == ROUTE_PROTO

    ours = {r["dst"]: r.get("gateway") for r in routes if gitkube(r) and r.get("metric", 0) == metric}
    theirs = {r["dst"] for r in routes if not gitkube(r)}
    add, problems = [], []
    for cidr, via in sorted(want.items()):
        if cidr in theirs:
            problems.append(f"route to {cidr} exists already (not gitkube's): left alone")
        elif ours.get(cidr) != via:
            add.append((cidr, via))
    delete = sorted(c for c in ours if c not in want)
    return add, delete, problems


def sync(node: Runner, want: dict[str, str], metric: int) -> list[str]:
    """Make this cluster's routes on the host equal `want`; returns problems worth reporting."""
    add, delete, problems = plan_changes(want, current(node), metric)
    for cidr in delete:
        _ip(node, "route", "del", cidr, "proto", ROUTE_PROTO, "metric", str(metric))
    for cidr, via in add:
        try:
            _ip(node, "route", "replace", cidr, "via", via, "proto", ROUTE_PROTO, "metric", str(metric))
        except TransientError as exc:
            problems.append(f"route to {cidr} via {via}: {exc}")
    return problems


def remove_all(node: Runner) -> int:
    """Delete every gitkube route of every cluster; returns how many."""
    gone = 0
    for r in current(node):
        if str(r.get("protocol")) == ROUTE_PROTO:
            _ip(node, "route", "del", r["dst"], "proto", ROUTE_PROTO, "metric", str(r.get("metric", 0)))
            gone += 1
    return gone


def source_toward(node: Runner, address: str) -> str | None:
    """The source address this host uses to reach `address` (its address as that peer sees it)."""
    try:
        info = json.loads(_ip(node, "-j", "route", "get", address) or b"[]")
    except (TransientError, ValueError):
        return None
    return (info[0].get("prefsrc") if info else None) or None
