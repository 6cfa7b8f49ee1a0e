"""The Store interface: gitkube's API server.

Objects are plain dicts in Kubernetes shape (`apiVersion`, `kind`, `metadata`, then `spec` or the
kind's top-level fields such as `data`, `subsets`; and `status`). The Store sets the server-owned
metadata: `uid`, `resourceVersion` (one global revision, as a string), `generation` (bumped only when
something outside `metadata`/`status` changes), `creationTimestamp`, `deletionTimestamp`.

The SQLite implementation lives in `gitkube.store.sqlite`; a networked backend implements the same
Protocol. Callers never see SQL.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Literal, Protocol

if TYPE_CHECKING:
    import threading

    from gitkube.labels.selector import Selector

Propagation = Literal["background", "foreground", "orphan"]


@dataclass(frozen=True, slots=True)
class ObjectKey:
    """Identity of an object: (group, kind, namespace, name). Cluster-scoped kinds use namespace ""."""

    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.name}"


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    namespace: str
    name: str
    uid: str
    type: str  # Normal | Warning
    reason: str
    message: str
    count: int
    first_seen: str  # RFC 3339
    last_seen: str


@dataclass
class Inventory:
    """What one source (a path or a Git repo+path) applied last time, for exact pruning."""

    source: str  # stable id, e.g. "dir:/abs/path" or "git:URL#path"
    entries: set[ObjectKey] = field(default_factory=set)
    revision: str = ""  # git commit when known
    applied_at: str = ""
    result: str = ""  # free-form summary of the last apply ("ok", "error: …")
    meta: dict[str, Any] = field(default_factory=dict)


class Store(Protocol):
    # --- reads -----------------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        """The object, or None. `namespace` is "" for cluster-scoped kinds."""

    def get_many(self, keys: list[ObjectKey]) -> dict[ObjectKey, dict]:
        """The objects that exist among `keys`, in one round trip (diff of a whole repository)."""

    def list(self, kind: str | None = None, namespace: str | None = None,
             selector: Selector | None = None) -> list[dict]:
        """Objects of `kind` (all kinds when None) in `namespace` (all when None) matching `selector`,
        sorted by (kind, namespace, name). Equality requirements are answered from the label index."""

    def cluster_id(self) -> str:
        """A stable random id of this state, put on every container gitkube creates."""

    def revision(self) -> int:
        """The current global revision (the highest resourceVersion written)."""

    def wait_for_change(self, since: int, timeout: float, cancel: threading.Event | None = None) -> int:
        """Block until the revision exceeds `since`, `timeout` seconds pass or `cancel` is set;
        return the revision. Cheap enough to call in a loop from another process (no busy polling
        of big tables)."""

    # --- writes ----------------------------------------------------------------------------
    def atomic(self) -> AbstractContextManager[None]:
        """One transaction for everything inside (nested calls use savepoints)."""

    def create(self, obj: dict) -> dict:
        """Insert a new object; honours `metadata.generateName` when `name` is empty.
        Raises AlreadyExists. Returns the stored object with server metadata set."""

    def update(self, obj: dict) -> dict:
        """Replace spec/labels/annotations/ownerReferences/finalizers (status is kept).
        If `metadata.resourceVersion` is given and stale, raises Conflict. Raises NotFound."""

    def update_status(self, kind: str, namespace: str, name: str, status: dict,
                      resource_version: str | None = None) -> dict:
        """Write only `status`; a no-op (no new revision) when it is unchanged."""

    def delete(self, kind: str, namespace: str, name: str, *, propagation: Propagation = "background",
               grace_period: int | None = None) -> dict | None:
        """Request deletion. Returns the object as it is afterwards, or None if it is gone.
        - Pod bound to a node (spec.nodeName) and grace_period != 0: sets deletionTimestamp and
          deletionGracePeriodSeconds; the agent removes it once its containers are gone.
        - propagation "orphan": strips this owner from the dependents' ownerReferences and removes
          the object, in one transaction.
        - propagation "foreground": sets deletionTimestamp and the `foregroundDeletion` finalizer;
          the garbage collector removes dependents first.
        - otherwise ("background"): removes the object now; dependents are garbage-collected."""

    def remove(self, kind: str, namespace: str, name: str) -> None:
        """Remove the row for good (used by the agent once a terminating object is finished)."""

    # --- events ----------------------------------------------------------------------------
    def record_event(self, obj: dict, reason: str, message: str, type: str = "Normal") -> None:
        """Add an event, or bump count/last_seen of the same (object, reason, message)."""

    def events(self, kind: str, namespace: str, name: str) -> list[Event]:
        ...

    # --- apply inventory ------------------------------------------------------------------
    def get_inventory(self, source: str) -> Inventory | None:
        ...

    def put_inventory(self, inventory: Inventory) -> None:
        ...

    def inventories(self) -> list[Inventory]:
        ...

    # --- agent lease -----------------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew the lease if free, expired, or already ours."""

    def release_lease(self, name: str, holder: str) -> None:
        ...

    def close(self) -> None:
        ...


def keys_of(objs: Iterable[dict]) -> set[ObjectKey]:
    from gitkube.kinds import BY_KIND

    out: set[ObjectKey] = set()
    for o in objs:
        info = BY_KIND[o["kind"]]
        md = o.get("metadata") or {}
        ns = (md.get("namespace") or "default") if info.namespaced else ""
        out.add(ObjectKey(info.group, info.kind, ns, md["name"]))
    return out
