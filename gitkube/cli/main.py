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
        code = _click_exit(exc)
        if code is not None:
            sys.exit(code)
        if GLOBALS.debug:
            raise
        sys.stderr.write(f"error: internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)\n")
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


def _click_modules() -> list:
    """Typer may ship its own copy of click (typer._click) besides the click package."""
    mods = []
    for name in ("typer._click", "click"):
        try:
            mods.append(__import__(f"{name}.exceptions", fromlist=["exceptions"]))
        except ImportError:
            continue
    return mods


def _click_exit(exc: Exception) -> int | None:
    """Show a click error the way click would and return its exit code; None if not click's."""
    for mod in _click_modules():
        no_args = getattr(mod, "NoArgsIsHelpError", None)
        if no_args is not None and isinstance(exc, no_args):
            return 2  # the help text was already printed
        if isinstance(exc, mod.ClickException):
            exc.show()
            return 2 if isinstance(exc, mod.UsageError) else (exc.exit_code or 2)
        abort, exit_ = getattr(mod, "Abort", None), getattr(mod, "Exit", None)
        if abort is not None and isinstance(exc, abort):
            sys.stderr.write("aborted\n")
            return 130
        if exit_ is not None and isinstance(exc, exit_):
            return exc.exit_code
    return None
