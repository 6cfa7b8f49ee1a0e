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


def ssh_options(accept_new_host_key: bool = False):
    from gitkube.runtime.connection import SshOptions

    return SshOptions(accept_new_host_key=accept_new_host_key)


def wait_until_ready(store, keys: list, timeout: str) -> int:
    """Exit code of `--wait`: 0 all ready, 1 something failed or timed out."""
    from gitkube.agent.loop import Agent
    from gitkube.agent.wait import parse_duration, plain_reporter, wait_for

    seconds = parse_duration(timeout)
    result = wait_for(store, keys, seconds, plain_reporter(),
                      agent_factory=lambda: Agent(store, ssh_options=ssh_options()))
    if result.ok:
        sys.stdout.write(f"all {len(keys)} objects ready\n")
        return 0
    for key, v in result.failed.items():
        sys.stderr.write(f"error: {key.kind.lower()}/{key.name} failed: {v.message}\n")
    if not result.failed:
        waiting = ", ".join(f"{k.kind.lower()}/{k.name} ({v.message})" for k, v in result.pending.items())
        sys.stderr.write(f"error: timed out after {timeout} waiting for {waiting}\n")
    return 1
