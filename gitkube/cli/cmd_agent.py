"""`gitkube agent`: run the controllers until stopped."""

from __future__ import annotations

import signal
from typing import Annotated, Optional

import typer

from gitkube.cli.main import app


@app.command(help="Run the agent: schedule pods, run them on the nodes' Docker engines, probe, restart, "
                  "and keep every controller's objects converged. SIGINT/SIGTERM finish the current pass "
                  "and exit 0; containers keep running.")
def agent(
    workers: Annotated[int, typer.Option(help="Parallel Docker operations.")] = 8,
    resync: Annotated[float, typer.Option(help="Seconds between full passes when nothing happens.")] = 10.0,
    accept_new_host_key: Annotated[bool, typer.Option("--accept-new-host-key", help="Trust SSH host keys seen for the first time (they are saved to known_hosts).")] = False,
    sandbox_image: Annotated[Optional[str], typer.Option(help="Image for pod sandboxes (default: built locally, no registry needed).")] = None,
    node_grace: Annotated[float, typer.Option(help="Seconds a node whose engine stops answering stays Ready.")] = 40.0,
    pod_eviction_timeout: Annotated[float, typer.Option(help="Seconds a node may be not ready before its pods are deleted and replaced elsewhere.")] = 300.0,
    heartbeat: Annotated[float, typer.Option(help="Seconds between node heartbeats.")] = 5.0,
    clock_offset: Annotated[float, typer.Option(hidden=True, help="Seconds added to the controllers' clock (tests).")] = 0.0,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Log what the agent does.")] = False,
) -> None:
    import logging
    import time

    from gitkube.agent.loop import Agent
    from gitkube.cli.common import open_state, ssh_options

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(message)s")
    store = open_state()
    runner = Agent(store, workers=workers, resync=resync, ssh_options=ssh_options(accept_new_host_key),
                   sandbox_image=sandbox_image, node_grace=node_grace, eviction_timeout=pod_eviction_timeout,
                   heartbeat=heartbeat, clock=lambda: time.time() + clock_offset)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: runner.stop())
    typer.echo(f"gitkube agent running on {store.path} (Ctrl-C to stop)", err=True)
    runner.run()
    typer.echo("gitkube agent stopped", err=True)
