"""`gitkube node add NAME DOCKER_HOST [--label k=v]`: register a Docker host as a node."""

from __future__ import annotations

from typing import Annotated

import typer

from gitkube.cli.main import app

node_app = typer.Typer(help="Register Docker hosts as nodes.", no_args_is_help=True)
app.add_typer(node_app, name="node")


@node_app.command("add", help="Add a node whose engine is DOCKER_HOST (ssh://user@host[:port][/socket] or "
                              "unix:///path). Exit 1 if a node of that name exists, 2 on bad input.")
def add(
    name: Annotated[str, typer.Argument(help="Node name (a DNS subdomain).")],
    docker_host: Annotated[str, typer.Argument(help="ssh://user@host[:port][/docker.sock] or unix:///path")],
    label: Annotated[list[str], typer.Option("--label", "-l", help="k=v (repeatable).")] = [],
) -> None:
    from gitkube.agent.nodes import DOCKER_HOST_ANNOTATION
    from gitkube.cli.common import open_state
    from gitkube.errors import AlreadyExists, UsageError
    from gitkube.labels.selector import parse_labels_map
    from gitkube.labels.validation import dns1123_subdomain

    problems = dns1123_subdomain(name)
    if problems:
        raise UsageError(f"invalid node name {name!r}: {problems[0]}")
    if not docker_host.startswith(("ssh://", "unix://")):
        raise UsageError(f"invalid DOCKER_HOST {docker_host!r}: use ssh://user@host[:port] or unix:///path")
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
    for item in label:
        labels.update(parse_labels_map(item))
    node = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels, "annotations": {DOCKER_HOST_ANNOTATION: docker_host}}}
    try:
        open_state().create(node)
    except AlreadyExists:
        typer.echo(f'Error from server (AlreadyExists): nodes "{name}" already exists', err=True)
        raise typer.Exit(1)
    typer.echo(f"node/{name} created")
