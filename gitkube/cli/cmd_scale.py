"""`gitkube scale KIND NAME... --replicas=N`: set the desired size of a workload, as kubectl scale does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from gitkube.cli.main import app
from gitkube.errors import GitkubeError

if TYPE_CHECKING:
    from gitkube.kinds import KindInfo
    from gitkube.store.base import Store

# The spec field `scale` sets per kind (a Job's "size" is its parallelism).
SCALE_FIELD = {"ReplicationController": "replicas", "ReplicaSet": "replicas", "Deployment": "replicas",
               "Job": "parallelism"}
MAX_ATTEMPTS = 5


class PreconditionFailed(GitkubeError):
    """--current-replicas did not match (kubectl's PreconditionError)."""

    exit_code = 1


def scale_one(store: Store, info: KindInfo, namespace: str, name: str, replicas: int, current: int) -> bool:
    """Set the size with the read resourceVersion, re-reading on Conflict; False when not found."""
    from gitkube.errors import Conflict

    field = SCALE_FIELD[info.kind]
    default = 1  # replicas and parallelism both default to 1
    for _ in range(MAX_ATTEMPTS):
        obj = store.get(info.kind, namespace, name)
        if obj is None:
            return False
        spec = obj.setdefault("spec", {})
        size = spec.get(field, default)
        if current >= 0 and size != current:
            raise PreconditionFailed(f"Expected replicas to be {current}, was {size}")
        if size == replicas and field in spec:
            return True
        spec[field] = replicas
        try:
            store.update(obj)
        except Conflict:
            continue
        return True
    raise Conflict(f"{info.kind} {name!r} kept changing; gave up after {MAX_ATTEMPTS} attempts")


@app.command(short_help="Set the replicas of a ReplicationController, ReplicaSet or Deployment.",
             help="Set the replicas of ReplicationControllers, ReplicaSets and Deployments (for a Job: its "
                  "parallelism).\n\n"
                  "Exit codes: 0 success; 1 an object was not found, or --current-replicas does not match; "
                  "2 usage error (missing or negative --replicas, a kind that cannot be scaled).")
def scale(
    kind: Annotated[Optional[str], typer.Argument(metavar="KIND", help="rc, rs, deploy or job")] = None,
    names: Annotated[Optional[list[str]], typer.Argument(metavar="[NAME]...", help="Objects to scale.")] = None,
    replicas: Annotated[int, typer.Option("--replicas", help="The new desired size (required).")] = -1,
    current_replicas: Annotated[int, typer.Option(
        "--current-replicas", help="Only scale when the current size is this; -1: no check.")] = -1,
    namespace: Annotated[Optional[str], typer.Option(
        "-n", "--namespace", help="Namespace (default: default).")] = None,
    selector: Annotated[Optional[str], typer.Option(
        "-l", "--selector", help="Scale the objects of KIND matching this selector.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Scale every object of KIND in the namespace.")] = False,
) -> None:
    from gitkube.cli.common import open_state
    from gitkube.cli.printers.naming import not_found, require_kind, resolve_kind, warn
    from gitkube.errors import UsageError

    info = resolve_kind(require_kind(kind, "scale"))
    if info.kind not in SCALE_FIELD:
        raise UsageError(f"{info.plural} cannot be scaled; scalable kinds are replicationcontrollers, "
                         "replicasets, deployments and jobs")
    if replicas < 0:
        raise UsageError("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
    names = names or []
    if all_ and selector is not None:
        raise UsageError("cannot set --all and --selector at the same time")
    if names and (all_ or selector is not None):
        raise UsageError("name cannot be provided when a selector or --all is specified")
    if not names and not all_ and selector is None:
        raise UsageError("resource(s) were provided, but no name was specified")
    store = open_state()
    ns = namespace or "default"
    if not names:
        parsed = None
        if selector:
            from gitkube.labels.selector import parse

            parsed = parse(selector)
        names = [o["metadata"]["name"] for o in store.list(info.kind, ns, parsed)]
        if not names:
            warn(f"No resources found in {ns} namespace.")
    failed = False
    for name in names:
        if scale_one(store, info, ns, name, replicas, current_replicas):
            typer.echo(f"{info.resource_name}/{name} scaled")
        else:
            warn(not_found(info, name))
            failed = True
    if failed:
        raise typer.Exit(1)
