"""The kubelet's job on every node: plan each bound pod (podplan), carry out the actions on the
node's Docker engine, remove containers that belong to no pod, and feed the prober.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from gitkube.agent.env import command_and_args, container_env
from gitkube.agent.executor import Executor
from gitkube.agent.nodes import NodeHandle
from gitkube.agent.podplan import Action, PodPlan, PullState, plan_pod, spec_hash
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

    def sync_node(self, node: NodeHandle, pods: list[dict], observed: list, now: float) -> NodeResult:
        """Plan every pod bound to `node`; queue the actions; return statuses to write."""
        result = NodeResult()
        known = {p["metadata"]["uid"] for p in pods}
        by_pod: dict[str, list] = {}
        for c in observed:
            by_pod.setdefault(c.pod_uid, []).append(c)
        for c in observed:
            if c.pod_uid not in known:
                self._queue(node, Action("remove", c.pod_uid, container_id=c.id, reason="no such pod"), None, [])
        probe_targets = []
        with self._lock:
            pulls = dict(self.pulls)
        for pod in pods:
            uid = pod["metadata"]["uid"]
            mine = by_pod.get(uid, [])
            states = {c.id: self.prober.state(c.id) for c in mine if c.container != SANDBOX}
            plan: PodPlan = plan_pod(pod, mine, states, pulls, now, node.address)
            for action in plan.actions:
                self._queue(node, action, pod, mine)
            if plan.status is not None and plan.status != (pod.get("status") or {}):
                result.statuses.append((pod, plan.status))
            for ev in plan.events:
                result.events.append((pod, *ev))
            if plan.requeue_after is not None:
                result.requeue_after = plan.requeue_after if result.requeue_after is None \
                    else min(result.requeue_after, plan.requeue_after)
            probe_targets.extend(self._probe_targets(node, pod, mine))
        self.prober.sync_node(node.name, probe_targets)
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
    def _queue(self, node: NodeHandle, action: Action, pod: dict | None, mine: list) -> None:
        target = f"{node.name}/{action.target}"
        self.executor.submit(target, lambda: self._do(node, action, pod, mine), f"{action.op} {action.reason}")

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
            rt.run_sandbox(pod, attempt=action.attempt)
        elif action.op == "start-container":
            assert pod is not None
            self._start_container(node, pod, action)
        elif action.op == "terminate-pod":
            assert pod is not None
            self._terminate(node, pod, mine, action.grace)

    def _start_container(self, node: NodeHandle, pod: dict, action: Action) -> None:
        from gitkube.runtime.pods import ImagePullError

        rt = node.runtime
        uid = pod["metadata"]["uid"]
        spec = next(c for c in pod["spec"]["containers"] if c["name"] == action.container)
        key = (uid, action.container)
        sandbox = next((c for c in rt.list_containers() if c.pod_uid == uid and c.container == SANDBOX
                        and c.state == "running"), None)
        if sandbox is None:
            return
        try:
            rt.pull_image(spec.get("image", ""), spec.get("imagePullPolicy") or "IfNotPresent")
            env = container_env(pod, spec, {}, self.store.get)
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
        cmd, args = command_and_args(spec, env)
        effective = {**spec, **({"command": cmd} if cmd is not None else {}), **({"args": args} if args is not None else {})}
        rt.run_container(pod, effective, sandbox, action.attempt, env, spec_hash(spec))
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
        everything and finally the pod object itself — only if it is still the same pod."""
        rt = node.runtime
        current = [c for c in rt.list_containers() if c.pod_uid == pod["metadata"]["uid"]]
        apps = [c for c in current if c.container != SANDBOX and c.state == "running"]
        if apps:
            with ThreadPoolExecutor(min(len(apps), 8)) as pool:
                list(pool.map(lambda c: rt.stop(c.id, grace), apps))
        for c in current:
            rt.remove(c.id)
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
