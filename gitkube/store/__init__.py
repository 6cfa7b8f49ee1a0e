"""The Store: gitkube's API server, on one SQLite file (the contract is in `base.py`)."""

from __future__ import annotations

from gitkube.store.base import Event, Inventory, ObjectKey, Propagation, Store, keys_of
from gitkube.store.location import state_path
from gitkube.store.sqlite import SqliteStore

__all__ = ["Event", "Inventory", "ObjectKey", "Propagation", "SqliteStore", "Store", "keys_of", "open_store",
           "state_path"]


def open_store(path: str | None = None) -> SqliteStore:
    """Open (creating and migrating if needed) the state file: `path`, else $GITKUBE_STATE, else XDG."""
    return SqliteStore(state_path(path))
