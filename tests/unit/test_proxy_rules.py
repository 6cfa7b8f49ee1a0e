"""The data plane as pure functions: Service ports from objects, the iptables text, what a restore
must change, the topology between hosts and the routes."""

from __future__ import annotations

import ipaddress
import random
import re

import pytest

from gitkube.controllers.services import claims
from gitkube.proxy import iptables, routes, rules, topology
from gitkube.proxy.model import Backend, HostView, Peer, ServicePort, service_ports
from gitkube.proxy.rules import MAX_CHAIN, Names, cluster_tag, owner_prefix, probability, render

TAG = "TESTA"
P = owner_prefix(TAG)
CIDR = ipaddress.ip_network("10.96.0.0/16")


def port(name="web", backends=3, node_port=None, affinity=None, local=False, protocol="tcp", cluster_ip="10.96.0.20",
         nodes=("n1",), external=()):
    bs = tuple(Backend(f"172.17.0.{i + 2}", 8080, nodes[i % len(nodes)]) for i in range(backends))
    return ServicePort("default", name, "http", protocol, 80, cluster_ip, node_port, tuple(external), affinity, local,
                       bs)


HOST = HostView(nodes=frozenset({"n1"}), pod_cidr="172.17.0.0/16", reachable=frozenset({"n1"}),
                cluster_cidrs=("172.17.0.0/16",))


def nat(rs) -> list[str]:
    return rs.tables["nat"].rules


def flt(rs) -> list[str]:
    return rs.tables["filter"].rules


def in_chain(rs, chain) -> list[str]:
    return [r for r in nat(rs) + flt(rs) if r.startswith(f"-A {chain} ")]


# --- probabilities and chain names ----------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 10])
def test_endpoint_i_of_n_is_picked_with_probability_one_over_n_minus_i(n):
    rs = render([port(backends=n)], HOST, TAG)
    svc = Names(TAG).svc(port(backends=n))
    picks = [r for r in in_chain(rs, svc) if "GK-" in r.split("-j ")[-1] and "SEP" in r]
    assert len(picks) == n
    probs = [re.search(r"--probability (\S+)", r) for r in picks]
    assert [float(m.group(1)) for m in probs[:-1]] == [pytest.approx(1 / (n - i)) for i in range(n - 1)]
    assert probs[-1] is None  # the last endpoint takes what is left
    # overall each endpoint gets 1/n
    left, shares = 1.0, []
    for i in range(n):
        p = 1 / (n - i)
        shares.append(left * p)
        left *= 1 - p
    assert shares == [pytest.approx(1 / n)] * n


def test_probabilities_are_printed_with_ten_decimals():
    assert probability(0, 3) == "0.3333333333"
    assert probability(1, 3) == "0.5000000000"


def test_chain_names_are_at_most_28_characters_and_carry_the_cluster_tag():
    ports = [port(name=f"svc-{'x' * 40}-{i}", node_port=30000 + i, local=True, backends=4, nodes=("n1", "n2"))
             for i in range(5)]
    host = HostView(frozenset({"n1"}), "172.17.0.0/16", (), frozenset({"n1", "n2"}), ("172.17.0.0/16",))
    rs = render(ports, host, TAG)
    chains = rs.tables["nat"].chains + rs.tables["filter"].chains
    assert chains and all(len(c) <= MAX_CHAIN and c.startswith(P) for c in chains)
    assert len(set(rs.tables["nat"].chains)) == len(rs.tables["nat"].chains)
    referenced = {m for r in nat(rs) for m in re.findall(r"-j (GK-\S+)", r)}
    assert referenced <= set(rs.tables["nat"].chains)


def test_cluster_tags_differ_per_cluster_and_are_short():
    tags = {cluster_tag(f"cluster-{i}") for i in range(100)}
    assert len(tags) == 100 and all(re.fullmatch(r"[A-Z2-7]{5}", t) for t in tags)


def test_the_output_is_deterministic():
    ports = [port(name=n, node_port=30000 + i, affinity=60 if i % 2 else None) for i, n in enumerate("abcde")]
    assert render(ports, HOST, TAG).text() == render(list(ports), HOST, TAG).text()


def test_service_ports_do_not_depend_on_the_order_of_the_objects():
    services = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"s{i}", "namespace": "default",
                                                                     "uid": f"u{i}"},
                 "spec": {"clusterIP": f"10.96.0.{i + 20}", "ports": [{"port": 80}]}} for i in range(6)]
    endpoints = [{"kind": "Endpoints", "metadata": {"name": f"s{i}", "namespace": "default"},
                  "subsets": [{"addresses": [{"ip": f"172.17.1.{j}", "nodeName": "n1"} for j in (3, 1, 2)],
                               "ports": [{"port": 8080, "protocol": "TCP"}]}]} for i in range(6)]
    a = service_ports(services, endpoints, claims(services, CIDR))
    shuffled_s, shuffled_e = services[:], endpoints[:]
    random.Random(1).shuffle(shuffled_s)
    random.Random(2).shuffle(shuffled_e)
    b = service_ports(shuffled_s, shuffled_e, claims(shuffled_s, CIDR))
    assert a == b
    assert [bk.ip for bk in a[0].backends] == ["172.17.1.1", "172.17.1.2", "172.17.1.3"]


def test_service_ports_match_endpoint_ports_by_name_and_protocol_and_skip_not_ready():
    """(A node port the controller allocates in the same pass is programmed with it.)"""
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns", "namespace": "kube"},
               "spec": {"clusterIP": "10.96.0.10", "type": "NodePort",
                        "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053},
                                  {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}}
    ep = {"kind": "Endpoints", "metadata": {"name": "dns", "namespace": "kube"},
          "subsets": [{"addresses": [{"ip": "172.17.0.5", "nodeName": "n1"}],
                       "notReadyAddresses": [{"ip": "172.17.0.6", "nodeName": "n1"}],
                       "ports": [{"name": "dns", "port": 5353, "protocol": "UDP"},
                                 {"name": "dns-tcp", "port": 5353, "protocol": "TCP"}]}]}
    udp, tcp = sorted(service_ports([service], [ep], claims([service], CIDR)), key=lambda sp: sp.protocol, reverse=True)
    assert (udp.protocol, udp.node_port, udp.backends) == ("udp", 30053, (Backend("172.17.0.5", 5353, "n1"),))
    assert tcp.protocol == "tcp" and 30000 <= tcp.node_port <= 32767 and tcp.node_port != 30053  # allocated


def test_a_service_whose_cluster_ip_was_refused_is_not_programmed():
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bad", "namespace": "default"},
           "spec": {"clusterIP": "192.168.0.1", "ports": [{"port": 80}]}}
    assert service_ports([bad], [], claims([bad], CIDR)) == []


# --- the rules -------------------------------------------------------------------------------------

def test_a_cluster_ip_jumps_to_the_service_chain_which_masquerades_non_pod_sources():
    sp = port()
    rs = render([sp], HOST, TAG)
    n = Names(TAG)
    assert any(r.startswith(f"-A {P}SERVICES -d 10.96.0.20/32 -p tcp -m tcp --dport 80")
               and r.endswith(f"-j {n.svc(sp)}") for r in nat(rs))
    assert in_chain(rs, f"{P}NONPOD") == [f"-A {P}NONPOD -s 172.17.0.0/16 -j RETURN", f"-A {P}NONPOD -j {P}MARK-MASQ"]
    sep = n.sep(sp, sp.backends[0])
    assert in_chain(rs, sep)[0].startswith(f"-A {sep} -s 172.17.0.2/32")  # hairpin
    assert in_chain(rs, sep)[1].endswith("-j DNAT --to-destination 172.17.0.2:8080")


def test_client_ip_affinity_checks_every_endpoint_first_and_records_the_choice():
    sp = port(affinity=10800, backends=3)
    rs = render([sp], HOST, TAG)
    n = Names(TAG)
    body = in_chain(rs, n.svc(sp))
    checks = [r for r in body if "--rcheck" in r]
    assert len(checks) == 3
    assert all("--seconds 10800 --reap" in r and "--rsource" in r for r in checks)
    first_random = next(i for i, r in enumerate(body) if "statistic" in r)
    assert max(body.index(r) for r in checks) < first_random
    for b in sp.backends:
        sep = n.sep(sp, b)
        assert any(f"-m recent --name {sep} --mask 255.255.255.255 --rsource --set" in r for r in in_chain(rs, sep))
    assert not any("recent" in r for r in nat(render([port()], HOST, TAG)))


def test_node_ports_are_matched_on_local_addresses_after_the_cluster_ips():
    sp = port(node_port=30080)
    rs = render([sp], HOST, TAG)
    services = in_chain(rs, f"{P}SERVICES")
    assert services[-1].endswith(f"-m addrtype --dst-type LOCAL -j {P}NODEPORTS")
    ext = Names(TAG).ext(sp)
    assert in_chain(rs, f"{P}NODEPORTS") == [
        f'-A {P}NODEPORTS -p tcp -m tcp --dport 30080 -m comment --comment "default/web:http" -j {ext}']
    assert in_chain(rs, ext) == [
        f'-A {ext} -m comment --comment "masquerade traffic for external destinations" -j {P}MARK-MASQ',
        f"-A {ext} -j {Names(TAG).svc(sp)}"]
    assert rs.node_ports


def test_local_traffic_policy_sends_external_traffic_to_local_endpoints_only():
    sp = port(node_port=30080, local=True, backends=4, nodes=("n1", "n2"))
    host = HostView(frozenset({"n1"}), "172.17.0.0/16", (Peer("172.31.2.0/24", "10.123.0.12"),),
                    frozenset({"n1", "n2"}), ("172.17.0.0/16", "172.31.2.0/24"))
    rs = render([sp], host, TAG)
    n = Names(TAG)
    ext = in_chain(rs, n.ext(sp))
    assert not any("MARK-MASQ" in r and "addrtype" not in r for r in ext)  # client IPs are kept
    assert ext[-1] == f"-A {n.ext(sp)} -j {n.svl(sp)}"
    local_targets = [r.split("--to-destination ")[1] for b in sp.backends if b.node == "n1"
                     for r in in_chain(rs, n.sep(sp, b)) if "DNAT" in r]
    svl_seps = [r.split("-j ")[-1] for r in in_chain(rs, n.svl(sp))]
    assert len(svl_seps) == 2 == len(local_targets)
    assert {n.sep(sp, b) for b in sp.backends if b.node == "n1"} == set(svl_seps)
    assert len([r for r in in_chain(rs, n.svc(sp)) if "SEP" in r]) == 4  # cluster-wide chain has all


def test_local_traffic_policy_without_local_endpoints_rejects_node_port_traffic():
    sp = port(node_port=30080, local=True, backends=2, nodes=("n2",))
    host = HostView(frozenset({"n1"}), "172.17.0.0/16", (), frozenset({"n1", "n2"}), ("172.17.0.0/16",))
    rs = render([sp], host, TAG)
    assert any("--dport 30080" in r and "no local endpoints" in r and r.endswith("-j REJECT") for r in flt(rs))
    assert Names(TAG).svl(sp) not in rs.tables["nat"].chains


def test_a_service_without_endpoints_is_rejected_not_blackholed():
    sp = port(backends=0, node_port=30081)
    rs = render([sp], HOST, TAG)
    rejects = in_chain(rs, f"{P}SERVICES")
    assert any("-d 10.96.0.20/32" in r and r.endswith("-j REJECT") for r in rejects)
    assert any("--dport 30081" in r and r.endswith("-j REJECT") for r in rejects)
    assert Names(TAG).svc(sp) not in rs.tables["nat"].chains


def test_endpoints_on_unreachable_nodes_are_left_out():
    sp = port(backends=2, nodes=("n1", "far"))
    rs = render([sp], HOST, TAG)
    assert [r.split()[-1] for r in nat(rs) if "DNAT" in r] == ["172.17.0.2:8080"]


def test_udp_ports_use_the_udp_match():
    rs = render([port(protocol="udp")], HOST, TAG)
    assert any("-p udp -m udp --dport 80" in r for r in nat(rs))


def test_external_ips_are_treated_like_node_ports():
    sp = port(external=("192.0.2.50",))
    rs = render([sp], HOST, TAG)
    assert any(r.startswith(f"-A {P}SERVICES -d 192.0.2.50/32") and r.endswith(Names(TAG).ext(sp)) for r in nat(rs))


def test_routed_peers_get_forward_accepts_and_no_nat_between_pods():
    host = HostView(frozenset({"n1"}), "172.31.1.0/24", (Peer("172.31.2.0/24", "10.123.0.12"),),
                    frozenset({"n1", "n2"}), ("172.31.1.0/24", "172.31.2.0/24"))
    rs = render([], host, TAG)
    assert in_chain(rs, f"{P}POSTROUTING")[-1].startswith(f"-A {P}POSTROUTING -s 172.31.1.0/24 -d 172.31.2.0/24")
    forward = in_chain(rs, f"{P}FORWARD")
    assert f"-A {P}FORWARD -s 172.31.2.0/24 -d 172.31.1.0/24 -j ACCEPT" in forward
    assert f"-A {P}FORWARD -s 10.123.0.12/32 -d 172.31.1.0/24 -j ACCEPT" in forward
    assert f"{P}SERVICES" not in rs.tables["nat"].chains


def test_nothing_at_all_when_there_are_no_services_and_no_peers():
    rs = render([], HOST, TAG)
    assert rs.empty and not rs.jumps and rs.text() == "*nat\nCOMMIT\n*filter\nCOMMIT\n"


def test_jumps_from_the_builtin_chains():
    rs = render([port(node_port=30080)], HOST, TAG)
    assert {(j.table, j.chain, j.target) for j in rs.jumps} == {
        ("nat", "PREROUTING", f"{P}SERVICES"), ("nat", "OUTPUT", f"{P}SERVICES"),
        ("nat", "POSTROUTING", f"{P}POSTROUTING"), ("filter", "INPUT", f"{P}SERVICES"),
        ("filter", "FORWARD", f"{P}SERVICES"), ("filter", "OUTPUT", f"{P}SERVICES"),
        ("filter", "FORWARD", f"{P}FORWARD"), ("filter", "INPUT", f"{P}FIREWALL")}


def test_names_from_manifests_cannot_break_out_of_a_comment():
    sp = ServicePort("default", 'x" -j ACCEPT #', "p", "tcp", 80, "10.96.0.9",
                     backends=(Backend("172.17.0.2", 80, "n1"),))
    text = render([sp], HOST, TAG).text()
    assert '"x -j ACCEPT' not in text and all(line.count('"') % 2 == 0 for line in text.splitlines())


# --- iptables-save / iptables-restore ---------------------------------------------------------------

SAVED = f"""# Generated by iptables-save
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:{P}FORWARD - [0:0]
:GK-OTHER-FORWARD - [0:0]
-A FORWARD -m comment --comment "gitkube forwarding rules" -j {P}FORWARD
-A FORWARD -m comment --comment "gitkube forwarding rules" -j GK-OTHER-FORWARD
-A FORWARD -j DOCKER-USER
-A {P}FORWARD -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [3:180]
:{P}SERVICES - [0:0]
:{P}SVC-STALEAAAAAAAAAAAA - [0:0]
-A PREROUTING -m comment --comment "gitkube service portals" -j {P}SERVICES
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A {P}SERVICES -d 10.96.0.99/32 -j {P}SVC-STALEAAAAAAAAAAAA
COMMIT
"""


def test_parse_save_keeps_only_this_clusters_chains_rules_and_jumps():
    saved = iptables.parse_save(SAVED, P)
    assert saved.chains == {"filter": [f"{P}FORWARD"], "nat": [f"{P}SERVICES", f"{P}SVC-STALEAAAAAAAAAAAA"]}
    assert saved.jumps["filter"] == [f'-A FORWARD -m comment --comment "gitkube forwarding rules" -j {P}FORWARD']
    assert len(saved.rules["nat"]) == 1
    everything = iptables.parse_save(SAVED, "GK-")
    assert "GK-OTHER-FORWARD" in everything.chains["filter"] and len(everything.jumps["filter"]) == 2


def test_the_digest_changes_when_someone_flushes_a_chain():
    saved = iptables.parse_save(SAVED, P)
    flushed = iptables.parse_save(SAVED.replace(f"-A {P}FORWARD -j ACCEPT\n", ""), P)
    assert saved.digest() == iptables.parse_save(SAVED, P).digest() != flushed.digest()


def test_restore_input_replaces_declared_chains_deletes_stale_ones_and_fixes_jumps():
    rs = render([port(node_port=30080)], HOST, TAG)
    text = iptables.restore_input(rs, iptables.parse_save(SAVED, P))
    nat_block = text.split("*nat\n")[1].split("COMMIT")[0]
    assert f":{P}SVC-STALEAAAAAAAAAAAA - [0:0]" in nat_block  # flushed first ...
    assert nat_block.rstrip().endswith(f"-X {P}SVC-STALEAAAAAAAAAAAA")  # ... deleted last
    assert f"-I OUTPUT 1 -m comment --comment \"gitkube service portals\" -j {P}SERVICES" in nat_block
    assert "-I PREROUTING" not in nat_block  # present already
    assert "GK-OTHER" not in text  # another cluster's chains are never touched
    filter_block = text.split("*filter\n")[1].split("COMMIT")[0]
    assert f"-I FORWARD 1 -m conntrack --ctstate NEW" in filter_block
    assert "-D FORWARD" not in filter_block


def test_restore_input_for_nothing_removes_jumps_then_chains():
    text = iptables.restore_input(rules.RuleSet(), iptables.parse_save(SAVED, P))
    assert f"-D PREROUTING -m comment --comment \"gitkube service portals\" -j {P}SERVICES" in text
    assert f"-X {P}SERVICES" in text and f"-X {P}FORWARD" in text
    assert text.index("-D PREROUTING") < text.index(f"-X {P}SERVICES")


def test_duplicate_jumps_are_removed():
    jump = f'-A FORWARD -m comment --comment "gitkube forwarding rules" -j {P}FORWARD'
    doubled = SAVED.replace("-A FORWARD -j DOCKER-USER", f"{jump}\n-A FORWARD -j DOCKER-USER")
    rs = render([], HostView(frozenset({"n1"}), "172.17.0.0/16", (Peer("172.31.2.0/24", "10.123.0.12"),),
                             frozenset({"n1"}), ()), TAG)
    text = iptables.restore_input(rs, iptables.parse_save(doubled, P))
    assert text.count(f'-D FORWARD -m comment --comment "gitkube forwarding rules" -j {P}FORWARD') == 1


class FakeHost:
    """iptables-save / iptables-restore against an in-memory copy of gitkube's part."""

    def __init__(self, text: str = ""):
        self.text = text
        self.calls: list[list[str]] = []

    def run(self, argv, input=None, timeout=30):
        self.calls.append(argv)
        if argv[0] == "iptables-save":
            return 0, self.text.encode(), b""
        if argv[0] == "iptables-restore":
            self.text = _apply_restore(self.text, input.decode())
            return 0, b"", b""
        return 127, b"", b""


def _apply_restore(saved: str, restore: str) -> str:
    """Just enough of iptables-restore --noflush for the tests: chains, -A/-I/-D/-X."""
    tables: dict[str, dict[str, list[str]]] = {}
    table = ""
    for line in saved.splitlines():
        if line.startswith("*"):
            table = line[1:]
            tables.setdefault(table, {})
        elif line.startswith(":"):
            tables[table].setdefault(line[1:].split()[0], [])
        elif line.startswith("-A "):
            tables[table].setdefault(line.split()[1], []).append(line)
    for line in restore.splitlines():
        if line.startswith("*"):
            table = line[1:]
            tables.setdefault(table, {})
        elif line.startswith(":"):
            tables[table][line[1:].split()[0]] = []
        elif line.startswith("-A "):
            tables[table][line.split()[1]].append(line)
        elif line.startswith("-I "):
            words = line.split()
            tables[table].setdefault(words[1], []).insert(0, " ".join(["-A", words[1], *words[3:]]))
        elif line.startswith("-D "):
            tables[table][line.split()[1]].remove("-A" + line[2:])
        elif line.startswith("-X "):
            del tables[table][line.split()[1]]
    out = []
    for t, chains in tables.items():
        out.append(f"*{t}")
        out += [f":{c} - [0:0]" for c in chains]
        out += [r for rs in chains.values() for r in rs]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def test_apply_converges_and_a_second_apply_changes_nothing():
    host = FakeHost("*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n"
                    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n")
    rs = render([port(node_port=30080, affinity=30)], HOST, TAG)
    digest = iptables.apply(host, rs, P)
    after = host.text
    assert iptables.apply(host, rs, P) == digest and host.text == after  # the same rules again
    assert iptables.remove_all(host, P)
    assert "GK-" not in host.text and not iptables.remove_all(host, P)


# --- topology and routes ------------------------------------------------------------------------------

def test_hosts_route_to_each_others_pod_subnets():
    hosts = [topology.HostFacts("e1", ("h1",), "172.31.1.0/24", "10.123.0.11"),
             topology.HostFacts("e2", ("h2",), "172.31.2.0/24", "10.123.0.12")]
    plans = topology.plan(hosts)
    assert plans["e1"].routes == {"172.31.2.0/24": "10.123.0.12"}
    assert plans["e2"].routes == {"172.31.1.0/24": "10.123.0.11"}
    assert plans["e1"].view.reachable == frozenset({"h2"}) and plans["e1"].view.nodes == frozenset({"h1"})
    assert plans["e1"].view.cluster_cidrs == ("172.31.1.0/24", "172.31.2.0/24")


def test_a_loopback_host_is_reached_through_its_address_toward_each_peer():
    hosts = [topology.HostFacts("local", ("local",), "172.17.0.0/16", None, (("e1", "10.123.0.1"),)),
             topology.HostFacts("e1", ("h1",), "172.31.1.0/24", "10.123.0.11")]
    plans = topology.plan(hosts)
    assert plans["e1"].routes == {"172.17.0.0/16": "10.123.0.1"}
    assert plans["local"].routes == {"172.31.1.0/24": "10.123.0.11"}
    assert plans["e1"].view.peers == (Peer("172.17.0.0/16", "10.123.0.1"),)


@pytest.mark.parametrize("hosts,problem", [
    pytest.param([topology.HostFacts("a", ("a",), "172.17.0.0/16", "10.0.0.1"),
                  topology.HostFacts("b", ("b",), "172.17.0.0/16", "10.0.0.2")], "overlaps",
                 id="hosts with the same docker subnet are not routed"),
    pytest.param([topology.HostFacts("a", ("a",), "172.17.0.0/16", None),
                  topology.HostFacts("b", ("b",), "172.18.0.0/16", "10.0.0.2")], "no routable address",
                 id="a host without any usable address is not routed"),
])
def test_hosts_that_cannot_be_routed(hosts, problem):
    plans = topology.plan(hosts)
    assert not plans["a"].routes and not plans["a"].view.reachable
    assert any(problem in p for p in plans["a"].problems)


def test_nodes_on_one_engine_are_one_host():
    plans = topology.plan([topology.HostFacts("e1", ("local", "remote"), "172.17.0.0/16", None)])
    assert plans["e1"].view.nodes == frozenset({"local", "remote"}) and not plans["e1"].problems


def test_route_changes_touch_only_this_clusters_routes():
    m = routes.route_metric(TAG)
    assert 1024 <= m < 1024 + 32768 and m != routes.route_metric("OTHER")
    current = [{"dst": "172.31.2.0/24", "gateway": "10.123.0.99", "protocol": "147", "metric": m},
               {"dst": "172.31.9.0/24", "gateway": "10.123.0.19", "protocol": "147", "metric": m},
               {"dst": "172.31.8.0/24", "gateway": "10.123.0.18", "protocol": "147", "metric": m + 1},
               {"dst": "172.31.3.0/24", "gateway": "10.1.1.1", "protocol": "static"},
               {"dst": "default", "gateway": "10.123.0.1"}]
    add, delete, problems = routes.plan_changes(
        {"172.31.2.0/24": "10.123.0.12", "172.31.3.0/24": "10.123.0.13", "172.31.4.0/24": "10.123.0.14"}, current, m)
    assert add == [("172.31.2.0/24", "10.123.0.12"), ("172.31.4.0/24", "10.123.0.14")]
    assert delete == ["172.31.9.0/24"]
    assert problems and "172.31.3.0/24" in problems[0]


# --- the per-host workers, against fake hosts -----------------------------------------------------

class FakeConn(FakeHost):
    """A host as the proxy sees it: iptables (FakeHost), ip, sysctl, the DNS helper, Docker's bridge."""

    def __init__(self, subnet: str, gateway: str):
        super().__init__("*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n"
                         "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n")
        self.routes: dict[str, str] = {}
        self.records = ""
        self.api = type("Api", (), {"inspect_network": staticmethod(
            lambda name: {"IPAM": {"Config": [{"Subnet": subnet, "Gateway": gateway}]}})})()

    def run(self, argv, input=None, timeout=30):
        import json as _json

        if argv[0] == "ip" and argv[1:4] == ["-j", "route", "show"]:
            return 0, _json.dumps([{"dst": d, "gateway": v, "protocol": "147", "metric": m}
                                   for d, (v, m) in self.routes.items()]).encode(), b""
        if argv[0] == "ip" and argv[1:3] == ["route", "replace"]:
            self.routes[argv[3]] = (argv[5], int(argv[-1]))
            return 0, b"", b""
        if argv[0] == "ip" and argv[1:3] == ["route", "del"]:
            self.routes.pop(argv[3], None)
            return 0, b"", b""
        if argv[0] == "sysctl":
            self.calls.append(argv)
            return 0, b"", b""
        if argv[1:2] == ["-c"]:  # the DNS helper
            self.records = _json.loads(input)["records"]
            return 0, b'{"ok": true, "started": false, "pid": 1, "error": ""}\n', b""
        return super().run(argv, input, timeout)


class FakeStore:
    def __init__(self):
        self.events = []

    def cluster_id(self):
        return "unit-test-cluster"

    def get(self, kind, ns, name):
        return {"kind": kind, "metadata": {"name": name}}

    def record_event(self, obj, reason, message, type_="Normal"):
        self.events.append((reason, message))


def handle(name, ip, conn):
    return type("Node", (), {"name": name, "url": f"ssh://root@{ip}/{name}-{id(conn)}", "address": ip, "conn": conn,
                             "info": {"ID": f"engine-{name}"}})()


def snapshot():
    from gitkube.controllers.base import Snapshot

    snap = Snapshot(0.0)
    snap.objects["Service"] = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default",
                                                                                    "uid": "u1"},
                                "spec": {"type": "NodePort", "clusterIP": "10.96.0.50",
                                         "ports": [{"port": 80, "nodePort": 30080}]}}]
    snap.objects["Endpoints"] = [{"kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"},
                                  "subsets": [{"addresses": [{"ip": "172.31.1.5", "nodeName": "h1"},
                                                             {"ip": "172.31.2.5", "nodeName": "h2"}],
                                               "ports": [{"port": 8080, "protocol": "TCP"}]}]}]
    snap.objects["Pod"] = [{"metadata": {"name": "p1"}, "spec": {"nodeName": "h1"}, "status": {"podIP": "172.31.1.5"}}]
    snap.objects["Node"] = [{"metadata": {"name": "h1"}}, {"metadata": {"name": "h2"}}]
    return snap


def test_the_proxy_programs_every_host_routes_between_them_and_restores_a_flush():
    import time as _time

    from gitkube.proxy.service_proxy import ServiceProxy

    c1, c2 = FakeConn("172.31.1.0/24", "172.31.1.1"), FakeConn("172.31.2.0/24", "172.31.2.1")
    proxy = ServiceProxy(FakeStore(), resync=1.0)
    try:
        proxy.sync(snapshot(), [handle("h1", "10.123.0.11", c1), handle("h2", "10.123.0.12", c2)])
        deadline = _time.monotonic() + 10
        while _time.monotonic() < deadline and not (c1.routes and c2.routes and "172.31.2.5:8080" in c1.text
                                                    and "172.31.1.5:8080" in c2.text and c1.records and c2.records):
            _time.sleep(0.02)
        assert {d: v for d, (v, _) in c1.routes.items()} == {"172.31.2.0/24": "10.123.0.12"}
        assert {d: v for d, (v, _) in c2.routes.items()} == {"172.31.1.0/24": "10.123.0.11"}
        for c in (c1, c2):  # both hosts send to both endpoints
            assert "--to-destination 172.31.1.5:8080" in c.text and "--to-destination 172.31.2.5:8080" in c.text
        assert ["sysctl", "-w", "net.ipv4.conf.all.route_localnet=1"] in c1.calls
        assert '"clients":["172.31.1.5"]' in c1.records and '"clients":[]' in c2.records
        # someone flushes h1's rules: the next resync puts them back
        c1.text = c1.text.replace("--to-destination 172.31.2.5:8080", "--to-destination 192.0.2.1:1")
        deadline = _time.monotonic() + 5
        while _time.monotonic() < deadline and "192.0.2.1" in c1.text:
            _time.sleep(0.05)
        assert "192.0.2.1" not in c1.text and "172.31.2.5:8080" in c1.text
    finally:
        proxy.close(flush=0)
