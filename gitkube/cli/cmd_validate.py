"""`gitkube validate PATH...` (or `--repo URL [--ref REF] [--path DIR]`): a verdict as precise as a
compiler's."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gitkube.cli.common import PathOption, RefOption, RepoOption
from gitkube.cli.main import app
from gitkube.errors import UsageError


@app.command(help="Validate manifests strictly and report every problem at once. "
                  "Exit 0 when valid (warnings allowed), 1 when any error, 2 on usage errors or a source that "
                  "cannot be read (unknown ref, unreachable repository, authentication).")
def validate(
    paths: Annotated[Optional[list[str]], typer.Argument(help="Files, directories (recursive) or - for stdin.")] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="text | json | junit | github")] = "text",
    repo: RepoOption = None,
    ref: RefOption = None,
    path: PathOption = None,
) -> None:
    from gitkube.cli.report import FORMATS, render

    if output not in FORMATS:
        raise UsageError(f"unknown output format {output!r}; use one of {', '.join(FORMATS)}")
    if repo is not None or ref is not None or path is not None:
        from gitkube.gitops.reader import read_any

        result = read_any(paths or [], repo, ref, path).checked
    else:
        if not paths:
            raise UsageError("no manifests given: name files or directories (- for stdin), or use --repo URL")
        from gitkube.schema.pipeline import load_and_validate

        result = load_and_validate(paths)
    text = render(result.diagnostics, output, result.total, result.files)
    if text:
        typer.echo(text)
    raise typer.Exit(1 if not result.ok else 0)
