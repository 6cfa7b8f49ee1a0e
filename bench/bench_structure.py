"""Micro-benchmark of check_structure: objects/s on the fast path (valid) and the slow path (invalid).

Why: validation runs on every object of every source on every sync; the fast path must stay
above ~20,000 small objects/s per core. Run: python3 bench/bench_structure.py [N]
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gitkube.schema.structure import check_structure  # noqa: E402


def pod_spec(i: int) -> dict:
    return {
        "restartPolicy": "OnFailure" if i % 2 else "Always",
        "containers": [{
            "name": "main",
            "image": f"luksa/kubia:{i % 7}",
            "imagePullPolicy": "IfNotPresent",
            "ports": [{"name": "http", "containerPort": 8080}],
            "env": [{"name": "N", "value": str(i)}],
            "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "initialDelaySeconds": 5},
        }],
    }


def template(i: int) -> dict:
    spec = pod_spec(i)
    spec["restartPolicy"] = "Always"
    return {"metadata": {"labels": {"app": f"app-{i % 13}"}}, "spec": spec}


def workload(api: str, kind: str, i: int) -> dict:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": f"w-{i}"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": f"app-{i % 13}"}}, "template": template(i)}}


def make_object(i: int) -> dict:
    """A small valid object; kinds rotate so every schema is exercised."""
    meta = {"name": f"obj-{i}", "labels": {"app": f"app-{i % 13}"}}
    choice = i % 8
    if choice == 0:
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec(i)}
    if choice == 1:
        return workload("apps/v1", "Deployment", i)
    if choice == 2:
        return workload("apps/v1", "ReplicaSet", i)
    if choice == 3:
        return {"apiVersion": "v1", "kind": "Service", "metadata": meta,
                "spec": {"selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    if choice == 4:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": str(i)}}
    if choice == 5:
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": {"completions": 5, "parallelism": 2, "template": {"spec": pod_spec(i)}}}
    if choice == 6:
        return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
                "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": pod_spec(i)}}}}}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta,
            "spec": {"rules": [{"host": "a.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "svc", "port": {"number": 80}}}}]}}]}}


def break_object(obj: dict) -> dict:
    """The same object with one misplaced field, so it takes the slow path."""
    bad = copy.deepcopy(obj)
    bad["spec"] = {**(bad.get("spec") or {}), "completionz": 1}
    return bad


def rate(objects: list[dict]) -> tuple[float, int]:
    start = time.perf_counter()
    problems = sum(len(check_structure(o)) for o in objects)
    return len(objects) / (time.perf_counter() - start), problems


def run(quick: bool = False, n: int = 10_000) -> dict:
    """For `python3 -m bench`: objects/s on the fast and the slow path."""
    objects = [make_object(i) for i in range(n)]
    start = time.perf_counter()
    check_structure(objects[0])
    first_ms = (time.perf_counter() - start) * 1000
    fast, problems = rate(objects)
    assert problems == 0, "benchmark objects must be valid"
    broken = [break_object(o) for o in objects[: max(n // 10, 8)]]
    check_structure(broken[0])
    slow, _ = rate(broken)
    return {"objects": n, "first_call_ms": round(first_ms, 1), "fast_path_objects_per_s": round(fast),
            "slow_path_objects_per_s": round(slow)}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    objects = [make_object(i) for i in range(n)]
    start = time.perf_counter()
    check_structure(objects[0])
    print(f"first call (loads the fast validator): {(time.perf_counter() - start) * 1000:.1f} ms")
    fast, problems = rate(objects)
    assert problems == 0, "benchmark objects must be valid"
    print(f"fast path: {fast:,.0f} objects/s ({n} valid objects, mixed kinds)")
    broken = [break_object(o) for o in objects[: max(n // 10, 8)]]
    check_structure(broken[0])
    slow, problems = rate(broken)
    assert problems == len(broken)
    print(f"slow path: {slow:,.0f} objects/s ({len(broken)} objects with one unknown field each)")


if __name__ == "__main__":
    main()
