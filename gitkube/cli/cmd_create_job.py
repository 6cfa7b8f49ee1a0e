"""`gitkube create job NAME --from=cronjob/CRONJOB`: run a CronJob's job template now, as kubectl does.

The Job gets the template's labels, its annotations plus `cronjob.kubernetes.io/instantiate: manual`,
its spec, and an ownerReference to the CronJob (controller, without blockOwnerDeletion, as kubectl
sets it). The CronJob controller keeps it in its history but does not list it in `status.active`.
"""

from __future__ import annotations

import copy
from typing import Annotated, Optional

import typer

from gitkube.cli.cmd_create import create_app

FROM_KINDS = ("cronjob", "cronjobs", "cj", "cronjob.batch", "cronjobs.batch")


def parse_from(value: str) -> str:
    """The CronJob name of `--from=cronjob/NAME`; anything else is a usage error."""
    from gitkube.errors import UsageError

    kind, slash, name = value.partition("/")
    if not slash or not name or "/" in name:
        raise UsageError(f'--from must be cronjob/NAME, got "{value}"')
    if kind.lower() not in FROM_KINDS and kind != "CronJob":
        raise UsageError(f'--from must name a cronjob (cronjob/NAME), got "{value}": '
                         "only jobs from cronjobs can be created")
    return name


def job_from_cronjob(cronjob: dict, name: str) -> dict:
    """createJobFromCronJob: what kubectl sends."""
    template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
    tmd = template.get("metadata") or {}
    md = cronjob["metadata"]
    job_md: dict = {"name": name, "namespace": md.get("namespace", "default"),
                    "annotations": {"cronjob.kubernetes.io/instantiate": "manual", **(tmd.get("annotations") or {})}}
    if tmd.get("labels"):
        job_md["labels"] = dict(tmd["labels"])
    job_md["ownerReferences"] = [{"apiVersion": cronjob.get("apiVersion", "batch/v1"), "kind": "CronJob",
                                  "name": md["name"], "uid": md["uid"], "controller": True}]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": job_md,
            "spec": copy.deepcopy(template.get("spec") or {})}


@create_app.command("job", short_help="Create a job from a cronjob's template.",
                    help="Create a job from a cronjob's job template, to run it now (`--from=cronjob/NAME`).\n\n"
                         "Exit codes: 0 success; 1 the cronjob was not found, or the name is invalid or "
                         "already taken; 2 usage error (a missing or malformed --from).")
def job(
    name: Annotated[Optional[str], typer.Argument(metavar="NAME", help="The new job's name.")] = None,
    from_: Annotated[Optional[str], typer.Option(
        "--from", metavar="cronjob/NAME", help="The cronjob whose job template to run.")] = None,
    namespace: Annotated[Optional[str], typer.Option(
        "-n", "--namespace", help="Namespace (default: default).")] = None,
) -> None:
    from gitkube.cli.common import open_state
    from gitkube.cli.printers.naming import already_exists, not_found, warn
    from gitkube.errors import AlreadyExists, UsageError
    from gitkube.kinds import BY_KIND
    from gitkube.labels.validation import dns1123_subdomain

    if not name:
        raise UsageError("NAME is required")
    if not from_:
        raise UsageError("--from=cronjob/NAME is required (creating a job from an image is not supported)")
    source = parse_from(from_)
    if errs := dns1123_subdomain(name):
        warn(f'The Job "{name}" is invalid: metadata.name: Invalid value: "{name}": {"; ".join(errs)}')
        raise typer.Exit(1)
    ns = namespace or "default"
    store = open_state()
    cronjob = store.get("CronJob", ns, source)
    if cronjob is None:
        warn(not_found(BY_KIND["CronJob"], source))
        raise typer.Exit(1)
    try:
        store.create(job_from_cronjob(cronjob, name))
    except AlreadyExists:
        warn(already_exists(BY_KIND["Job"], name))
        raise typer.Exit(1) from None
    typer.echo(f"{BY_KIND['Job'].resource_name}/{name} created")
