"""Endpoints controller tables (K8S-SEMANTICS 5.2): which pods are listed where, named ports,
selectorless Services left alone, deletion with the Service."""

from __future__ import annotations

import pytest

from gitkube.controllers.base import Snapshot
from gitkube.controllers.endpoints import (HEADLESS_LABEL, MANAGED_BY, MANAGER, MAX_CAPACITY, OVER_CAPACITY,
                                           EndpointsController, desired_endpoints)


def svc(name="web", selector=None, ports=None, headless=False, publish=False, labels=None, type_=None,
        namespace="default"):
    spec: dict = {}
    if selector is not False:
        spec["selector"] = selector or {"app": "web"}
    spec["ports"] = ports if ports is not None else [{"name": "http", "port": 80, "targetPort": "http"}]
    if headless:
        spec["clusterIP"] = "None"
    if publish:
        spec["publishNotReadyAddresses"] = True
    if type_:
        spec["type"] = type_
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "uid": f"svc-{name}", "labels": labels or {}},
            "spec": spec}


def pod(name, ip="172.17.0.2", ready=True, phase="Running", labels=None, ports=None, deleting=False,
        node="n1", hostname=None, subdomain=None, namespace="default"):
    spec: dict = {"nodeName": node, "containers": [{"name": "c", "image": "x", "ports": ports if ports is not None
                                                    else [{"name": "http", "containerPort": 8080}]}]}
    if hostname:
        spec["hostname"] = hostname
    if subdomain:
        spec["subdomain"] = subdomain
    md = {"name": name, "namespace": namespace, "uid": f"uid-{name}", "labels": labels or {"app": "web"}}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    status = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if ip:
        status["podIP"] = ip
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec, "status": status}


def ips(ep, field="addresses"):
    return [a["ip"] for s in ep.get("subsets") or [] for a in s.get(field) or []]


def test_a_named_target_port_is_resolved_per_pod():
    pods = [pod("a", "172.17.0.2", ports=[{"name": "http", "containerPort": 8080}]),
            pod("b", "172.17.0.3", ports=[{"name": "http", "containerPort": 9090}])]
    ep = desired_endpoints(svc(), pods)
    by_port = {s["ports"][0]["port"]: [a["ip"] for a in s["addresses"]] for s in ep["subsets"]}
    assert by_port == {8080: ["172.17.0.2"], 9090: ["172.17.0.3"]}
    assert ep["subsets"][0]["ports"][0] == {"name": "http", "port": 8080, "protocol": "TCP"}


@pytest.mark.parametrize("target,expected", [
    pytest.param(8081, 8081, id="a numeric targetPort is taken as is"),
    pytest.param(None, 80, id="a missing targetPort means the service port"),
    pytest.param("http", 8080, id="a named targetPort is the container port of that name"),
])
def test_target_port_forms(target, expected):
    port = {"port": 80} if target is None else {"port": 80, "targetPort": target}
    ep = desired_endpoints(svc(ports=[port]), [pod("a")])
    assert ep["subsets"][0]["ports"] == [{"port": expected, "protocol": "TCP"}]


def test_a_pod_without_the_named_port_is_skipped_for_that_port_only():
    s = svc(ports=[{"name": "http", "port": 80, "targetPort": "http"},
                   {"name": "metrics", "port": 9100, "targetPort": "metrics"}])
    pods = [pod("a", "172.17.0.2", ports=[{"name": "http", "containerPort": 8080},
                                          {"name": "metrics", "containerPort": 9100}]),
            pod("b", "172.17.0.3", ports=[{"name": "http", "containerPort": 8080}]),
            pod("c", "172.17.0.4", ports=[])]
    ep = desired_endpoints(s, pods)
    groups = {tuple(p["name"] for p in sub["ports"]): ips({"subsets": [sub]}) for sub in ep["subsets"]}
    assert groups == {("http",): ["172.17.0.3"], ("http", "metrics"): ["172.17.0.2"]}


def test_the_named_port_must_have_the_services_protocol():
    s = svc(ports=[{"name": "dns", "port": 53, "targetPort": "dns", "protocol": "UDP"}])
    pods = [pod("a", ports=[{"name": "dns", "containerPort": 53, "protocol": "TCP"}]),
            pod("b", "172.17.0.3", ports=[{"name": "dns", "containerPort": 5353, "protocol": "UDP"}])]
    ep = desired_endpoints(s, pods)
    assert ep["subsets"] == [{"addresses": [ep["subsets"][0]["addresses"][0]],
                              "ports": [{"name": "dns", "port": 5353, "protocol": "UDP"}]}]
    assert ips(ep) == ["172.17.0.3"]


@pytest.mark.parametrize("p,field", [
    pytest.param(pod("a", ready=True), "addresses", id="a ready pod is in addresses"),
    pytest.param(pod("a", ready=False), "notReadyAddresses", id="a not-ready pod is in notReadyAddresses"),
    pytest.param(pod("a", deleting=True), None, id="a terminating pod is left out"),
    pytest.param(pod("a", phase="Succeeded"), None, id="a succeeded pod is left out"),
    pytest.param(pod("a", phase="Failed"), None, id="a failed pod is left out"),
    pytest.param(pod("a", ip=None), None, id="a pod without an IP is left out"),
    pytest.param(pod("a", labels={"app": "other"}), None, id="a pod the selector does not match is left out"),
])
def test_which_pods_are_listed_where(p, field):
    ep = desired_endpoints(svc(), [p])
    if field is None:
        assert "subsets" not in ep
    else:
        assert ips(ep, field) == ["172.17.0.2"]


@pytest.mark.parametrize("p", [
    pytest.param(pod("a", ready=False), id="not ready"),
    pytest.param(pod("a", deleting=True), id="terminating"),
])
def test_publish_not_ready_addresses_lists_them_as_ready(p):
    assert ips(desired_endpoints(svc(publish=True), [p])) == ["172.17.0.2"]


def test_addresses_carry_node_name_target_ref_and_hostname_when_the_subdomain_matches():
    pods = [pod("a", "172.17.0.2", hostname="db-0", subdomain="web"),
            pod("b", "172.17.0.3", hostname="db-1", subdomain="other")]
    ep = desired_endpoints(svc(), pods)
    a, b = ep["subsets"][0]["addresses"]
    assert a == {"ip": "172.17.0.2", "hostname": "db-0", "nodeName": "n1",
                 "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"}}
    assert "hostname" not in b


def test_labels_are_copied_and_headless_services_get_the_headless_label():
    ep = desired_endpoints(svc(labels={"tier": "front"}, headless=True), [pod("a")])
    assert ep["metadata"]["labels"] == {"tier": "front", HEADLESS_LABEL: ""}
    assert ep["metadata"]["annotations"] == {MANAGED_BY: MANAGER}
    assert desired_endpoints(svc(labels={"tier": "front"}), [])["metadata"]["labels"] == {"tier": "front"}


def test_a_headless_service_without_ports_still_lists_the_addresses():
    ep = desired_endpoints(svc(headless=True, ports=[]), [pod("a"), pod("b", "172.17.0.3", ready=False)])
    assert ep["subsets"] == [{"addresses": [ep["subsets"][0]["addresses"][0]],
                              "notReadyAddresses": [ep["subsets"][0]["notReadyAddresses"][0]]}]
    assert "ports" not in ep["subsets"][0]


def test_addresses_are_sorted_numerically_and_the_output_is_stable():
    pods = [pod(f"p{i}", f"172.17.0.{i}") for i in (10, 9, 100, 2)]
    ep = desired_endpoints(svc(), pods)
    assert ips(ep) == ["172.17.0.2", "172.17.0.9", "172.17.0.10", "172.17.0.100"]
    assert desired_endpoints(svc(), list(reversed(pods))) == ep


def test_more_than_max_capacity_addresses_are_truncated_ready_first():
    pods = [pod(f"p{i}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", ready=i % 2 == 0)
            for i in range(MAX_CAPACITY + 10)]
    ep = desired_endpoints(svc(), pods)
    assert len(ips(ep)) + len(ips(ep, "notReadyAddresses")) == MAX_CAPACITY
    assert len(ips(ep)) == (MAX_CAPACITY + 10 + 1) // 2
    assert ep["metadata"]["annotations"][OVER_CAPACITY] == "truncated"


# --- the controller -----------------------------------------------------------------------------

def world(*objs):
    snap = Snapshot(0.0)
    for o in objs:
        snap.objects.setdefault(o["kind"], []).append(o)
    return snap


def manual(name="web", ip="192.0.2.10"):
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": "default",
                                                                 "resourceVersion": "7"},
            "subsets": [{"addresses": [{"ip": ip}], "ports": [{"port": 80, "protocol": "TCP"}]}]}


def test_the_controller_creates_then_leaves_an_up_to_date_object_alone():
    s, p = svc(), pod("a")
    changes = EndpointsController().sync(world(s, p))
    assert [c["metadata"]["name"] for c in changes.creates] == ["web"]
    created = {**changes.creates[0], "metadata": {**changes.creates[0]["metadata"], "resourceVersion": "3"}}
    again = EndpointsController().sync(world(s, p, created))
    assert again.empty


def test_the_controller_updates_when_a_pod_becomes_ready():
    s = svc()
    first = EndpointsController().sync(world(s, pod("a", ready=False))).creates[0]
    first["metadata"]["resourceVersion"] = "3"
    changes = EndpointsController().sync(world(s, pod("a", ready=True), first))
    assert len(changes.updates) == 1
    assert ips(changes.updates[0]) == ["172.17.0.2"]
    assert changes.updates[0]["metadata"]["resourceVersion"] == "3"


@pytest.mark.parametrize("service", [
    pytest.param(svc(selector=False), id="a service without a selector"),
    pytest.param(svc(selector=False, type_="ExternalName"), id="an ExternalName service"),
])
def test_manually_declared_endpoints_are_never_touched(service):
    changes = EndpointsController().sync(world(service, manual(), pod("a")))
    assert changes.empty


def test_deleting_a_service_deletes_its_controller_made_endpoints_but_not_manual_ones():
    ours = desired_endpoints(svc(), [pod("a")])
    theirs = manual("other")
    changes = EndpointsController().sync(world(ours, theirs))
    assert changes.deletes == [("Endpoints", "default", "web", "background")]


def test_a_service_that_loses_its_selector_loses_the_controller_made_endpoints():
    ours = desired_endpoints(svc(), [pod("a")])
    changes = EndpointsController().sync(world(svc(selector=False), ours))
    assert changes.deletes == [("Endpoints", "default", "web", "background")]


def test_pods_of_other_namespaces_are_not_listed():
    changes = EndpointsController().sync(world(svc(), pod("a", namespace="other")))
    assert "subsets" not in changes.creates[0]


def test_a_selector_service_takes_over_a_same_named_manual_object():
    changes = EndpointsController().sync(world(svc(), manual(), pod("a")))
    assert ips(changes.updates[0]) == ["172.17.0.2"]
    assert changes.updates[0]["metadata"]["annotations"][MANAGED_BY] == MANAGER
