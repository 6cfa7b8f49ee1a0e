"""`gitkube status`: per source, the commit in force, the last sync and whether live drifted from it."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gitkube.cli.main import app


@app.command(help="Per source (a Git repo+path, or the paths given to apply): the commit in force, the last sync "
                  "(commit, author, time, result, error) and its objects in sync / out of sync / missing, "
                  "i.e. whether live drifted from what was applied. Exit 0.")
def status(
    source: Annotated[Optional[str], typer.Argument(metavar="[SOURCE]", help="Only sources whose id starts with this (e.g. git:URL).")] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="text | json")] = "text",
) -> None:
    from gitkube.cli.common import open_state
    from gitkube.errors import UsageError
    from gitkube.gitops.status import collect, render_json, render_text

    if output not in ("text", "json"):
        raise UsageError(f"unknown output format {output!r}; use text or json")
    store = open_state()
    statuses = collect(store, source)
    typer.echo(render_json(statuses) if output == "json" else render_text(statuses), nl=output == "json")
