"""Services: throughput through a NodePort against the same pod addressed directly, and the time from
a pod turning ready to receiving traffic.

* Throughput -- `wrk` (bounded duration, loopback and the local bridge only) against
  `127.0.0.1:<nodePort>` of a Service with one endpoint, and against that endpoint's
  `<podIP>:8080` directly, back to back, `--rounds` times in the same run (order reversed every
  other round); the median of the per-round ratios is what the kernel data plane costs (target ≥ 0.9). Also: the same NodePort with 3 endpoints, and the
  Service's cluster IP. The app is busybox httpd (a fork per connection, no keep-alive), so every
  request is a new connection through the DNAT rules and conntrack.
* Ready → traffic -- a pod whose exec readiness probe (periodSeconds 1) fails is made ready by
  creating its file with `docker exec`; timed from that moment: the pod's Ready condition in the
  Store, the pod's IP in the Endpoints, and the first request through the NodePort that it answers
  (the Service has no other endpoint, so before that requests are refused). Repeated `--flips` times.

Run: python3 -m bench.bench_service [--duration 5] [--rounds 3] [--flips 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (IMAGE, GkCluster, docker_api, install_cleanup, log, machine_info, median,  # noqa: E402
                           r3, shared_engine_guard, wait_until, workdir)

APP = f"""
apiVersion: v1
kind: Service
metadata:
  name: bench-one
spec:
  type: NodePort
  selector: {{app: bench, role: one}}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: bench-three
spec:
  type: NodePort
  selector: {{app: bench}}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: bench-flip
spec:
  type: NodePort
  selector: {{app: flip}}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: Pod
metadata:
  name: one
  labels: {{app: bench, role: one}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: {IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /w; echo one > /w/index.html; trap 'exit 0' TERM; httpd -f -p 8080 -h /w & wait"]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: more
spec:
  replicas: 2
  selector:
    matchLabels: {{app: bench, role: more}}
  template:
    metadata:
      labels: {{app: bench, role: more}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: {IMAGE}
        imagePullPolicy: Never
        command: ["sh", "-c", "mkdir -p /w; hostname > /w/index.html;
                  trap 'exit 0' TERM; httpd -f -p 8080 -h /w & wait"]
---
apiVersion: v1
kind: Pod
metadata:
  name: flip
  labels: {{app: flip}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: {IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /w; echo flip > /w/index.html; trap 'exit 0' TERM; httpd -f -p 8080 -h /w & wait"]
    readinessProbe:
      exec:
        command: ["test", "-e", "/w/ready"]
      periodSeconds: 1
      failureThreshold: 1
      successThreshold: 1
"""


def wrk(url: str, duration: int, threads: int, connections: int) -> float:
    """Requests per second (wrk's own summary line)."""
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", url],
                         capture_output=True, text=True, timeout=duration + 30).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError(f"wrk printed no rate:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    if errors:
        log(f"wrk {url}: {errors.group(0)}")
    return float(m.group(1))


def ok(url: str, timeout: float = 0.5) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def pod(store, name: str) -> dict:
    return store.get("Pod", "default", name) or {}


def is_ready(p: dict) -> bool:
    conditions = (p.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def endpoint_ips(store, name: str) -> set[str]:
    ep = store.get("Endpoints", "default", name) or {}
    return {a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []}


def node_port(store, name: str) -> int:
    return store.get("Service", "default", name)["spec"]["ports"][0]["nodePort"]


def throughput(cluster: GkCluster, args) -> dict:
    store = cluster.store()
    try:
        one_ip = pod(store, "one")["status"]["podIP"]
        np_one, np_three = node_port(store, "bench-one"), node_port(store, "bench-three")
        vip_one = store.get("Service", "default", "bench-one")["spec"]["clusterIP"]
    finally:
        store.close()
    targets = {"direct pod": f"http://{one_ip}:8080/", "nodePort, 1 endpoint": f"http://127.0.0.1:{np_one}/",
               "cluster IP, 1 endpoint": f"http://{vip_one}:80/",
               "nodePort, 3 endpoints": f"http://127.0.0.1:{np_three}/"}
    for url in targets.values():
        wait_until(lambda u=url: ok(u), 20, what=f"{url} answering")
    rates: dict[str, list[float]] = {k: [] for k in targets}
    names = list(targets)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else reversed(names):  # alternate the order: drift cancels out
            rates[name].append(wrk(targets[name], args.duration, args.threads, args.connections))
            log(f"round {r + 1}: {name:24} {rates[name][-1]:9.0f} req/s")
    med = {k: median(v) for k, v in rates.items()}

    def paired(name: str) -> float:
        """Median over rounds of the ratio to the direct run of the same round (the machine's load
        changes between rounds; within a round the targets run back to back)."""
        return median([a / b for a, b in zip(rates[name], rates["direct pod"])])

    return {"requests_per_s": {k: round(v) for k, v in med.items()}, "rounds": rates,
            "nodeport_over_direct": r3(paired("nodePort, 1 endpoint")),
            "clusterip_over_direct": r3(paired("cluster IP, 1 endpoint")),
            "load_average": Path("/proc/loadavg").read_text().split()[:3]}


def ready_to_traffic(cluster: GkCluster, args) -> dict:
    api = docker_api()
    store = cluster.store()
    try:
        flip_uid = pod(store, "flip")["metadata"]["uid"]
        app = next(c["Id"] for c in api.containers(filters={"label": [f"gitkube.io/pod-uid={flip_uid}",
                                                                     "gitkube.io/container=web"]}))
        flip_ip = pod(store, "flip")["status"]["podIP"]
        url = f"http://127.0.0.1:{node_port(store, 'bench-flip')}/"
        samples = []
        for i in range(args.flips):
            api.exec_start(api.exec_create(app, ["rm", "-f", "/w/ready"])["Id"])
            wait_until(lambda: not is_ready(pod(store, "flip")) and not endpoint_ips(store, "bench-flip")
                       and not ok(url, 0.2), 30, 0.05, "flip not ready and unreachable")
            time.sleep(1.0 + (i % 4) * 0.25)  # land at different points of the probe period
            t0 = time.monotonic()
            api.exec_start(api.exec_create(app, ["touch", "/w/ready"])["Id"])
            marks: dict[str, float] = {}
            while len(marks) < 3 and time.monotonic() - t0 < 30:
                now = time.monotonic() - t0
                if "pod Ready" not in marks and is_ready(pod(store, "flip")):
                    marks["pod Ready"] = now
                if "in Endpoints" not in marks and flip_ip in endpoint_ips(store, "bench-flip"):
                    marks["in Endpoints"] = now
                if "first response" not in marks and ok(url, 0.2):
                    marks["first response"] = time.monotonic() - t0
                time.sleep(0.01)
            samples.append(marks)
            log(f"flip {i + 1}: " + ", ".join(f"{k} {v:.3f} s" for k, v in marks.items()))
        out = {}
        for key in ("pod Ready", "in Endpoints", "first response"):
            vals = [s[key] for s in samples if key in s]
            out[key] = {"median_s": r3(median(vals)) if vals else None, "max_s": r3(max(vals)) if vals else None}
        endpoint_to_traffic = [s["first response"] - s["in Endpoints"] for s in samples
                               if "first response" in s and "in Endpoints" in s]
        ready_to_endpoint = [s["in Endpoints"] - s["pod Ready"] for s in samples
                             if "in Endpoints" in s and "pod Ready" in s]
        out["Ready -> Endpoints"] = {"median_s": r3(median(ready_to_endpoint)), "max_s": r3(max(ready_to_endpoint))}
        out["Endpoints -> traffic"] = {"median_s": r3(median(endpoint_to_traffic)),
                                       "max_s": r3(max(endpoint_to_traffic))}
        return out
    finally:
        store.close()
        api.close()


def run(args) -> dict:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    install_cleanup()
    cluster = GkCluster(workdir(), "svc", env={"GITKUBE_DNS_UPSTREAM": "none"})
    result: dict = {"machine": machine_info()}
    with shared_engine_guard():
        try:
            cluster.cli("apply", "-f", "-", stdin=APP)
            cluster.start_agent("--resync", "2")
            store = cluster.store()
            try:
                wait_until(lambda: all(is_ready(p) or p["metadata"]["name"] == "flip" for p in store.list("Pod"))
                           and len(store.list("Pod")) == 4 and len(endpoint_ips(store, "bench-three")) == 3,
                           120, 0.2, "pods and endpoints")
            finally:
                store.close()
            result["throughput"] = throughput(cluster, args)
            result["ready_to_traffic"] = ready_to_traffic(cluster, args)
        finally:
            cluster.stop_agent()
            api = docker_api()
            try:
                gateway = api.inspect_network("bridge")["IPAM"]["Config"][0].get("Gateway", "172.17.0.1")
                cluster.destroy(api)
            finally:
                api.close()
            from gitkube.proxy.teardown import LocalRunner, teardown

            teardown(LocalRunner(), cluster.id, sys.executable, listen=gateway)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=6, help="alternations of the targets")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--flips", type=int, default=6, help="ready → traffic measurements")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    t = result["throughput"]
    print("\nthroughput (median of rounds, busybox httpd, new connection per request):")
    for k, v in t["requests_per_s"].items():
        print(f"  {k:24} {v:8d} req/s")
    print(f"  nodePort / direct pod:   {t['nodeport_over_direct']:.3f}   (median of per-round ratios; target >= 0.9)")
    print(f"  cluster IP / direct pod: {t['clusterip_over_direct']:.3f}")
    print(f"  (load average {' '.join(t['load_average'])} on {result['machine'].get('cpus')} CPUs)")
    print("\npod turns ready (readiness file created) -> ... (median / max of "
          f"{len(result['ready_to_traffic']) and args.flips} flips):")
    for k, v in result["ready_to_traffic"].items():
        print(f"  {k:22} {v['median_s']:.3f} s / {v['max_s']:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
