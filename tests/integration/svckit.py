"""Helpers for the Service tests: the kubia app, requests through node ports, reading the state
directly (fast polling), and removing gitkube's data plane from the hosts a test used."""

from __future__ import annotations

import collections
import json
import socket
import subprocess
import sys
import time
import urllib.request

from clusterkit import IMAGE

# Each pod answers `GET /` with its hostname (= pod name); it is ready while /w/ready exists.
KUBIA_RS = f"""
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: kubia
spec:
  replicas: {{replicas}}
  selector:
    matchLabels: {{{{app: kubia}}}}
  template:
    metadata:
      labels: {{{{app: kubia}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: {IMAGE}
        imagePullPolicy: Never
        command: ["sh", "-c", "mkdir -p /w; hostname > /w/index.html; touch /w/ready;
                  trap 'exit 0' TERM; httpd -f -p 8080 -h /w & wait"]
        ports:
        - name: http
          containerPort: 8080
        readinessProbe:
          exec:
            command: ["test", "-e", "/w/ready"]
          periodSeconds: 1
          failureThreshold: 1
"""

KUBIA_SERVICES = """
apiVersion: v1
kind: Service
metadata:
  name: kubia-http
  labels: {tier: web}
spec:
  type: NodePort
  selector: {app: kubia}
  ports:
  - name: http
    port: 80
    targetPort: http
  - name: alt
    port: 8081
    targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: kubia-sticky
spec:
  type: NodePort
  sessionAffinity: ClientIP
  selector: {app: kubia}
  ports:
  - port: 80
    targetPort: http
---
apiVersion: v1
kind: Service
metadata:
  name: kubia-headless
spec:
  clusterIP: None
  selector: {app: kubia}
  ports:
  - port: 80
    targetPort: 8080
"""


def kubia(replicas: int = 3) -> str:
    return KUBIA_SERVICES + "---" + KUBIA_RS.format(replicas=replicas)


def get(cluster, kind: str, name: str, namespace: str = "default") -> dict | None:
    from gitkube.store import open_store

    store = open_store(cluster.state)
    try:
        return store.get(kind, namespace, name)
    finally:
        store.close()


def listing(cluster, kind: str, selector: str | None = None) -> list[dict]:
    from gitkube.labels.selector import parse
    from gitkube.store import open_store

    store = open_store(cluster.state)
    try:
        return store.list(kind, "default", parse(selector) if selector else None)
    finally:
        store.close()


def ready_pods(cluster, selector: str = "app=kubia") -> dict[str, dict]:
    from gitkube.controllers.base import is_ready

    return {p["metadata"]["name"]: p for p in listing(cluster, "Pod", selector)
            if is_ready(p) and not p["metadata"].get("deletionTimestamp")}


def endpoint_ips(cluster, name: str, field: str = "addresses") -> set[str]:
    ep = get(cluster, "Endpoints", name) or {}
    return {a["ip"] for s in ep.get("subsets") or [] for a in s.get(field) or []}


def node_port(cluster, name: str, index: int = 0) -> int:
    return get(cluster, "Service", name)["spec"]["ports"][index]["nodePort"]


def cluster_ip(cluster, name: str) -> str:
    return get(cluster, "Service", name)["spec"]["clusterIP"]


def fetch(host: str, port: int, timeout: float = 3.0) -> str:
    with urllib.request.urlopen(f"http://{host}:{port}/", timeout=timeout) as r:
        return r.read().decode().strip()


def spread(host: str, port: int, n: int = 60) -> collections.Counter:
    """n requests, each on a new connection; who answered how often."""
    out: collections.Counter = collections.Counter()
    for _ in range(n):
        try:
            out[fetch(host, port)] += 1
        except OSError as exc:
            out[f"error: {exc}"] += 1
    return out


def wait_serving(host: str, port: int, names, timeout: float = 15) -> set[str]:
    """Until requests through host:port have reached every pod in `names` (the rules follow the
    Endpoints object a moment later); returns who answered."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not set(names) <= seen:
        try:
            seen.add(fetch(host, port, 1.0))
        except OSError:
            time.sleep(0.05)
    assert set(names) <= seen, f"only {sorted(seen)} answered on {host}:{port}, want {sorted(names)}"
    return seen


def in_pod(cluster, pod: str, script: str, check: bool = True) -> subprocess.CompletedProcess:
    return cluster.run("exec", pod, "--", "sh", "-c", script, check=check, timeout=60)


def wait_ready(cluster, count: int, selector: str = "app=kubia", timeout: float = 90) -> dict[str, dict]:
    return cluster.wait(lambda: (lambda r: r if len(r) == count else None)(ready_pods(cluster, selector)),
                        timeout=timeout, interval=0.2, what=f"{count} ready pods ({selector})")


def wait_endpoints(cluster, name: str, ips: set[str], timeout: float = 30) -> float:
    """Seconds until the Endpoints list exactly `ips` as ready addresses."""
    start = time.monotonic()
    cluster.wait(lambda: endpoint_ips(cluster, name) == ips, timeout=timeout, interval=0.05,
                 what=f"endpoints {name} = {sorted(ips)}")
    return time.monotonic() - start


def iptables_save(runner=None) -> str:
    if runner is None:
        return subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    return runner("iptables-save").stdout


def chains_of(cluster_id: str, saved: str) -> list[str]:
    from gitkube.proxy.rules import cluster_tag, owner_prefix

    prefix = owner_prefix(cluster_tag(cluster_id))
    return [line[1:].split()[0] for line in saved.splitlines() if line.startswith(":" + prefix)]


def bridge_gateway(client) -> str:
    from gitkube.proxy.facts import bridge_of

    return bridge_of(client.api.inspect_network("bridge")).gateway


def teardown_local(cluster_id: str, gateway: str) -> None:
    """Remove this cluster's chains and DNS records from this machine."""
    from gitkube.proxy.teardown import LocalRunner, teardown

    teardown(LocalRunner(), cluster_id, sys.executable, listen=gateway)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dump(obj) -> str:
    return json.dumps(obj, indent=1, sort_keys=True)[:3000]
