"""`gitkube create namespace NAME`: create an object from the command line, as kubectl create does."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gitkube.cli.main import app

create_app = typer.Typer(help="Create an object from the command line.\n\nExit codes: see each subcommand.",
                         short_help="Create an object from the command line.", no_args_is_help=True)
app.add_typer(create_app, name="create")


@create_app.command("namespace", short_help="Create a namespace (alias: ns).",
                    help="Create a namespace (alias: ns).\n\n"
                         "Exit codes: 0 success; 1 the name is invalid or already taken; 2 usage error.")
def namespace(
    name: Annotated[Optional[str], typer.Argument(metavar="NAME", help="A DNS label: a-z, 0-9 and '-'.")] = None,
) -> None:
    from gitkube.cli.common import open_state
    from gitkube.cli.printers.naming import already_exists, warn
    from gitkube.errors import AlreadyExists, UsageError
    from gitkube.kinds import BY_KIND
    from gitkube.labels.validation import dns1123_label

    if not name:
        raise UsageError("exactly one NAME is required, got 0")
    if errs := dns1123_label(name):
        warn(f'The Namespace "{name}" is invalid: metadata.name: Invalid value: "{name}": {"; ".join(errs)}')
        raise typer.Exit(1)
    try:
        open_state().create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except AlreadyExists:
        warn(already_exists(BY_KIND["Namespace"], name))
        raise typer.Exit(1) from None
    typer.echo(f"namespace/{name} created")


create_app.command("ns", hidden=True)(namespace)
