"""Nodes: one persistent connection per Docker host, a heartbeat per node, and Node status.

Each node has its own heartbeat thread, so a host that drops packets only ever delays itself
(connect and read timeouts are bounded in the runtime layer). The heartbeat writes the Ready
condition, capacity and engine version into Node status; the agent loop only uses nodes whose
connection is up.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlparse

from gitkube import __version__
from gitkube.agent.podplan import rfc3339
from gitkube.store.base import Store

log = logging.getLogger("gitkube.agent")

DOCKER_HOST_ANNOTATION = "gitkube.io/docker-host"
LOCAL_NODE = "local"
HEARTBEAT_SECONDS = 5.0
NODE_GRACE_SECONDS = 40.0  # a node whose engine stops answering stays Ready this long (node-monitor-grace-period)
STATUS_REFRESH_SECONDS = 20.0  # lastHeartbeatTime is rewritten at most this often when nothing changed


def default_docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def ensure_local_node(store: Store) -> None:
    """With no Node declared, the local engine is registered as node `local`."""
    if store.list("Node"):
        return
    try:
        store.create({"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": LOCAL_NODE,
            "labels": {"kubernetes.io/hostname": LOCAL_NODE, "kubernetes.io/os": "linux"},
            "annotations": {DOCKER_HOST_ANNOTATION: default_docker_host()}}})
    except Exception as exc:  # another process registered it first
        log.debug("local node registration: %s", exc)


def node_url(node: dict) -> str:
    annotations = node["metadata"].get("annotations") or {}
    url = annotations.get(DOCKER_HOST_ANNOTATION)
    if url:
        return url
    return default_docker_host() if node["metadata"]["name"] == LOCAL_NODE else ""


def node_address(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme == "ssh" and parsed.hostname:
        return parsed.hostname
    return "127.0.0.1"


@dataclass
class NodeHandle:
    name: str
    url: str
    address: str
    conn: object | None = None  # runtime.connection.NodeConnection
    runtime: object | None = None  # runtime.pods.PodRuntime
    ready: bool = False
    message: str = "connecting"
    info: dict = field(default_factory=dict)
    last_ok: float = 0.0
    beaten: threading.Event = field(default_factory=threading.Event)  # the first heartbeat is done
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None


class NodePool:
    def __init__(self, store: Store, on_change: Callable[[], None], ssh_options: object | None = None,
                 sandbox_image: str | None = None, heartbeat: float = HEARTBEAT_SECONDS,
                 grace: float = NODE_GRACE_SECONDS):
        self.store = store
        self.on_change = on_change
        self.ssh_options = ssh_options
        self.sandbox_image = sandbox_image
        self.heartbeat = heartbeat
        self.grace = grace
        self.nodes: dict[str, NodeHandle] = {}
        self.cluster = store.cluster_id()
        self._lock = threading.Lock()

    def sync(self, node_objs: list[dict]) -> None:
        """Start handles for new nodes (or changed URLs), stop those for removed ones."""
        wanted = {n["metadata"]["name"]: node_url(n) for n in node_objs}
        with self._lock:
            for name, handle in list(self.nodes.items()):
                if wanted.get(name) != handle.url:
                    self._stop_handle(handle)
                    del self.nodes[name]
            for name, url in wanted.items():
                if name not in self.nodes and url:
                    handle = NodeHandle(name, url, node_address(url))
                    handle._thread = threading.Thread(target=self._beat, args=(handle,), name=f"node-{name}",
                                                      daemon=True)
                    self.nodes[name] = handle
                    handle._thread.start()

    def wait_first_beats(self, timeout: float) -> None:
        """Give new nodes a moment to connect, so a fresh agent does not report them not ready."""
        deadline = time.monotonic() + timeout
        with self._lock:
            handles = list(self.nodes.values())
        for h in handles:
            h.beaten.wait(max(0.0, deadline - time.monotonic()))

    def ready_nodes(self) -> list[NodeHandle]:
        with self._lock:
            return [h for h in self.nodes.values() if h.ready and h.runtime is not None]

    def get(self, name: str) -> NodeHandle | None:
        with self._lock:
            return self.nodes.get(name)

    def close(self) -> None:
        with self._lock:
            for h in self.nodes.values():
                self._stop_handle(h)
            self.nodes.clear()

    def _stop_handle(self, h: NodeHandle) -> None:
        h._stop.set()
        if h.conn is not None:
            try:
                h.conn.close()
            except Exception:
                pass

    # --- heartbeat ---------------------------------------------------------------------------
    def _beat(self, h: NodeHandle) -> None:
        last_written: dict | None = None
        last_write = 0.0
        info_at = 0.0
        while not h._stop.is_set():
            was_ready = h.ready
            try:
                if h.conn is None:
                    from gitkube.runtime.connection import connect
                    from gitkube.runtime.pods import PodRuntime

                    h.conn = connect(h.url, self.ssh_options)
                    h.runtime = PodRuntime(h.conn.api, h.name, self.sandbox_image, cluster=self.cluster)
                if time.time() - info_at > 60 or not h.info:
                    h.info = h.conn.api.info()
                    info_at = time.time()
                elif not h.conn.ping():
                    raise ConnectionError("engine did not answer ping")
                h.ready, h.message, h.last_ok = True, "docker engine is answering", time.time()
            except Exception as exc:
                h.ready, h.message = False, f"{type(exc).__name__}: {exc}"
                if h.conn is not None:  # reconnect from scratch on the next beat
                    try:
                        h.conn.close()
                    except Exception:
                        pass
                    h.conn, h.runtime = None, None
            status = self._status(h)
            now = time.time()
            if status != last_written or now - last_write > STATUS_REFRESH_SECONDS:
                try:
                    self._write_status(h, status)
                    last_written, last_write = status, now
                except Exception as exc:
                    log.debug("node %s status write failed: %s", h.name, exc)
            h.beaten.set()
            if h.ready != was_ready:
                self.on_change()
            h._stop.wait(self.heartbeat)

    def _status(self, h: NodeHandle) -> dict:
        info = h.info
        if h.ready:
            ready, reason = "True", "EngineReady"
        elif h.last_ok and time.time() - h.last_ok < self.grace:
            ready, reason = "True", "EngineNotAnswering"  # within the grace period: not yet NotReady
        elif h.last_ok:
            ready, reason = "Unknown", "NodeStatusUnknown"
        else:
            ready, reason = "False", "EngineNotReady"
        status: dict = {
            "conditions": [{"type": "Ready", "status": ready, "reason": reason, "message": h.message}],
            "addresses": [{"type": "InternalIP", "address": h.address}, {"type": "Hostname", "address": h.name}],
            "daemonEndpoints": {"dockerHost": h.url},
        }
        if info:
            cpu, mem = str(info.get("NCPU", 0)), f"{int(info.get('MemTotal', 0)) // 1024}Ki"
            status["capacity"] = {"cpu": cpu, "memory": mem, "pods": "110"}
            status["allocatable"] = dict(status["capacity"])
            status["nodeInfo"] = {
                "architecture": info.get("Architecture", ""), "operatingSystem": info.get("OSType", "linux"),
                "osImage": info.get("OperatingSystem", ""), "kernelVersion": info.get("KernelVersion", ""),
                "containerRuntimeVersion": f"docker://{info.get('ServerVersion', '')}",
                "kubeletVersion": f"gitkube-v{__version__}"}
        return status

    def _write_status(self, h: NodeHandle, status: dict) -> None:
        node = self.store.get("Node", "", h.name)
        if node is None:
            return
        old = {c.get("type"): c for c in (node.get("status") or {}).get("conditions") or []}
        now = rfc3339(time.time())
        status = {**status, "conditions": [dict(c) for c in status["conditions"]]}
        for c in status["conditions"]:
            prev = old.get(c["type"])
            c["lastHeartbeatTime"] = now
            c["lastTransitionTime"] = prev["lastTransitionTime"] if prev and prev.get("status") == c["status"] \
                and prev.get("lastTransitionTime") else now
        self.store.update_status("Node", "", h.name, status)
