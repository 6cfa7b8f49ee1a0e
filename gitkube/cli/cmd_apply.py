"""`gitkube apply -f PATH...` or `--repo URL [--ref REF] [--path DIR]`: validate everything, then write
it in one transaction."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gitkube.cli.common import PathOption, RefOption, RepoOption
from gitkube.cli.main import app


@app.command(help="Apply manifests to the state. Nothing is written unless every manifest is valid. "
                  "Exit 0 on success, 2 on errors, 5 when prune is refused.")
def apply(
    filename: Annotated[list[str], typer.Option("-f", "--filename", help="File, directory or - (repeatable).")] = [],
    repo: RepoOption = None,
    ref: RefOption = None,
    path: PathOption = None,
    namespace: Annotated[Optional[str], typer.Option("-n", "--namespace", help="Namespace for objects without one.")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Delete objects this source applied before and no longer declares.")] = False,
    force_prune: Annotated[bool, typer.Option("--force-prune", help="Allow prune to delete everything or more than half of the source's objects.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would happen; write nothing.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Run the agent until every applied object is ready; fail fast on image pull failures, crash loops and failed Jobs (exit 1).")] = False,
    timeout: Annotated[str, typer.Option("--timeout", help="How long --wait may take (e.g. 90s, 5m).")] = "5m",
) -> None:
    from gitkube.cli.common import load_manifests, open_state
    from gitkube.gitops.record import apply_and_record, plan_for, sync_record

    loaded = load_manifests(filename, namespace, repo, ref, path)
    checked, source = loaded.checked, loaded.source
    store = open_state()
    plan = plan_for(store, checked.objects, source, prune=prune, force_prune=force_prune)
    outcome = apply_and_record(store, plan, checked.objects, source, dry_run=dry_run, prune=prune, meta=loaded.meta,
                               last_sync=sync_record("applied", loaded.commit) if loaded.commit else None)
    for line in outcome.lines:
        typer.echo(line)
    if wait and not dry_run:
        from gitkube.apply.apply import key_of
        from gitkube.cli.common import wait_until_ready

        raise typer.Exit(wait_until_ready(store, [key_of(v.obj) for v in checked.objects], timeout))
