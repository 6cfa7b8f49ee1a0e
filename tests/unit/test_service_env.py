"""Service environment variables (K8S-SEMANTICS 5.3, upstream TestFromServices) and pod DNS settings."""

from __future__ import annotations

import pytest

from gitkube.agent.env import container_env
from gitkube.agent.services_env import dns_config, env_for_pod, service_env, service_variables
from gitkube.runtime.pods import DnsConfig


def svc(name, ip, ports, namespace="default", allocated=True):
    s = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
         "spec": {"clusterIP": ip, "ports": ports}}
    if not allocated:
        s["status"] = {"conditions": [{"type": "Allocated", "status": "False", "reason": "ClusterIPNotInRange"}]}
    return s


UPSTREAM = [
    svc("foo-bar", "1.2.3.4", [{"port": 8080, "protocol": "TCP"}]),
    svc("abc-123", "5.6.7.8", [{"name": "u-d-p", "port": 8081, "protocol": "UDP"},
                               {"name": "t-c-p", "port": 8081, "protocol": "TCP"}]),
    svc("q-u-u-x", "9.8.7.6", [{"port": 8082, "protocol": "TCP"}, {"name": "8083", "port": 8083, "protocol": "TCP"}]),
    svc("svrc-clusterip-none", "None", [{"port": 8082, "protocol": "TCP"}]),
    svc("svrc-clusterip-empty", "", [{"port": 8082, "protocol": "TCP"}]),
]


def test_the_upstream_worked_example_abc_123():
    assert service_variables(UPSTREAM[1]) == [
        ("ABC_123_SERVICE_HOST", "5.6.7.8"),
        ("ABC_123_SERVICE_PORT", "8081"),
        ("ABC_123_SERVICE_PORT_U_D_P", "8081"),
        ("ABC_123_SERVICE_PORT_T_C_P", "8081"),
        ("ABC_123_PORT", "udp://5.6.7.8:8081"),
        ("ABC_123_PORT_8081_UDP", "udp://5.6.7.8:8081"),
        ("ABC_123_PORT_8081_UDP_PROTO", "udp"),
        ("ABC_123_PORT_8081_UDP_PORT", "8081"),
        ("ABC_123_PORT_8081_UDP_ADDR", "5.6.7.8"),
        ("ABC_123_PORT_8081_TCP", "tcp://5.6.7.8:8081"),
        ("ABC_123_PORT_8081_TCP_PROTO", "tcp"),
        ("ABC_123_PORT_8081_TCP_PORT", "8081"),
        ("ABC_123_PORT_8081_TCP_ADDR", "5.6.7.8"),
    ]


def test_the_upstream_worked_example_foo_bar_and_q_u_u_x():
    assert service_variables(UPSTREAM[0]) == [
        ("FOO_BAR_SERVICE_HOST", "1.2.3.4"),
        ("FOO_BAR_SERVICE_PORT", "8080"),
        ("FOO_BAR_PORT", "tcp://1.2.3.4:8080"),
        ("FOO_BAR_PORT_8080_TCP", "tcp://1.2.3.4:8080"),
        ("FOO_BAR_PORT_8080_TCP_PROTO", "tcp"),
        ("FOO_BAR_PORT_8080_TCP_PORT", "8080"),
        ("FOO_BAR_PORT_8080_TCP_ADDR", "1.2.3.4"),
    ]
    quux = dict(service_variables(UPSTREAM[2]))
    assert quux["Q_U_U_X_SERVICE_PORT"] == "8082"
    assert quux["Q_U_U_X_SERVICE_PORT_8083"] == "8083"
    assert quux["Q_U_U_X_PORT"] == "tcp://9.8.7.6:8082"
    assert quux["Q_U_U_X_PORT_8083_TCP_ADDR"] == "9.8.7.6"


@pytest.mark.parametrize("service", [
    pytest.param(UPSTREAM[3], id="a headless service gives no variables"),
    pytest.param(UPSTREAM[4], id="a service without a cluster IP gives no variables"),
    pytest.param(svc("bad", "10.200.0.1", [{"port": 80}], allocated=False), id="a refused cluster IP gives none"),
    pytest.param(svc("noports", "10.96.0.9", []), id="a service without ports gives none"),
])
def test_services_without_variables(service):
    assert service_variables(service) == []


def test_the_protocol_defaults_to_tcp():
    assert dict(service_variables(svc("redis-master", "10.0.0.11", [{"port": 6379}]))) == {
        "REDIS_MASTER_SERVICE_HOST": "10.0.0.11", "REDIS_MASTER_SERVICE_PORT": "6379",
        "REDIS_MASTER_PORT": "tcp://10.0.0.11:6379", "REDIS_MASTER_PORT_6379_TCP": "tcp://10.0.0.11:6379",
        "REDIS_MASTER_PORT_6379_TCP_PROTO": "tcp", "REDIS_MASTER_PORT_6379_TCP_PORT": "6379",
        "REDIS_MASTER_PORT_6379_TCP_ADDR": "10.0.0.11"}


def test_only_services_of_the_pods_namespace_and_the_default_kubernetes_service():
    services = [svc("mine", "10.96.0.2", [{"port": 80}], "team"), svc("theirs", "10.96.0.3", [{"port": 80}], "other"),
                svc("kubernetes", "10.96.0.1", [{"name": "https", "port": 443}]),
                svc("web", "10.96.0.4", [{"port": 80}], "default")]
    env = service_env(services, "team")
    assert {k.split("_")[0] for k in env} == {"MINE", "KUBERNETES"}
    assert service_env(services, "team", enable_service_links=False).keys() == \
        dict(service_variables(services[2])).keys()


def test_env_for_pod_reads_the_services_when_the_container_starts():
    listed: list[str] = []

    def lister(ns):
        listed.append(ns)
        return [s for s in [svc("web", "10.96.0.4", [{"port": 80}], "team"),
                            svc("kubernetes", "10.96.0.1", [{"port": 443}])] if s["metadata"]["namespace"] == ns]

    pod = {"metadata": {"name": "p", "namespace": "team"}, "spec": {}}
    env = env_for_pod(pod, lister)
    assert env["WEB_SERVICE_HOST"] == "10.96.0.4" and env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert listed == ["team", "default"]
    no_links = {"metadata": {"name": "p", "namespace": "team"}, "spec": {"enableServiceLinks": False}}
    assert set(env_for_pod(no_links, lister)) == {k for k in env if k.startswith("KUBERNETES")}


def test_the_containers_own_env_wins():
    service = service_env([svc("web", "10.96.0.4", [{"port": 80}])], "default")
    pod = {"metadata": {"name": "p", "namespace": "default"}, "spec": {}}
    container = {"name": "c", "env": [{"name": "WEB_SERVICE_HOST", "value": "overridden"},
                                      {"name": "URL", "value": "http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)"}]}
    env = container_env(pod, container, service, lambda *a: None)
    assert env["WEB_SERVICE_HOST"] == "overridden"
    assert env["URL"] == "http://overridden:80"
    assert env["WEB_PORT"] == "tcp://10.96.0.4:80"


# --- DNS settings -----------------------------------------------------------------------------

def pod(namespace="team", **spec):
    return {"metadata": {"name": "p", "namespace": namespace}, "spec": spec}


def test_cluster_first_points_at_the_nodes_answerer_with_the_namespace_search_path():
    assert dns_config(pod(), "172.31.1.1") == DnsConfig(
        ("172.31.1.1",), ("team.svc.cluster.local", "svc.cluster.local", "cluster.local"), ("ndots:5",))


@pytest.mark.parametrize("spec,expected", [
    pytest.param({"dnsPolicy": "Default"}, None, id="Default keeps the node's resolvers"),
    pytest.param({"hostNetwork": True}, None, id="ClusterFirst on the host network means Default"),
    pytest.param({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"], "searches": ["x.example"],
                                                      "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}},
                 DnsConfig(("1.1.1.1",), ("x.example",), ("ndots:2", "edns0")), id="None takes dnsConfig only"),
    pytest.param({"dnsConfig": {"searches": ["x.example"], "options": [{"name": "ndots", "value": "1"}]}},
                 DnsConfig(("172.31.1.1",), ("team.svc.cluster.local", "svc.cluster.local", "cluster.local",
                                             "x.example"), ("ndots:1",)),
                 id="dnsConfig is merged into ClusterFirst, options override"),
])
def test_dns_policies(spec, expected):
    assert dns_config(pod(**spec), "172.31.1.1") == expected


def test_without_a_cluster_nameserver_the_node_resolvers_stay():
    assert dns_config(pod(), None) is None
