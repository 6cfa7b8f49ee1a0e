"""Numbered schema migrations, recorded in `schema_migrations` (the sqlite-utils / Litestream way).

Append new migrations; never edit one that has shipped, because existing state files already ran it.
Each migration runs inside the caller's write transaction, so a crash leaves the file at a known version.
"""

from __future__ import annotations

import sqlite3

from gitkube.errors import StoreError

Migration = tuple[int, str, tuple[str, ...]]

MIGRATIONS: tuple[Migration, ...] = (
    (1, "objects, label and owner indexes, events, inventory, leases, revision counter", (
        # The global revision; every object write bumps it in the same transaction.
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
        "INSERT INTO meta (key, value) VALUES ('revision', 0)",
        # body: the object without status, as JSON text in the order it was written.
        # resource_version/generation are columns so a status write never rewrites the body.
        """CREATE TABLE objects (
            id INTEGER PRIMARY KEY,
            grp TEXT NOT NULL,
            kind TEXT NOT NULL,
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            uid TEXT NOT NULL UNIQUE,
            resource_version INTEGER NOT NULL,
            generation INTEGER NOT NULL,
            created TEXT NOT NULL,
            deleted TEXT,
            body TEXT NOT NULL,
            status TEXT,
            UNIQUE (grp, kind, namespace, name)
        )""",
        # Copies of metadata.labels, so equality selectors are answered from an index.
        """CREATE TABLE labels (
            object_id INTEGER NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (object_id, key)
        ) WITHOUT ROWID""",
        "CREATE INDEX labels_by_value ON labels (key, value)",
        # Owner uids from metadata.ownerReferences, so orphaning finds dependents without a scan.
        """CREATE TABLE owner_refs (
            owner_uid TEXT NOT NULL,
            object_id INTEGER NOT NULL,
            PRIMARY KEY (owner_uid, object_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX owner_refs_by_object ON owner_refs (object_id)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL,
            kind TEXT NOT NULL,
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            reason TEXT NOT NULL,
            message TEXT NOT NULL,
            count INTEGER NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            UNIQUE (kind, namespace, name, uid, reason, message)
        )""",
        """CREATE TABLE inventory (
            source TEXT PRIMARY KEY,
            revision TEXT NOT NULL,
            applied_at TEXT NOT NULL,
            result TEXT NOT NULL,
            meta TEXT NOT NULL,
            entries TEXT NOT NULL
        )""",
        "CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL)",
    )),
)

LATEST = MIGRATIONS[-1][0]


def applied_version(conn: sqlite3.Connection) -> int:
    """The highest migration recorded in the file; 0 for a new file."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").fetchone()
    if not exists:
        return 0
    return conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]


def pending(conn: sqlite3.Connection) -> bool:
    """Whether migrations must run; refuses a file written by a newer gitkube rather than guess."""
    version = applied_version(conn)
    if version > LATEST:
        raise StoreError(f"the state file has schema version {version}, newer than this gitkube "
                         f"understands ({LATEST}); upgrade gitkube")
    return version < LATEST


def apply(conn: sqlite3.Connection, now: str) -> None:
    """Run every migration not yet recorded. Call inside a write transaction (another process may
    have migrated between `pending` and taking the lock, hence the re-check here)."""
    conn.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)""")
    done = {version for (version,) in conn.execute("SELECT version FROM schema_migrations")}
    for version, name, statements in MIGRATIONS:
        if version in done:
            continue
        for sql in statements:
            conn.execute(sql)
        conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                     (version, name, now))
