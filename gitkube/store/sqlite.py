"""The Store on one SQLite file, shared by the CLI and the agent processes.

Why it is built this way:
- WAL, `busy_timeout` and `BEGIN IMMEDIATE`: readers never block; writers queue for the lock up front
  instead of failing a lock upgrade half-way through a transaction. A leftover SQLITE_BUSY is retried
  with back-off, so callers never see "database is locked".
- An object is stored as JSON text without `status` (own column, so status writes never rewrite the
  body). `resourceVersion` and `generation` are columns; the body keeps a null placeholder for them
  so a read returns the keys in the order they were written.
- Labels and owner uids are copied into index tables: selectors and orphaning need no JSON scans.
- The global revision counts object writes only. Events, inventory and leases are bookkeeping; if
  they bumped it, a lease renewal or an event would wake every controller in `wait_for_change`.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from gitkube.errors import AlreadyExists, Conflict, NotFound, StoreError
from gitkube.kinds import BY_KIND, KindInfo
from gitkube.store import migrations
from gitkube.store.base import Event, Inventory, ObjectKey, Propagation

if TYPE_CHECKING:
    from gitkube.labels.selector import Selector

T = TypeVar("T")

BUSY_TIMEOUT_S = 30.0
GIVE_UP_AFTER_S = 300.0  # after busy_timeout, keep retrying this long before reporting an error
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery rand: no vowels, no confusable digits
_SERVER_FIELDS = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")
_NOT_DESIRED_STATE = frozenset({"apiVersion", "kind", "metadata", "status"})
_OBJECT = "o.body, o.status, o.resource_version, o.generation"


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _desired_state(obj: dict) -> str:
    """Canonical JSON of what `generation` tracks: the desired state, i.e. everything except
    apiVersion (converting an old apiVersion is not a change), kind, metadata and status."""
    return json.dumps({k: v for k, v in obj.items() if k not in _NOT_DESIRED_STATE},
                      sort_keys=True, separators=(",", ":"))


def _assemble(body: str, status: str | None, rv: int, generation: int) -> dict:
    obj = json.loads(body)
    md = obj["metadata"]
    md["resourceVersion"] = str(rv)
    md["generation"] = generation
    if status is not None:
        obj["status"] = json.loads(status)
    return obj


def _kind(kind: str) -> KindInfo:
    info = BY_KIND.get(kind)
    if info is None:
        raise StoreError(f"unknown kind {kind!r}")
    return info


def _scope(info: KindInfo, namespace: str | None) -> str:
    """Namespaced kinds default to "default"; cluster-scoped kinds always use ""."""
    return (namespace or "default") if info.namespaced else ""


def _owner_uids(md: dict) -> set[str]:
    return {ref["uid"] for ref in md.get("ownerReferences") or () if ref.get("uid")}


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _retry(fn: Callable[[], T]) -> T:
    """Run `fn`, retrying SQLITE_BUSY with jittered back-off. busy_timeout absorbs nearly every wait;
    this covers the rest (WAL recovery, a writer holding the lock longer than the timeout)."""
    delay = 0.01
    deadline = time.monotonic() + GIVE_UP_AFTER_S
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            if time.monotonic() > deadline:
                raise StoreError(f"the state file stayed busy for {GIVE_UP_AFTER_S:.0f} s; "
                                 "another gitkube process is holding it") from exc
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)


def _connect(path: str) -> sqlite3.Connection:
    """Open the file private to its owner (0600; the -wal/-shm files follow) in WAL mode."""
    old_umask = os.umask(0o077)
    try:
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
            # Create it 0600 only if missing: opening and closing an existing database file here
            # would drop every POSIX lock this process's other connections hold on it (fcntl locks
            # are per process), and another process could then delete the live WAL under them.
            try:
                os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        _retry(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone())
        conn.execute("PRAGMA synchronous=NORMAL")
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open the state file {path}: {exc}") from exc
    finally:
        os.umask(old_umask)
    return conn


class SqliteStore:
    """The Store Protocol on SQLite. One connection per instance, guarded by a lock so threads may
    share it; processes share the file."""

    def __init__(self, path: str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.RLock()
        self._depth = 0  # atomic() nesting: 0 = no transaction open
        self._conn = _connect(path)
        try:
            if self._read(lambda: migrations.pending(self._conn)):
                with self.atomic():
                    migrations.apply(self._conn, self._timestamp())
        except BaseException:
            self._conn.close()
            raise

    # --- plumbing --------------------------------------------------------------------------
    def _timestamp(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock()))

    def _read(self, fn: Callable[[], T]) -> T:
        """Run a read; outside a transaction it may meet SQLITE_BUSY (WAL recovery), so retry."""
        with self._lock:
            return fn() if self._depth else _retry(fn)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """BEGIN IMMEDIATE at the outermost level, SAVEPOINTs inside: a failed inner step undoes only
        itself, and every public write is one inner step."""
        with self._lock:
            conn, depth = self._conn, self._depth
            if depth == 0:
                _retry(lambda: conn.execute("BEGIN IMMEDIATE"))
            else:
                conn.execute(f"SAVEPOINT sp{depth}")
            self._depth = depth + 1
            try:
                yield
                conn.execute("COMMIT" if depth == 0 else f"RELEASE sp{depth}")
            except BaseException:
                if depth == 0:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                else:
                    conn.execute(f"ROLLBACK TO sp{depth}")
                    conn.execute(f"RELEASE sp{depth}")
                raise
            finally:
                self._depth = depth

    def _bump(self) -> int:
        return self._conn.execute(
            "UPDATE meta SET value = value + 1 WHERE key = 'revision' RETURNING value").fetchone()[0]

    def _row(self, info: KindInfo, namespace: str, name: str) -> tuple | None:
        """(id, uid, resource_version, generation, body, status) of one object."""
        return self._conn.execute(
            "SELECT id, uid, resource_version, generation, body, status FROM objects "
            "WHERE grp = ? AND kind = ? AND namespace = ? AND name = ?",
            (info.group, info.kind, namespace, name)).fetchone()

    def _existing(self, info: KindInfo, namespace: str, name: str, rv: str | None = None) -> tuple:
        row = self._row(info, namespace, name)
        key = ObjectKey(info.group, info.kind, namespace, name)
        if row is None:
            raise NotFound(f"{key} not found")
        if rv not in (None, "") and str(rv) != str(row[2]):
            raise Conflict(f"Operation cannot be fulfilled on {key}: the object has been modified; "
                           "please apply your changes to the latest version and try again")
        return row

    def _reindex(self, oid: int, md: dict, old_md: dict | None) -> None:
        """Keep the label and owner tables in step with the body, touching them only on change."""
        conn = self._conn
        labels = md.get("labels") or {}
        if old_md is None or labels != (old_md.get("labels") or {}):
            if old_md is not None:
                conn.execute("DELETE FROM labels WHERE object_id = ?", (oid,))
            conn.executemany("INSERT INTO labels (object_id, key, value) VALUES (?, ?, ?)",
                             [(oid, k, v) for k, v in labels.items()])
        owners = _owner_uids(md)
        if old_md is None or owners != _owner_uids(old_md):
            if old_md is not None:
                conn.execute("DELETE FROM owner_refs WHERE object_id = ?", (oid,))
            conn.executemany("INSERT INTO owner_refs (owner_uid, object_id) VALUES (?, ?)",
                             [(uid, oid) for uid in owners])

    def _rewrite(self, oid: int, body: dict, generation: int, old_md: dict) -> int:
        """Store a changed body under a new revision; returns that revision."""
        rv = self._bump()
        md = body["metadata"]
        self._conn.execute(
            "UPDATE objects SET body = ?, resource_version = ?, generation = ?, deleted = ? WHERE id = ?",
            (_dumps(body), rv, generation, md.get("deletionTimestamp"), oid))
        self._reindex(oid, md, old_md)
        return rv

    def _drop(self, oid: int) -> None:
        self._bump()
        for table, column in (("labels", "object_id"), ("owner_refs", "object_id"), ("objects", "id")):
            self._conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (oid,))

    # --- reads -----------------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        info = _kind(kind)
        row = self._read(lambda: self._conn.execute(
            f"SELECT {_OBJECT} FROM objects o WHERE grp = ? AND kind = ? AND namespace = ? AND name = ?",
            (info.group, info.kind, _scope(info, namespace), name)).fetchone())
        return _assemble(*row) if row else None

    def get_many(self, keys: list[ObjectKey]) -> dict[ObjectKey, dict]:
        """Many objects in one query (diff of a whole repo); missing keys are absent from the result."""
        if not keys:
            return {}
        wanted = _dumps([[k.group, k.kind, k.namespace, k.name] for k in keys])
        sql = (f"SELECT o.grp, o.kind, o.namespace, o.name, {_OBJECT} FROM json_each(?) AS k "
               "CROSS JOIN objects o ON o.grp = json_extract(k.value, '$[0]') "
               "AND o.kind = json_extract(k.value, '$[1]') AND o.namespace = json_extract(k.value, '$[2]') "
               "AND o.name = json_extract(k.value, '$[3]')")
        rows = self._read(lambda: self._conn.execute(sql, (wanted,)).fetchall())
        return {ObjectKey(*row[:4]): _assemble(*row[4:]) for row in rows}

    def list(self, kind: str | None = None, namespace: str | None = None,
             selector: Selector | None = None) -> list[dict]:
        where: list[str] = []
        params: list[object] = []
        if kind is not None:
            info = _kind(kind)
            where.append("o.grp = ? AND o.kind = ?")
            params += [info.group, info.kind]
            if not info.namespaced:
                namespace = None  # like kubectl: -n is ignored for cluster-scoped kinds
            elif namespace == "":
                namespace = "default"  # as in get()
        if namespace is not None:
            where.append("o.namespace = ?")
            params.append(namespace)
        source = "objects o"
        if selector is not None and selector.empty:
            selector = None
        pairs = selector.equality_pairs() if selector is not None else []
        if pairs:
            # Drive the query from the label index: only objects carrying every required pair.
            ids = " INTERSECT ".join(["SELECT object_id FROM labels WHERE key = ? AND value = ?"] * len(pairs))
            source = f"({ids}) AS m CROSS JOIN objects o ON o.id = m.object_id"
            params = [part for pair in pairs for part in pair] + params
        sql = (f"SELECT {_OBJECT} FROM {source}" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY o.kind, o.namespace, o.name")
        rows = self._read(lambda: self._conn.execute(sql, params).fetchall())
        objs = [_assemble(*row) for row in rows]
        if selector is None:
            return objs
        return [o for o in objs if selector.matches(o["metadata"].get("labels") or {})]

    def cluster_id(self) -> str:
        """A random id made once per state file; it is put on every container so two state files
        sharing one Docker engine never touch each other's containers."""
        row = self._read(lambda: self._conn.execute("SELECT value FROM meta WHERE key = 'cluster-id'").fetchone())
        if row:
            return row[0]
        with self.atomic():
            self._conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('cluster-id', ?)",
                               (uuid.uuid4().hex[:12],))
            return self._conn.execute("SELECT value FROM meta WHERE key = 'cluster-id'").fetchone()[0]

    def revision(self) -> int:
        return self._read(lambda: self._conn.execute(
            "SELECT value FROM meta WHERE key = 'revision'").fetchone()[0])

    def wait_for_change(self, since: int, timeout: float, cancel: threading.Event | None = None) -> int:
        """Poll the one-row revision counter, 10 ms doubling to 50 ms: a wake-up within ~50 ms of a
        write in any process, for a few microseconds of work per poll."""
        deadline = time.monotonic() + timeout
        cancel = cancel or threading.Event()
        delay = 0.01
        while True:
            rev = self.revision()
            remaining = deadline - time.monotonic()
            if rev > since or remaining <= 0 or cancel.is_set():
                return rev
            cancel.wait(min(delay, remaining))
            delay = min(delay * 2, 0.05)

    # --- writes ----------------------------------------------------------------------------
    def create(self, obj: dict) -> dict:
        """Server fields (uid, creationTimestamp, resourceVersion, generation) are set here; a
        deletionTimestamp in the input is dropped. A `status` in the input is stored as given."""
        info = _kind(obj.get("kind", ""))
        md = dict(obj.get("metadata") or {})
        namespace = _scope(info, md.get("namespace"))
        with self.atomic():
            name = md.get("name") or self._generate_name(info, namespace, md.get("generateName"))
            md["name"] = name
            if info.namespaced:
                md["namespace"] = namespace
            else:
                md.pop("namespace", None)
            for field in ("deletionTimestamp", "deletionGracePeriodSeconds"):
                md.pop(field, None)
            created = self._timestamp()
            md.update(uid=str(uuid.uuid4()), resourceVersion=None, generation=None, creationTimestamp=created)
            body = {k: v for k, v in obj.items() if k != "status"}
            body["metadata"] = md
            body_text = _dumps(body)
            status = _dumps(obj["status"]) if obj.get("status") is not None else None
            rv = self._bump()
            try:
                cur = self._conn.execute(
                    "INSERT INTO objects (grp, kind, namespace, name, uid, resource_version, generation, "
                    "created, body, status) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
                    (info.group, info.kind, namespace, name, md["uid"], rv, created, body_text, status))
            except sqlite3.IntegrityError:
                key = ObjectKey(info.group, info.kind, namespace, name)
                raise AlreadyExists(f"{key} already exists") from None
            self._reindex(cur.lastrowid, md, None)
        return _assemble(body_text, status, rv, 1)

    def _generate_name(self, info: KindInfo, namespace: str, prefix: str | None) -> str:
        """generateName + 5 random characters, retried on collision (we hold the write lock)."""
        if not prefix:
            raise StoreError(f"{info.kind}: name or generateName is required")
        for _ in range(100):
            name = prefix[:58] + "".join(random.choices(_NAME_ALPHABET, k=5))
            if self._row(info, namespace, name) is None:
                return name
        raise AlreadyExists(f"{info.kind}: no free name for generateName {prefix!r}")

    def update(self, obj: dict) -> dict:
        """Server fields and status are kept from the stored object. An update that changes nothing
        writes nothing (no new revision), so a repeated apply is a no-op."""
        info = _kind(obj.get("kind", ""))
        md = dict(obj.get("metadata") or {})
        namespace, name = _scope(info, md.get("namespace")), md.get("name", "")
        with self.atomic():
            oid, uid, rv, generation, old_text, status = self._existing(
                info, namespace, name, md.get("resourceVersion"))
            if md.get("uid") not in (None, "", uid):
                raise Conflict(f"{ObjectKey(info.group, info.kind, namespace, name)}: uid precondition "
                               f"failed (stored {uid}, given {md['uid']})")
            old = json.loads(old_text)
            old_md = old["metadata"]
            for field in _SERVER_FIELDS:
                if field in old_md:
                    md[field] = old_md[field]
                else:
                    md.pop(field, None)
            if info.namespaced:
                md["namespace"] = namespace
            else:
                md.pop("namespace", None)
            md.update(resourceVersion=None, generation=None)
            body = {k: v for k, v in obj.items() if k != "status"}
            body["metadata"] = md
            if body == old:
                return _assemble(old_text, status, rv, generation)
            if _desired_state(body) != _desired_state(old):
                generation += 1
            rv = self._rewrite(oid, body, generation, old_md)
        return _assemble(_dumps(body), status, rv, generation)

    def update_status(self, kind: str, namespace: str, name: str, status: dict,
                      resource_version: str | None = None) -> dict:
        info = _kind(kind)
        with self.atomic():
            oid, _, rv, generation, body, old = self._existing(
                info, _scope(info, namespace), name, resource_version)
            if old is not None and json.loads(old) == status:
                return _assemble(body, old, rv, generation)
            text = _dumps(status)
            rv = self._bump()
            self._conn.execute("UPDATE objects SET status = ?, resource_version = ? WHERE id = ?",
                               (text, rv, oid))
        return _assemble(body, text, rv, generation)

    def delete(self, kind: str, namespace: str, name: str, *, propagation: Propagation = "background",
               grace_period: int | None = None) -> dict | None:
        if propagation not in ("background", "foreground", "orphan"):
            raise StoreError(f'invalid propagation {propagation!r}: must be "background", "foreground" '
                             'or "orphan"')
        info = _kind(kind)
        namespace = _scope(info, namespace)
        with self.atomic():
            oid, uid, _, generation, body_text, _ = self._existing(info, namespace, name)
            if propagation == "orphan":
                self._orphan_dependents(uid)
            body = json.loads(body_text)
            md = body["metadata"]
            node = (body.get("spec") or {}).get("nodeName") if info.kind == "Pod" else None
            bound_pod = bool(node) and grace_period != 0
            if not (bound_pod or propagation == "foreground"):
                self._drop(oid)
                return None
            old_md = dict(md)
            md.setdefault("deletionTimestamp", self._timestamp())
            if bound_pod:
                grace = grace_period if grace_period is not None else \
                    body["spec"].get("terminationGracePeriodSeconds", 30)
                md["deletionGracePeriodSeconds"] = min(grace, md.get("deletionGracePeriodSeconds", grace))
            if propagation == "foreground" and "foregroundDeletion" not in md.get("finalizers", []):
                md["finalizers"] = [*md.get("finalizers", []), "foregroundDeletion"]
            if md != old_md:
                self._rewrite(oid, body, generation, old_md)
            return self.get(kind, namespace, name)

    def _orphan_dependents(self, owner_uid: str) -> None:
        """Strip `owner_uid` from every dependent's ownerReferences (they stay, now unowned)."""
        rows = self._conn.execute(
            "SELECT o.id, o.generation, o.body FROM owner_refs r JOIN objects o ON o.id = r.object_id "
            "WHERE r.owner_uid = ?", (owner_uid,)).fetchall()
        for oid, generation, body_text in rows:
            body = json.loads(body_text)
            md = body["metadata"]
            old_md = dict(md)
            refs = [ref for ref in md["ownerReferences"] if ref.get("uid") != owner_uid]
            if refs:
                md["ownerReferences"] = refs
            else:
                del md["ownerReferences"]
            self._rewrite(oid, body, generation, old_md)

    def remove(self, kind: str, namespace: str, name: str) -> None:
        """Idempotent: removing an object that is already gone does nothing."""
        info = _kind(kind)
        with self.atomic():
            row = self._row(info, _scope(info, namespace), name)
            if row is not None:
                self._drop(row[0])

    # --- events ----------------------------------------------------------------------------
    def record_event(self, obj: dict, reason: str, message: str, type: str = "Normal") -> None:
        info = _kind(obj.get("kind", ""))
        md = obj.get("metadata") or {}
        now = self._timestamp()
        with self.atomic():
            self._conn.execute(
                "INSERT INTO events (uid, kind, namespace, name, type, reason, message, count, first_seen, "
                "last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) "
                "ON CONFLICT (kind, namespace, name, uid, reason, message) DO UPDATE SET "
                "count = count + 1, last_seen = excluded.last_seen, type = excluded.type",
                (md.get("uid", ""), info.kind, _scope(info, md.get("namespace")), md.get("name", ""), type,
                 reason, message, now, now))

    def events(self, kind: str, namespace: str, name: str) -> list[Event]:
        """Events of every object that had this name (also earlier incarnations), oldest last_seen first."""
        info = _kind(kind)
        rows = self._read(lambda: self._conn.execute(
            "SELECT kind, namespace, name, uid, type, reason, message, count, first_seen, last_seen "
            "FROM events WHERE kind = ? AND namespace = ? AND name = ? ORDER BY last_seen, id",
            (info.kind, _scope(info, namespace), name)).fetchall())
        return [Event(*row) for row in rows]

    # --- apply inventory ------------------------------------------------------------------
    def get_inventory(self, source: str) -> Inventory | None:
        row = self._read(lambda: self._conn.execute(
            "SELECT source, revision, applied_at, result, meta, entries FROM inventory WHERE source = ?",
            (source,)).fetchone())
        return _inventory(row) if row else None

    def put_inventory(self, inventory: Inventory) -> None:
        """Replace the source's inventory; an empty `applied_at` is stamped with the current time."""
        entries = sorted([k.group, k.kind, k.namespace, k.name] for k in inventory.entries)
        with self.atomic():
            self._conn.execute(
                "INSERT OR REPLACE INTO inventory (source, revision, applied_at, result, meta, entries) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (inventory.source, inventory.revision, inventory.applied_at or self._timestamp(),
                 inventory.result, _dumps(inventory.meta), _dumps(entries)))

    def inventories(self) -> list[Inventory]:
        rows = self._read(lambda: self._conn.execute(
            "SELECT source, revision, applied_at, result, meta, entries FROM inventory ORDER BY source"
        ).fetchall())
        return [_inventory(row) for row in rows]

    # --- agent lease -----------------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        now = self._clock()
        with self.atomic():
            row = self._conn.execute("SELECT holder, expires FROM leases WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] != holder and row[1] > now:
                return False
            self._conn.execute("INSERT OR REPLACE INTO leases (name, holder, expires) VALUES (?, ?, ?)",
                               (name, holder, now + ttl))
        return True

    def release_lease(self, name: str, holder: str) -> None:
        with self.atomic():
            self._conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _inventory(row: tuple) -> Inventory:
    source, revision, applied_at, result, meta, entries = row
    return Inventory(source=source, entries={ObjectKey(*e) for e in json.loads(entries)}, revision=revision,
                     applied_at=applied_at, result=result, meta=json.loads(meta))
