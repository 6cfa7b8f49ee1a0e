"""The agent runs pods on a real Docker engine: sandboxes, probes, restarts, deletion, crash safety."""

from __future__ import annotations

import signal
import time

import pytest

from clusterkit import IMAGE, containers, is_running_ready

pytestmark = pytest.mark.docker

TWO_CONTAINERS = f"""
apiVersion: v1
kind: Pod
metadata:
  name: duo
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: {IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /w; echo from-web > /w/index.html; trap 'exit 0' TERM; httpd -f -p 8080 -h /w & wait"]
  - name: client
    image: {IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do timeout 2 wget -qO /tmp/got http://127.0.0.1:8080/ && cat /tmp/got > /tmp/seen; sleep 0.5 & wait; done"]
"""


def test_two_containers_of_a_pod_talk_over_localhost(cluster):
    cluster.apply(TWO_CONTAINERS)
    cluster.start_agent()
    cluster.wait(lambda: is_running_ready(cluster.get("pod", "duo")), what="pod duo running")
    seen = cluster.wait(lambda: cluster.run("exec", "duo", "-c", "client", "--", "cat", "/tmp/seen", check=False)
                        .stdout.strip(), what="the client container to reach the web container")
    assert seen == "from-web"
    hostname = cluster.run("exec", "duo", "-c", "web", "--", "hostname").stdout.strip()
    assert hostname == "duo"


def test_apply_wait_returns_when_the_pod_is_ready_and_fails_fast_on_a_missing_image(cluster):
    ok = cluster.run("apply", "-f", "-", "--wait", "--timeout", "60s", stdin=TWO_CONTAINERS)
    assert "all 1 objects ready" in ok.stdout
    bad = TWO_CONTAINERS.replace("name: duo", "name: broken").replace(f"image: {IMAGE}\n    imagePullPolicy: Never\n    command: [\"sh\", \"-c\", \"mkdir",
                                                                        "image: gitkube.test/does-not-exist:1\n    imagePullPolicy: IfNotPresent\n    command: [\"sh\", \"-c\", \"mkdir")
    start = time.monotonic()
    r = cluster.run("apply", "-f", "-", "--wait", "--timeout", "120s", stdin=bad, check=False)
    assert r.returncode == 1
    assert "ErrImagePull" in r.stderr or "ImagePullBackOff" in r.stderr
    assert time.monotonic() - start < 30


READINESS = f"""
apiVersion: v1
kind: Pod
metadata:
  name: flip
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "touch /tmp/ready; trap 'exit 0' TERM; sleep 100000 & wait"]
    readinessProbe:
      exec:
        command: ["cat", "/tmp/ready"]
      periodSeconds: 1
      failureThreshold: 1
"""


def test_a_readiness_probe_flips_ready_both_ways(cluster):
    cluster.apply(READINESS)
    cluster.start_agent()

    def ready_column() -> str:
        line = cluster.run("get", "pods", "flip", "--no-headers").stdout.split()
        return line[1] if len(line) > 1 else ""

    cluster.wait(lambda: ready_column() == "1/1", what="READY 1/1")
    cluster.run("exec", "flip", "--", "rm", "/tmp/ready")
    cluster.wait(lambda: ready_column() == "0/1", what="READY 0/1 after the probe fails")
    assert cluster.get("pod", "flip")["status"]["phase"] == "Running"
    cluster.run("exec", "flip", "--", "touch", "/tmp/ready")
    cluster.wait(lambda: ready_column() == "1/1", what="READY 1/1 again")


STUBBORN = f"""
apiVersion: v1
kind: Pod
metadata:
  name: stubborn
spec:
  terminationGracePeriodSeconds: 3
  containers:
  - name: app
    image: {IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]
  - name: polite
    image: {IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
"""


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period(cluster, docker_engine):
    cluster.apply(STUBBORN)
    cluster.start_agent()
    cluster.wait(lambda: is_running_ready(cluster.get("pod", "stubborn")), what="pod running")
    start = time.monotonic()
    cluster.run("delete", "pod", "stubborn")
    assert "Terminating" in cluster.run("get", "pods").stdout
    cluster.wait(lambda: "stubborn" not in cluster.run("get", "pods", check=False).stdout, timeout=30,
                 interval=0.1, what="the pod to be gone")
    elapsed = time.monotonic() - start
    assert 2.5 <= elapsed <= 8, f"grace 3 s, took {elapsed:.2f} s"
    assert containers(docker_engine, cluster.cluster_id()) == []


def test_a_container_removed_behind_gitkubes_back_is_recreated(cluster, docker_engine):
    cluster.apply(READINESS.replace("name: flip", "name: victim"))
    cluster.start_agent()
    cluster.wait(lambda: is_running_ready(cluster.get("pod", "victim")), what="pod running")
    cid = cluster.cluster_id()
    app = [c for c in containers(docker_engine, cid) if c["Labels"]["gitkube.io/container"] == "app"]
    docker_engine.api.remove_container(app[0]["Id"], force=True)
    cluster.wait(lambda: any(c["Labels"]["gitkube.io/container"] == "app" and c["State"] == "running"
                             for c in containers(docker_engine, cid)), what="the app container to come back")


def test_unknown_gitkube_containers_of_this_cluster_are_removed(cluster, docker_engine):
    cid = cluster.cluster_id()
    stray = docker_engine.api.create_container(IMAGE, command=["sleep", "1000"], labels={
        "gitkube.io/managed-by": "gitkube", "gitkube.io/cluster": cid, "gitkube.io/node": "local",
        "gitkube.io/pod-uid": "no-such-pod", "gitkube.io/container": "app"})
    docker_engine.api.start(stray["Id"])
    cluster.start_agent()
    cluster.wait(lambda: not containers(docker_engine, cid), what="the stray container to be removed")


MANY = "\n---\n".join(f"""
apiVersion: v1
kind: Pod
metadata:
  name: many-{i}
  labels: {{app: many}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
""" for i in range(8))


def test_killing_the_agent_at_any_moment_leaves_no_duplicates_and_no_leaks(cluster, docker_engine):
    cluster.apply(MANY)
    cid = cluster.cluster_id()
    for delay in (0.4, 0.9, 1.5):
        agent = cluster.start_agent()
        time.sleep(delay)
        agent.send_signal(signal.SIGKILL)
        agent.wait()
    cluster.start_agent()
    cluster.wait(lambda: all(is_running_ready(p) for p in cluster.pods("app=many")) and len(cluster.pods("app=many")) == 8,
                 timeout=90, what="all 8 pods running")
    time.sleep(1)
    live = containers(docker_engine, cid, all_=False)
    per_pod: dict[str, list[str]] = {}
    for c in live:
        per_pod.setdefault(c["Labels"]["gitkube.io/pod"], []).append(c["Labels"]["gitkube.io/container"])
    assert sorted(per_pod) == [f"many-{i}" for i in range(8)]
    assert all(sorted(v) == ["POD", "app"] for v in per_pod.values()), per_pod
    cluster.run("delete", "pods", "-l", "app=many")
    cluster.wait(lambda: not containers(docker_engine, cid), timeout=60, what="every container removed")


LIVENESS = f"""
apiVersion: v1
kind: Pod
metadata:
  name: sick
spec:
  nodeName: {{node}}
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: {IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /w; test -e /w/healthz || echo ok > /w/healthz; trap 'exit 0' TERM; httpd -f -p 8080 -h /w & wait"]
    ports:
    - name: http
      containerPort: 8080
    livenessProbe:
      httpGet:
        path: /healthz
        port: http
      periodSeconds: 1
      failureThreshold: 2
"""


@pytest.mark.ssh
def test_a_pod_on_a_host_reached_over_ssh_is_restarted_when_its_http_liveness_probe_fails(cluster, ssh_host):
    cluster.run("node", "add", "remote", ssh_host.docker_host_url, "--label", "where=ssh")
    cluster.apply(LIVENESS.format(node="remote"))
    cluster.start_agent()
    cluster.wait(lambda: is_running_ready(cluster.get("pod", "sick")), what="the pod running on the ssh node")
    assert cluster.get("node", "remote")["status"]["conditions"][0]["status"] == "True"
    cluster.run("exec", "sick", "--", "rm", "/w/healthz")

    def restarts() -> int:
        line = cluster.run("get", "pods", "sick", "--no-headers").stdout.split()
        return int(line[3]) if len(line) > 3 else 0

    cluster.wait(lambda: restarts() >= 1, timeout=40, what="a restart after the liveness probe fails")
    events = cluster.run("describe", "pod", "sick").stdout
    assert "failed liveness probe" in events


DOWNWARD = f"""
apiVersion: v1
kind: Pod
metadata:
  name: talker
  labels: {{app: talker}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: {IMAGE}
    imagePullPolicy: Never
    env:
    - name: POD_NAME
      valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
    - name: POD_IP
      valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}
    - name: GREETING
      value: "hello from $(POD_NAME)"
    command: ["sh", "-c", "mkdir -p /w; echo \\"$GREETING at $POD_IP\\" | tee /w/index.html; trap 'exit 0' TERM; httpd -f -p 8080 -h /w & wait"]
    ports:
    - name: http
      containerPort: 8080
"""


def test_logs_env_field_refs_and_port_forward(cluster):
    import socket
    import subprocess
    import sys

    from clusterkit import ROOT

    cluster.apply(DOWNWARD)
    cluster.start_agent()
    cluster.wait(lambda: is_running_ready(cluster.get("pod", "talker")), what="pod running")
    ip = cluster.get("pod", "talker")["status"]["podIP"]
    logs = cluster.wait(lambda: cluster.run("logs", "talker").stdout.strip(), what="log output")
    assert logs == f"hello from talker at {ip}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fwd = subprocess.Popen([sys.executable, "-m", "gitkube", "port-forward", "pod/talker", f"{port}:http"],
                           env=cluster.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert fwd.stdout.readline().startswith(f"Forwarding from 127.0.0.1:{port} -> 8080")
        import urllib.request

        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
        assert body.strip() == f"hello from talker at {ip}"
    finally:
        fwd.terminate()
        fwd.wait(10)
