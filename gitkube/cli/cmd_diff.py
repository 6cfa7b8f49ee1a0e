"""`gitkube diff -f PATH...`: what apply would change, with kubectl diff's exit codes."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gitkube.cli.main import app


@app.command(help="Show what apply would change. Exit 0: no changes; 1: changes; 2 or more: error.")
def diff(
    filename: Annotated[list[str], typer.Option("-f", "--filename", help="File, directory or - (repeatable).")] = [],
    namespace: Annotated[Optional[str], typer.Option("-n", "--namespace", help="Namespace for objects without one.")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Include objects an earlier apply of this source created that are gone from the manifests.")] = False,
    output: Annotated[str, typer.Option("-o", "--output", help="text | json")] = "text",
) -> None:
    from gitkube.apply.apply import compute
    from gitkube.apply.source import source_for_paths
    from gitkube.cli.common import checked_manifests, open_state, use_color
    from gitkube.diff.render import render_json, render_text
    from gitkube.errors import UsageError

    if output not in ("text", "json"):
        raise UsageError(f"unknown output format {output!r}; use text or json")
    checked = checked_manifests(filename, namespace)
    store = open_state()
    plan = compute(store, checked.objects, source_for_paths(filename), prune)
    if output == "json":
        typer.echo(render_json(plan))
    else:
        typer.echo(render_text(plan, use_color()), nl=False)
    raise typer.Exit(1 if plan.has_changes else 0)
