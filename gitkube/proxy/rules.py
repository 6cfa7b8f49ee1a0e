"""The iptables rules of one host, as a pure function: Service ports + the host's view → RuleSet.

Laid out like kube-proxy's iptables mode, with gitkube's own chains only (names ≤ 28 characters):

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

# (table, built-in chain, rule spec, our chain): inserted at the top of the built-in chain.
JUMP_SPECS = (
    ("nat", "PREROUTING", '-m comment --comment "gitkube service portals" -j GK-SERVICES', "GK-SERVICES"),
    ("nat", "OUTPUT", '-m comment --comment "gitkube service portals" -j GK-SERVICES', "GK-SERVICES"),
    ("nat", "POSTROUTING", '-m comment --comment "gitkube postrouting rules" -j GK-POSTROUTING', "GK-POSTROUTING"),
    ("filter", "INPUT", '-m conntrack --ctstate NEW -m comment --comment "gitkube service rejects" -j GK-SERVICES',
     "GK-SERVICES"),
    ("filter", "FORWARD", '-m conntrack --ctstate NEW -m comment --comment "gitkube service rejects" -j GK-SERVICES',
     "GK-SERVICES"),
    ("filter", "OUTPUT", '-m conntrack --ctstate NEW -m comment --comment "gitkube service rejects" -j GK-SERVICES',
     "GK-SERVICES"),
    ("filter", "FORWARD", '-m comment --comment "gitkube forwarding rules" -j GK-FORWARD', "GK-FORWARD"),
    ("filter", "INPUT", '-m comment --comment "gitkube firewall" -j GK-FIREWALL', "GK-FIREWALL"),
)


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


def chain_name(kind: str, seed: str) -> str:
    """`GK-<kind>-<16 base32 chars of sha256(seed)>`, e.g. GK-SVC-ABCDEFGHIJKLMNOP (23 chars)."""
    digest = base64.b32encode(hashlib.sha256(seed.encode()).digest()).decode()[:16]
    return f"{PREFIX}{kind}-{digest}"


def svc_chain(sp: ServicePort) -> str:
    return chain_name("SVC", sp.id)


def svl_chain(sp: ServicePort) -> str:
    return chain_name("SVL", sp.id)


def ext_chain(sp: ServicePort) -> str:
    return chain_name("EXT", sp.id)


def sep_chain(sp: ServicePort, b: Backend) -> str:
    return chain_name("SEP", f"{sp.id}>{b.ip}:{b.port}")


def probability(i: int, n: int) -> str:
    """Endpoint i of n (0-based) is picked with probability 1/(n-i) among those not picked before."""
    return f"{1.0 / (n - i):.10f}"


def render(ports: list[ServicePort], host: HostView) -> RuleSet:
    """The host's rule set. Pure and deterministic."""
    rs = RuleSet()
    nat, flt = rs.tables["nat"], rs.tables["filter"]
    has_services = bool(ports)
    if not has_services and not host.peers:
        return rs
    if has_services:
        services = nat.chain("GK-SERVICES")
        nodeports = nat.chain("GK-NODEPORTS")
        mark = nat.chain("GK-MARK-MASQ")
        nonpod = nat.chain("GK-NONPOD")
        nat.add(mark, f"-j MARK --or-mark {MASQ_MARK}")
        for cidr in sorted(set(host.cluster_cidrs)):
            nat.add(nonpod, f"-s {cidr} -j RETURN")
        nat.add(nonpod, f"-j {mark}")
        rejects = flt.chain("GK-SERVICES")
        firewall = flt.chain("GK-FIREWALL")
        flt.add(firewall, '! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block martian localhost traffic" '
                          "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")
        any_node_port = False
        for sp in ports:
            any_node_port |= _service_port(sp, host, nat, flt, services, nodeports, rejects)
        if any_node_port:
            nat.add(services, '-m comment --comment "gitkube node ports; must be last" '
                              f"-m addrtype --dst-type LOCAL -j {nodeports}")
            rs.node_ports = True
    post = nat.chain("GK-POSTROUTING")
    masq = nat.chain("GK-MASQ")
    nat.add(post, f"-m mark --mark {MASQ_MARK}/{MASQ_MARK} -j {masq}")
    nat.add(masq, f"-j MARK --xor-mark {MASQ_MARK}")
    nat.add(masq, '-m comment --comment "gitkube service traffic requiring SNAT" -j MASQUERADE')
    forward = flt.chain("GK-FORWARD")
    flt.add(forward, f"-m mark --mark {MASQ_MARK}/{MASQ_MARK} -j ACCEPT")
    flt.add(forward, "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    if host.pod_cidr:
        flt.add(forward, f"-d {host.pod_cidr} -m conntrack --ctstate DNAT -j ACCEPT")
        for peer in sorted(host.peers, key=lambda p: (p.cidr, p.address)):
            nat.add(post, f'-s {host.pod_cidr} -d {peer.cidr} -m comment --comment "pod to pod across hosts" -j ACCEPT')
            flt.add(forward, f"-s {peer.cidr} -d {host.pod_cidr} -j ACCEPT")
            flt.add(forward, f"-s {peer.address}/32 -d {host.pod_cidr} -j ACCEPT")
    rs.jumps = [Jump(t, c, spec, target) for t, c, spec, target in JUMP_SPECS
                if target in rs.tables[t].chains]
    return rs


def _match(sp: ServicePort) -> str:
    return f"-p {sp.protocol} -m {sp.protocol}"


def _service_port(sp: ServicePort, host: HostView, nat: Table, flt: Table, services: str, nodeports: str,
                  rejects: str) -> bool:
    """Rules of one Service port; returns whether it has a node port."""
    usable = [b for b in sp.backends if host.can_reach(b)]
    local = [b for b in usable if host.is_local(b)]
    cluster_ip = sp.cluster_ip
    vip = f"-d {cluster_ip}/32 {_match(sp)} --dport {sp.port}" if cluster_ip else ""
    if not usable:
        if vip:
            flt.add(rejects, f'{vip} -m comment --comment "{sp.comment} has no endpoints" -j REJECT')
        for ip in sp.external_ips:
            flt.add(rejects, f'-d {ip}/32 {_match(sp)} --dport {sp.port} -m comment --comment "{sp.comment} has no '
                             'endpoints" -j REJECT')
        if sp.node_port:
            flt.add(rejects, f'-m addrtype --dst-type LOCAL {_match(sp)} --dport {sp.node_port} '
                             f'-m comment --comment "{sp.comment} has no endpoints" -j REJECT')
        return bool(sp.node_port)
    svc = nat.chain(svc_chain(sp))
    if vip:
        nat.add(services, f'{vip} -m comment --comment "{sp.comment} cluster IP" -j {svc}')
        nat.add(svc, f'{vip} -m comment --comment "{sp.comment} cluster IP" -j GK-NONPOD')
    _balance(sp, usable, nat, svc)
    external = sp.node_port or sp.external_ips
    if external:
        ext = nat.chain(ext_chain(sp))
        for ip in sp.external_ips:
            nat.add(services, f'-d {ip}/32 {_match(sp)} --dport {sp.port} -m comment --comment "{sp.comment} '
                              f'external IP" -j {ext}')
        if sp.node_port:
            nat.add(nodeports, f'{_match(sp)} --dport {sp.node_port} -m comment --comment "{sp.comment}" -j {ext}')
        if not sp.local_external:
            nat.add(ext, '-m comment --comment "masquerade traffic for external destinations" -j GK-MARK-MASQ')
            nat.add(ext, f"-j {svc}")
        else:
            if host.pod_cidr:
                nat.add(ext, f'-s {host.pod_cidr} -m comment --comment "pod traffic goes cluster-wide" -j {svc}')
            nat.add(ext, '-m comment --comment "masquerade local traffic" -m addrtype --src-type LOCAL -j GK-MARK-MASQ')
            nat.add(ext, f'-m comment --comment "route local traffic cluster-wide" -m addrtype --src-type LOCAL -j {svc}')
            if local:
                svl = nat.chain(svl_chain(sp))
                nat.add(ext, f"-j {svl}")
                _balance(sp, local, nat, svl)
            elif sp.node_port:
                flt.add(rejects, f'-m addrtype --dst-type LOCAL {_match(sp)} --dport {sp.node_port} '
                                 f'-m comment --comment "{sp.comment} has no local endpoints" -j REJECT')
    return bool(sp.node_port)


def _balance(sp: ServicePort, backends: list[Backend], nat: Table, chain: str) -> None:
    """Affinity checks, then one random-probability jump per endpoint; the endpoint chains."""
    seps = [(b, sep_chain(sp, b)) for b in backends]
    if sp.affinity:
        for _, sep in seps:
            nat.add(chain, f'-m comment --comment "{sp.comment}" -m recent --name {sep} --mask 255.255.255.255 '
                           f"--rsource --rcheck --seconds {sp.affinity} --reap -j {sep}")
    n = len(seps)
    for i, (b, sep) in enumerate(seps):
        if i < n - 1:
            nat.add(chain, f'-m comment --comment "{sp.comment} -> {b.ip}:{b.port}" '
                           f"-m statistic --mode random --probability {probability(i, n)} -j {sep}")
        else:
            nat.add(chain, f'-m comment --comment "{sp.comment} -> {b.ip}:{b.port}" -j {sep}')
        if sep in nat.chains:
            continue  # shared by GK-SVC and GK-SVL
        nat.chain(sep)
        nat.add(sep, f'-s {b.ip}/32 -m comment --comment "{sp.comment}" -j GK-MARK-MASQ')
        recent = f"-m recent --name {sep} --mask 255.255.255.255 --rsource --set " if sp.affinity else ""
        nat.add(sep, f'-p {sp.protocol} -m comment --comment "{sp.comment}" {recent}-m {sp.protocol} '
                     f"-j DNAT --to-destination {b.ip}:{b.port}")
