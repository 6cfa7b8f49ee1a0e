"""`gitkube describe KIND [NAME...]`: an object's fields, related objects and events, like kubectl."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gitkube.cli.main import app


@app.command(short_help="Show details of objects and their events, like kubectl describe.",
             help="Show details of objects and their events, like kubectl describe.\n\n"
                  "Without NAME: every object of KIND in the namespace (or those matching -l).\n\n"
                  "Exit codes: 0 success; 1 an object was not found; 2 usage error.")
def describe(
    kind: Annotated[Optional[str], typer.Argument(metavar="KIND", help="po, deploy, svc, node…")] = None,
    names: Annotated[Optional[list[str]], typer.Argument(metavar="[NAME]...", help="Objects to describe.")] = None,
    namespace: Annotated[Optional[str], typer.Option("-n", "--namespace", help="Namespace (default: default).")] = None,
    all_namespaces: Annotated[bool, typer.Option("-A", "--all-namespaces", help="Across all namespaces.")] = False,
    selector: Annotated[Optional[str], typer.Option("-l", "--selector", help="Label selector.")] = None,
) -> None:
    import sys
    import time

    from gitkube.cli.common import open_state
    from gitkube.cli.printers.describe import describe as describe_text
    from gitkube.cli.printers.naming import not_found, require_kind, resolve_kind, warn
    from gitkube.errors import UsageError

    info = resolve_kind(require_kind(kind, "describe"))
    if names and selector is not None:
        raise UsageError("name cannot be provided when a selector is specified")
    parsed = None
    if selector:
        from gitkube.labels.selector import parse

        parsed = parse(selector)
    store = open_state()
    ns = namespace or "default"
    errors: list[str] = []
    if names:
        objs = []
        for name in names:
            obj = store.get(info.kind, ns, name)
            if obj is None:
                errors.append(not_found(info, name))
            else:
                objs.append(obj)
    else:
        objs = store.list(info.kind, None if all_namespaces else ns, parsed)
        if not objs:
            warn(f"No resources found in {ns} namespace." if info.namespaced and not all_namespaces
                 else "No resources found")
    now = time.time()
    sys.stdout.write("\n\n".join(describe_text(obj, store, now) for obj in objs))
    for line in errors:
        warn(line)
    if errors:
        raise typer.Exit(1)
