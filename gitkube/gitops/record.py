"""Apply a plan and remember, in the source's inventory, what was applied and how the last sync went.

The inventory row (one per source) already holds the applied keys, the commit and the time. Its
`meta` gets, besides `repo`:
- `path`, `ref`       the Git path and ref the source was read with
- `fingerprints`      {"Kind/ns/name": hash} of every declared object as it was stored by this apply;
                      `gitkube status` hashes the live object again: a different hash is drift
                      (someone ran `scale`, `label`, an edit), a missing object is missing
- `last_sync`         {commit, author, subject, at, result, error, problems}: the last commit looked
                      at, even when it was rejected (the inventory's `revision` stays at the last
                      commit that was applied: the one in force)

A fingerprint covers what `diff` compares (spec and the kind's other top-level fields, labels,
annotations other than gitkube's own), without defaults: both sides are objects as stored.
A Pod's `spec.nodeName` is left out: the scheduler sets it after the apply.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from gitkube.apply.apply import ApplyOutcome, execute, key_of
from gitkube.apply.source import SourceInfo
from gitkube.diff.compute import DiffPlan
from gitkube.diff.essence import GITKUBE_PREFIX
from gitkube.schema.validate import Validated
from gitkube.store.base import Inventory, Store

_NOT_HASHED = ("apiVersion", "kind", "metadata", "status")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fingerprint(obj: dict) -> str:
    md = obj.get("metadata") or {}
    annotations = {k: v for k, v in (md.get("annotations") or {}).items() if not k.startswith(GITKUBE_PREFIX)}
    body = {k: v for k, v in obj.items() if k not in _NOT_HASHED}
    if obj.get("kind") == "Pod" and isinstance(body.get("spec"), dict) and "nodeName" in body["spec"]:
        body["spec"] = {k: v for k, v in body["spec"].items() if k != "nodeName"}
    payload = json.dumps([md.get("labels") or {}, annotations, body], sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False, default=str)
    return hashlib.blake2b(payload.encode(), digest_size=10).hexdigest()


def carry_node_names(store: Store, objects: list[Validated]) -> list[Validated]:
    """Desired Pods without `spec.nodeName` take the live one: the scheduler's binding is not drift,
    and re-applying must not unbind a running pod (a sync or watch loop re-applies all the time)."""
    pods = [v for v in objects if v.obj.get("kind") == "Pod" and not (v.obj.get("spec") or {}).get("nodeName")]
    if not pods:
        return objects
    live = store.get_many([key_of(v.obj) for v in pods])
    if not live:
        return objects
    pod_ids = {id(v) for v in pods}
    out = []
    for v in objects:
        cur = live.get(key_of(v.obj)) if id(v) in pod_ids else None
        node = ((cur or {}).get("spec") or {}).get("nodeName")
        if node:
            v = Validated({**v.obj, "spec": {**v.obj["spec"], "nodeName": node}}, v.manifest)
        out.append(v)
    return out


def apply_and_record(store: Store, plan: DiffPlan, objects: list[Validated], source: SourceInfo, *,
                     prune: bool = False, dry_run: bool = False, meta: dict | None = None,
                     last_sync: dict | None = None) -> ApplyOutcome:
    """`execute`, and in the same transaction the fingerprints and sync record in the inventory."""
    if dry_run:
        return execute(store, plan, objects, source, dry_run=True, prune=prune)
    with store.atomic():
        outcome = execute(store, plan, objects, source, dry_run=False, prune=prune)
        inv = store.get_inventory(source.id)
        if inv is not None:
            merged = {**inv.meta, **(meta or {})}
            merged["fingerprints"] = plan_fingerprints(plan)
            if last_sync is not None:
                merged["last_sync"] = last_sync
            inv.meta = merged
            store.put_inventory(inv)
    return outcome


def plan_fingerprints(plan: DiffPlan) -> dict[str, str]:
    """Fingerprints of the objects as they are stored once the plan is executed: what was written
    for creates and updates, the live object for the unchanged (no read-back needed)."""
    out = {}
    for item in plan.items:
        if item.action == "prune":
            continue
        obj = item.live if item.action == "unchanged" and item.live is not None else item.desired
        if obj is not None:
            out[str(key_of(obj))] = fingerprint(obj)
    return out


def record_sync(store: Store, source_id: str, last_sync: dict, meta: dict | None = None) -> None:
    """Remember a sync attempt that applied nothing (an invalid commit, an unreachable repo): the
    inventory's entries, commit and fingerprints stay those of the last good apply."""
    with store.atomic():
        inv = store.get_inventory(source_id) or Inventory(source_id)
        inv.meta = {**inv.meta, **(meta or {}), "last_sync": last_sync}
        if last_sync.get("result") not in ("applied", "unchanged"):
            inv.result = f"error: {last_sync.get('error', last_sync.get('result', ''))}"
        store.put_inventory(inv)


def sync_record(result: str, commit=None, error: str = "", problems: list[str] | None = None) -> dict:
    out: dict = {"at": now_iso(), "result": result}
    if commit is not None:
        out.update(commit=commit.sha, author=commit.author, subject=commit.subject)
    if error:
        out["error"] = error
    if problems:
        out["problems"] = problems[:20]
    return out


def plan_for(store: Store, objects: list[Validated], source: SourceInfo, *, prune: bool,
             force_prune: bool = False) -> DiffPlan:
    """The checks and the plan of an apply: namespaces exist, prune is safe (ManifestError,
    PruneRefused otherwise). Nothing is written."""
    from gitkube.apply.apply import check_namespaces, check_prune_safety, compute

    check_namespaces(store, objects)
    plan = compute(store, objects, source, prune)
    inventory = store.get_inventory(source.id)
    check_prune_safety(plan, len(inventory.entries) if inventory else 0, force_prune)
    return plan


def describe_changes(plan: DiffPlan, limit: int = 20) -> list[str]:
    """One line per changed object: `replicaset.apps/web: spec.replicas: 2 → 1`."""
    lines = []
    for item in plan.items:
        if item.action == "unchanged":
            continue
        ref = resource_ref(item.kind, item.name)
        if item.action == "create":
            lines.append(f"{ref}: missing (will be created)")
        elif item.action == "prune":
            lines.append(f"{ref}: no longer declared (will be pruned)")
        else:
            parts = [f"{c.path}: {_short(c.old)} → {_short(c.new)}" for c in item.changes[:4]]
            more = f" (+{len(item.changes) - 4} more)" if len(item.changes) > 4 else ""
            lines.append(f"{ref}: {'; '.join(parts)}{more}")
        if len(lines) >= limit:
            lines.append("…")
            break
    return lines


def _short(value: object) -> str:
    from gitkube.diff.compute import MISSING

    if value is MISSING:
        return "(none)"
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def resource_ref(kind: str, name: str) -> str:
    """`replicaset.apps/web`, as apply prints it."""
    from gitkube.kinds import BY_KIND

    info = BY_KIND.get(kind)
    return f"{info.resource_name if info else kind.lower()}/{name}"
