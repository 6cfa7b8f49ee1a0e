"""`gitkube diff -f PATH...` or `--repo URL [--ref REF] [--path DIR]`: what apply would change, with
kubectl diff's exit codes (0 no changes, 1 changes, 2 or more an error)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gitkube.cli.common import PathOption, RefOption, RepoOption
from gitkube.cli.main import app


@app.command(help="Show what apply would change. Exit 0: no changes; 1: changes; 2 or more: error.")
def diff(
    filename: Annotated[list[str], typer.Option("-f", "--filename", help="File, directory or - (repeatable).")] = [],
    repo: RepoOption = None,
    ref: RefOption = None,
    path: PathOption = None,
    namespace: Annotated[Optional[str], typer.Option("-n", "--namespace", help="Namespace for objects without one.")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Include objects an earlier apply of this source created that are gone from the manifests.")] = False,
    output: Annotated[str, typer.Option("-o", "--output", help="text | json")] = "text",
) -> None:
    from gitkube.apply.apply import compute
    from gitkube.cli.common import load_manifests, open_state, use_color
    from gitkube.diff.render import render_json, render_text
    from gitkube.errors import UsageError

    if output not in ("text", "json"):
        raise UsageError(f"unknown output format {output!r}; use text or json")
    loaded = load_manifests(filename, namespace, repo, ref, path)
    store = open_state()
    plan = compute(store, loaded.checked.objects, loaded.source, prune)
    if output == "json":
        typer.echo(render_json(plan))
    else:
        typer.echo(render_text(plan, use_color()), nl=False)
    raise typer.Exit(1 if plan.has_changes else 0)
