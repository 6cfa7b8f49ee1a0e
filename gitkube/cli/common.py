"""Pieces several commands share: opening the store, reading manifests, printing diagnostics."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from gitkube.errors import Diagnostic

if TYPE_CHECKING:
    from gitkube.schema.pipeline import CheckedSources
    from gitkube.store.sqlite import SqliteStore


def open_state() -> SqliteStore:
    from gitkube.cli.main import GLOBALS
    from gitkube.store import open_store

    return open_store(GLOBALS.state)


def print_diagnostics(diagnostics: list[Diagnostic]) -> None:
    for d in diagnostics:
        sys.stderr.write(d.format() + "\n")


def checked_manifests(paths: list[str], namespace: str | None) -> CheckedSources:
    """Load and validate; on any error print every diagnostic and exit 2 (nothing is written)."""
    from gitkube.schema.pipeline import load_and_validate

    if not paths:
        from gitkube.errors import UsageError

        raise UsageError("no manifests given: use -f PATH (a file, a directory, or - for stdin)")
    result = load_and_validate(paths, namespace or "default")
    print_diagnostics(result.diagnostics)
    if not result.ok:
        n = len(result.errors)
        sys.stderr.write(f"error: {n} problem{'s' if n != 1 else ''} in the manifests; nothing was changed\n")
        raise typer.Exit(2)
    return result


def use_color(stream=sys.stdout) -> bool:
    import os

    return stream.isatty() and not os.environ.get("NO_COLOR")
