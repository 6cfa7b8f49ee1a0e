"""`gitkube validate PATH...`: a verdict as precise as a compiler's."""

from __future__ import annotations

from typing import Annotated

import typer

from gitkube.cli.main import app
from gitkube.errors import UsageError


@app.command(help="Validate manifests strictly and report every problem at once. "
                  "Exit 0 when valid (warnings allowed), 1 when any error, 2 on usage errors.")
def validate(
    paths: Annotated[list[str], typer.Argument(help="Files, directories (recursive) or - for stdin.")],
    output: Annotated[str, typer.Option("-o", "--output", help="text | json | junit | github")] = "text",
) -> None:
    from gitkube.cli.report import FORMATS, render

    if output not in FORMATS:
        raise UsageError(f"unknown output format {output!r}; use one of {', '.join(FORMATS)}")
    from gitkube.schema.pipeline import load_and_validate

    result = load_and_validate(paths)
    text = render(result.diagnostics, output, result.total, result.files)
    if text:
        typer.echo(text)
    raise typer.Exit(1 if not result.ok else 0)
