"""Service allocation: cluster IPs from the service CIDR, node ports, conflicts, load balancer status."""

from __future__ import annotations

import ipaddress

import pytest

from gitkube.controllers.base import Snapshot
from gitkube.controllers.services import (CONDITION, ServiceController, allocated_ok, claims, lb_ingress,
                                          service_cidr)

CIDR = ipaddress.ip_network("10.96.0.0/16")


def svc(name, created="2026-01-01T00:00:00Z", type_=None, cluster_ip=None, ports=None, namespace="default", **spec):
    s = {"ports": ports if ports is not None else [{"port": 80}], **spec}
    if type_:
        s["type"] = type_
    if cluster_ip is not None:
        s["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}",
                         "creationTimestamp": created, "resourceVersion": "1"}, "spec": s}


def node(name, ip, ready=True):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def run(*objs, cidr="10.96.0.0/16", port_range=(30000, 32767)):
    snap = Snapshot(1_767_323_045.0)
    for o in objs:
        snap.objects.setdefault(o["kind"], []).append(o)
    return ServiceController(cidr, port_range).sync(snap)


def condition(changes, name):
    for kind, ns, n, status in changes.statuses:
        if n == name:
            return next(c for c in status["conditions"] if c["type"] == CONDITION)
    return None


def test_every_service_gets_a_distinct_address_inside_the_cidr_never_a_reserved_one():
    services = [svc(f"s{i}") for i in range(300)]
    settled = claims(services, CIDR)
    ips = list(settled.cluster_ips.values())
    assert len(ips) == len(set(ips)) == 300
    for ip in ips:
        addr = ipaddress.ip_address(ip)
        assert addr in CIDR and int(addr) - int(CIDR.network_address) not in (0, 1, 10, CIDR.num_addresses - 1)


def test_a_small_cidr_fills_up_and_the_rest_get_a_range_full_condition():
    services = [svc(f"s{i:02}") for i in range(14)]
    changes = run(*services, cidr="10.96.0.0/28")  # 16 addresses: network, broadcast, .1, .10 reserved → 12
    written = [u for u in changes.updates if u["spec"].get("clusterIP")]
    assert len(written) == 12
    full = [n for *_, n, st in changes.statuses if st["conditions"][-1]["status"] == "False"]
    assert len(full) == 2
    assert all(condition(changes, n)["reason"] == "ClusterIPRangeFull" for n in full)


def test_the_allocation_is_written_into_the_spec_once():
    changes = run(svc("web"))
    (updated,) = changes.updates
    ip = updated["spec"]["clusterIP"]
    assert updated["spec"]["clusterIPs"] == [ip]
    assert condition(changes, "web")["status"] == "True"
    status = changes.statuses[0][3]
    again = run({**updated, "status": status})
    assert again.empty and not again.events


def test_an_explicit_cluster_ip_inside_the_cidr_is_honoured():
    changes = run(svc("web", cluster_ip="10.96.5.5"))
    assert changes.updates[0]["spec"]["clusterIP"] == "10.96.5.5"
    assert changes.updates[0]["spec"]["clusterIPs"] == ["10.96.5.5"]
    assert condition(changes, "web")["status"] == "True"


def test_an_explicit_cluster_ip_outside_the_cidr_is_refused_with_an_event_and_a_condition():
    changes = run(svc("web", cluster_ip="10.200.0.1"))
    cond = condition(changes, "web")
    assert (cond["status"], cond["reason"]) == ("False", "ClusterIPNotInRange")
    assert [(e[1], e[2]) for e in changes.events] == [("Warning", "ClusterIPNotInRange")]
    assert not claims([svc("web", cluster_ip="10.200.0.1")], CIDR).cluster_ips


def test_a_cluster_ip_already_taken_is_refused_for_the_younger_service():
    old = svc("old", created="2026-01-01T00:00:00Z", cluster_ip="10.96.7.7")
    young = svc("young", created="2026-01-02T00:00:00Z", cluster_ip="10.96.7.7")
    settled = claims([young, old], CIDR)
    assert settled.cluster_ips == {("default", "old"): "10.96.7.7"}
    changes = run(young, old)
    assert condition(changes, "young")["reason"] == "ClusterIPAlreadyAllocated"
    assert "default/old" in condition(changes, "young")["message"]
    assert condition(changes, "old")["status"] == "True"


def test_a_new_service_never_gets_an_address_in_use():
    taken = [svc(f"t{i}", cluster_ip=f"10.96.0.{i}") for i in range(2, 10)]
    settled = claims(taken + [svc("new", created="2026-02-01T00:00:00Z")], ipaddress.ip_network("10.96.0.0/28"))
    assert settled.new_ips[("default", "new")] in {"10.96.0.11", "10.96.0.12", "10.96.0.13", "10.96.0.14"}


@pytest.mark.parametrize("service", [
    pytest.param(svc("h", cluster_ip="None"), id="a headless service gets no address"),
    pytest.param(svc("e", type_="ExternalName", externalName="example.com"), id="an ExternalName service gets none"),
])
def test_services_without_a_virtual_ip(service):
    assert not claims([service], CIDR).cluster_ips
    changes = run(service)
    assert not changes.updates
    assert condition(changes, service["metadata"]["name"])["status"] == "True"


def test_switching_to_external_name_wipes_the_cluster_ip():
    s = svc("e", type_="ExternalName", cluster_ip="10.96.0.5", externalName="example.com")
    s["spec"]["clusterIPs"] = ["10.96.0.5"]
    (updated,) = run(s).updates
    assert "clusterIP" not in updated["spec"] and "clusterIPs" not in updated["spec"]


def test_node_ports_are_allocated_in_range_without_duplicates():
    services = [svc(f"np{i}", type_="NodePort", ports=[{"name": "a", "port": 80}, {"name": "b", "port": 81}])
                for i in range(50)]
    settled = claims(services, CIDR)
    ports = list(settled.node_ports.values())
    assert len(ports) == len(set(ports)) == 100
    assert all(30000 <= p <= 32767 for p in ports)


def test_node_ports_are_written_into_each_port():
    (updated,) = run(svc("np", type_="NodePort", ports=[{"name": "a", "port": 80}, {"name": "b", "port": 81,
                                                                                     "nodePort": 30001}])).updates
    a, b = updated["spec"]["ports"]
    assert 30000 <= a["nodePort"] <= 32767 and a["nodePort"] != 30001
    assert b["nodePort"] == 30001


def test_a_node_port_conflict_is_refused_for_the_younger_service_with_a_warning():
    old = svc("old", type_="NodePort", ports=[{"port": 80, "nodePort": 30080}])
    young = svc("young", created="2026-01-03T00:00:00Z", type_="NodePort", ports=[{"port": 80, "nodePort": 30080}])
    changes = run(young, old)
    assert condition(changes, "young")["reason"] == "NodePortAlreadyAllocated"
    assert ("Warning", "NodePortAlreadyAllocated") in [(e[1], e[2]) for e in changes.events]
    settled = claims([old, young], CIDR)
    assert settled.node_ports == {(("default", "old"), 80, "TCP"): 30080}


def test_the_same_node_port_for_tcp_and_udp_is_no_conflict():
    s = svc("dns", type_="NodePort", ports=[{"name": "u", "port": 53, "protocol": "UDP", "nodePort": 30053},
                                            {"name": "t", "port": 53, "protocol": "TCP", "nodePort": 30053}])
    assert condition(run(s), "dns")["status"] == "True"


def test_a_node_port_out_of_range_is_refused():
    changes = run(svc("np", type_="NodePort", ports=[{"port": 80, "nodePort": 8080}]))
    assert condition(changes, "np")["reason"] == "NodePortOutOfRange"


def test_a_cluster_ip_service_loses_stale_node_ports():
    (updated,) = run(svc("web", cluster_ip="10.96.0.5", ports=[{"port": 80, "nodePort": 30080}])).updates
    assert "nodePort" not in updated["spec"]["ports"][0]


def test_a_load_balancer_gets_node_ports_and_the_ready_nodes_addresses():
    changes = run(svc("lb", type_="LoadBalancer"), node("n2", "10.123.0.12"), node("n1", "10.123.0.11"),
                  node("n3", "10.123.0.13", ready=False))
    assert changes.updates[0]["spec"]["ports"][0]["nodePort"]
    status = changes.statuses[0][3]
    assert status["loadBalancer"] == {"ingress": [{"ip": "10.123.0.11"}, {"ip": "10.123.0.12"}]}


def test_a_load_balancer_may_skip_node_ports():
    changes = run(svc("lb", type_="LoadBalancer", allocateLoadBalancerNodePorts=False), node("n1", "10.0.0.1"))
    assert "nodePort" not in changes.updates[0]["spec"]["ports"][0]


def test_lb_ingress_falls_back_to_every_node_when_none_is_ready():
    assert lb_ingress([node("a", "10.0.0.2", ready=False)]) == [{"ip": "10.0.0.2"}]


def test_allocated_ok_reads_the_condition():
    assert allocated_ok({"status": {"conditions": [{"type": CONDITION, "status": "True"}]}})
    assert not allocated_ok({"status": {"conditions": [{"type": CONDITION, "status": "False"}]}})
    assert allocated_ok({})


def test_the_service_cidr_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("GITKUBE_SERVICE_CIDR", "10.97.0.0/20")
    assert str(service_cidr()) == "10.97.0.0/20"
    assert str(service_cidr("10.98.0.0/24")) == "10.98.0.0/24"
    monkeypatch.delenv("GITKUBE_SERVICE_CIDR")
    assert str(service_cidr()) == "10.96.0.0/16"
    with pytest.raises(ValueError):
        service_cidr("10.0.0.0/30")
