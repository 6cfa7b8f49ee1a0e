"""`gitkube rollout status|history|undo deploy/NAME`: follow, list and roll back rollouts, as kubectl does.

The resource is `TYPE/NAME` or `TYPE NAME` (`deploy`, `deployment`, `deployment.apps`; `status` also
takes `ds`). Nothing here talks to the agent: `status` reads the status the controllers write,
`history` reads the ReplicaSets' revision annotations, `undo` edits the Deployment's template (an
imperative change that a later `gitkube diff` shows as drift).

Exit codes: 0 success (rolled out, or printed once with --watch=false); 1 the object was not found,
the rollout exceeded its progress deadline, --timeout passed, the revision does not exist, or the
Deployment is paused (undo); 2 usage error.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from typer.core import TyperGroup

from gitkube.cli.main import app
from gitkube.errors import GitkubeError

if TYPE_CHECKING:
    import click

    from gitkube.kinds import KindInfo
    from gitkube.store.base import Store

_BOOL_WORDS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
               "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}
MAX_ATTEMPTS = 5


class RolloutError(GitkubeError):
    """The rollout failed or cannot be done (deadline exceeded, timed out, no such revision)."""

    exit_code = 1


class _RolloutGroup(TyperGroup):
    """Lets `--watch` / `-w` stand alone as kubectl's boolean flags do (`-w`, `--watch=false`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out = []
        for a in args:
            if a in ("--watch", "-w"):
                a = "--watch=true"
            elif a.startswith("-w="):
                a = "--watch=" + a[3:]
            out.append(a)
        return super().parse_args(ctx, out)


rollout_app = typer.Typer(
    name="rollout", cls=_RolloutGroup, no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Follow, list and roll back the rollouts of a Deployment.\n\n"
         "Exit codes: 0 success; 1 not found, progress deadline exceeded, timed out, no such revision, "
         "paused Deployment (undo); 2 usage error.")
app.add_typer(rollout_app, name="rollout", short_help="Follow, list and roll back Deployment rollouts.")

ResourceArg = Annotated[Optional[list[str]], typer.Argument(
    metavar="TYPE/NAME", help="deploy/NAME (or: deployment NAME).", show_default=False)]
NamespaceOpt = Annotated[Optional[str], typer.Option("-n", "--namespace", help="Namespace (default: default).")]


def target(args: list[str] | None, kinds: tuple[str, ...], what: str) -> tuple[KindInfo, str]:
    """`TYPE/NAME` or `TYPE NAME` → (kind, name); a kind not in `kinds` is a usage error."""
    from gitkube.cli.printers.naming import resolve_kind
    from gitkube.errors import UsageError

    args = args or []
    if not args:
        raise UsageError("required resource not specified: give TYPE/NAME, like deployment/web")
    if len(args) == 1:
        if "/" not in args[0]:
            raise UsageError(f"you must give a name with the type, like {args[0]}/NAME or {args[0]} NAME")
        kind, _, name = args[0].partition("/")
    elif len(args) == 2 and "/" not in args[0]:
        kind, name = args
    else:
        raise UsageError("give exactly one resource, like deployment/web")
    if not kind or not name or "/" in name:
        raise UsageError(f"invalid resource {'/'.join(args)!r}: give TYPE/NAME, like deployment/web")
    info = resolve_kind(kind)
    if info.kind not in kinds:
        raise UsageError(f'no {what} has been implemented for "{info.kind}"')
    return info, name


def fetch(store: Store, info: KindInfo, namespace: str, name: str) -> dict:
    """The object, or kubectl's NotFound line on stderr and exit 1."""
    from gitkube.cli.printers.naming import not_found, warn

    obj = store.get(info.kind, namespace, name)
    if obj is None:
        warn(not_found(info, name))
        raise typer.Exit(1)
    return obj


# --- status ------------------------------------------------------------------------------------

def rollout_status(obj: dict) -> tuple[str, bool]:
    """kubectl's StatusViewer: (message, done); raises RolloutError past the progress deadline."""
    md, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    name = md["name"]
    if obj["kind"] == "DaemonSet":
        if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") != "RollingUpdate":
            raise RolloutError("rollout status is only available for RollingUpdate strategy type")
        if md.get("generation", 1) > status.get("observedGeneration", 0):
            return "Waiting for daemon set spec update to be observed...", False
        desired, updated = status.get("desiredNumberScheduled", 0), status.get("updatedNumberScheduled", 0)
        available = status.get("numberAvailable", 0)
        if updated < desired:
            return (f'Waiting for daemon set "{name}" rollout to finish: {updated} out of {desired} new pods '
                    "have been updated..."), False
        if available < desired:
            return (f'Waiting for daemon set "{name}" rollout to finish: {available} of {desired} updated pods '
                    "are available..."), False
        return f'daemon set "{name}" successfully rolled out', True
    if md.get("generation", 1) > status.get("observedGeneration", 0):
        return "Waiting for deployment spec update to be observed...", False
    for c in status.get("conditions") or []:
        if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
            raise RolloutError(f'deployment "{name}" exceeded its progress deadline')
    replicas = spec.get("replicas", 1)
    updated, total = status.get("updatedReplicas", 0), status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    if updated < replicas:
        return (f'Waiting for deployment "{name}" rollout to finish: {updated} out of {replicas} new replicas '
                "have been updated..."), False
    if total > updated:
        return (f'Waiting for deployment "{name}" rollout to finish: {total - updated} old replicas are pending '
                "termination..."), False
    if available < updated:
        return (f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated replicas '
                "are available..."), False
    return f'deployment "{name}" successfully rolled out', True


@rollout_app.command(
    short_help="Show the status of a rollout, waiting for it to finish.",
    help="Show the status of the rollout of a Deployment (or DaemonSet), and by default wait until it is "
         "done: one line each time the status changes.\n\n"
         "--watch=false prints the status once. --timeout stops waiting (0: wait forever).\n\n"
         "Exit codes: 0 rolled out (or printed once); 1 not found, progress deadline exceeded, or timed out; "
         "2 usage error.")
def status(
    resource: ResourceArg = None,
    namespace: NamespaceOpt = None,
    watch: Annotated[str, typer.Option(
        "--watch", "-w", metavar="BOOL", help="Wait until the rollout is done (default true).")] = "true",
    timeout: Annotated[str, typer.Option(
        "--timeout", metavar="DURATION", help="How long to wait (90s, 5m; 0: forever).")] = "0s",
) -> None:
    import time

    from gitkube.agent.wait import parse_duration
    from gitkube.cli.common import open_state
    from gitkube.errors import UsageError

    info, name = target(resource, ("Deployment", "DaemonSet"), "status viewer")
    if watch not in _BOOL_WORDS:
        raise UsageError(f'invalid argument "{watch}" for "-w, --watch" flag: use true or false')
    follow = _BOOL_WORDS[watch]
    seconds = parse_duration(timeout)
    store = open_state()
    ns = namespace or "default"
    deadline = time.monotonic() + seconds if seconds > 0 else None
    last = None
    while True:
        revision = store.revision()
        message, done = rollout_status(fetch(store, info, ns, name))
        if message != last:
            typer.echo(message)
            sys.stdout.flush()
            last = message
        if done or not follow:
            return
        wait = 1.0
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
            if wait <= 0:
                raise RolloutError("timed out waiting for the condition")
        store.wait_for_change(revision, wait)


# --- history -----------------------------------------------------------------------------------

def _history(store: Store, deployment: dict) -> list[tuple[int, dict]]:
    from gitkube.controllers.deployment import history

    return history(deployment, store.list("ReplicaSet", deployment["metadata"].get("namespace", "default")))


@rollout_app.command(
    short_help="List the revisions of a Deployment.",
    help="List the revisions of a Deployment (from its ReplicaSets) with their change-cause; --revision=N "
         "shows that revision's pod template.\n\n"
         "Exit codes: 0 success; 1 not found, or no such revision; 2 usage error.")
def history(
    resource: ResourceArg = None,
    namespace: NamespaceOpt = None,
    revision: Annotated[int, typer.Option("--revision", help="Show the pod template of this revision.")] = 0,
) -> None:
    from gitkube.cli.common import open_state
    from gitkube.cli.printers.sections import Writer, pod_template
    from gitkube.cli.printers.table import tabwrite
    from gitkube.controllers.deployment import CHANGE_CAUSE

    info, name = target(resource, ("Deployment",), "history viewer")
    if revision < 0:
        from gitkube.errors import UsageError

        raise UsageError("--revision must be a positive number")
    store = open_state()
    d = fetch(store, info, namespace or "default", name)
    revisions = {rev: rs for rev, rs in _history(store, d) if rev > 0}
    if revision:
        rs = revisions.get(revision)
        if rs is None:
            raise RolloutError(f"unable to find the specified revision {revision}")
        w = Writer()
        pod_template(w, (rs.get("spec") or {}).get("template"))
        sys.stdout.write(f"{info.resource_name}/{name} with revision #{revision}\n{w.text()}")
        return
    rows = [["REVISION", "CHANGE-CAUSE"]]
    for rev, rs in sorted(revisions.items()):
        rows.append([str(rev), (rs["metadata"].get("annotations") or {}).get(CHANGE_CAUSE) or "<none>"])
    sys.stdout.write(f"{info.resource_name}/{name} \n{tabwrite(rows, minwidth=0, padding=2)}\n")


# --- undo --------------------------------------------------------------------------------------

def rollback_target(deployment: dict, revisions: list[tuple[int, dict]], to_revision: int) -> tuple[int, dict]:
    """The (revision, ReplicaSet) to go back to: `to_revision`, or the one before the latest."""
    name = deployment["metadata"]["name"]
    found = [(rev, rs) for rev, rs in revisions if rev > 0]
    if to_revision:
        for rev, rs in found:
            if rev == to_revision:
                return rev, rs
        raise RolloutError(f"unable to find specified revision {to_revision} in history")
    if len(found) < 2:
        raise RolloutError(f'no rollout history found for deployment "{name}"')
    return found[-2]


@rollout_app.command(
    short_help="Roll a Deployment back to an earlier revision.",
    help="Roll a Deployment back to the previous revision, or to --to-revision=N: that revision's pod "
         "template is written into the Deployment (an imperative edit: `gitkube diff` will show it as drift "
         "from the manifests).\n\n"
         "Exit codes: 0 rolled back (or already at that template); 1 not found, no such revision, or the "
         "Deployment is paused; 2 usage error.")
def undo(
    resource: ResourceArg = None,
    namespace: NamespaceOpt = None,
    to_revision: Annotated[int, typer.Option(
        "--to-revision", help="The revision to roll back to (default: the previous one).")] = 0,
) -> None:
    from gitkube.cli.common import open_state
    from gitkube.controllers.deployment import CHANGE_CAUSE, template_without_hash
    from gitkube.controllers.hashing import same_template
    from gitkube.errors import Conflict, UsageError

    info, name = target(resource, ("Deployment",), "rollbacker")
    if to_revision < 0:
        raise UsageError("--to-revision must be a positive number")
    store = open_state()
    ns = namespace or "default"
    for _ in range(MAX_ATTEMPTS):
        d = fetch(store, info, ns, name)
        if (d.get("spec") or {}).get("paused"):
            raise RolloutError("you cannot rollback a paused deployment; resume it first (set spec.paused "
                               "to false) and try again")
        rev, rs = rollback_target(d, _history(store, d), to_revision)
        template = template_without_hash(rs)
        if same_template(template, (d.get("spec") or {}).get("template")):
            typer.echo(f"{info.resource_name}/{name} skipped rollback (current template already matches "
                       f"revision {rev})")
            return
        md = dict(d["metadata"])
        annotations = dict(md.get("annotations") or {})
        cause = (rs["metadata"].get("annotations") or {}).get(CHANGE_CAUSE)
        if cause is None:
            annotations.pop(CHANGE_CAUSE, None)
        else:
            annotations[CHANGE_CAUSE] = cause
        if annotations:
            md["annotations"] = annotations
        else:
            md.pop("annotations", None)
        try:
            store.update({**d, "metadata": md, "spec": {**d["spec"], "template": template}})
        except Conflict:
            continue
        typer.echo(f"{info.resource_name}/{name} rolled back")
        return
    raise Conflict(f"{info.kind} {name!r} kept changing; gave up after {MAX_ATTEMPTS} attempts")
