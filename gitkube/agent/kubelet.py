"""The kubelet's job on every node: plan each bound pod (podplan), carry out the actions on the
node's Docker engine, remove containers that belong to no pod, and feed the prober.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from gitkube.agent.env import container_env
from gitkube.agent.executor import Executor
from gitkube.agent.nodes import NodeHandle
from gitkube.agent.podplan import Action, PodPlan, PullState, plan_pod, spec_hash
from gitkube.agent.services_env import env_for_pod, pod_dns
from gitkube.agent.prober import Prober
from gitkube.runtime.labels import SANDBOX
from gitkube.store.base import Store

log = logging.getLogger("gitkube.agent")

PULL_BACKOFF_INITIAL = 10.0
PULL_BACKOFF_MAX = 300.0


@dataclass
class NodeResult:
    statuses: list[tuple[dict, dict]] = field(default_factory=list)  # (pod, new status)
    events: list[tuple[dict, str, str, str]] = field(default_factory=list)  # (pod, type, reason, message)
    requeue_after: float | None = None


class Kubelet:
    def __init__(self, store: Store, executor: Executor, prober: Prober):
        self.store = store
        self.executor = executor
        self.prober = prober
        self.pulls: dict[tuple[str, str], PullState] = {}
        self._lock = threading.Lock()

    def sync_node(self, node: NodeHandle, pods: list[dict], observed: list, observed_at: float,
                  now: float) -> NodeResult:
        """Plan every pod bound to `node`; queue the actions; return statuses to write.

        Like the kubelet's pod workers, one job per pod runs at a time and carries out that pod's
        whole plan in order. A pod with a job in flight, or whose last job finished after
        `observed_at` (the moment the containers were listed), is skipped: its observation is stale
        and the job's completion has already asked for a fresh pass."""
        result = NodeResult()
        known = {p["metadata"]["uid"] for p in pods}
        by_pod: dict[str, list] = {}
        for c in observed:
            by_pod.setdefault(c.pod_uid, []).append(c)
        for c in observed:
            if c.pod_uid not in known and not self.executor.stale(f"{node.name}/pod:{c.pod_uid}", observed_at):
                action = Action("remove", c.pod_uid, container_id=c.id, reason="no such pod")
                self.executor.submit(f"{node.name}/{action.target}", lambda a=action: self._do(node, a, None, []),
                                     "remove orphan container")
        # Probes first: a container with a readiness probe is not ready until the probe says so,
        # so its worker must exist before the container's status is computed.
        probe_targets = []
        for pod in pods:
            probe_targets.extend(self._probe_targets(node, pod, by_pod.get(pod["metadata"]["uid"], [])))
        self.prober.sync_node(node.name, probe_targets)
        with self._lock:
            pulls = dict(self.pulls)
        for pod in pods:
            uid = pod["metadata"]["uid"]
            mine = by_pod.get(uid, [])
            target = f"{node.name}/pod:{uid}"
            if self.executor.stale(target, observed_at):
                continue
            states = {c.id: self.prober.state(c.id) for c in mine if c.container != SANDBOX}
            plan: PodPlan = plan_pod(pod, mine, states, pulls, now, node.address)
            if plan.actions:
                self.executor.submit(target, lambda p=pod, m=mine, acts=plan.actions: self._work(node, p, m, acts),
                                     f"sync pod {pod['metadata']['name']}")
            if plan.status is not None and plan.status != (pod.get("status") or {}):
                result.statuses.append((pod, plan.status))
            for ev in plan.events:
                result.events.append((pod, *ev))
            if plan.requeue_after is not None:
                result.requeue_after = plan.requeue_after if result.requeue_after is None \
                    else min(result.requeue_after, plan.requeue_after)
        return result

    def _probe_targets(self, node: NodeHandle, pod: dict, mine: list) -> list:
        if pod["metadata"].get("deletionTimestamp"):
            return []
        sandbox_ip = next((c.ip for c in mine if c.container == SANDBOX and c.state == "running" and c.ip), "")
        specs = {c["name"]: c for c in (pod.get("spec") or {}).get("containers") or []}
        ports = {p["name"]: p["containerPort"] for c in specs.values() for p in c.get("ports") or [] if p.get("name")}
        out = []
        for c in mine:
            spec = specs.get(c.container)
            if spec is None or c.state != "running":
                continue
            if any(k in spec for k in ("livenessProbe", "readinessProbe", "startupProbe")):
                out.append((c.id, spec, ports, sandbox_ip, c.started_at, node.conn, node.runtime))
        return out

    # --- carrying out actions ------------------------------------------------------------------
    def _work(self, node: NodeHandle, pod: dict, mine: list, actions: list[Action]) -> None:
        """One pod's plan, in order; the first failure ends the job (the next pass re-plans)."""
        for action in actions:
            self._do(node, action, pod, mine)

    def _do(self, node: NodeHandle, action: Action, pod: dict | None, mine: list) -> None:
        rt = node.runtime
        if rt is None:
            return
        if action.op == "remove":
            rt.remove(action.container_id)
        elif action.op == "kill":
            rt.stop(action.container_id, action.grace)
        elif action.op == "stop-sandbox":
            rt.stop(action.container_id, 0)
        elif action.op == "start-sandbox":
            assert pod is not None
            sandbox = rt.run_sandbox(pod, dns=pod_dns(pod, node), attempt=action.attempt, want_ip=_needs_pod_ip(pod))
            mine = [c for c in mine if c.container != SANDBOX] + [sandbox]
            for c in pod["spec"]["containers"]:  # a fresh sandbox gets its containers at once
                if not any(m.container == c["name"] for m in mine):
                    self._start_container(node, pod, Action("start-container", action.pod_uid, c["name"]), mine)
        elif action.op == "start-container":
            assert pod is not None
            self._start_container(node, pod, action, mine)
        elif action.op == "terminate-pod":
            assert pod is not None
            self._terminate(node, pod, mine, action.grace)

    def _start_container(self, node: NodeHandle, pod: dict, action: Action, mine: list) -> None:
        from gitkube.errors import PermanentError
        from gitkube.runtime.pods import ImagePullError

        rt = node.runtime
        uid = pod["metadata"]["uid"]
        spec = next(c for c in pod["spec"]["containers"] if c["name"] == action.container)
        key = (uid, action.container)
        sandbox = max((c for c in mine if c.container == SANDBOX and c.state == "running"),
                      key=lambda c: c.attempt, default=None)
        if sandbox is None:
            return
        # fieldRefs to status.podIP/hostIP must see the sandbox's address even on the first start
        pod = {**pod, "status": {**(pod.get("status") or {}), "podIP": sandbox.ip, "hostIP": node.address}}
        try:
            rt.pull_image(spec.get("image", ""), spec.get("imagePullPolicy") or "IfNotPresent")
            service_env = env_for_pod(pod, lambda ns: self.store.list("Service", ns))
            env = container_env(pod, spec, service_env, self.store.get)
        except ImagePullError as exc:
            self._pull_failed(key, exc.reason, str(exc))
            self._event(pod, "Warning", "Failed", f"Failed to pull image \"{spec.get('image')}\": {exc}")
            return
        except ValueError as exc:
            self._pull_failed(key, "CreateContainerConfigError", str(exc))
            self._event(pod, "Warning", "Failed", f"Error: {exc}")
            return
        with self._lock:
            self.pulls.pop(key, None)
        try:
            rt.run_container(pod, spec, sandbox, action.attempt, env, spec_hash(spec))
        except PermanentError as exc:
            self._pull_failed(key, "CreateContainerError", str(exc))
            self._event(pod, "Warning", "Failed", f"Error: {exc}")
            return
        verb = "Started" if action.attempt == 0 else "Restarted"
        self._event(pod, "Normal", "Started", f"{verb} container {action.container}")

    def _pull_failed(self, key: tuple[str, str], reason: str, message: str) -> None:
        with self._lock:
            old = self.pulls.get(key)
            failures = old.failures + 1 if old else 1
            delay = min(PULL_BACKOFF_INITIAL * 2 ** (failures - 1), PULL_BACKOFF_MAX)
            self.pulls[key] = PullState(reason, message, failures, time.time() + delay)

    def _terminate(self, node: NodeHandle, pod: dict, mine: list, grace: int) -> None:
        """SIGTERM every app container (in parallel), SIGKILL after the grace period, then remove
        everything and finally the pod object itself — only if it is still the same pod.

        `mine` is fresh: a pod's containers change only through its own jobs, one at a time, and the
        pass that planned this one observed them after the last job ended. Anything missed (made
        behind gitkube's back) is an orphan once the pod is gone, and removed as such."""
        rt = node.runtime
        apps = [c for c in mine if c.container != SANDBOX and c.state == "running"]
        if apps:
            with ThreadPoolExecutor(min(len(apps), 8)) as pool:
                list(pool.map(lambda c: rt.stop(c.id, grace, departing=True), apps))
        for c in mine:
            rt.remove(c.id)
        if any("emptyDir" in v for v in (pod.get("spec") or {}).get("volumes") or []):
            rt.remove_pod_volumes(pod["metadata"]["uid"])
        md = pod["metadata"]
        with self.store.atomic():
            now = self.store.get("Pod", md["namespace"], md["name"])
            if now is not None and now["metadata"]["uid"] == md["uid"]:
                self.store.remove("Pod", md["namespace"], md["name"])

    def _event(self, pod: dict, type_: str, reason: str, message: str) -> None:
        try:
            self.store.record_event(pod, reason, message, type_)
        except Exception as exc:
            log.debug("event not recorded: %s", exc)


def _needs_pod_ip(pod: dict) -> bool:
    """Whether a container's env takes the pod IP from a fieldRef, so the sandbox's address must be
    known (one inspect) before the containers start."""
    spec = pod.get("spec") or {}
    return any(
        ((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath") in ("status.podIP", "status.podIPs")
        for c in spec.get("containers") or []
        for e in c.get("env") or []
    )
