"""The iptables rules of one host, as a pure function: Service ports + the host's view → RuleSet.

Laid out like kube-proxy's iptables mode, with gitkube's own chains only (names ≤ 28 characters).
Every chain name starts with `GK-<tag>-`, the tag being 5 characters derived from the cluster id, so
that two gitkube states driving one host (two test runs, say) never touch each other's chains;
below, `GK-SERVICES` stands for `GK-<tag>-SERVICES` and so on:

nat table
  PREROUTING, OUTPUT → GK-SERVICES    cluster IPs (and external IPs) → GK-SVC-*; local addresses → GK-NODEPORTS
  GK-NODEPORTS                         node port → GK-EXT-*
  GK-EXT-*                             Cluster policy: mark for masquerade, → GK-SVC-*;
                                       Local policy: pods and the node itself → GK-SVC-*, others → GK-SVL-*
  GK-SVC-* / GK-SVL-*                  ClientIP affinity (`recent` --rcheck), then random choice: endpoint i of
                                       n is taken with probability 1/(n-i) → GK-SEP-*   (SVL: local endpoints only)
  GK-SEP-*                             hairpin → mark; DNAT to the endpoint (affinity: `recent` --set)
  GK-NONPOD                            sources outside every pod subnet are marked for masquerade
  GK-MARK-MASQ                         sets the mark bit
  POSTROUTING → GK-POSTROUTING         marked → GK-MASQ (clear mark, MASQUERADE); pod → routed peer pod: no NAT
filter table
  INPUT/FORWARD/OUTPUT (new) → GK-SERVICES   REJECT for cluster IPs / node ports without usable endpoints
  FORWARD → GK-FORWARD                 accept marked, established, DNATed-to-local-pods and routed peers' traffic
  INPUT → GK-FIREWALL                  drop martian traffic to 127/8 (needed once route_localnet is on)

Everything is sorted, so equal inputs give byte-equal output; chain names are hashes of the Service
port's identity (and endpoint), so they survive unrelated changes.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from gitkube.proxy.model import Backend, HostView, ServicePort

MASQ_MARK = "0x4000"
PREFIX = "GK-"
MAX_CHAIN = 28
DEFAULT_TAG = "LOCAL"

# (table, built-in chain, rule spec before the target, our chain's base name): inserted at the top.
JUMP_SPECS = (
    ("nat", "PREROUTING", '-m comment --comment "gitkube service portals"', "SERVICES"),
    ("nat", "OUTPUT", '-m comment --comment "gitkube service portals"', "SERVICES"),
    ("nat", "POSTROUTING", '-m comment --comment "gitkube postrouting rules"', "POSTROUTING"),
    ("filter", "INPUT", '-m conntrack --ctstate NEW -m comment --comment "gitkube service rejects"', "SERVICES"),
    ("filter", "FORWARD", '-m conntrack --ctstate NEW -m comment --comment "gitkube service rejects"', "SERVICES"),
    ("filter", "OUTPUT", '-m conntrack --ctstate NEW -m comment --comment "gitkube service rejects"', "SERVICES"),
    ("filter", "FORWARD", '-m comment --comment "gitkube forwarding rules"', "FORWARD"),
    ("filter", "INPUT", '-m comment --comment "gitkube firewall"', "FIREWALL"),
)


def cluster_tag(cluster_id: str) -> str:
    """5 characters naming a cluster's chains (GK-<tag>-...)."""
    if not cluster_id:
        return DEFAULT_TAG
    return base64.b32encode(hashlib.sha256(cluster_id.encode()).digest()).decode()[:5]


def owner_prefix(tag: str) -> str:
    return f"{PREFIX}{tag}-"


@dataclass(frozen=True)
class Jump:
    table: str
    chain: str  # built-in chain
    spec: str  # rule without "-A CHAIN"
    target: str  # our chain


@dataclass
class Table:
    chains: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)

    def chain(self, name: str) -> str:
        assert len(name) <= MAX_CHAIN and name.startswith(PREFIX), name
        if name not in self.chains:
            self.chains.append(name)
        return name

    def add(self, chain: str, spec: str) -> None:
        self.rules.append(f"-A {chain} {spec}")


@dataclass
class RuleSet:
    """The desired rules of one host. Empty when there is nothing to program."""

    tables: dict[str, Table] = field(default_factory=lambda: {"nat": Table(), "filter": Table()})
    jumps: list[Jump] = field(default_factory=list)
    node_ports: bool = False  # route_localnet is needed

    @property
    def empty(self) -> bool:
        return not any(t.chains for t in self.tables.values())

    def text(self) -> str:
        """Canonical text of the whole rule set (what its hash is taken of)."""
        out = []
        for name, table in self.tables.items():
            out.append(f"*{name}")
            out += [f":{c} - [0:0]" for c in table.chains]
            out += table.rules
            out += [f"-I {j.chain} 1 {j.spec}" for j in self.jumps if j.table == name]
            out.append("COMMIT")
        return "\n".join(out) + "\n"


class Names:
    """Chain names of one cluster: `GK-<tag>-<BASE>` and `GK-<tag>-<KIND>-<14 base32 chars of a hash>`."""

    def __init__(self, tag: str = DEFAULT_TAG):
        self.tag = tag
        self.prefix = owner_prefix(tag)

    def fixed(self, base: str) -> str:
        return self.prefix + base

    def hashed(self, kind: str, seed: str) -> str:
        digest = base64.b32encode(hashlib.sha256(f"{self.tag}/{seed}".encode()).digest()).decode()
        return (self.prefix + kind + "-" + digest)[:MAX_CHAIN]

    def svc(self, sp: ServicePort) -> str:
        return self.hashed("SVC", sp.id)

    def svl(self, sp: ServicePort) -> str:
        return self.hashed("SVL", sp.id)

    def ext(self, sp: ServicePort) -> str:
        return self.hashed("EXT", sp.id)

    def sep(self, sp: ServicePort, b: Backend) -> str:
        return self.hashed("SEP", f"{sp.id}>{b.ip}:{b.port}")


def probability(i: int, n: int) -> str:
    """Endpoint i of n (0-based) is picked with probability 1/(n-i) among those not picked before."""
    return f"{1.0 / (n - i):.10f}"


def render(ports: list[ServicePort], host: HostView, tag: str = DEFAULT_TAG) -> RuleSet:
    """The host's rule set for one cluster (`tag`). Pure and deterministic."""
    rs = RuleSet()
    nat, flt = rs.tables["nat"], rs.tables["filter"]
    n = Names(tag)
    if not ports and not host.peers:
        return rs
    if ports:
        services = nat.chain(n.fixed("SERVICES"))
        nodeports = nat.chain(n.fixed("NODEPORTS"))
        mark = nat.chain(n.fixed("MARK-MASQ"))
        nonpod = nat.chain(n.fixed("NONPOD"))
        nat.add(mark, f"-j MARK --or-mark {MASQ_MARK}")
        for cidr in sorted(set(host.cluster_cidrs)):
            nat.add(nonpod, f"-s {cidr} -j RETURN")
        nat.add(nonpod, f"-j {mark}")
        rejects = flt.chain(n.fixed("SERVICES"))
        firewall = flt.chain(n.fixed("FIREWALL"))
        flt.add(firewall, '! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block martian localhost traffic" '
                          "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")
        any_node_port = False
        for sp in ports:
            any_node_port |= _service_port(sp, host, n, nat, flt)
        if any_node_port:
            nat.add(services, '-m comment --comment "gitkube node ports; must be last" '
                              f"-m addrtype --dst-type LOCAL -j {nodeports}")
            rs.node_ports = True
    post = nat.chain(n.fixed("POSTROUTING"))
    masq = nat.chain(n.fixed("MASQ"))
    nat.add(post, f"-m mark --mark {MASQ_MARK}/{MASQ_MARK} -j {masq}")
    nat.add(masq, f"-j MARK --xor-mark {MASQ_MARK}")
    nat.add(masq, '-m comment --comment "gitkube service traffic requiring SNAT" -j MASQUERADE')
    forward = flt.chain(n.fixed("FORWARD"))
    flt.add(forward, f"-m mark --mark {MASQ_MARK}/{MASQ_MARK} -j ACCEPT")
    flt.add(forward, "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    if host.pod_cidr:
        flt.add(forward, f"-d {host.pod_cidr} -m conntrack --ctstate DNAT -j ACCEPT")
        for peer in sorted(host.peers, key=lambda p: (p.cidr, p.address)):
            nat.add(post, f'-s {host.pod_cidr} -d {peer.cidr} -m comment --comment "pod to pod across hosts" -j ACCEPT')
            flt.add(forward, f"-s {peer.cidr} -d {host.pod_cidr} -j ACCEPT")
            flt.add(forward, f"-s {peer.address}/32 -d {host.pod_cidr} -j ACCEPT")
    for table, chain, spec, base in JUMP_SPECS:
        target = n.fixed(base)
        if target in rs.tables[table].chains:
            rs.jumps.append(Jump(table, chain, f"{spec} -j {target}", target))
    return rs


def _match(sp: ServicePort) -> str:
    return f"-p {sp.protocol} -m {sp.protocol}"


def _service_port(sp: ServicePort, host: HostView, n: Names, nat: Table, flt: Table) -> bool:
    """Rules of one Service port; returns whether it has a node port."""
    services, nodeports, rejects = n.fixed("SERVICES"), n.fixed("NODEPORTS"), n.fixed("SERVICES")
    mark, nonpod = n.fixed("MARK-MASQ"), n.fixed("NONPOD")
    usable = [b for b in sp.backends if host.can_reach(b)]
    local = [b for b in usable if host.is_local(b)]
    vip = f"-d {sp.cluster_ip}/32 {_match(sp)} --dport {sp.port}" if sp.cluster_ip else ""
    no_endpoints = f'-m comment --comment "{sp.comment} has no endpoints" -j REJECT'
    if not usable:
        if vip:
            flt.add(rejects, f"{vip} {no_endpoints}")
        for ip in sp.external_ips:
            flt.add(rejects, f"-d {ip}/32 {_match(sp)} --dport {sp.port} {no_endpoints}")
        if sp.node_port:
            flt.add(rejects, f"-m addrtype --dst-type LOCAL {_match(sp)} --dport {sp.node_port} {no_endpoints}")
        return bool(sp.node_port)
    svc = nat.chain(n.svc(sp))
    if vip:
        nat.add(services, f'{vip} -m comment --comment "{sp.comment} cluster IP" -j {svc}')
        nat.add(svc, f'{vip} -m comment --comment "{sp.comment} cluster IP" -j {nonpod}')
    _balance(sp, usable, n, nat, svc)
    if sp.node_port or sp.external_ips:
        ext = nat.chain(n.ext(sp))
        for ip in sp.external_ips:
            nat.add(services, f'-d {ip}/32 {_match(sp)} --dport {sp.port} -m comment --comment "{sp.comment} '
                              f'external IP" -j {ext}')
        if sp.node_port:
            nat.add(nodeports, f'{_match(sp)} --dport {sp.node_port} -m comment --comment "{sp.comment}" -j {ext}')
        if not sp.local_external:
            nat.add(ext, f'-m comment --comment "masquerade traffic for external destinations" -j {mark}')
            nat.add(ext, f"-j {svc}")
        else:
            if host.pod_cidr:
                nat.add(ext, f'-s {host.pod_cidr} -m comment --comment "pod traffic goes cluster-wide" -j {svc}')
            nat.add(ext, f'-m comment --comment "masquerade local traffic" -m addrtype --src-type LOCAL -j {mark}')
            nat.add(ext, '-m comment --comment "route local traffic cluster-wide" '
                         f"-m addrtype --src-type LOCAL -j {svc}")
            if local:
                svl = nat.chain(n.svl(sp))
                nat.add(ext, f"-j {svl}")
                _balance(sp, local, n, nat, svl)
            elif sp.node_port:
                flt.add(rejects, f'-m addrtype --dst-type LOCAL {_match(sp)} --dport {sp.node_port} '
                                 f'-m comment --comment "{sp.comment} has no local endpoints" -j REJECT')
    return bool(sp.node_port)


def _balance(sp: ServicePort, backends: list[Backend], n: Names, nat: Table, chain: str) -> None:
    """Affinity checks, then one random-probability jump per endpoint; the endpoint chains."""
    seps = [(b, n.sep(sp, b)) for b in backends]
    if sp.affinity:
        for _, sep in seps:
            nat.add(chain, f'-m comment --comment "{sp.comment}" -m recent --name {sep} --mask 255.255.255.255 '
                           f"--rsource --rcheck --seconds {sp.affinity} --reap -j {sep}")
    count = len(seps)
    for i, (b, sep) in enumerate(seps):
        pick = f"-m statistic --mode random --probability {probability(i, count)} " if i < count - 1 else ""
        nat.add(chain, f'-m comment --comment "{sp.comment} -> {b.ip}:{b.port}" {pick}-j {sep}')
        if sep in nat.chains:
            continue  # shared by the SVC and SVL chains
        nat.chain(sep)
        nat.add(sep, f'-s {b.ip}/32 -m comment --comment "{sp.comment}" -j {n.fixed("MARK-MASQ")}')
        recent = f"-m recent --name {sep} --mask 255.255.255.255 --rsource --set " if sp.affinity else ""
        nat.add(sep, f'-p {sp.protocol} -m comment --comment "{sp.comment}" {recent}-m {sp.protocol} '
                     f"-j DNAT --to-destination {b.ip}:{b.port}")
