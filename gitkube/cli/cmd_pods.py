"""`logs`, `exec` and `port-forward`: reach into running pods, local or on remote nodes."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from gitkube.cli.main import app


@app.command(help="Print a container's logs. Exit 1 when the pod or container is not found.")
def logs(
    pod: Annotated[str, typer.Argument(help="Pod name (or pod/NAME).")],
    container: Annotated[Optional[str], typer.Option("-c", "--container")] = None,
    namespace: Annotated[str, typer.Option("-n", "--namespace")] = "default",
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Stream new output.")] = False,
    previous: Annotated[bool, typer.Option("-p", "--previous", help="The previous instance of the container.")] = False,
    tail: Annotated[int, typer.Option("--tail", help="Lines from the end; -1 for all.")] = -1,
) -> None:
    from gitkube.cli.common import open_state, ssh_options
    from gitkube.runtime.access import locate

    target = locate(open_state(), namespace, pod.removeprefix("pod/").removeprefix("pods/"), container, previous,
                    ssh_options())
    try:
        out = target.conn.api.logs(target.container_id, stdout=True, stderr=True, stream=True, follow=follow,
                                   tail="all" if tail < 0 else tail)
        for chunk in out:
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
    finally:
        target.conn.close()


@app.command(name="exec",
             help="Run a command in a container: gitkube exec POD [-c NAME] [-i] [-t] -- CMD ARGS... "
                  "Exits with the command's exit code.")
def exec_(
    pod: Annotated[str, typer.Argument(help="Pod name.")],
    command: Annotated[list[str], typer.Argument(help="The command after --.")],
    container: Annotated[Optional[str], typer.Option("-c", "--container")] = None,
    namespace: Annotated[str, typer.Option("-n", "--namespace")] = "default",
    stdin: Annotated[bool, typer.Option("-i", "--stdin", help="Pass stdin to the command.")] = False,
    tty: Annotated[bool, typer.Option("-t", "--tty", help="Allocate a terminal.")] = False,
) -> None:
    from gitkube.cli.common import open_state, ssh_options
    from gitkube.runtime.access import locate
    from gitkube.runtime.streams import run_exec

    if command and command[0] == "--":
        command = command[1:]
    if not command:
        from gitkube.errors import UsageError

        raise UsageError("you must specify at least one command for the container: gitkube exec POD -- CMD")
    target = locate(open_state(), namespace, pod.removeprefix("pod/"), container, False, ssh_options())
    try:
        code = run_exec(target.conn.api, target.container_id, command, stdin, tty)
    finally:
        target.conn.close()
    raise typer.Exit(code)


@app.command(name="port-forward",
             help="Forward local ports to a pod (pod/NAME, or a Service/Deployment/ReplicaSet: one of its ready "
                  "pods). Runs until interrupted.")
def port_forward(
    target: Annotated[str, typer.Argument(help="pod/NAME, svc/NAME, deploy/NAME, rs/NAME or a pod name.")],
    ports: Annotated[list[str], typer.Argument(help="LOCAL:REMOTE (or PORT for the same on both sides).")],
    namespace: Annotated[str, typer.Option("-n", "--namespace")] = "default",
    address: Annotated[str, typer.Option("--address", help="Local address to listen on.")] = "127.0.0.1",
) -> None:
    from gitkube.cli.common import open_state, ssh_options
    from gitkube.runtime.forward import forward, resolve_target

    store = open_state()
    pod, pairs = resolve_target(store, namespace, target, ports)
    forward(store, pod, pairs, address, ssh_options())
