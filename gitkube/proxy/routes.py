"""Routes to the other hosts' pod subnets, on one host. gitkube's routes carry the routing protocol
number ROUTE_PROTO, so they are told apart from everyone else's: only those are replaced or
deleted, and a destination someone else already routes is left alone (and reported)."""

from __future__ import annotations

import json

from gitkube.errors import TransientError
from gitkube.proxy.iptables import Runner

ROUTE_PROTO = "147"  # "gitkube" in /etc/iproute2/rt_protos terms; any unused number below 256


def _ip(node: Runner, *args: str, timeout: float = 15) -> bytes:
    rc, out, err = node.run(["ip", *args], timeout=timeout)
    if rc != 0:
        raise TransientError(f"ip {' '.join(args)} failed ({rc}): {err.decode(errors='replace').strip()[:300]}")
    return out


def current(node: Runner) -> list[dict]:
    """The main table's routes, as `ip -j route show` gives them."""
    return json.loads(_ip(node, "-j", "route", "show", "table", "main") or b"[]")


def plan_changes(want: dict[str, str], routes: list[dict]) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(to add or replace: (cidr, via), to delete: cidr, problems). Pure."""
    ours = {r["dst"]: r.get("gateway") for r in routes if str(r.get("protocol")) == ROUTE_PROTO}
    theirs = {r["dst"] for r in routes if str(r.get("protocol")) != ROUTE_PROTO}
    add, problems = [], []
    for cidr, via in sorted(want.items()):
        if cidr in theirs:
            problems.append(f"route to {cidr} exists already (not gitkube's): left alone")
        elif ours.get(cidr) != via:
            add.append((cidr, via))
    delete = sorted(c for c in ours if c not in want)
    return add, delete, problems


def sync(node: Runner, want: dict[str, str]) -> list[str]:
    """Make gitkube's routes on the host equal `want`; returns problems worth reporting."""
    add, delete, problems = plan_changes(want, current(node))
    for cidr in delete:
        _ip(node, "route", "del", cidr, "proto", ROUTE_PROTO)
    for cidr, via in add:
        try:
            _ip(node, "route", "replace", cidr, "via", via, "proto", ROUTE_PROTO)
        except TransientError as exc:
            problems.append(f"route to {cidr} via {via}: {exc}")
    return problems


def source_toward(node: Runner, address: str) -> str | None:
    """The source address this host uses to reach `address` (its address as that peer sees it)."""
    try:
        info = json.loads(_ip(node, "-j", "route", "get", address) or b"[]")
    except (TransientError, ValueError):
        return None
    return (info[0].get("prefsrc") if info else None) or None
