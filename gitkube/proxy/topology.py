"""The pod network between Docker hosts, as a pure function of what is known about each host.

Every host's pods live on its Docker bridge subnet (its "pod CIDR"). Host A reaches host B's pods
through a plain route, `B's pod CIDR via B's address`, and B reaches A's the same way back, so pod
IPs are kept end to end (no overlay, no NAT between pods). That needs, per pair of hosts:

* both pod CIDRs known and disjoint (and not shared with a third host);
* an address of each that the other can use as a next hop (same L2 segment, or a router that
  forwards pod CIDRs). A host reached through a loopback URL (the local engine, `unix://`) has no
  such address in its URL; its address toward a peer is the source address the kernel would use
  to reach that peer (`ip route get`), found on the host itself.

A pair that fails any of this gets no route, and each host's rules leave out the endpoints it
cannot reach (they still serve traffic arriving at their own host). Several nodes on one engine
(same engine ID) are one host.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from gitkube.proxy.model import HostView, Peer


@dataclass(frozen=True)
class HostFacts:
    key: str  # engine ID (nodes sharing an engine are one host)
    nodes: tuple[str, ...]
    pod_cidr: str | None = None
    address: str | None = None  # next-hop address peers use; None when only per-peer addresses exist
    toward: tuple[tuple[str, str], ...] = ()  # (peer key, my address toward that peer), for loopback hosts

    def address_for(self, peer: str) -> str | None:
        for key, addr in self.toward:
            if key == peer:
                return addr
        return self.address


@dataclass
class Plan:
    """One host's share of the network: its view for the rules and its routes."""

    view: HostView
    routes: dict[str, str] = field(default_factory=dict)  # pod CIDR -> next hop
    problems: list[str] = field(default_factory=list)


def _net(cidr: str | None) -> ipaddress.IPv4Network | None:
    if not cidr:
        return None
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None
    return net if isinstance(net, ipaddress.IPv4Network) else None


def plan(hosts: list[HostFacts]) -> dict[str, Plan]:
    """Each host's view and routes. Pure; hosts are handled in key order."""
    hosts = sorted(hosts, key=lambda h: h.key)
    nets = {h.key: _net(h.pod_cidr) for h in hosts}
    clashes: dict[str, list[str]] = {h.key: [] for h in hosts}
    for a in hosts:
        for b in hosts:
            na, nb = nets[a.key], nets[b.key]
            if a.key != b.key and na is not None and nb is not None and na.overlaps(nb):
                clashes[a.key].append(b.key)
    cidrs = tuple(sorted({str(n) for n in nets.values() if n is not None}))
    out = {}
    for h in hosts:
        peers, routes, reachable, problems = [], {}, set(), []
        own = nets[h.key]
        for other in clashes[h.key]:
            problems.append(f"pod subnet {h.pod_cidr} of host {'/'.join(h.nodes)} overlaps "
                            f"{nets[other]} of another host: no pod routing between them")
        for o in hosts:
            if o.key == h.key or own is None or nets[o.key] is None or clashes[h.key] or clashes[o.key]:
                continue
            via, back = o.address_for(h.key), h.address_for(o.key)
            if not _routable(via) or not _routable(back):
                problems.append(f"no routable address between {'/'.join(h.nodes)} and {'/'.join(o.nodes)}")
                continue
            peers.append(Peer(str(nets[o.key]), str(via)))
            routes[str(nets[o.key])] = str(via)
            reachable.update(o.nodes)
        view = HostView(nodes=frozenset(h.nodes), pod_cidr=str(own) if own else None, peers=tuple(peers),
                        reachable=frozenset(reachable), cluster_cidrs=cidrs)
        out[h.key] = Plan(view, routes, problems)
    return out


def _routable(addr: str | None) -> bool:
    if not addr:
        return False
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return ip.version == 4 and not ip.is_loopback and not ip.is_unspecified and not ip.is_multicast
