"""Node lifecycle: pods on a node that stayed not ready past the eviction timeout are deleted.

They go Terminating (their node cannot confirm they stopped); controllers stop counting them and
create replacements on other nodes, bare pods are not recreated, as in Kubernetes. When the node
answers again, its kubelet stops and removes their containers, so one pod never runs twice. Pods
bound to a node that no longer exists are removed outright: nobody is left to terminate them.
"""

from __future__ import annotations

from datetime import datetime

from gitkube.controllers.base import Changes, Snapshot

DEFAULT_EVICTION_TIMEOUT = 300.0


def _epoch(timestamp: str) -> float | None:
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


class NodeLifecycleController:
    name = "node-lifecycle"

    def __init__(self, eviction_timeout: float = DEFAULT_EVICTION_TIMEOUT):
        self.eviction_timeout = eviction_timeout

    def sync(self, snap: Snapshot) -> Changes:
        changes = Changes()
        nodes = {n["metadata"]["name"]: n for n in snap.of("Node")}
        down_since: dict[str, float] = {}
        for name, node in nodes.items():
            ready = next((c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)
            if ready is not None and ready.get("status") != "True":
                since = _epoch(ready.get("lastTransitionTime", ""))
                if since is not None:
                    down_since[name] = since
        for pod in snap.of("Pod"):
            md, spec = pod["metadata"], pod.get("spec") or {}
            node = spec.get("nodeName")
            if not node:
                continue
            if node not in nodes:
                changes.deletes.append(("Pod", md["namespace"], md["name"], "remove"))
                continue
            if node not in down_since or md.get("deletionTimestamp"):
                continue
            left = down_since[node] + self.eviction_timeout - snap.now
            if left <= 0:
                changes.deletes.append(("Pod", md["namespace"], md["name"], "background"))
                changes.events.append((pod, "Normal", "TaintManagerEviction",
                                       f"Marking for deletion Pod {md['namespace']}/{md['name']}: node {node} "
                                       f"not ready for {int(snap.now - down_since[node])}s"))
            else:
                changes.wake_in(left)
        return changes
