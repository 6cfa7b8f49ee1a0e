"""Several Docker hosts (network namespaces, each with its own dockerd and sshd) as gitkube nodes."""

from __future__ import annotations

import pytest
from clusterkit import IMAGE, is_running_ready

pytestmark = pytest.mark.multihost


def node_url(h) -> str:
    """The node's engine through its sshd; the path is that host's own docker socket."""
    return f"ssh://root@{h.ip}{h.docker_sock}"


def gk_containers(h, cluster_id: str, running: bool = True) -> list[dict]:
    c = h.client()
    try:
        return c.api.containers(all=not running, filters={"label": f"gitkube.io/cluster={cluster_id}"})
    finally:
        c.close()


@pytest.fixture
def two_nodes(cluster, multihost):
    h1, h2 = multihost[0], multihost[1]
    cluster.run("node", "add", "h1", node_url(h1), "--label", "disk=ssd")
    cluster.run("node", "add", "h2", node_url(h2))
    yield h1, h2
    cid = cluster.cluster_id()
    cluster.stop_agents()
    for h in (h1, h2):
        if not h.engine_alive():
            h.start_engine()
        c = h.client()
        try:
            for ctr in c.api.containers(all=True, filters={"label": f"gitkube.io/cluster={cid}"}):
                c.api.remove_container(ctr["Id"], force=True, v=True)
        finally:
            c.close()


PLACED = f"""
apiVersion: v1
kind: Pod
metadata:
  name: on-ssd
spec:
  nodeSelector: {{disk: ssd}}
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
---
apiVersion: v1
kind: Pod
metadata:
  name: wants-gpu
spec:
  nodeSelector: {{gpu: "true"}}
  containers:
  - name: app
    image: {IMAGE}
    imagePullPolicy: Never
"""


def test_node_selector_places_a_pod_on_the_labelled_host_only(cluster, two_nodes):
    h1, h2 = two_nodes
    cluster.apply(PLACED)
    cluster.start_agent()
    cluster.wait(lambda: is_running_ready(cluster.get("pod", "on-ssd")), what="the pod running on h1")
    pod = cluster.get("pod", "on-ssd")
    assert pod["spec"]["nodeName"] == "h1"
    assert pod["status"]["hostIP"] == h1.ip
    cid = cluster.cluster_id()
    assert {c["Labels"]["gitkube.io/pod"] for c in gk_containers(h1, cid)} == {"on-ssd"}
    assert gk_containers(h2, cid) == []
    cluster.wait(lambda: "didn't match Pod's node affinity/selector" in cluster.run("describe", "pod", "wants-gpu").stdout,
                 what="a FailedScheduling event for the gpu pod")
    assert cluster.get("pod", "wants-gpu")["status"]["phase"] == "Pending"
    nodes = cluster.run("get", "nodes").stdout
    assert "h1" in nodes and "Ready" in nodes


RS = f"""
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: spread
spec:
  replicas: 4
  selector:
    matchLabels: {{app: spread}}
  template:
    metadata:
      labels: {{app: spread}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: {IMAGE}
        imagePullPolicy: Never
        command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
"""


def test_when_a_hosts_engine_stops_its_pods_come_back_elsewhere_and_are_not_duplicated(cluster, two_nodes):
    h1, h2 = two_nodes
    cid = cluster.cluster_id()
    cluster.apply(RS)
    cluster.start_agent("--heartbeat", "1", "--node-grace", "2", "--pod-eviction-timeout", "3")

    def ready_on() -> dict[str, int]:
        out: dict[str, int] = {}
        for p in cluster.pods("app=spread"):
            if is_running_ready(p) and not p["metadata"].get("deletionTimestamp"):
                out[p["spec"]["nodeName"]] = out.get(p["spec"]["nodeName"], 0) + 1
        return out

    cluster.wait(lambda: ready_on() == {"h1": 2, "h2": 2}, timeout=90, what="2 pods on each host")
    h1.stop_engine()
    cluster.wait(lambda: ready_on() == {"h2": 4}, timeout=90, what="all 4 pods on h2")
    assert "NotReady" in cluster.run("get", "nodes", "h1").stdout
    h1.start_engine()
    cluster.wait(lambda: not any(p["metadata"].get("deletionTimestamp") for p in cluster.pods("app=spread"))
                 and len(cluster.pods("app=spread")) == 4, timeout=90, what="the evicted pods gone from the store")
    cluster.wait(lambda: gk_containers(h1, cid) == [], timeout=60, what="no gitkube container left on h1")
    apps = [c for c in gk_containers(h2, cid) if c["Labels"]["gitkube.io/container"] == "app"]
    assert len(apps) == 4
    assert len({c["Labels"]["gitkube.io/pod-uid"] for c in apps}) == 4


DS = f"""
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: ssd-monitor
spec:
  selector:
    matchLabels: {{app: ssd-monitor}}
  template:
    metadata:
      labels: {{app: ssd-monitor}}
    spec:
      nodeSelector: {{disk: ssd}}
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: {IMAGE}
        imagePullPolicy: Never
        command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
"""


def test_a_daemonset_runs_on_labelled_hosts_and_follows_a_new_label(cluster, two_nodes, docker_engine):
    h1, h2 = two_nodes
    cluster.run("label", "node", "h2", "disk=ssd")
    cluster.run("node", "add", "local", "unix:///var/run/docker.sock")
    cluster.apply(DS)
    cluster.start_agent()

    def placed() -> list[str]:
        return sorted(p["spec"].get("nodeName", "") for p in cluster.pods("app=ssd-monitor")
                      if is_running_ready(p) and not p["metadata"].get("deletionTimestamp"))

    cluster.wait(lambda: placed() == ["h1", "h2"], timeout=90, what="daemon pods on h1 and h2")
    cluster.run("label", "node", "local", "disk=ssd")
    cluster.wait(lambda: placed() == ["h1", "h2", "local"], timeout=60, what="a daemon pod on the newly labelled node")
    cluster.run("label", "node", "h1", "disk-")
    cluster.wait(lambda: placed() == ["h2", "local"], timeout=60, what="the daemon pod leaving h1")
    ds = cluster.get("ds", "ssd-monitor")
    assert ds["status"]["desiredNumberScheduled"] == 2
