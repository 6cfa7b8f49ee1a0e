"""Services across Docker hosts (network namespaces gk-hN, each its own dockerd and sshd, reached as
gitkube nodes over SSH): node ports on every host reach pods on every host, Local traffic policy,
affinity, readiness, DNS and cluster IPs inside pods, pod-to-pod routing; and the local engine
mixed with a netns host."""

from __future__ import annotations

import collections
import json

import pytest
from svckit import (bridge_gateway, chains_of, cluster_ip, in_pod, kubia, node_port, spread, teardown_local,
                    wait_endpoints, wait_ready, wait_serving)

pytestmark = pytest.mark.multihost

SPREAD = r"""
import collections, json, sys, urllib.request
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seen = collections.Counter()
for _ in range(n):
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/", timeout=3) as r:
            seen[r.read().decode().strip()] += 1
    except Exception as e:
        seen["error: " + type(e).__name__] += 1
print(json.dumps(seen))
"""

LOCAL_POLICY = """
---
apiVersion: v1
kind: Service
metadata:
  name: kubia-local
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: kubia}
  ports:
  - port: 80
    targetPort: http
"""


def node_url(h) -> str:
    return f"ssh://root@{h.ip}{h.docker_sock}"


def spread_in(h, host: str, port: int, n: int = 60) -> collections.Counter:
    """Requests made from inside host h's network namespace (its own 127.0.0.1, say)."""
    out = h.run_in_netns("python3", "-c", SPREAD, host, str(port), str(n)).stdout
    return collections.Counter(json.loads(out))


class NetnsRunner:
    def __init__(self, h):
        self.h = h

    def run(self, argv, input=None, timeout=30):
        import subprocess

        p = subprocess.run(["ip", "netns", "exec", self.h.netns, *argv], input=input, capture_output=True,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr


def wipe_netns_host(h) -> None:
    """Everything gitkube put on a netns host: chains, routes, DNS answerers."""
    from gitkube.proxy import iptables
    from gitkube.proxy.teardown import teardown

    teardown(NetnsRunner(h), None, "python3", all_routes=True)
    assert iptables.save(NetnsRunner(h)).empty


def ensure_test_tag(h, docker_engine) -> None:
    """The test bed copies the image with `save(named=True)`, which names it by its *first* tag; when
    the shared engine gives the test image a second tag, the netns host lacks gitkube.test/busybox:1."""
    from clusterkit import IMAGE

    image_id = docker_engine.images.get(IMAGE).id
    c = h.client()
    try:
        repo, tag = IMAGE.rsplit(":", 1)
        c.api.tag(image_id, repo, tag)
    finally:
        c.close()


@pytest.fixture
def hosts(cluster, multihost, docker_engine):
    cluster.env["GITKUBE_DNS_UPSTREAM"] = "none"
    h1, h2 = multihost[0], multihost[1]
    for h in (h1, h2):
        ensure_test_tag(h, docker_engine)
    yield h1, h2
    cluster.stop_agents()
    cid = cluster.cluster_id()
    for h in (h1, h2):
        if not h.engine_alive():
            h.start_engine()
        c = h.client()
        try:
            for ctr in c.api.containers(all=True, filters={"label": f"gitkube.io/cluster={cid}"}):
                c.api.remove_container(ctr["Id"], force=True, v=True)
        finally:
            c.close()
        wipe_netns_host(h)


def by_node(pods: dict[str, dict]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = collections.defaultdict(set)
    for name, p in pods.items():
        out[p["spec"]["nodeName"]].add(name)
    return out


def test_services_across_two_hosts(cluster, hosts):
    h1, h2 = hosts
    cluster.run("node", "add", "h1", node_url(h1))
    cluster.run("node", "add", "h2", node_url(h2))
    cluster.apply(kubia(4) + LOCAL_POLICY)
    cluster.start_agent()
    pods = wait_ready(cluster, 4, timeout=120)
    placed = by_node(pods)
    assert len(placed["h1"]) == 2 and len(placed["h2"]) == 2, placed
    ips = {p["status"]["podIP"] for p in pods.values()}
    assert {ip.rsplit(".", 1)[0] for ip in ips} == {"172.31.1", "172.31.2"}
    wait_endpoints(cluster, "kubia-http", ips)
    np_ = node_port(cluster, "kubia-http")

    # node ports on every host reach the pods of both hosts, from outside and from the host itself
    for h in (h1, h2):
        got = cluster.wait(lambda: (lambda s: s if set(s) == set(pods) else None)(spread(h.ip, np_, 60)),
                           timeout=20, interval=0.5, what=f"{h.ip}:{np_} to reach all four pods")
        assert all(n >= 5 for n in got.values()), got
        inside = spread_in(h, "127.0.0.1", np_, 60)
        assert set(inside) == set(pods), inside

    # externalTrafficPolicy Local: only the pods on the host that was addressed
    local_np = node_port(cluster, "kubia-local")
    wait_serving(h1.ip, local_np, placed["h1"])
    assert set(spread(h1.ip, local_np, 30)) == placed["h1"]
    assert set(spread(h2.ip, local_np, 30)) == placed["h2"]

    # ClientIP affinity holds across hosts
    sticky = spread(h1.ip, node_port(cluster, "kubia-sticky"), 40)
    assert len(sticky) == 1 and sum(sticky.values()) == 40, sticky

    # inside a pod on h2: names, env vars, the cluster IP reaching h1's pods, pod-to-pod routing
    client = sorted(placed["h2"])[0]
    vip = cluster_ip(cluster, "kubia-http")
    assert f"KUBIA_HTTP_SERVICE_HOST={vip}" in in_pod(cluster, client, "env").stdout
    answers = collections.Counter(
        in_pod(cluster, client, "for i in $(seq 1 24); do timeout 5 wget -qO- http://kubia-http; done").stdout.split())
    assert set(answers) == set(pods), answers
    fqdn = in_pod(cluster, client, "timeout 5 wget -qO- http://kubia-http.default.svc.cluster.local").stdout.strip()
    assert fqdn in pods
    headless = in_pod(cluster, client, "nslookup kubia-headless.default.svc.cluster.local", check=False).stdout
    assert {line.split()[-1] for line in headless.splitlines()
            if line.startswith("Address:") and ":" not in line.split()[-1]} == ips, headless
    far = sorted(placed["h1"])[0]
    far_ip = pods[far]["status"]["podIP"]
    assert in_pod(cluster, client, f"timeout 5 wget -qO- http://{far_ip}:8080/").stdout.strip() == far

    # a pod on h1 that turns not ready gets nothing through h2's node port
    in_pod(cluster, far, "rm /w/ready")
    wait_endpoints(cluster, "kubia-http", ips - {far_ip})
    cluster.wait(lambda: far not in spread(h2.ip, np_, 30), timeout=10, interval=0.3, what="h2 to stop using it")
    assert far not in spread(h2.ip, np_, 40)
    in_pod(cluster, far, "touch /w/ready")
    wait_endpoints(cluster, "kubia-http", ips)
    cluster.wait(lambda: far in spread(h2.ip, np_, 30), timeout=10, interval=0.3, what="h2 to use it again")

    # routes and rules on each host point at the other host
    r1 = h1.run_in_netns("ip", "route").stdout
    assert "172.31.2.0/24 via 10.123.0.12" in r1 and "proto 147" in r1
    assert chains_of(cluster.cluster_id(), h1.run_in_netns("iptables-save").stdout)


def test_the_local_engine_mixed_with_a_netns_host(cluster, hosts, docker_engine):
    """The local engine's address toward h1 is the root namespace's 10.123.0.1 (found with
    `ip route get` on this machine): h1 routes 172.17.0.0/16 there, this machine routes h1's
    subnet to 10.123.0.11, and both see each other's pods."""
    h1, _ = hosts
    gateway = bridge_gateway(docker_engine)
    cluster.run("node", "add", "local", "unix:///var/run/docker.sock")
    cluster.run("node", "add", "h1", node_url(h1))
    cluster.apply(kubia(2))
    cluster.start_agent()
    try:
        pods = wait_ready(cluster, 2, timeout=120)
        placed = by_node(pods)
        assert len(placed["local"]) == 1 and len(placed["h1"]) == 1, placed
        ips = {p["status"]["podIP"] for p in pods.values()}
        wait_endpoints(cluster, "kubia-http", ips)
        np_ = node_port(cluster, "kubia-http")
        got = cluster.wait(lambda: (lambda s: s if set(s) == set(pods) else None)(spread("127.0.0.1", np_, 40)),
                           timeout=20, interval=0.5, what="this machine's 127.0.0.1 node port to reach both pods")
        assert set(got) == set(pods)
        assert set(spread_in(h1, "127.0.0.1", np_, 40)) == set(pods)
        local_pod, far_pod = sorted(placed["local"])[0], sorted(placed["h1"])[0]
        far_ip = pods[far_pod]["status"]["podIP"]
        assert in_pod(cluster, local_pod, f"timeout 5 wget -qO- http://{far_ip}:8080/").stdout.strip() == far_pod
        answers = set(in_pod(cluster, far_pod, "for i in $(seq 1 12); do timeout 5 wget -qO- http://kubia-http; done")
                      .stdout.split())
        assert answers == set(pods)
        assert "172.17.0.0/16 via 10.123.0.1" in h1.run_in_netns("ip", "route").stdout
    finally:
        cluster.stop_agents()
        cid = cluster.cluster_id()
        for ctr in docker_engine.api.containers(all=True, filters={"label": f"gitkube.io/cluster={cid}"}):
            docker_engine.api.remove_container(ctr["Id"], force=True, v=True)
        from gitkube.proxy.teardown import LocalRunner

        teardown_local(cid, gateway)  # this cluster's chains, routes and DNS records on this machine
        assert chains_of(cid, LocalRunner().run(["iptables-save"])[1].decode()) == []
        assert "proto 147" not in LocalRunner().run(["ip", "route"])[1].decode()
