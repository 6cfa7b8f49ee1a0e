"""`gitkube apply -f PATH...`: validate everything, then write it in one transaction."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gitkube.cli.main import app


@app.command(help="Apply manifests to the state. Nothing is written unless every manifest is valid. "
                  "Exit 0 on success, 2 on errors, 5 when prune is refused.")
def apply(
    filename: Annotated[list[str], typer.Option("-f", "--filename", help="File, directory or - (repeatable).")] = [],
    namespace: Annotated[Optional[str], typer.Option("-n", "--namespace", help="Namespace for objects without one.")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Delete objects this source applied before and no longer declares.")] = False,
    force_prune: Annotated[bool, typer.Option("--force-prune", help="Allow prune to delete everything or more than half of the source's objects.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would happen; write nothing.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Run the agent until every applied object is ready; fail fast on image pull failures, crash loops and failed Jobs (exit 1).")] = False,
    timeout: Annotated[str, typer.Option("--timeout", help="How long --wait may take (e.g. 90s, 5m).")] = "5m",
) -> None:
    from gitkube.apply.apply import check_namespaces, check_prune_safety, compute, execute
    from gitkube.apply.source import source_for_paths
    from gitkube.cli.common import checked_manifests, open_state

    checked = checked_manifests(filename, namespace)
    store = open_state()
    source = source_for_paths(filename)
    check_namespaces(store, checked.objects)
    plan = compute(store, checked.objects, source, prune)
    inventory = store.get_inventory(source.id)
    check_prune_safety(plan, len(inventory.entries) if inventory else 0, force_prune)
    outcome = execute(store, plan, checked.objects, source, dry_run=dry_run, prune=prune)
    for line in outcome.lines:
        typer.echo(line)
    if wait and not dry_run:
        from gitkube.apply.apply import key_of
        from gitkube.cli.common import wait_until_ready

        raise typer.Exit(wait_until_ready(store, [key_of(v.obj) for v in checked.objects], timeout))
