"""Pieces several commands share: opening the store, reading manifests, printing diagnostics."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from gitkube.errors import Diagnostic

if TYPE_CHECKING:
    from gitkube.gitops.reader import Loaded
    from gitkube.schema.pipeline import CheckedSources
    from gitkube.store.sqlite import SqliteStore

# --repo/--ref/--path, shared by validate, diff and apply (and sync).
RepoOption = Annotated[Optional[str], typer.Option(
    "--repo", metavar="URL_OR_PATH",
    help="Read the manifests from this Git repository at --ref (cloned once into "
         "$XDG_CACHE_HOME/gitkube/repos, fetched afterwards; nothing uncommitted is read).")]
RefOption = Annotated[Optional[str], typer.Option(
    "--ref", metavar="BRANCH|TAG|SHA", help="With --repo: what to read (default: the default branch).")]
PathOption = Annotated[Optional[str], typer.Option(
    "--path", metavar="SUBDIR", help="With --repo: the directory (or file) inside the repository.")]


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


def load_manifests(paths: list[str], namespace: str | None, repo: str | None = None, ref: str | None = None,
                   path: str | None = None) -> Loaded:
    """`-f` paths or `--repo`, validated; on any error print every diagnostic and exit 2 (nothing is
    written). A Git source that cannot be read raises SourceError (exit 2)."""
    from gitkube.gitops.reader import read_any

    loaded = read_any(paths, repo, ref, path, namespace)
    result = loaded.checked
    print_diagnostics(result.diagnostics)
    if not result.ok:
        n = len(result.errors)
        where = f" at {loaded.commit.describe()}" if loaded.commit else ""
        sys.stderr.write(f"error: {n} problem{'s' if n != 1 else ''} in the manifests{where}; nothing was changed\n")
        raise typer.Exit(2)
    return loaded


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
