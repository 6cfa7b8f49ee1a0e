"""The agent: a level-triggered loop that makes the world match the Store.

Each pass reads a snapshot (objects from the Store, containers from every ready node, one list
call each), lets the controllers compute what to do, writes changed statuses in one transaction
and queues side effects on the executor. A pass runs when something may have changed: a Store
write, a Docker event, a finished action, a probe verdict, a timer a plan asked for, or the
periodic resync. Only the holder of the `agent` lease acts.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from gitkube.agent.controllers import default_controllers, take_snapshot, write_changes, written_kinds
from gitkube.agent.executor import Executor
from gitkube.agent.kubelet import Kubelet
from gitkube.agent.nodes import NodePool, ensure_local_node
from gitkube.agent.prober import Prober
from gitkube.agent.scheduler import schedule
from gitkube.controllers.base import Snapshot
from gitkube.proxy.service_proxy import ServiceProxy
from gitkube.store.base import Store

log = logging.getLogger("gitkube.agent")

LEASE = "agent"
LEASE_TTL = 15.0
RESYNC_SECONDS = 10.0
#: Least time from the start of one pass to the start of the next: the wake-ups of a burst (finished
#: actions, Docker events, the pass's own status writes) are taken up by one pass, not one each.
#: While every worker is busy the queue already holds what the next pass would add, so the gap
#: grows with the work in flight, up to BUSY_PASS_GAP (fewer container lists for the engine to walk).
MIN_PASS_GAP = 0.15
BUSY_PASS_GAP = 0.5
#: Docker events that mean a container changed behind the agent's back; the outcome of its own
#: actions (create, start, kill) wakes the loop when the action finishes.
WAKE_EVENTS = frozenset({"die", "destroy", "oom"})


class Agent:
    def __init__(self, store: Store, *, workers: int = 8, resync: float = RESYNC_SECONDS,
                 ssh_options: object | None = None, sandbox_image: str | None = None,
                 heartbeat: float | None = None, node_grace: float | None = None,
                 eviction_timeout: float | None = None, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock  # what controllers take as "now" (schedules, deadlines); injectable for tests
        self.resync = resync
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.workers = workers
        self.executor = Executor(workers, self.wake)
        self.prober = Prober(self.wake)
        pool_args = {k: v for k, v in (("heartbeat", heartbeat), ("grace", node_grace)) if v is not None}
        self.nodes = NodePool(store, self.wake, ssh_options, sandbox_image, **pool_args)
        self.kubelet = Kubelet(store, self.executor, self.prober)
        self.proxy = ServiceProxy(store, resync=resync)  # services data plane + DNS on every host (issue 6)
        self.controllers = default_controllers(eviction_timeout)
        self._listers = ThreadPoolExecutor(4, thread_name_prefix="observe")
        self._watchers: dict[str, threading.Thread] = {}
        self._store_watcher: threading.Thread | None = None
        self.passes = 0
        self.has_lease = False

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish the current pass and return from run()."""
        self._stop.set()
        self._wake.set()

    # --- the loop ------------------------------------------------------------------------------
    def run(self, until: Callable[[], bool] | None = None, timeout: float | None = None) -> bool:
        """Run passes until stopped, or until `until()` is true (returns True) or `timeout` passes
        (returns False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._store_watcher = threading.Thread(target=self._watch_store, name="store-watch", daemon=True)
        self._store_watcher.start()
        ensure_local_node(self.store)
        self.nodes.sync(self.store.list("Node"))
        self.nodes.wait_first_beats(3.0)
        try:
            while not self._stop.is_set():
                self._wake.clear()
                started = time.monotonic()
                delay = self.step()
                if until is not None and until():
                    return True
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    delay = min(delay, left)
                self._wake.wait(delay)
                rest = self._pass_gap() - (time.monotonic() - started)
                if rest > 0:
                    self._stop.wait(rest)
            return False
        finally:
            self._stop.set()
            self.close()

    def _pass_gap(self) -> float:
        busy = min(self.executor.in_flight, self.workers) / self.workers
        return MIN_PASS_GAP + (BUSY_PASS_GAP - MIN_PASS_GAP) * busy

    def close(self) -> None:
        self._stop.set()
        if self._store_watcher is not None:  # it reads the store, which the caller may close next
            self._store_watcher.join(5)
        self.executor.shutdown(wait=True)
        self.prober.close()
        self.proxy.close()
        self.nodes.close()
        self._listers.shutdown(wait=False, cancel_futures=True)
        if self.has_lease:
            try:
                self.store.release_lease(LEASE, self.holder)
            except Exception:
                pass

    def _watch_store(self) -> None:
        rev = self.store.revision()
        while not self._stop.is_set():
            new = self.store.wait_for_change(rev, 1.0, cancel=self._stop)  # close() joins this thread
            if new != rev:
                rev = new
                self._wake.set()

    def step(self) -> float:
        """One pass; returns how long until the next pass is needed at the latest."""
        self.has_lease = self.store.acquire_lease(LEASE, self.holder, LEASE_TTL)
        if not self.has_lease:
            return LEASE_TTL / 3
        self.passes += 1
        snap, next_pass = self._run_controllers(self.resync)
        node_objs = snap.of("Node")
        self.nodes.sync(node_objs)
        pods = snap.of("Pod")
        self._bind(pods, node_objs)
        ready = self.nodes.ready_nodes()
        self.proxy.sync(snap, ready)  # non-blocking: one worker thread per host applies it
        observed_at = time.time()
        observed = self._observe(ready)
        self._watch_events(ready)
        statuses: list[tuple[dict, dict]] = []
        events = []
        for node in ready:
            if node.name not in observed:
                continue
            bound = [p for p in pods if (p.get("spec") or {}).get("nodeName") == node.name]
            result = self.kubelet.sync_node(node, bound, observed[node.name], observed_at, time.time())
            statuses.extend(result.statuses)
            events.extend(result.events)
            if result.requeue_after is not None:
                next_pass = min(next_pass, result.requeue_after)
        self._write(statuses, events)
        if statuses:  # the controllers act on the new pod states now rather than a pass later
            snap, next_pass = self._run_controllers(next_pass, take_snapshot(self.store, self.clock(), snap, ["Pod"]))
            self._bind(snap.of("Pod"), snap.of("Node"))
            self.proxy.sync(snap, ready)  # Endpoints that followed the pods' readiness
        return next_pass

    def _run_controllers(self, next_pass: float, snap: Snapshot | None = None) -> tuple[Snapshot, float]:
        """Every controller in turn on a snapshot (`snap`, else a fresh one), each one's changes
        written in its own transaction; returns the snapshot after the last write and the earliest
        time a controller asked for."""
        if snap is None:
            snap = take_snapshot(self.store, self.clock())
        for controller in self.controllers:
            try:
                changes = controller.sync(snap)
                written = write_changes(self.store, changes)
            except Exception as exc:  # one broken controller must not stop the others or the kubelet
                log.warning("controller %s failed: %s", controller.name, exc, exc_info=log.isEnabledFor(logging.DEBUG))
                next_pass = min(next_pass, 1.0)
                continue
            if changes.requeue_after is not None:
                next_pass = min(next_pass, changes.requeue_after)
            if written:  # later controllers see what earlier ones wrote
                snap = take_snapshot(self.store, snap.now, snap, written_kinds(changes))
        return snap, next_pass

    def _observe(self, nodes: list) -> dict[str, list]:
        """List every ready node's containers in parallel; a node that fails is left out."""
        futures = {n.name: self._listers.submit(n.runtime.list_containers) for n in nodes}
        out = {}
        for name, f in futures.items():
            try:
                out[name] = f.result(timeout=15)
            except Exception as exc:
                log.warning("listing containers on %s failed: %s", name, exc)
        return out

    def _bind(self, pods: list[dict], node_objs: list[dict]) -> None:
        pending = [p for p in pods if not (p.get("spec") or {}).get("nodeName")
                   and not p["metadata"].get("deletionTimestamp")]
        if not pending:
            return
        bound = [p for p in pods if (p.get("spec") or {}).get("nodeName")]
        by_uid = {p["metadata"]["uid"]: p for p in pending}
        with self.store.atomic():  # one transaction for the whole batch of bindings
            self._write_bindings(schedule(pending, node_objs, bound), by_uid)

    def _write_bindings(self, bindings: list, by_uid: dict[str, dict]) -> None:
        from gitkube.errors import Conflict, NotFound

        for b in bindings:
            pod = by_uid[b.uid]
            try:
                if b.node is None:
                    if (pod.get("status") or {}).get("conditions") != _unschedulable(b.message):
                        self.store.update_status("Pod", b.namespace, b.name,
                                                 {"phase": "Pending", "conditions": _unschedulable(b.message)})
                        self.store.record_event(pod, "FailedScheduling", b.message, "Warning")
                    continue
                self.store.update({**pod, "spec": {**pod["spec"], "nodeName": b.node}})
                self.store.record_event(pod, "Scheduled", f"Successfully assigned {b.namespace}/{b.name} to {b.node}")
                pod["spec"] = {**pod["spec"], "nodeName": b.node}
            except (Conflict, NotFound):  # changed since the snapshot: the next pass decides again
                self.wake()

    def _write(self, statuses: list[tuple[dict, dict]], events: list) -> None:
        if not statuses and not events:
            return
        from gitkube.errors import NotFound

        with self.store.atomic():
            for pod, status in statuses:
                md = pod["metadata"]
                try:
                    self.store.update_status("Pod", md["namespace"], md["name"], status)
                except NotFound:
                    pass
            for pod, type_, reason, message in events:
                self.store.record_event(pod, reason, message, type_)

    def _watch_events(self, nodes: list) -> None:
        """A thread per node turns Docker events on gitkube containers into wake-ups."""
        for n in nodes:
            t = self._watchers.get(n.name)
            if t is not None and t.is_alive():
                continue
            t = threading.Thread(target=self._events, args=(n,), name=f"events-{n.name}", daemon=True)
            self._watchers[n.name] = t
            t.start()

    def _events(self, node) -> None:
        from gitkube.runtime.labels import CLUSTER, MANAGED_BY, MANAGED_BY_VALUE, NODE

        labels = [f"{MANAGED_BY}={MANAGED_BY_VALUE}", f"{NODE}={node.name}"]
        if self.nodes.cluster:  # only this state's containers: an engine may be shared
            labels.append(f"{CLUSTER}={self.nodes.cluster}")
        try:
            stream = node.conn.api.events(decode=True, filters={"label": labels, "type": "container"})
            for ev in stream:
                if self._stop.is_set():
                    break
                if ev.get("Action") in WAKE_EVENTS:
                    self._wake.set()
        except Exception as exc:
            log.debug("event stream of %s ended: %s", node.name, exc)


def _unschedulable(message: str) -> list[dict]:
    return [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}]
