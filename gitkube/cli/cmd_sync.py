"""`gitkube sync --repo URL`: poll a Git ref and keep the state at what it declares, with the agent
running in this process so the declared pods keep running."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Annotated, Optional

import typer

from gitkube.cli.common import PathOption, RefOption
from gitkube.cli.main import app


@app.command(help="Poll a Git ref and apply every new commit: validate → diff → apply (→ prune with --prune). "
                  "An invalid commit is reported (every problem, the commit and its author) and nothing of it "
                  "is applied; the last good commit stays in force. Live changes made outside Git are reported "
                  "as drift, or reverted with --self-heal. The agent runs in this process unless --no-agent. "
                  "SIGINT/SIGTERM stop it (containers keep running). Exit 2 when the repository or ref cannot "
                  "be read on start; with --once, exit 0 when the commit was applied, 2 when it was rejected.")
def sync(
    repo: Annotated[Optional[str], typer.Option("--repo", metavar="URL_OR_PATH", help="The Git repository (URL or local path).")] = None,
    ref: RefOption = None,
    path: PathOption = None,
    interval: Annotated[str, typer.Option("--interval", help="How often to fetch and compare (e.g. 30s, 5m).")] = "30s",
    prune: Annotated[bool, typer.Option("--prune", help="Delete objects an earlier commit declared and the new one does not.")] = False,
    force_prune: Annotated[bool, typer.Option("--force-prune", help="Allow prune to delete everything or more than half of the source's objects.")] = False,
    self_heal: Annotated[bool, typer.Option("--self-heal", help="Revert live changes made outside Git (scale, label, edits, deletes) every interval.")] = False,
    namespace: Annotated[Optional[str], typer.Option("-n", "--namespace", help="Namespace for objects without one.")] = None,
    no_agent: Annotated[bool, typer.Option("--no-agent", help="Do not run the agent here (a separate `gitkube agent` runs the pods).")] = False,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (for cron jobs and CI).")] = False,
    accept_new_host_key: Annotated[bool, typer.Option("--accept-new-host-key", help="Trust SSH host keys seen for the first time.")] = False,
) -> None:
    from gitkube.agent.wait import parse_duration
    from gitkube.cli.common import open_state, ssh_options
    from gitkube.cli.main import GLOBALS
    from gitkube.errors import GitkubeError, UsageError
    from gitkube.gitops.agentthread import AgentThread
    from gitkube.gitops.sync import SyncOptions, Syncer

    if not repo:
        raise UsageError("sync needs --repo URL_OR_PATH")
    seconds = parse_duration(interval)
    if seconds <= 0:
        raise UsageError("--interval must be greater than 0")

    def echo(text: str, err: bool) -> None:
        typer.echo(text, err=err)

    store = open_state()
    syncer = Syncer(store, SyncOptions(repo, ref, path, prune, force_prune, self_heal, namespace), echo)
    stop = threading.Event()
    agent: AgentThread | None = None
    try:
        result = syncer.step()  # a wrong URL, ref or path on start: exit 2 (SourceError)
        if once:
            raise typer.Exit(2 if result in ("invalid", "refused") else 0)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        if not no_agent:
            agent = AgentThread(store.path, ssh_options(accept_new_host_key)).start()
        typer.echo(f"gitkube sync: {syncer.source_id} every {interval}"
                   f"{'' if no_agent else ', agent running'} (Ctrl-C to stop)", err=True)
        agent_reported = False
        while not stop.wait(seconds):
            try:
                syncer.step()
            except GitkubeError as exc:
                typer.echo(f"error: {exc}", err=True)
            except Exception as exc:  # keep maintaining the state; say what broke
                if GLOBALS.debug:
                    raise
                typer.echo(f"error: internal error: {type(exc).__name__}: {exc}", err=True)
            if agent is not None and not agent.alive and not agent_reported:
                typer.echo(f"error: the agent stopped ({agent.error}); pods are no longer maintained", err=True)
                agent_reported = True
    finally:
        if agent is not None:
            agent.stop()
        syncer.mirror.close()
    typer.echo("gitkube sync stopped (containers keep running)", err=True)
    sys.stdout.flush()
