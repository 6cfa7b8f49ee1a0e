"""`gitkube delete`: by name, by selector, everything of a kind, or what manifests declare.

Flags follow kubectl's `delete_flags.go` and `delete.go`: `--cascade` (bare, boolean or a policy),
`--grace-period` (0 only with `--force`; otherwise 0 becomes 1), `--now` (= 1), `--force`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer
from typer.core import TyperCommand

from gitkube.cli.main import app

if TYPE_CHECKING:
    import click

    from gitkube.kinds import KindInfo
    from gitkube.store.base import Propagation

_BOOL_WORDS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
               "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


class _DeleteCommand(TyperCommand):
    """Lets `--cascade` stand alone, as kubectl does (a bare `--cascade` means background)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, ["--cascade=background" if a == "--cascade" else a for a in args])


def parse_cascade(value: str) -> Propagation:
    """kubectl's parseCascadingFlag: a policy name, or the deprecated boolean form."""
    from gitkube.cli.printers.naming import warn
    from gitkube.errors import UsageError

    if value in _BOOL_WORDS:
        if _BOOL_WORDS[value]:
            return "background"
        warn(f"warning: --cascade={value} is deprecated (boolean value) and can be replaced with --cascade=orphan.")
        return "orphan"
    if value in ("background", "foreground", "orphan"):
        return value  # type: ignore[return-value]
    raise UsageError(f'invalid cascade value ({value}). Must be "background", "foreground", or "orphan"')


def grace_of(grace_period: int, force: bool, now: bool) -> int:
    """The grace period to request (-1: the object's own default), after kubectl's rules."""
    from gitkube.cli.printers.naming import warn
    from gitkube.errors import UsageError

    if now:
        if grace_period != -1:
            raise UsageError("--now and --grace-period cannot be specified together")
        grace_period = 1
    if grace_period == 0 and not force:
        grace_period = 1  # kubectl's guard against accidental force deletion
    if force and grace_period < 0:
        grace_period = 0
    if force and grace_period > 0:
        raise UsageError("--force and --grace-period greater than 0 cannot be specified together")
    if force:
        warn("warning: Immediate deletion does not wait for confirmation that the running resource has been "
             "terminated. The resource may continue to run on the cluster indefinitely.")
    return grace_period


@app.command(cls=_DeleteCommand, short_help="Delete objects by name, label selector, --all or manifests.", help=(
    "Delete objects by name (KIND NAME...), by label selector (KIND -l SELECTOR), all of a kind "
    "(KIND --all), or those declared in manifests (-f PATH).\n\n"
    "--cascade=background (the default; also a bare --cascade or --cascade=true) removes the object now "
    "and lets the garbage collector remove its dependents; foreground removes the dependents first; "
    "orphan (or the deprecated --cascade=false) leaves them.\n\n"
    "Exit codes: 0 success; 1 an object was not found (unless --ignore-not-found); 2 usage error or "
    "invalid manifests."))
def delete(
    kind: Annotated[Optional[str], typer.Argument(metavar="[KIND]", help="po, deploy, svc, all…")] = None,
    names: Annotated[Optional[list[str]], typer.Argument(metavar="[NAME]...", help="Objects to delete.")] = None,
    filename: Annotated[list[str], typer.Option(
        "-f", "--filename", help="Delete what these manifests declare (file, directory or -; repeatable).")] = [],
    namespace: Annotated[Optional[str], typer.Option(
        "-n", "--namespace", help="Namespace (default: default).")] = None,
    all_namespaces: Annotated[bool, typer.Option(
        "-A", "--all-namespaces", help="With -l or --all: across all namespaces.")] = False,
    selector: Annotated[Optional[str], typer.Option(
        "-l", "--selector", help="Delete the objects of KIND (or in -f) matching this label selector.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Delete every object of KIND in the namespace.")] = False,
    cascade: Annotated[str, typer.Option(
        "--cascade", metavar="background|foreground|orphan",
        help="What happens to dependents (default background; a bare --cascade means background).")] = "background",
    grace_period: Annotated[int, typer.Option(
        "--grace-period", help="Seconds a pod gets to terminate; -1 uses the pod's own. Can only be 0 with "
                               "--force (otherwise 0 becomes 1).")] = -1,
    force: Annotated[bool, typer.Option(
        "--force", help="Remove at once, without waiting for containers to stop (grace period 0).")] = False,
    now: Annotated[bool, typer.Option("--now", help="Signal pods to stop at once (--grace-period=1).")] = False,
    ignore_not_found: Annotated[bool, typer.Option(
        "--ignore-not-found", help="Treat objects that do not exist as deleted.")] = False,
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="name: print kind/name only.")] = None,
) -> None:
    from gitkube.cli.common import open_state
    from gitkube.cli.printers.naming import not_found, resolve_kinds, warn
    from gitkube.errors import NotFound, UsageError

    names = names or []
    propagation = parse_cascade(cascade)
    grace = grace_of(grace_period, force, now)
    if output not in (None, "name"):
        raise UsageError(f"unexpected -o output mode: {output}. We only support '-o name'")
    if all_ and selector is not None:
        raise UsageError("cannot set --all and --selector at the same time")

    parsed = None
    if selector:
        from gitkube.labels.selector import parse

        parsed = parse(selector)
    targets: list[tuple[KindInfo, str, str]] = []  # (kind, namespace, name)
    listed = bool(selector is not None or all_)  # objects found by listing may vanish meanwhile: not an error
    if filename:
        if kind:
            raise UsageError("when paths, URLs, or stdin is provided as input, you may not specify resource "
                             "arguments as well")
        from gitkube.cli.common import checked_manifests
        from gitkube.kinds import BY_KIND

        for v in checked_manifests(filename, namespace).objects:
            info, md = BY_KIND[v.obj["kind"]], v.obj["metadata"]
            if parsed is None or parsed.matches(md.get("labels")):
                targets.append((info, md.get("namespace", "") if info.namespaced else "", md["name"]))
        store = open_state()
    elif kind:
        infos = resolve_kinds(kind)
        if names and listed:
            raise UsageError("name cannot be provided when a selector or --all is specified")
        if not names and not listed:
            raise UsageError("resource(s) were provided, but no name was specified")
        store = open_state()
        ns = namespace or "default"
        if names:
            targets = [(info, ns if info.namespaced else "", name) for info in infos for name in names]
        else:
            targets = [(info, o["metadata"].get("namespace", ""), o["metadata"]["name"]) for info in infos
                       for o in store.list(info.kind, None if all_namespaces else ns, parsed)]
    else:
        raise UsageError("You must provide one or more resources by argument or filename "
                         "(KIND NAME, KIND -l SELECTOR, KIND --all or -f PATH)")
    if not targets:
        typer.echo("No resources found")
        return

    failed = False
    for info, ns, name in targets:
        try:
            store.delete(info.kind, ns, name, propagation=propagation, grace_period=None if grace < 0 else grace)
        except NotFound:
            if not (ignore_not_found or listed):
                warn(not_found(info, name))
                failed = True
            continue
        if output == "name":
            typer.echo(f"{info.resource_name}/{name}")
        else:
            typer.echo(f'{info.resource_name} "{name}" {"force deleted" if grace == 0 else "deleted"}')
    if failed:
        raise typer.Exit(1)
