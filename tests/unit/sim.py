"""A tiny in-memory world for controller property tests: a store that applies `Changes` the way
`gitkube.agent.controllers.write_changes` and the SQLite store do, and a fake kubelet that binds,
starts, readies and finally removes pods when told to.

    world = World(now=T0)
    world.add(deployment(...))
    changes = world.run(DeploymentController())    # sync on a fresh snapshot, then apply
    world.kubelet(ready=lambda pod: True, remove=lambda pod: True)

Server behaviour mirrored from gitkube/store/sqlite.py: generateName gets a unique suffix, uid /
creationTimestamp / resourceVersion / generation are set on create, an update carrying a stale
resourceVersion is dropped (Conflict), generation grows when anything outside metadata/status
changes, deleting a pod bound to a node marks it terminating (deletionTimestamp) and every other
delete removes the object at once.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from typing import Callable

from gitkube.controllers.base import Changes, Snapshot, is_ready

KINDS = ("Pod", "Node", "ReplicaSet", "Deployment", "DaemonSet")
CLUSTER_SCOPED = ("Node",)
T0 = 1_767_323_045.0  # 2026-01-02T03:04:05Z


def rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _desired(obj: dict) -> str:
    return json.dumps({k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")},
                      sort_keys=True)


class World:
    def __init__(self, now: float = T0, node: str = "node-1"):
        self.now = now
        self.objects: dict[tuple[str, str, str], dict] = {}
        self.revision = 0
        self.serial = itertools.count(1)
        self.default_node = node  # where the fake scheduler binds unbound pods
        self.conflicts = 0

    # --- store -------------------------------------------------------------------------------
    def key(self, obj: dict) -> tuple[str, str, str]:
        md = obj["metadata"]
        ns = "" if obj["kind"] in CLUSTER_SCOPED else (md.get("namespace") or "default")
        return (obj["kind"], ns, md["name"])

    def _bump(self) -> str:
        self.revision += 1
        return str(self.revision)

    def add(self, obj: dict) -> dict:
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        if not md.get("name"):
            md["name"] = f"{md['generateName']}{next(self.serial):05d}"
        if obj["kind"] not in CLUSTER_SCOPED:
            md["namespace"] = md.get("namespace") or "default"
        md.pop("deletionTimestamp", None)
        md.update(uid=f"uid-{md['name']}-{next(self.serial)}", creationTimestamp=rfc3339(self.now),
                  resourceVersion=self._bump(), generation=1)
        key = self.key(obj)
        assert key not in self.objects, f"{key} already exists"
        self.objects[key] = obj
        return obj

    def get(self, kind: str, name: str, namespace: str = "default") -> dict | None:
        return self.objects.get((kind, "" if kind in CLUSTER_SCOPED else namespace, name))

    def of(self, kind: str) -> list[dict]:
        return [o for (k, _, _), o in sorted(self.objects.items()) if k == kind]

    def update(self, obj: dict) -> bool:
        """Replace spec/metadata like Store.update; False (dropped) on a stale resourceVersion."""
        key = self.key(obj)
        old = self.objects.get(key)
        if old is None:
            return False
        rv = obj["metadata"].get("resourceVersion")
        if rv is not None and rv != old["metadata"]["resourceVersion"]:
            self.conflicts += 1
            return False
        new = copy.deepcopy(obj)
        md = new["metadata"]
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "namespace"):
            if f in old["metadata"]:
                md[f] = old["metadata"][f]
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
        md["generation"] = old["metadata"]["generation"] + (_desired(new) != _desired(old))
        md["resourceVersion"] = self._bump()
        self.objects[key] = new
        return True

    def edit(self, kind: str, name: str, fn: Callable[[dict], None], namespace: str = "default") -> None:
        """A user's edit: read, change, write."""
        obj = copy.deepcopy(self.get(kind, name, namespace))
        fn(obj)
        assert self.update(obj)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        key = (kind, "" if kind in CLUSTER_SCOPED else namespace, name)
        obj = self.objects.get(key)
        if obj is None:
            return
        if kind == "Pod" and (obj.get("spec") or {}).get("nodeName"):
            if not obj["metadata"].get("deletionTimestamp"):
                obj["metadata"]["deletionTimestamp"] = rfc3339(self.now)
                obj["metadata"]["resourceVersion"] = self._bump()
            return
        del self.objects[key]
        self._bump()

    def set_status(self, kind: str, namespace: str, name: str, status: dict) -> None:
        obj = self.objects.get((kind, "" if kind in CLUSTER_SCOPED else namespace, name))
        if obj is not None and obj.get("status") != status:
            obj["status"] = copy.deepcopy(status)
            obj["metadata"]["resourceVersion"] = self._bump()

    # --- controllers ---------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        snap = Snapshot(self.now)
        for kind in KINDS:
            snap.objects[kind] = copy.deepcopy(self.of(kind))
        return snap

    def apply(self, changes: Changes) -> None:
        """write_changes: creates, updates (stale ones dropped), deletes, statuses."""
        keys = [self.key(o) for o in changes.updates]
        assert len(keys) == len(set(keys)), f"one object updated twice in one plan: {keys}"
        for obj in changes.creates:
            if obj["metadata"].get("name") and self.key(obj) in self.objects:
                continue  # AlreadyExists
            self.add(obj)
        for obj in changes.updates:
            self.update(obj)
        for kind, namespace, name, _propagation in changes.deletes:
            self.delete(kind, namespace, name)
        for kind, namespace, name, status in changes.statuses:
            self.set_status(kind, namespace, name, status)

    def run(self, controller) -> Changes:
        changes = controller.sync(self.snapshot())
        self.apply(changes)
        return changes

    def collect_garbage(self) -> None:
        uids = {o["metadata"]["uid"] for o in self.objects.values()}
        for obj in list(self.objects.values()):
            refs = obj["metadata"].get("ownerReferences") or []
            if refs and not any(r.get("uid") in uids for r in refs):
                self.delete(obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])

    # --- the fake kubelet ----------------------------------------------------------------------
    def kubelet(self, ready: Callable[[dict], bool] = lambda pod: True,
                remove: Callable[[dict], bool] = lambda pod: True) -> None:
        """Bind unbound pods; start and ready the pods `ready` picks; remove the terminating pods
        `remove` picks. A ready pod stays ready (nothing fails here)."""
        for pod in list(self.of("Pod")):
            md = pod["metadata"]
            if md.get("deletionTimestamp"):
                if remove(pod):
                    del self.objects[self.key(pod)]
                    self._bump()
                continue
            pod.setdefault("spec", {}).setdefault("nodeName", self.default_node)
            if not is_ready(pod) and ready(pod):
                pod["status"] = running_ready_status(self.now)
                md["resourceVersion"] = self._bump()

    def tick(self, seconds: float = 1.0) -> None:
        self.now += seconds


def running_ready_status(now: float) -> dict:
    stamp = rfc3339(now)
    return {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": stamp}],
            "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0,
                                   "state": {"running": {"startedAt": stamp}}}]}


def ready_pods(world: World, selector: Callable[[dict], bool] = lambda pod: True) -> list[dict]:
    return [p for p in world.of("Pod") if not p["metadata"].get("deletionTimestamp") and is_ready(p)
            and selector(p)]
