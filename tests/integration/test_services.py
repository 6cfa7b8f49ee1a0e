"""Services on a real Docker engine with real iptables: endpoints, node ports on 127.0.0.1, load
balancing, ClientIP affinity, readiness, scaling, DNS and environment variables inside pods,
selectorless Services, UDP, rules restored after a flush and removed with the last Service."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import pytest
from svckit import (bridge_gateway, chains_of, cluster_ip, endpoint_ips, fetch, get, in_pod, iptables_save, kubia,
                    node_port, ready_pods, spread, teardown_local, wait_endpoints, wait_ready, wait_serving)

from clusterkit import IMAGE

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module", autouse=True)
def _route_localnet():
    """gitkube turns route_localnet on; put this machine back as it was."""
    path = "/proc/sys/net/ipv4/conf/all/route_localnet"
    before = open(path).read().strip()
    yield
    with open(path, "w") as f:
        f.write(before)


@pytest.fixture
def svc_cluster(cluster, docker_engine):
    cluster.env["GITKUBE_DNS_UPSTREAM"] = "none"  # unknown names are never sent off this machine
    gateway = bridge_gateway(docker_engine)
    yield cluster
    cluster.stop_agents()
    teardown_local(cluster.cluster_id(), gateway)
    assert chains_of(cluster.cluster_id(), iptables_save()) == []


def test_node_port_balance_affinity_readiness_and_scale(svc_cluster):
    c = svc_cluster
    c.apply(kubia(3))
    c.start_agent()
    pods = wait_ready(c, 3)
    ips = {p["status"]["podIP"] for p in pods.values()}
    wait_endpoints(c, "kubia-http", ips)

    # 60 requests to 127.0.0.1:nodePort reach all three pods, roughly evenly
    np_ = node_port(c, "kubia-http")
    wait_serving("127.0.0.1", np_, pods)
    counts = spread("127.0.0.1", np_, 60)
    assert set(counts) == set(pods), counts
    assert all(n >= 8 for n in counts.values()), counts

    # the second port of the multi-port Service goes to the same pods
    assert fetch("127.0.0.1", node_port(c, "kubia-http", 1)) in pods

    # ClientIP affinity: every request of this client lands on one pod
    sticky = spread("127.0.0.1", node_port(c, "kubia-sticky"), 60)
    assert len(sticky) == 1 and sum(sticky.values()) == 60, sticky

    # a pod whose readiness probe fails receives nothing, and comes back when it recovers
    victim = sorted(pods)[0]
    victim_ip = pods[victim]["status"]["podIP"]
    in_pod(c, victim, "rm /w/ready")
    wait_endpoints(c, "kubia-http", ips - {victim_ip})
    assert victim_ip in endpoint_ips(c, "kubia-http", "notReadyAddresses")
    # 30 requests all missing one of three pods by chance: (2/3)^30, never
    c.wait(lambda: victim not in spread("127.0.0.1", np_, 30), timeout=10, interval=0.1,
           what="the rules to follow the Endpoints")
    during = spread("127.0.0.1", np_, 40)
    assert victim not in during and len(during) == 2, during
    in_pod(c, victim, "touch /w/ready")
    wait_endpoints(c, "kubia-http", ips)
    wait_serving("127.0.0.1", np_, [victim])

    # scaling to 5 adds the new pods' endpoints within 2 s of them turning ready
    c.run("scale", "rs", "kubia", "--replicas=5")
    seen_ready: dict[str, float] = {}
    seen_endpoint: dict[str, float] = {}
    deadline = time.monotonic() + 90
    while len(seen_endpoint) < 5 and time.monotonic() < deadline:
        now = time.monotonic()
        for name, p in ready_pods(c).items():
            seen_ready.setdefault(p["status"]["podIP"], now)
        for ip in endpoint_ips(c, "kubia-http"):
            seen_endpoint.setdefault(ip, now)
        time.sleep(0.05)
    assert len(seen_endpoint) == 5, (seen_ready, seen_endpoint)
    lags = {ip: seen_endpoint[ip] - seen_ready.get(ip, seen_endpoint[ip]) for ip in seen_endpoint if ip not in ips}
    assert len(lags) == 2 and all(lag <= 2.0 for lag in lags.values()), lags
    assert len(wait_serving("127.0.0.1", np_, ready_pods(c))) == 5


def test_inside_a_pod_names_env_vars_and_headless_lookups(svc_cluster):
    c = svc_cluster
    c.apply(kubia(3) + """
---
apiVersion: v1
kind: Service
metadata:
  name: kubia-alias
spec:
  type: ExternalName
  externalName: kubia-http.default.svc.cluster.local
""")
    c.start_agent()
    pods = wait_ready(c, 3)
    ips = {p["status"]["podIP"] for p in pods.values()}
    wait_endpoints(c, "kubia-http", ips)
    wait_endpoints(c, "kubia-headless", ips)
    vip = cluster_ip(c, "kubia-http")
    client = sorted(pods)[0]

    env = dict(line.split("=", 1) for line in in_pod(c, client, "env").stdout.splitlines() if "=" in line)
    assert env["KUBIA_HTTP_SERVICE_HOST"] == vip
    assert env["KUBIA_HTTP_SERVICE_PORT"] == "80" and env["KUBIA_HTTP_SERVICE_PORT_ALT"] == "8081"
    assert env["KUBIA_HTTP_PORT"] == f"tcp://{vip}:80"
    assert env["KUBIA_HTTP_PORT_8081_TCP_ADDR"] == vip
    assert "KUBIA_HEADLESS_SERVICE_HOST" not in env

    resolv = in_pod(c, client, "cat /etc/resolv.conf").stdout
    assert "search default.svc.cluster.local svc.cluster.local cluster.local" in resolv and "ndots:5" in resolv

    answers = set()
    for name in ("kubia-http", "kubia-http.default", "kubia-http.default.svc.cluster.local", "kubia-alias"):
        for _ in range(3):  # the pod may call itself (hairpin) or another pod
            answers.add(in_pod(c, client, f"timeout 5 wget -qO- http://{name}").stdout.strip())
    assert answers <= set(pods) and answers, answers
    assert in_pod(c, client, f"timeout 5 wget -qO- http://{vip}:8081").stdout.strip() in pods

    headless = in_pod(c, client, "nslookup kubia-headless.default.svc.cluster.local", check=False).stdout
    assert addresses(headless) == ips, headless
    short = in_pod(c, client, "nslookup kubia-http.default.svc.cluster.local").stdout
    assert vip in short
    alias = in_pod(c, client, "nslookup -type=cname kubia-alias.default.svc.cluster.local", check=False).stdout
    assert "kubia-http.default.svc.cluster.local" in alias, alias

    # a Service created later: no env vars in running containers, but DNS follows at once
    c.apply("""
apiVersion: v1
kind: Service
metadata:
  name: late
spec:
  selector: {app: kubia}
  ports:
  - port: 80
    targetPort: 8080
""")
    late_ip = c.wait(lambda: (get(c, "Service", "late") or {}).get("spec", {}).get("clusterIP"), what="late's IP")
    got = c.wait(lambda: late_ip in in_pod(c, client, "nslookup late.default.svc.cluster.local", check=False).stdout,
                 timeout=15, interval=0.5, what="DNS to follow the new Service")
    assert got
    assert "LATE_SERVICE_HOST" not in in_pod(c, client, "env").stdout
    assert in_pod(c, client, "timeout 5 wget -qO- http://late").stdout.strip() in pods


def addresses(nslookup_output: str) -> set[str]:
    """The answers of busybox nslookup (the server's own line is `Address: 172.17.0.1:53`)."""
    return {line.split()[-1] for line in nslookup_output.splitlines()
            if line.startswith("Address:") and ":" not in line.split()[-1]}


class UdpEcho:
    """A tiny DNS responder on the host's bridge address (the backend of a selectorless UDP Service)."""

    def __init__(self, address: str):
        from gitkube.proxy import dnsserver

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 0))
        self.port = self.sock.getsockname()[1]
        self.dnsserver = dnsserver
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        d = self.dnsserver
        while True:
            try:
                msg, peer = self.sock.recvfrom(2048)
            except OSError:
                return
            try:
                _, _, qname, _, _, qend = d.parse_query(msg)
                self.sock.sendto(d.build_response(msg, qend, qname, d.NOERROR, [(qname, d.A, "192.0.2.77")], True, 512),
                                 peer)
            except Exception:
                pass

    def close(self) -> None:
        self.sock.close()


def test_selectorless_service_with_manual_endpoints_and_udp(svc_cluster, docker_engine, test_labels):
    c = svc_cluster
    web = docker_engine.containers.run(IMAGE, ["sh", "-c", "mkdir -p /w; echo outside > /w/index.html; "
                                              "exec httpd -f -p 8080 -h /w"], detach=True, labels=test_labels,
                                       name=f"gk-test-outside-{c.cluster_id()[:8]}")
    gateway = bridge_gateway(docker_engine)
    udp = UdpEcho(gateway)
    try:
        web.reload()
        web_ip = web.attrs["NetworkSettings"]["IPAddress"]
        c.apply(f"""
apiVersion: v1
kind: Service
metadata:
  name: outside
spec:
  type: NodePort
  ports:
  - port: 80
---
apiVersion: v1
kind: Endpoints
metadata:
  name: outside
subsets:
- addresses:
  - ip: {web_ip}
  ports:
  - port: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: resolver
spec:
  ports:
  - name: dns
    port: 53
    protocol: UDP
---
apiVersion: v1
kind: Endpoints
metadata:
  name: resolver
subsets:
- addresses:
  - ip: {gateway}
  ports:
  - name: dns
    port: {udp.port}
    protocol: UDP
---
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: {IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
""")
        c.start_agent()
        c.wait(lambda: ready_pods(c, "").get("client"), what="client pod")
        np_ = c.wait(lambda: (get(c, "Service", "outside") or {})["spec"]["ports"][0].get("nodePort"), what="nodePort")
        got = c.wait(lambda: _try(lambda: fetch("127.0.0.1", np_)), timeout=20, what="node port to outside")
        assert got == "outside"
        assert in_pod(c, "client", "timeout 5 wget -qO- http://outside").stdout.strip() == "outside"
        ep = get(c, "Endpoints", "outside")
        assert ep["subsets"][0]["addresses"] == [{"ip": web_ip}]  # the controller never touched it
        vip = cluster_ip(c, "resolver")
        out = in_pod(c, "client", f"nslookup anything.example {vip}", check=False).stdout
        assert "192.0.2.77" in out, out
        assert "outside" in c.run("get", "endpoints").stdout and f"{web_ip}:8080" in c.run("get", "endpoints").stdout
    finally:
        udp.close()
        web.remove(force=True)


def _try(fn):
    try:
        return fn()
    except OSError:
        return None


def test_rules_are_restored_after_a_flush_and_removed_with_the_last_service(svc_cluster):
    c = svc_cluster
    c.apply(kubia(1))
    c.start_agent()
    pods = wait_ready(c, 1)
    wait_endpoints(c, "kubia-http", {p["status"]["podIP"] for p in pods.values()})
    cid = c.cluster_id()
    c.wait(lambda: len(chains_of(cid, iptables_save())) > 5, what="the cluster's chains")
    np_ = node_port(c, "kubia-http")
    c.wait(lambda: _try(lambda: fetch("127.0.0.1", np_)), timeout=10, what="node port answering")
    from gitkube.proxy.rules import cluster_tag, owner_prefix

    services_chain = owner_prefix(cluster_tag(cid)) + "SERVICES"
    subprocess.run(["iptables", "-t", "nat", "-F", services_chain], check=True)
    assert _try(lambda: fetch("127.0.0.1", np_, timeout=1)) is None
    start = time.monotonic()
    c.wait(lambda: _try(lambda: fetch("127.0.0.1", np_, timeout=1)), timeout=15, interval=0.2,
           what="the flushed rules to be restored")
    assert time.monotonic() - start < 10

    out = c.run("get", "svc").stdout
    assert "kubia-http" in out and f"80:{np_}/TCP" in out and cluster_ip(c, "kubia-http") in out
    described = c.run("describe", "svc", "kubia-http").stdout
    assert pods[next(iter(pods))]["status"]["podIP"] in described

    c.run("delete", "svc", "kubia-http", "kubia-sticky", "kubia-headless")
    c.wait(lambda: chains_of(cid, iptables_save()) == [] or None, timeout=15, what="every chain removed")
    assert get(c, "Endpoints", "kubia-http") is None
    assert f"-j {services_chain}" not in iptables_save()


def test_explicit_cluster_ips_inside_and_outside_the_cidr(svc_cluster):
    c = svc_cluster
    manifest = """
apiVersion: v1
kind: Service
metadata:
  name: fixed
spec:
  clusterIP: 10.96.123.45
  selector: {app: none}
  ports:
  - port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: outside-cidr
spec:
  clusterIP: 10.200.0.1
  selector: {app: none}
  ports:
  - port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: lb
spec:
  type: LoadBalancer
  selector: {app: none}
  ports:
  - port: 80
"""
    c.apply(manifest)
    c.start_agent()
    c.wait(lambda: (get(c, "Service", "outside-cidr") or {}).get("status", {}).get("conditions"), what="conditions")
    assert get(c, "Service", "fixed")["spec"]["clusterIPs"] == ["10.96.123.45"]
    cond = get(c, "Service", "outside-cidr")["status"]["conditions"][-1]
    assert (cond["status"], cond["reason"]) == ("False", "ClusterIPNotInRange")
    assert "ClusterIPNotInRange" in c.run("describe", "svc", "outside-cidr").stdout
    # a LoadBalancer gets a node port and the nodes' addresses as its ingress
    lb = c.wait(lambda: (get(c, "Service", "lb") or {}).get("status", {}).get("loadBalancer", {}).get("ingress") and
                get(c, "Service", "lb"), what="load balancer ingress")
    assert lb["status"]["loadBalancer"]["ingress"] == [{"ip": "127.0.0.1"}]
    row = next(line.split() for line in c.run("get", "svc").stdout.splitlines() if line.startswith("lb "))
    assert row[1:5] == ["LoadBalancer", lb["spec"]["clusterIP"], "127.0.0.1",
                        f"80:{lb['spec']['ports'][0]['nodePort']}/TCP"], row
    # a VIP without endpoints is rejected at once, not left to time out
    c.wait(lambda: "10.96.123.45" in iptables_save(), what="rules for the fixed IP")
    start = time.monotonic()
    with pytest.raises(OSError):
        socket.create_connection(("10.96.123.45", 80), timeout=5)
    assert time.monotonic() - start < 2
    # allocations are no drift: applying the same manifest again changes nothing
    auto = c.wait(lambda: (get(c, "Service", "fixed") or {}).get("spec", {}).get("clusterIP"), what="clusterIP")
    assert "unchanged" in c.apply(manifest).stdout and get(c, "Service", "fixed")["spec"]["clusterIP"] == auto
