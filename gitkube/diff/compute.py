"""Desired vs live, as data: one DiffItem per object with its action and field-level changes.

Pure: no store, no I/O. `apply` and `diff` both start from the same plan, so `apply --dry-run`
and `diff` can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Literal

from gitkube.diff.essence import carry_allocated, essence, object_key, same_as_written

Action = Literal["create", "update", "unchanged", "prune"]
MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str
    old: Any  # MISSING when added
    new: Any  # MISSING when removed

    @property
    def op(self) -> str:
        if self.old is MISSING:
            return "add"
        if self.new is MISSING:
            return "remove"
        return "replace"


@dataclass
class DiffItem:
    action: Action
    kind: str
    namespace: str
    name: str
    before: dict | None = None  # essence of live (None on create)
    after: dict | None = None  # essence of desired (None on prune)
    desired: dict | None = None  # the full desired object, as apply will write it
    live: dict | None = None
    changes: list[FieldChange] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass
class DiffPlan:
    items: list[DiffItem] = field(default_factory=list)

    def count(self, action: Action) -> int:
        return sum(1 for i in self.items if i.action == action)

    @property
    def has_changes(self) -> bool:
        return any(i.action != "unchanged" for i in self.items)

    def summary(self) -> str:
        return (f"{self.count('create')} to create, {self.count('update')} to change, "
                f"{self.count('unchanged')} unchanged, {self.count('prune')} to prune")


def plan(desired: Iterable[dict], live: dict[tuple[str, str, str], dict], prune: Iterable[dict] = ()) -> DiffPlan:
    """`live` maps (kind, namespace, name) to the stored object; `prune` lists live objects to delete."""
    result = DiffPlan()
    for obj in desired:
        key = object_key(obj)
        current = live.get(key)
        if current is None:
            result.items.append(DiffItem("create", *key, after=essence(obj), desired=obj))
            continue
        obj = carry_allocated(obj, current)
        if same_as_written(obj, current):
            result.items.append(DiffItem("unchanged", *key, desired=obj, live=current))
            continue
        before, after = essence(current), essence(obj)
        if before == after:
            result.items.append(DiffItem("unchanged", *key, before, after, obj, current))
        else:
            result.items.append(DiffItem("update", *key, before, after, obj, current,
                                         field_changes(before, after)))
    for obj in prune:
        result.items.append(DiffItem("prune", *object_key(obj), before=essence(obj), live=obj))
    return result


def field_changes(before: Any, after: Any, path: str = "") -> list[FieldChange]:
    """Leaf-level changes. Lists of equal length are compared item by item, others as a whole."""
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[FieldChange] = []
        for k in list(before) + [k for k in after if k not in before]:
            sub = f"{path}.{k}" if path else str(k)
            if k not in after:
                out.append(FieldChange(sub, before[k], MISSING))
            elif k not in before:
                out.append(FieldChange(sub, MISSING, after[k]))
            else:
                out.extend(field_changes(before[k], after[k], sub))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        out = []
        for i, (b, a) in enumerate(zip(before, after)):
            out.extend(field_changes(b, a, f"{path}[{i}]"))
        return out
    return [FieldChange(path, before, after)]
