"""Deployment: roll a pod template out through ReplicaSets named `<deployment>-<hash>`.

One ReplicaSet per version of `spec.template` (found by comparing templates, named by their
hash); the ReplicaSet controller makes the pods. Each pass, per Deployment
(`pkg/controller/deployment` upstream):

- claim ReplicaSets by the selector (adopt orphans, release the ones that stopped matching);
- a *scaling event* (the replicas changed: an active ReplicaSet's `desired-replicas` annotation
  disagrees) or `paused: true` only resizes: the one active ReplicaSet takes the new size, else the
  difference is spread in proportion to the ReplicaSets' sizes;
- otherwise roll out with the strategy:
  - RollingUpdate: (1) scale the new ReplicaSet up to at most `replicas + maxSurge` pods in all;
    (2) if it did not grow, scale old ReplicaSets down, oldest first, by at most what keeps
    `replicas - maxUnavailable` pods available, taking unhealthy (not available) capacity first;
  - Recreate: scale every old ReplicaSet to 0, wait until none of their pods is left (running or
    terminating), then create / scale the new one to `replicas`;
- delete the oldest unused ReplicaSets beyond `revisionHistoryLimit` once the rollout is complete;
- write status (counts from the pods themselves, and the Available / Progressing conditions) only
  when it changed.

"Available" is a ready pod, ready for at least `minReadySeconds`. A ReplicaSet is never counted for
more available pods than its (planned) size, because the ReplicaSet controller deletes unready pods
first: scaling a set down by k removes at most k available pods, so the floor holds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from gitkube.controllers.base import (Changes, Snapshot, controller_ref, is_active, is_ready, owner_reference,
                                      ready_since)
from gitkube.controllers.hashing import POD_TEMPLATE_HASH, template_hash, template_key
from gitkube.errors import SelectorError
from gitkube.labels.selector import Selector, from_label_selector
from gitkube.schema.defaults import apply_defaults

REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
NO_DEADLINE = 2**31 - 1  # progressDeadlineSeconds = MaxInt32 means "no deadline"

# Condition reasons (deployment/util/deployment_util.go)
MINIMUM_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_UNAVAILABLE = "MinimumReplicasUnavailable"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"


# --- small pure helpers (shared with the DaemonSet controller and the rollout CLI) ---------------

def rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def scaled_value(value: object, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int, or "N%" of `total` rounded up or down."""
    if isinstance(value, bool):
        raise ValueError(f"invalid value {value!r}: must be an integer or a percentage")
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, str) and value.endswith("%"):
        try:
            percent = int(value[:-1])
        except ValueError:
            raise ValueError(f"invalid value {value!r}: must be an integer or a percentage") from None
        scaled = -(-percent * total // 100) if round_up else percent * total // 100
        return max(scaled, 0)
    raise ValueError(f"invalid value {value!r}: must be an integer or a percentage (like 25%)")


def availability(pod: dict, min_ready_seconds: int, now: float) -> float | None:
    """None: not ready. 0: available. > 0: ready, available in that many seconds (minReadySeconds)."""
    if not is_ready(pod):
        return None
    if min_ready_seconds <= 0:
        return 0.0
    since = parse_time(ready_since(pod))
    if since is None:
        return None  # upstream: no lastTransitionTime, not available
    left = since + min_ready_seconds - now
    return left if left > 0 else 0.0


def revision_of(obj: dict) -> int:
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _annotation_int(obj: dict, key: str) -> int | None:
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {})[key])
    except (KeyError, ValueError, TypeError):
        return None


def controlled_by(obj: dict, uid: str) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == uid


def history(deployment: dict, replica_sets: list[dict]) -> list[tuple[int, dict]]:
    """(revision, ReplicaSet) of the ReplicaSets this Deployment controls, oldest revision first."""
    uid = deployment["metadata"].get("uid", "")
    out = [(revision_of(rs), rs) for rs in replica_sets if controlled_by(rs, uid)]
    return sorted(out, key=lambda pair: (pair[0], pair[1]["metadata"].get("creationTimestamp", ""),
                                         pair[1]["metadata"]["name"]))


def template_without_hash(rs: dict) -> dict:
    """A ReplicaSet's pod template as its Deployment declared it (no pod-template-hash label)."""
    template = dict((rs.get("spec") or {}).get("template") or {})
    md = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (md.get("labels") or {}).items() if k != POD_TEMPLATE_HASH}
    if labels:
        md["labels"] = labels
    else:
        md.pop("labels", None)
    if md:
        template["metadata"] = md
    else:
        template.pop("metadata", None)
    return template


# --- the controller ------------------------------------------------------------------------------

class DeploymentController:
    name = "deployment"

    def sync(self, snap: Snapshot) -> Changes:
        changes = Changes()
        sets_by_ns: dict[str, list[dict]] = {}
        for rs in snap.of("ReplicaSet"):
            sets_by_ns.setdefault(rs["metadata"].get("namespace", "default"), []).append(rs)

        def pods_of(rs: dict) -> list[dict]:
            uid = rs["metadata"].get("uid", "")
            return [p for p in snap.owned_by(uid, "Pod") if controlled_by(p, uid)]

        for d in snap.of("Deployment"):
            ns = d["metadata"].get("namespace", "default")
            changes.merge(sync_deployment(d, sets_by_ns.get(ns, []), pods_of, snap.now))
        return changes


@dataclass
class Params:
    """The Deployment's spec, defaulted and resolved to numbers."""

    replicas: int
    recreate: bool
    max_surge: int  # MaxSurge(d): 0 for Recreate
    max_unavailable: int  # MaxUnavailable(d): 0 for Recreate or 0 replicas, at most replicas
    paused: bool
    min_ready_seconds: int
    history_limit: int
    deadline: int | None  # progressDeadlineSeconds; None: no deadline

    @classmethod
    def of(cls, spec: dict) -> Params:
        replicas = int(spec.get("replicas", 1))
        strategy = spec.get("strategy") or {}
        recreate = strategy.get("type") == "Recreate"
        surge = unavailable = 0
        if not recreate:
            rolling = strategy.get("rollingUpdate") or {}
            surge = scaled_value(rolling.get("maxSurge", "25%"), replicas, True)
            unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), replicas, False)
            if surge == 0 and unavailable == 0:
                unavailable = 1  # ResolveFenceposts
            unavailable = 0 if replicas == 0 else min(unavailable, replicas)
        deadline = spec.get("progressDeadlineSeconds", 600)
        return cls(replicas=replicas, recreate=recreate, max_surge=surge, max_unavailable=unavailable,
                   paused=bool(spec.get("paused")), min_ready_seconds=int(spec.get("minReadySeconds") or 0),
                   history_limit=int(spec.get("revisionHistoryLimit", 10)),
                   deadline=None if deadline is None or deadline >= NO_DEADLINE else int(deadline))


@dataclass
class SetState:
    """One owned ReplicaSet as observed, plus what this pass plans for it."""

    obj: dict
    replicas: int  # planned spec.replicas
    pods: list[dict] = field(default_factory=list)  # every pod it controls, terminating ones too
    active: int = 0
    ready: int = 0
    available: int = 0
    created: bool = False
    dirty: bool = False
    annotations: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]

    @property
    def stored_replicas(self) -> int:
        return (self.obj.get("spec") or {}).get("replicas", 1)

    @property
    def usable(self) -> int:
        """Available pods that survive the planned size (unready pods are deleted first)."""
        return min(self.available, self.replicas)

    @property
    def age_key(self) -> tuple:
        md = self.obj["metadata"]
        return (md.get("creationTimestamp", "~"), revision_of(self.obj), md["name"])

    def set_annotation(self, key: str, value: str) -> None:
        if self.annotations.get(key) != value:
            self.annotations[key] = value
            self.dirty = True

    def written(self) -> dict:
        md = {**self.obj["metadata"]}
        if self.annotations:
            md["annotations"] = self.annotations
        return {**self.obj, "metadata": md, "spec": {**(self.obj.get("spec") or {}), "replicas": self.replicas}}


def sync_deployment(d: dict, replica_sets: list[dict], pods_of: Callable[[dict], list[dict]],
                    now: float) -> Changes:
    changes = Changes()
    if d["metadata"].get("deletionTimestamp"):
        return changes  # the garbage collector removes the ReplicaSets
    spec = apply_defaults(d).get("spec") or {}
    try:
        selector = from_label_selector(spec.get("selector"))
        params = Params.of(spec)
    except (SelectorError, ValueError, TypeError) as exc:
        changes.events.append((d, "Warning", "InvalidSpec", str(exc)))
        return changes
    if selector.empty:
        changes.events.append((d, "Warning", "SelectingAll",
                               "This deployment is selecting all pods. A non-empty selector is required."))
        return changes
    Rollout(d, spec, selector, params, replica_sets, pods_of, now, changes).run()
    return changes


def claim_sets(owner: dict, selector: Selector, objs: list[dict], changes: Changes) -> list[tuple[dict, bool]]:
    """ControllerRefManager rules for ReplicaSets: (object, adopted now) for each one this owner controls."""
    uid = owner["metadata"]["uid"]
    out = []
    for obj in objs:
        md = obj["metadata"]
        ref = controller_ref(obj)
        labels = md.get("labels") or {}
        if ref is not None and ref.get("uid") != uid:
            continue
        if ref is not None:
            if selector.matches(labels):
                out.append((obj, False))
            elif not md.get("deletionTimestamp"):
                refs = [r for r in md.get("ownerReferences") or [] if r.get("uid") != uid]
                changes.updates.append(with_owner_refs(obj, refs))
                changes.events.append((owner, "Normal", "Released",
                                       f"Released {obj['kind']} {md['name']}: its labels no longer match"))
            continue
        if md.get("deletionTimestamp") or not selector.matches(labels):
            continue
        refs = list(md.get("ownerReferences") or []) + [owner_reference(owner)]
        out.append((with_owner_refs(obj, refs), True))
    return out


def with_owner_refs(obj: dict, refs: list[dict]) -> dict:
    md = {k: v for k, v in obj["metadata"].items() if k != "ownerReferences"}
    if refs:
        md["ownerReferences"] = refs
    return {**obj, "metadata": md}


class Rollout:
    """The plan for one Deployment in one pass (mutable while planning, emitted at the end)."""

    def __init__(self, d: dict, spec: dict, selector: Selector, params: Params, replica_sets: list[dict],
                 pods_of: Callable[[dict], list[dict]], now: float, changes: Changes):
        self.d, self.spec, self.selector, self.p = d, spec, selector, params
        self.now, self.changes = now, changes
        self.name = d["metadata"]["name"]
        self.namespace = d["metadata"].get("namespace", "default")
        self.all_in_namespace = replica_sets
        self.template = (d.get("spec") or {}).get("template") or {}  # as written (the store keeps no defaults)
        self.created_new = False
        self.revived = False  # an old ReplicaSet became the new one again (undo)
        self.collisions = int((d.get("status") or {}).get("collisionCount") or 0)
        self.deletes: list[SetState] = []
        self.sets: list[SetState] = []  # owned, not being deleted
        self.dying_pods: list[dict] = []  # pods of owned ReplicaSets that are being deleted
        for obj, adopted in claim_sets(d, selector, replica_sets, changes):
            pods = pods_of(obj)
            if obj["metadata"].get("deletionTimestamp"):
                self.dying_pods += pods
                continue
            self.sets.append(self._observe(obj, pods, adopted))
        key = template_key(self.template)
        matching = sorted((s for s in self.sets if template_key((s.obj.get("spec") or {}).get("template")) == key),
                          key=lambda s: s.age_key)
        self.new: SetState | None = matching[0] if matching else None
        self.olds = sorted((s for s in self.sets if s is not self.new), key=lambda s: s.age_key)

    def _observe(self, obj: dict, pods: list[dict], adopted: bool) -> SetState:
        s = SetState(obj, (obj.get("spec") or {}).get("replicas", 1), pods, dirty=adopted,
                     annotations=dict(obj["metadata"].get("annotations") or {}))
        for pod in pods:
            if not is_active(pod):
                continue
            s.active += 1
            if is_ready(pod):
                s.ready += 1
            left = availability(pod, self.p.min_ready_seconds, self.now)
            if left == 0:
                s.available += 1
            elif left is not None:
                self.changes.wake_in(left)
        return s

    # --- the pass ------------------------------------------------------------------------------
    def run(self) -> None:
        self._sync_revision()
        if self.p.paused or self._scaling_event():
            self._scale()
        elif self.p.recreate:
            self._recreate()
        else:
            self._rolling()
        status = self._status()
        if self.p.paused or _complete(status, self.p.replicas):
            self._cleanup()
        self._emit()
        self.changes.set_status(self.d, status)

    def _sync_revision(self) -> None:
        """The new ReplicaSet has the highest revision (an old one brought back gets a new number),
        and carries the Deployment's change-cause."""
        if self.new is None:
            return
        top = max((revision_of(s.obj) for s in self.olds), default=0)
        if revision_of(self.new.obj) <= top:
            self.new.set_annotation(REVISION, str(top + 1))
            self.revived = True
        cause = (self.d["metadata"].get("annotations") or {}).get(CHANGE_CAUSE)
        if cause is not None:
            self.new.set_annotation(CHANGE_CAUSE, cause)

    def _scaling_event(self) -> bool:
        for s in self.sets:
            desired = _annotation_int(s.obj, DESIRED_REPLICAS)
            if s.replicas > 0 and desired is not None and desired != self.p.replicas:
                return True
        return False

    def _resize(self, s: SetState, replicas: int) -> bool:
        """Set the planned size (and the replicas annotations); True when the size changed."""
        old = s.replicas
        s.set_annotation(DESIRED_REPLICAS, str(self.p.replicas))
        s.set_annotation(MAX_REPLICAS, str(self.p.replicas + self.p.max_surge))
        if replicas == old:
            return False
        s.replicas = replicas
        s.dirty = True
        if not s.created:
            verb = "up" if replicas > old else "down"
            self.changes.events.append((self.d, "Normal", "ScalingReplicaSet",
                                        f"Scaled {verb} replica set {s.name} from {old} to {replicas}"))
        return True

    # --- RollingUpdate -------------------------------------------------------------------------
    def _rolling(self) -> None:
        if self.new is None:
            self._create_new(self._new_size(None))
        elif self._reconcile_new():
            return  # scaled up: scale down on a later pass, once the counts are observed
        self._reconcile_old()

    def _new_size(self, new: SetState | None) -> int:
        """NewRSNewReplicas: grow the new set up to replicas + maxSurge pods in all."""
        current = new.replicas if new is not None else 0
        total = sum(s.replicas for s in self.sets)
        room = self.p.replicas + self.p.max_surge - total
        if room <= 0:
            return current
        return current + max(0, min(room, self.p.replicas - current))

    def _reconcile_new(self) -> bool:
        new = self.new
        assert new is not None
        if new.replicas > self.p.replicas:
            return self._resize(new, self.p.replicas)
        if new.replicas == self.p.replicas:
            return False
        return self._resize(new, self._new_size(new))

    def _reconcile_old(self) -> None:
        olds = [s for s in self.olds if s.replicas > 0]
        if not olds:
            return
        min_available = self.p.replicas - self.p.max_unavailable
        all_count = sum(s.replicas for s in self.sets)
        new_unavailable = (self.new.replicas - self.new.usable) if self.new is not None else 0
        budget = all_count - min_available - new_unavailable
        if budget <= 0:
            return
        # unhealthy capacity first: replicas of old sets that are not available pods
        cleaned = 0
        for s in olds:
            if cleaned >= budget:
                break
            unhealthy = s.replicas - s.usable
            if unhealthy <= 0:
                continue
            cut = min(budget - cleaned, unhealthy)
            self._resize(s, s.replicas - cut)
            cleaned += cut
        # then available pods, down to the floor, oldest set first
        available = sum(s.usable for s in self.sets)
        allowed = available - min_available
        for s in olds:
            if allowed <= 0:
                break
            if s.replicas == 0:
                continue
            cut = min(s.replicas, allowed)
            self._resize(s, s.replicas - cut)
            allowed -= cut

    # --- Recreate ------------------------------------------------------------------------------
    def _recreate(self) -> None:
        scaled = False
        for s in self.olds:
            if s.replicas > 0:
                scaled |= self._resize(s, 0)
        if scaled or self._old_pods_left():
            return
        if self.new is None:
            self._create_new(self.p.replicas)
        else:
            self._resize(self.new, self.p.replicas)

    def _old_pods_left(self) -> bool:
        """Any pod of an old ReplicaSet that is not finished, terminating ones included."""
        for s in self.olds:
            if ((s.obj.get("status") or {}).get("replicas") or 0) > 0:
                return True
        pods = [p for s in self.olds for p in s.pods] + self.dying_pods
        return any((p.get("status") or {}).get("phase") not in ("Succeeded", "Failed") for p in pods)

    # --- scaling without a rollout (paused, or replicas changed) ---------------------------------
    def _scale(self) -> None:
        active = [s for s in self.sets if s.replicas > 0]
        if len(active) <= 1:
            target = active[0] if active else (self.new or (self.olds[-1] if self.olds else None))
            if target is not None:
                self._resize(target, self.p.replicas)
            return
        new = self.new
        if new is not None and new.replicas == self.p.replicas and new.usable >= self.p.replicas \
                and _annotation_int(new.obj, DESIRED_REPLICAS) == self.p.replicas:
            for s in active:
                if s is not new:
                    self._resize(s, 0)
            return
        if self.p.recreate:
            for s in active:  # nothing to spread: just record the size so the rollout can go on
                self._resize(s, s.replicas)
            return
        self._proportional(active)

    def _proportional(self, active: list[SetState]) -> None:
        """Spread replicas + maxSurge - (current total) over the active sets by their size."""
        allowed = self.p.replicas + self.p.max_surge if self.p.replicas > 0 else 0
        to_add = allowed - sum(s.replicas for s in active)
        if to_add > 0:  # ReplicaSetsBySizeNewer: biggest first, newer first on ties
            order = sorted(active, key=lambda s: s.age_key, reverse=True)
            order.sort(key=lambda s: -s.replicas)
        else:  # ReplicaSetsBySizeOlder: biggest first, older first on ties
            order = sorted(active, key=lambda s: (-s.replicas, s.age_key))
        sizes: dict[int, int] = {}
        added = 0
        for s in order:
            share = 0
            if to_add != 0 and to_add != added:
                fraction = self._fraction(s)
                share = min(fraction, to_add - added) if to_add > 0 else max(fraction, to_add - added)
            sizes[id(s)] = s.replicas + share
            added += share
        for i, s in enumerate(order):
            size = sizes[id(s)]
            if i == 0 and to_add != 0:
                size = max(0, size + to_add - added)  # leftovers to the biggest
            self._resize(s, size)

    def _fraction(self, s: SetState) -> int:
        if self.p.replicas == 0:
            return -s.replicas
        before = _annotation_int(s.obj, MAX_REPLICAS) or ((self.d.get("status") or {}).get("replicas") or 0)
        if before == 0:
            return 0
        return int(s.replicas * (self.p.replicas + self.p.max_surge) / before + 0.5) - s.replicas

    # --- creating, cleaning up, writing --------------------------------------------------------
    def _create_new(self, replicas: int) -> None:
        collisions = self.collisions
        taken = {rs["metadata"]["name"] for rs in self.all_in_namespace}
        hash_ = template_hash(self.template, collisions)
        while f"{self.name}-{hash_}" in taken and collisions < 1000:
            collisions += 1
            hash_ = template_hash(self.template, collisions)
        self.collisions = collisions
        tmd = dict(self.template.get("metadata") or {})
        labels = {**(tmd.get("labels") or {}), POD_TEMPLATE_HASH: hash_}
        tmd["labels"] = labels
        selector = dict(self.spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), POD_TEMPLATE_HASH: hash_}
        annotations = {REVISION: str(max((revision_of(s.obj) for s in self.sets), default=0) + 1)}
        cause = (self.d["metadata"].get("annotations") or {}).get(CHANGE_CAUSE)
        if cause is not None:
            annotations[CHANGE_CAUSE] = cause
        rs_spec: dict = {"replicas": 0, "selector": selector, "template": {**self.template, "metadata": tmd}}
        if self.p.min_ready_seconds:
            rs_spec["minReadySeconds"] = self.p.min_ready_seconds
        obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
               "metadata": {"name": f"{self.name}-{hash_}", "namespace": self.namespace, "labels": dict(labels),
                            "annotations": annotations, "ownerReferences": [owner_reference(self.d)]},
               "spec": rs_spec}
        s = SetState(obj, 0, created=True, annotations=dict(annotations))
        self._resize(s, replicas)
        self.sets.append(s)
        self.new = s
        self.created_new = True
        if replicas > 0:
            self.changes.events.append((self.d, "Normal", "ScalingReplicaSet",
                                        f"Scaled up replica set {s.name} from 0 to {replicas}"))

    def _cleanup(self) -> None:
        """Delete the oldest unused ReplicaSets beyond revisionHistoryLimit."""
        extra = len(self.olds) - self.p.history_limit
        if extra <= 0:
            return
        by_revision = sorted(self.olds, key=lambda s: (revision_of(s.obj), s.age_key))
        for s in by_revision[:extra]:
            if s.replicas or s.stored_replicas or ((s.obj.get("status") or {}).get("replicas") or 0) or s.pods:
                continue
            self.deletes.append(s)

    def _emit(self) -> None:
        deleted = {id(s) for s in self.deletes}
        for s in self.sets:
            if id(s) in deleted:
                continue
            if s.created:
                self.changes.creates.append(s.written())
            elif s.dirty:
                self.changes.updates.append(s.written())
        for s in self.deletes:
            self.changes.deletes.append(("ReplicaSet", self.namespace, s.name, "background"))

    # --- status --------------------------------------------------------------------------------
    def _status(self) -> dict:
        md, old = self.d["metadata"], self.d.get("status") or {}
        replicas = sum(s.active for s in self.sets)
        available = sum(s.available for s in self.sets)
        status: dict = {
            "observedGeneration": md.get("generation", 1),
            "replicas": replicas,
            "updatedReplicas": self.new.active if self.new is not None else 0,
            "readyReplicas": sum(s.ready for s in self.sets),
            "availableReplicas": available,
            "unavailableReplicas": max(0, self.p.replicas - available),
        }
        if self.collisions:
            status["collisionCount"] = self.collisions
        conditions = Conditions(old.get("conditions") or [], rfc3339(self.now))
        if available >= self.p.replicas - self.p.max_unavailable:
            conditions.set("Available", "True", MINIMUM_AVAILABLE, "Deployment has minimum availability.")
        else:
            conditions.set("Available", "False", MINIMUM_UNAVAILABLE, "Deployment does not have minimum availability.")
        progressing = conditions.get("Progressing")
        if self.p.paused:
            if progressing is None or progressing.get("reason") != PAUSED:
                conditions.set("Progressing", "Unknown", PAUSED, "Deployment is paused")
        else:
            if progressing is not None and progressing.get("reason") == PAUSED:
                conditions.set("Progressing", "Unknown", RESUMED, "Deployment is resumed")
            if self.p.deadline is not None:
                if self.created_new:
                    conditions.set("Progressing", "True", NEW_RS_CREATED, f'Created new replica set "{self.new.name}"')
                elif self.new is not None and (self.revived or conditions.get("Progressing") is None):
                    conditions.set("Progressing", "True", FOUND_NEW_RS, f'Found new replica set "{self.new.name}"')
                self._progress(conditions, old, status)
        status["conditions"] = conditions.items()
        return status

    def _progress(self, conditions: Conditions, old: dict, status: dict) -> None:
        """syncRolloutStatus: complete, still progressing, or past progressDeadlineSeconds."""
        current = conditions.get("Progressing")
        what = f'ReplicaSet "{self.new.name}"' if self.new is not None else f'Deployment "{self.name}"'
        if status["replicas"] == status["updatedReplicas"] and current is not None \
                and current.get("reason") == NEW_RS_AVAILABLE:
            return  # complete before; a resize is not a rollout
        if _complete(status, self.p.replicas):
            conditions.set("Progressing", "True", NEW_RS_AVAILABLE, f"{what} has successfully progressed.")
        elif _progressed(old, status):
            conditions.force("Progressing", "True", RS_UPDATED, f"{what} is progressing.")
        elif current is not None and current.get("reason") != NEW_RS_AVAILABLE:
            since = parse_time(current.get("lastUpdateTime"))
            if current.get("reason") == TIMED_OUT or (since is not None and since + self.p.deadline < self.now):
                conditions.set("Progressing", "False", TIMED_OUT, f"{what} has timed out progressing.")
        current = conditions.get("Progressing")
        if current is not None and current.get("status") == "True" and current.get("reason") != NEW_RS_AVAILABLE:
            since = parse_time(current.get("lastUpdateTime"))
            if since is not None:
                self.changes.wake_in(since + self.p.deadline - self.now + 1)


def _complete(status: dict, replicas: int) -> bool:
    return (status["updatedReplicas"] == replicas and status["replicas"] == replicas
            and status["availableReplicas"] == replicas)


def _progressed(old: dict, new: dict) -> bool:
    """DeploymentProgressing: more updated / ready / available pods, or fewer old ones."""
    old_olds = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_olds = new["replicas"] - new["updatedReplicas"]
    return (new["updatedReplicas"] > old.get("updatedReplicas", 0) or new_olds < old_olds
            or new["readyReplicas"] > old.get("readyReplicas", 0)
            or new["availableReplicas"] > old.get("availableReplicas", 0))


class Conditions:
    """A status' conditions, changed with SetDeploymentCondition's rules; Available then Progressing."""

    ORDER = ("Available", "Progressing", "ReplicaFailure")

    def __init__(self, items: list[dict], now: str):
        self.by_type = {c.get("type"): dict(c) for c in items if c.get("type")}
        self.now = now

    def get(self, type_: str) -> dict | None:
        return self.by_type.get(type_)

    def set(self, type_: str, status: str, reason: str, message: str) -> None:
        """No change when status and reason are the same; lastTransitionTime kept when status is."""
        current = self.by_type.get(type_)
        if current is not None and current.get("status") == status and current.get("reason") == reason:
            return
        self.force(type_, status, reason, message)

    def force(self, type_: str, status: str, reason: str, message: str) -> None:
        """Replace the condition (lastUpdateTime = now), keeping lastTransitionTime if status is the same."""
        current = self.by_type.get(type_)
        since = current.get("lastTransitionTime") if current is not None and current.get("status") == status \
            else None
        self.by_type[type_] = {"type": type_, "status": status, "lastUpdateTime": self.now,
                               "lastTransitionTime": since or self.now, "reason": reason, "message": message}

    def items(self) -> list[dict]:
        rank = {t: i for i, t in enumerate(self.ORDER)}
        return sorted(self.by_type.values(), key=lambda c: (rank.get(c["type"], len(rank)), c["type"]))
