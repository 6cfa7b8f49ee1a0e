"""Running the workload controllers inside the agent: one snapshot, each controller's Changes
written in its own transaction, conflicts dropped for the next pass to redo."""

from __future__ import annotations

import logging
from collections.abc import Collection

from gitkube.controllers.base import Changes, Controller, Snapshot
from gitkube.errors import AlreadyExists, Conflict, NotFound
from gitkube.store.base import Store

log = logging.getLogger("gitkube.agent")

SNAPSHOT_KINDS = ("Pod", "Node", "ReplicaSet", "ReplicationController", "Deployment", "DaemonSet", "Job", "CronJob",
                  "Service", "Endpoints")


def default_controllers(eviction_timeout: float | None = None) -> list[Controller]:
    from gitkube.controllers.cronjob import CronJobController
    from gitkube.controllers.daemonset import DaemonSetController
    from gitkube.controllers.deployment import DeploymentController
    from gitkube.controllers.gc import GarbageCollector
    from gitkube.controllers.job import JobController
    from gitkube.controllers.nodelifecycle import DEFAULT_EVICTION_TIMEOUT, NodeLifecycleController
    from gitkube.controllers.replicaset import ReplicaSetController
    from gitkube.controllers.endpoints import EndpointsController  # services (issue 6)
    from gitkube.controllers.services import ServiceController

    return [NodeLifecycleController(eviction_timeout or DEFAULT_EVICTION_TIMEOUT), ServiceController(),
            CronJobController(), JobController(), DeploymentController(), DaemonSetController(),
            ReplicaSetController(), EndpointsController(), GarbageCollector()]


def take_snapshot(store: Store, now: float, base: Snapshot | None = None,
                  kinds: Collection[str] | None = None) -> Snapshot:
    """Every snapshot kind from the store; with `base`, only `kinds` are read again (None: all)."""
    partial = base is not None and kinds is not None
    snap = Snapshot(now, dict(base.objects) if partial else {})
    for kind in SNAPSHOT_KINDS:
        if not partial or kind in kinds:
            snap.objects[kind] = store.list(kind)
    return snap


def written_kinds(changes: Changes) -> set[str] | None:
    """The kinds a write of `changes` may alter; None for any (an orphaning delete rewrites the
    owner's dependents, whatever their kind)."""
    kinds = {o["kind"] for o in changes.creates + changes.updates}
    kinds.update(kind for kind, *_ in changes.statuses)
    for kind, _, _, propagation in changes.deletes:
        if propagation == "orphan":
            return None
        kinds.add(kind)
    return kinds


def write_changes(store: Store, changes: Changes) -> int:
    """Write what a controller asked for; returns how many writes took effect."""
    if changes.empty and not changes.events:
        return 0
    done = 0
    with store.atomic():
        for obj in changes.creates:
            try:
                store.create(obj)
                done += 1
            except AlreadyExists:
                pass
        for obj in changes.updates:
            try:
                store.update(obj)
                done += 1
            except (Conflict, NotFound):
                pass
        for kind, namespace, name, propagation in changes.deletes:
            try:
                if propagation == "remove":
                    store.remove(kind, namespace, name)
                else:
                    store.delete(kind, namespace, name, propagation=propagation)  # type: ignore[arg-type]
                done += 1
            except NotFound:
                pass
        for kind, namespace, name, status in changes.statuses:
            try:
                store.update_status(kind, namespace, name, status)
                done += 1
            except NotFound:
                pass
        for obj, type_, reason, message in changes.events:
            store.record_event(obj, reason, message, type_)
    return done
