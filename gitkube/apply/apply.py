"""Apply validated objects to the Store in one transaction, then prune what the source dropped.

The plan comes from `gitkube.diff.compute.plan` (pure); this module only decides prune safety,
stamps source annotations, and writes. Any error before the transaction means nothing is written;
an error inside it rolls everything back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from gitkube.apply.source import SourceInfo
from gitkube.diff.compute import DiffItem, DiffPlan, plan
from gitkube.errors import Diagnostic, ManifestError, PruneRefused, Severity
from gitkube.kinds import BY_KIND, KINDS
from gitkube.schema.validate import Validated
from gitkube.store.base import Inventory, ObjectKey, Store

SOURCE_ANNOTATION = "gitkube.io/source"
COMMIT_ANNOTATION = "gitkube.io/commit"
FILE_ANNOTATION = "gitkube.io/source-file"
PRUNE_LABEL = "gitkube.io/prune"

# Namespaces first, then what others refer to, workloads last (and the reverse for prune).
KIND_ORDER = {k.kind: i for i, k in enumerate(KINDS)}


@dataclass
class ApplyOutcome:
    plan: DiffPlan
    lines: list[str] = field(default_factory=list)
    written: int = 0


def key_of(obj: dict) -> ObjectKey:
    info = BY_KIND[obj["kind"]]
    md = obj["metadata"]
    return ObjectKey(info.group, info.kind, md.get("namespace", "") if info.namespaced else "", md["name"])


def compute(store: Store, objects: list[Validated], source: SourceInfo, prune: bool) -> DiffPlan:
    """The plan for `objects` against the store; with `prune`, objects this source applied before
    and no longer declares are added as prune items (never objects of another source)."""
    desired = [v.obj for v in objects]
    keys = [key_of(o) for o in desired]
    live_by_key = store.get_many(keys)
    live = {(k.kind, k.namespace, k.name): o for k, o in live_by_key.items()}
    victims = prune_candidates(store, source, set(keys)) if prune else []
    return plan(desired, live, victims)


def prune_candidates(store: Store, source: SourceInfo, keep: set[ObjectKey]) -> list[dict]:
    inventory = store.get_inventory(source.id)
    if inventory is None:
        return []
    gone = sorted(inventory.entries - keep, key=lambda k: (-KIND_ORDER.get(k.kind, 99), k.namespace, k.name))
    found = store.get_many(gone)
    victims = []
    for k in gone:
        obj = found.get(k)
        if obj is None:
            continue
        md = obj.get("metadata") or {}
        if (md.get("labels") or {}).get(PRUNE_LABEL) == "disabled":
            continue
        if (md.get("annotations") or {}).get(SOURCE_ANNOTATION) != source.id:
            continue  # another source took it over since: not ours to delete
        victims.append(obj)
    return victims


def check_prune_safety(plan_: DiffPlan, inventory_size: int, force: bool) -> None:
    victims = [i for i in plan_.items if i.action == "prune"]
    if not victims or force:
        return
    remaining = len(plan_.items) - len(victims)
    if remaining == 0 or len(victims) * 2 > inventory_size:
        names = [f"{i.kind.lower()}/{i.name}" for i in victims]
        what = "every object" if remaining == 0 else f"{len(victims)} of {inventory_size} objects"
        raise PruneRefused(f"prune would delete {what} this source applied: {', '.join(names)}; "
                           "pass --force-prune if that is intended", names)


def check_namespaces(store: Store, objects: list[Validated]) -> None:
    """A referenced namespace must exist or be created by the same apply ("default" always exists)."""
    declared = {v.obj["metadata"]["name"] for v in objects if v.obj["kind"] == "Namespace"}
    needed: dict[str, Validated] = {}
    for v in objects:
        if BY_KIND[v.obj["kind"]].namespaced:
            needed.setdefault(v.obj["metadata"]["namespace"], v)
    missing = [ns for ns in needed if ns != "default" and ns not in declared]
    if not missing:
        return
    existing = store.get_many([ObjectKey("", "Namespace", "", ns) for ns in missing])
    problems = []
    for ns in missing:
        if ObjectKey("", "Namespace", "", ns) in existing:
            continue
        v = needed[ns]
        problems.append(v.manifest.diagnostic(
            Severity.ERROR, "unknown-namespace", f'namespace "{ns}" does not exist',
            ("metadata", "namespace"), hint=f"declare it in the same apply or run: gitkube create namespace {ns}"))
    if problems:
        raise ManifestError(problems)


def stamp(obj: dict, source: SourceInfo, file: str) -> dict:
    md = dict(obj["metadata"])
    annotations = dict(md.get("annotations") or {})
    annotations[SOURCE_ANNOTATION] = source.id
    if source.commit:
        annotations[COMMIT_ANNOTATION] = source.commit
    if file and not file.startswith("<"):
        annotations[FILE_ANNOTATION] = file
    md["annotations"] = annotations
    return {**obj, "metadata": md}


def execute(store: Store, plan_: DiffPlan, objects: list[Validated], source: SourceInfo,
            dry_run: bool = False, prune: bool = False) -> ApplyOutcome:
    """Write the plan in one transaction (or only describe it with dry_run)."""
    files = {id(v.obj): v.manifest.source.name for v in objects}
    outcome = ApplyOutcome(plan_)
    suffix = " (dry run)" if dry_run else ""
    ordered = sorted((i for i in plan_.items if i.action != "prune"), key=lambda i: KIND_ORDER.get(i.kind, 99))
    pruned = [i for i in plan_.items if i.action == "prune"]
    verbs = {"create": "created", "update": "configured", "unchanged": "unchanged", "prune": "pruned"}
    for item in ordered + pruned:
        outcome.lines.append(f"{_resource(item)} {verbs[item.action]}{suffix}")
    if dry_run:
        return outcome
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with store.atomic():
        _ensure_default_namespace(store, plan_)
        for item in ordered:
            if item.action == "unchanged":
                continue
            assert item.desired is not None
            obj = stamp(item.desired, source, files.get(id(item.desired), ""))
            if item.action == "create":
                store.create(obj)
            else:
                assert item.live is not None
                md = obj["metadata"]
                live_md = item.live["metadata"]
                obj = {**obj, "metadata": {**md, "resourceVersion": live_md.get("resourceVersion")}}
                store.update(obj)
            outcome.written += 1
        for item in pruned:
            store.delete(item.kind, item.namespace, item.name)
            outcome.written += 1
        keys = {key_of(v.obj) for v in objects}
        old = store.get_inventory(source.id)
        if old is not None and not prune:
            keys |= set(store.get_many(sorted(old.entries - keys, key=str)))
        store.put_inventory(Inventory(source.id, keys, source.commit, now, "ok",
                                      {"repo": source.repo} if source.repo else {}))
    return outcome


def _ensure_default_namespace(store: Store, plan_: DiffPlan) -> None:
    if any(i.namespace == "default" for i in plan_.items) and store.get("Namespace", "", "default") is None:
        store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})


def _resource(item: DiffItem) -> str:
    info = BY_KIND.get(item.kind)
    return f"{info.resource_name if info else item.kind.lower()}/{item.name}"


def fail_on_errors(diagnostics: list[Diagnostic]) -> None:
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        raise ManifestError(diagnostics)
