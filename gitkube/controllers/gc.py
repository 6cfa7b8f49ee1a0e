"""Garbage collection by ownerReferences.

- An object whose owners are all gone is deleted (what `--cascade=background` relies on).
- An owner being deleted in the foreground (`foregroundDeletion` finalizer) has its dependents
  deleted first (in the foreground too); once none is left, the owner itself is removed.
- `--cascade=orphan` is done by the Store at delete time (ownerReferences stripped), so nothing
  remains for the collector.
"""

from __future__ import annotations

from gitkube.controllers.base import Changes, Snapshot

FOREGROUND = "foregroundDeletion"


class GarbageCollector:
    name = "garbage-collector"

    def sync(self, snap: Snapshot) -> Changes:
        changes = Changes()
        uids = snap.uids
        for objs in snap.objects.values():
            for obj in objs:
                md = obj["metadata"]
                refs = md.get("ownerReferences") or []
                if refs and not md.get("deletionTimestamp") and not any(r.get("uid") in uids for r in refs):
                    changes.deletes.append((obj["kind"], md.get("namespace", ""), md["name"], "background"))
                if md.get("deletionTimestamp") and FOREGROUND in (md.get("finalizers") or []):
                    dependents = snap.owned_by(md["uid"])
                    for d in dependents:
                        if not d["metadata"].get("deletionTimestamp"):
                            dmd = d["metadata"]
                            changes.deletes.append((d["kind"], dmd.get("namespace", ""), dmd["name"], "foreground"))
                    if not dependents:
                        changes.deletes.append((obj["kind"], md.get("namespace", ""), md["name"], "remove"))
        return changes
