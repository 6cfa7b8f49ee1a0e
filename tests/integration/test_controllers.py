"""Workload controllers on a real Docker engine: ReplicaSet, garbage collection, Job, CronJob."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from clusterkit import IMAGE, containers, is_running_ready

pytestmark = pytest.mark.docker

RS = f"""
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: kubia
spec:
  replicas: 3
  selector:
    matchLabels: {{app: kubia}}
  template:
    metadata:
      labels: {{app: kubia}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: {IMAGE}
        imagePullPolicy: Never
        command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
"""


def app_containers(docker_engine, cluster, running=True) -> list[dict]:
    return [c for c in containers(docker_engine, cluster.cluster_id(), all_=not running)
            if c["Labels"].get("gitkube.io/container") == "app"]


def ready_pods(cluster, selector="app=kubia") -> list[dict]:
    return [p for p in cluster.pods(selector) if is_running_ready(p) and not p["metadata"].get("deletionTimestamp")]


def test_a_replicaset_keeps_its_pods_replaces_removed_ones_and_scales(cluster, docker_engine):
    cluster.apply(RS)
    cluster.start_agent()
    cluster.wait(lambda: len(ready_pods(cluster)) == 3 and len(app_containers(docker_engine, cluster)) == 3,
                 what="3 pods and 3 containers")
    victim = app_containers(docker_engine, cluster)[0]
    docker_engine.api.remove_container(victim["Id"], force=True)
    cluster.wait(lambda: len(app_containers(docker_engine, cluster)) == 3 and
                 victim["Id"] not in {c["Id"] for c in app_containers(docker_engine, cluster)},
                 what="the removed container replaced")
    for replicas in (5, 1):
        cluster.run("scale", "rs", "kubia", f"--replicas={replicas}")
        cluster.wait(lambda: len(ready_pods(cluster)) == replicas and len(cluster.pods("app=kubia")) == replicas
                     and len(app_containers(docker_engine, cluster)) == replicas, timeout=60,
                     what=f"{replicas} replicas")
    rs = cluster.get("rs", "kubia")
    assert rs["status"]["readyReplicas"] == 1 and rs["status"]["replicas"] == 1


def test_a_relabelled_pod_is_released_and_replaced_and_orphan_delete_keeps_pods(cluster, docker_engine):
    cluster.apply(RS.replace("replicas: 3", "replicas: 2"))
    cluster.start_agent()
    cluster.wait(lambda: len(ready_pods(cluster)) == 2, what="2 ready pods")
    name = ready_pods(cluster)[0]["metadata"]["name"]
    cluster.run("label", "pod", name, "app=debug", "--overwrite")
    cluster.wait(lambda: len(ready_pods(cluster)) == 2 and name not in {p["metadata"]["name"] for p in ready_pods(cluster)},
                 what="a replacement for the relabelled pod")
    released = cluster.get("pod", name)
    assert "ownerReferences" not in released["metadata"]
    assert is_running_ready(released)
    assert len(app_containers(docker_engine, cluster)) == 3
    r = cluster.run("delete", "rs", "kubia", "--cascade=false")
    assert "deprecated" in r.stderr
    time.sleep(3)
    pods = cluster.pods("app=kubia")
    assert len(pods) == 2 and all("ownerReferences" not in p["metadata"] for p in pods)
    assert len(app_containers(docker_engine, cluster)) == 3


def test_background_delete_removes_the_pods(cluster, docker_engine):
    cluster.apply(RS.replace("replicas: 3", "replicas: 2"))
    cluster.start_agent()
    cluster.wait(lambda: len(ready_pods(cluster)) == 2, what="2 ready pods")
    cluster.run("delete", "rs", "kubia")
    cluster.wait(lambda: not cluster.pods("app=kubia") and not containers(docker_engine, cluster.cluster_id()),
                 timeout=60, what="pods and containers gone")


JOB = f"""
apiVersion: batch/v1
kind: Job
metadata:
  name: batch-job
spec:
  completions: 5
  parallelism: 2
  template:
    metadata:
      labels: {{app: batch-job}}
    spec:
      restartPolicy: OnFailure
      containers:
      - name: main
        image: {IMAGE}
        imagePullPolicy: Never
        command: ["sh", "-c", "sleep 2"]
"""


def _epoch(text: str) -> float:
    text = text.rstrip("Z")
    head, _, frac = text.partition(".")
    return datetime.fromisoformat(head).replace(tzinfo=timezone.utc).timestamp() + float(f"0.{frac or 0}")


def test_a_job_runs_exactly_five_completions_never_three_at_once(cluster, docker_engine):
    cluster.apply(JOB)
    cluster.start_agent()

    def complete() -> bool:
        st = cluster.get("job", "batch-job").get("status") or {}
        return any(c.get("type") == "Complete" and c.get("status") == "True" for c in st.get("conditions") or [])

    cluster.wait(complete, timeout=120, what="the job to complete")
    status = cluster.get("job", "batch-job")["status"]
    assert status["succeeded"] == 5
    runs = []
    for c in containers(docker_engine, cluster.cluster_id()):
        if c["Labels"].get("gitkube.io/container") != "main":
            continue
        state = docker_engine.api.inspect_container(c["Id"])["State"]
        assert state["ExitCode"] == 0
        runs.append((_epoch(state["StartedAt"]), _epoch(state["FinishedAt"])))
    assert len(runs) == 5
    for t, _ in runs:
        concurrent = sum(1 for s, e in runs if s <= t + 0.01 and e > t + 0.01)
        assert concurrent <= 2, runs


CRON = f"""
apiVersion: batch/v1
kind: CronJob
metadata:
  name: every-minute
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: {IMAGE}
            imagePullPolicy: Never
            command: ["sh", "-c", "echo ran"]
"""


def test_a_cronjob_starts_a_job_named_after_its_scheduled_minute(cluster):
    cluster.apply(CRON)
    now = time.time()
    next_minute = (int(now // 60) + 1) * 60
    offset = next_minute - now - 3  # the agent's clock reaches the next minute ~3 s from now
    cluster.start_agent(f"--clock-offset={offset:.3f}")
    jobs = cluster.wait(lambda: [j for j in (cluster.run("get", "jobs", "-o", "name").stdout.split())], timeout=30,
                        what="a job from the cronjob")
    assert jobs == [f"job.batch/every-minute-{next_minute // 60}"]
    cron = cluster.get("cronjob", "every-minute")
    assert cron["status"]["lastScheduleTime"].startswith(
        datetime.fromtimestamp(next_minute, timezone.utc).strftime("%Y-%m-%dT%H:%M"))


DEPLOY = f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 4
  selector:
    matchLabels: {{app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxSurge: 1, maxUnavailable: 1}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: {IMAGE}
        imagePullPolicy: Never
        env: [{{name: VERSION, value: "A"}}]
        command: ["sh", "-c", "sleep 1; touch /tmp/ready; trap 'exit 0' TERM; sleep 100000 & wait"]
        readinessProbe:
          exec: {{command: [cat, /tmp/ready]}}
          periodSeconds: 1
"""


def test_a_rolling_update_never_drops_below_replicas_minus_max_unavailable(cluster):
    from gitkube.store import open_store

    cluster.apply(DEPLOY)
    cluster.start_agent()
    store = open_store(cluster.state)

    def ready(version: str | None = None) -> int:
        n = 0
        for p in store.list("Pod", "default"):
            if p["metadata"].get("deletionTimestamp") or not is_running_ready(p):
                continue
            env = p["spec"]["containers"][0].get("env") or []
            if version is None or env[0]["value"] == version:
                n += 1
        return n

    cluster.wait(lambda: ready("A") == 4, timeout=90, what="4 ready pods of version A")
    cluster.apply(DEPLOY.replace('value: "A"', 'value: "B"'))
    lowest = 4
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        lowest = min(lowest, ready())
        dep = store.get("Deployment", "default", "web")
        st = dep.get("status") or {}
        if ready("B") == 4 and st.get("updatedReplicas") == 4 and st.get("replicas") == 4:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"rollout did not finish: {store.get('Deployment', 'default', 'web').get('status')}")
    assert lowest >= 3, f"ready pods dropped to {lowest}"
    history = cluster.run("rollout", "history", "deploy/web").stdout
    assert "1" in history and "2" in history
    status = cluster.run("rollout", "status", "deploy/web", "--watch=false").stdout
    assert "successfully rolled out" in status
    store.close()
