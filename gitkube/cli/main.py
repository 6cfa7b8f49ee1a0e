"""The `gitkube` command: one Typer app, one module per command, and one place that turns errors
into one-line messages and exit codes.

Exit codes (every command):
  0  success (diff: no changes)
  1  validate: the manifests have errors; diff: there are changes; get/delete: object not found
  2  usage error, or an error that stopped the command (bad input, unreadable source, store error)
  5  prune refused (it would delete everything, or more than half of a source's objects)
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from gitkube.errors import GitkubeError

app = typer.Typer(
    name="gitkube",
    help="Kubernetes manifests from Git, applied to plain Docker hosts. State lives in one SQLite file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Globals:
    debug: bool = False
    state: str | None = None


GLOBALS = Globals()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show a traceback when something fails.")] = False,
    state: Annotated[Optional[str], typer.Option(
        "--state", metavar="PATH", help="State file (default: $GITKUBE_STATE, else ~/.local/state/gitkube/state.db).")] = None,
) -> None:
    GLOBALS.debug = debug
    GLOBALS.state = state


def _register() -> None:
    from gitkube.cli import commands  # noqa: F401  (registers every command on `app`)


def run() -> None:
    """Entry point: no traceback ever reaches a user unless --debug is given."""
    _register()
    try:
        code = app(standalone_mode=False)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except GitkubeError as exc:
        if GLOBALS.debug:
            raise
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors and anything unexpected
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(2 if isinstance(exc, click.exceptions.UsageError) else exc.exit_code or 2)
        if isinstance(exc, click.exceptions.Abort):
            sys.stderr.write("aborted\n")
            sys.exit(130)
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if GLOBALS.debug:
            raise
        sys.stderr.write(f"error: internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)\n")
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
