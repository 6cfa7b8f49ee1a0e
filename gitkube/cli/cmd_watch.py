"""`gitkube watch DIR`: the inner loop of editing manifests — every saved edit is validated, its diff
printed and applied, with the agent running in this process."""

from __future__ import annotations

import os
import signal
import threading
from typing import Annotated, Optional

import typer

from gitkube.cli.main import app


@app.command(help="Apply DIR, then watch it: on every change validate, print the diff and apply. A broken edit "
                  "prints its problems and changes nothing; deleting a manifest prunes its objects only with "
                  "--prune. The agent runs in this process unless --no-agent. Ctrl-C stops (containers keep "
                  "running).")
def watch(
    directory: Annotated[str, typer.Argument(metavar="DIR", help="The directory of manifests (recursive).")],
    namespace: Annotated[Optional[str], typer.Option("-n", "--namespace", help="Namespace for objects without one.")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Delete the objects of deleted manifests.")] = False,
    force_prune: Annotated[bool, typer.Option("--force-prune", help="Allow prune to delete everything or more than half of the objects.")] = False,
    no_agent: Annotated[bool, typer.Option("--no-agent", help="Do not run the agent here (a separate `gitkube agent` runs the pods).")] = False,
    accept_new_host_key: Annotated[bool, typer.Option("--accept-new-host-key", help="Trust SSH host keys seen for the first time.")] = False,
) -> None:
    from gitkube.cli.common import open_state, ssh_options, use_color
    from gitkube.errors import UsageError
    from gitkube.gitops.agentthread import AgentThread
    from gitkube.gitops.watch import Watcher

    if not os.path.isdir(directory):
        raise UsageError(f"{directory!r} is not a directory")

    def echo(text: str, err: bool) -> None:
        typer.echo(text, err=err)

    store = open_state()
    watcher = Watcher(store, directory, echo, namespace=namespace, prune=prune, force_prune=force_prune,
                      color=use_color())
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    agent = None if no_agent else AgentThread(store.path, ssh_options(accept_new_host_key)).start()
    typer.echo(f"gitkube watch: {watcher.dir}{'' if no_agent else ', agent running'} (Ctrl-C to stop)", err=True)
    try:
        watcher.run(stop)
    finally:
        if agent is not None:
            agent.stop()
    typer.echo("gitkube watch stopped (containers keep running)", err=True)
