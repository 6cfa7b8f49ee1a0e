"""`gitkube status`: per source, what was applied, how the last sync went, and whether live drifted.

Fast by construction: one inventory read and one `get_many` per source, then a hash per object
compared with the fingerprint recorded at apply time (see `record`). No manifests are read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from gitkube.gitops.record import fingerprint
from gitkube.kinds import BY_KIND
from gitkube.store.base import Inventory, ObjectKey, Store

IN_SYNC, OUT_OF_SYNC, MISSING, UNDECLARED, UNKNOWN = "in-sync", "out-of-sync", "missing", "not-declared", "unknown"


@dataclass
class ObjectStatus:
    key: ObjectKey
    state: str

    @property
    def ref(self) -> str:
        info = BY_KIND.get(self.key.kind)
        name = f"{info.resource_name if info else self.key.kind.lower()}/{self.key.name}"
        return f"{name} -n {self.key.namespace}" if self.key.namespace and self.key.namespace != "default" else name


@dataclass
class SourceStatus:
    source: str
    commit: str  # applied, in force
    applied_at: str
    result: str
    meta: dict
    objects: list[ObjectStatus] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for o in self.objects if o.state == state)

    @property
    def tracked(self) -> bool:
        """Fingerprints were recorded, so drift can be told."""
        return "fingerprints" in self.meta

    @property
    def drifted(self) -> bool | None:
        if not self.tracked:
            return None
        return any(o.state in (OUT_OF_SYNC, MISSING) for o in self.objects)

    @property
    def last_sync(self) -> dict:
        return self.meta.get("last_sync") or {}

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "repo": self.meta.get("repo", ""),
            "path": self.meta.get("path", ""),
            "ref": self.meta.get("ref", ""),
            "commit": self.commit,
            "appliedAt": self.applied_at,
            "result": self.result,
            "lastSync": self.last_sync,
            "objects": {"total": len(self.objects), "inSync": self.count(IN_SYNC),
                        "outOfSync": self.count(OUT_OF_SYNC), "missing": self.count(MISSING),
                        "notDeclared": self.count(UNDECLARED), "unknown": self.count(UNKNOWN)},
            "drifted": self.drifted,
            "items": [{"kind": o.key.kind, "namespace": o.key.namespace, "name": o.key.name, "state": o.state}
                      for o in self.objects],
        }


def source_status(store: Store, inv: Inventory) -> SourceStatus:
    prints: dict[str, str] | None = inv.meta.get("fingerprints")
    keys = sorted(inv.entries, key=lambda k: (k.kind, k.namespace, k.name))
    live = store.get_many(keys)
    out = SourceStatus(inv.source, inv.revision, inv.applied_at, inv.result, inv.meta)
    for k in keys:
        obj = live.get(k)
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            state = MISSING
        elif prints is None:
            state = UNKNOWN
        elif str(k) not in prints:
            state = UNDECLARED
        else:
            state = IN_SYNC if fingerprint(obj) == prints[str(k)] else OUT_OF_SYNC
        out.objects.append(ObjectStatus(k, state))
    return out


def collect(store: Store, source: str | None = None) -> list[SourceStatus]:
    invs = store.inventories()
    if source is not None:
        invs = [i for i in invs if i.source == source or i.source.startswith(source)]
    return [source_status(store, i) for i in invs]


def render_json(statuses: list[SourceStatus]) -> str:
    return json.dumps({"sources": [s.to_dict() for s in statuses]}, indent=2)


def render_text(statuses: list[SourceStatus]) -> str:
    if not statuses:
        return "no sources applied yet\n"
    lines = []
    for s in statuses:
        sync = s.last_sync
        drift = {None: "unknown", True: "yes", False: "no"}[s.drifted]
        lines.append(f"{s.source}")
        ref = s.meta.get("ref")
        commit = s.commit[:12] if s.commit else "-"
        lines.append(f"  commit:    {commit}{f' ({ref})' if ref else ''} applied {s.applied_at or '-'}")
        if sync:
            what = sync.get("result", "")
            at = sync.get("commit", "")[:7]
            line = f"  last sync: {what}{f' {at}' if at else ''} at {sync.get('at', '-')}"
            if sync.get("author"):
                line += f" by {sync['author']}"
            lines.append(line)
            if sync.get("error"):
                lines.append(f"  error:     {sync['error']}")
        elif s.result and s.result != "ok":
            lines.append(f"  result:    {s.result}")
        lines.append(f"  objects:   {len(s.objects)} total, {s.count(IN_SYNC)} in sync, "
                     f"{s.count(OUT_OF_SYNC)} out of sync, {s.count(MISSING)} missing"
                     + (f", {s.count(UNDECLARED)} no longer declared" if s.count(UNDECLARED) else ""))
        lines.append(f"  drift:     {drift}")
        for o in s.objects:
            if o.state in (OUT_OF_SYNC, MISSING, UNDECLARED):
                lines.append(f"    {o.state:<13} {o.ref}")
    return "\n".join(lines) + "\n"
