"""`gitkube label KIND NAME... k=v... k-...`: add, change or remove labels, as kubectl label does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from gitkube.cli.main import app
from gitkube.errors import GitkubeError

if TYPE_CHECKING:
    from gitkube.kinds import KindInfo
    from gitkube.store.base import Store

MAX_ATTEMPTS = 5  # re-read and retry when another writer got in between (Conflict)


class LabelTaken(GitkubeError):
    """A label already has another value and --overwrite was not given."""

    exit_code = 1


def split_args(args: list[str]) -> tuple[list[str], list[str]]:
    """kubectl's GetResourcesAndPairs: names first, then `k=v` / `k-` label changes."""
    from gitkube.errors import UsageError

    names: list[str] = []
    pairs: list[str] = []
    for arg in args:
        is_pair = ("=" in arg and not arg.startswith("=")) or (arg.endswith("-") and arg != "-")
        if is_pair:
            pairs.append(arg)
        elif pairs:
            raise UsageError(f"all resources must be specified before label changes: {arg}")
        else:
            names.append(arg)
    return names, pairs


def parse_changes(pairs: list[str]) -> tuple[dict[str, str], list[str]]:
    """kubectl's parseLabels (plus key validation, which kubectl leaves to the server)."""
    from gitkube.errors import UsageError
    from gitkube.labels.validation import label_key, label_value

    add: dict[str, str] = {}
    remove: list[str] = []
    for spec in pairs:
        if "=" in spec:
            parts = spec.split("=")
            if len(parts) != 2:
                raise UsageError(f"invalid label spec: {spec}")
            key, value = parts
            if errs := label_value(value):
                raise UsageError(f'invalid label value: "{spec}": {";".join(errs)}')
            add[key] = value
        else:
            key = spec[:-1]
            remove.append(key)
        if errs := label_key(key):
            raise UsageError(f'invalid label key: "{spec}": {";".join(errs)}')
    if any(key in add for key in remove):
        raise UsageError("can not both modify and remove a label in the same command")
    return add, remove


def change_message(old: dict[str, str], new: dict[str, str]) -> str:
    """kubectl's updateDataChangeMsg."""
    unlabeled = any(k not in new for k in old)
    labeled = any(k not in old or old[k] != v for k, v in new.items())
    if labeled and unlabeled:
        return "label(s) changed"
    return "labeled" if labeled else "unlabeled" if unlabeled else "not labeled"


def relabel(store: Store, info: KindInfo, namespace: str, name: str, add: dict[str, str], remove: list[str],
            overwrite: bool) -> str | None:
    """Apply the changes to one object with its read resourceVersion; the kubectl message, or None
    when the object does not exist. Raises LabelTaken when --overwrite is needed."""
    from gitkube.errors import Conflict

    for attempt in range(MAX_ATTEMPTS):
        obj = store.get(info.kind, namespace, name)
        if obj is None:
            return None
        md = obj["metadata"]
        old = dict(md.get("labels") or {})
        if attempt == 0:
            for key in remove:
                if key not in old:
                    typer.echo(f'label "{key}" not found.')
        if not overwrite:
            taken = [f"'{k}' already has a value ({old[k]}), and --overwrite is false"
                     for k, v in add.items() if k in old and old[k] != v]
            if taken:
                raise LabelTaken(", ".join(taken))
        new = {k: v for k, v in old.items() if k not in remove}
        new.update(add)
        if new == old:
            return change_message(old, new)
        if new:
            md["labels"] = new
        else:
            md.pop("labels", None)
        try:
            store.update(obj)
        except Conflict:
            continue
        return change_message(old, new)
    raise Conflict(f"{info.kind} {name!r} kept changing; gave up after {MAX_ATTEMPTS} attempts")


@app.command(short_help="Add, change or remove labels of objects (nodes included).",
             help="Add, change or remove labels of objects (nodes included).\n\n"
                  "KEY=VALUE adds a label, or changes it with --overwrite; KEY- removes it.\n\n"
                  "Exit codes: 0 success; 1 an object was not found, or a label already has another value "
                  "and --overwrite is not given; 2 usage error (invalid label syntax, conflicting flags).")
def label(
    kind: Annotated[Optional[str], typer.Argument(metavar="KIND", help="po, deploy, node…")] = None,
    args: Annotated[Optional[list[str]], typer.Argument(
        metavar="NAME... KEY=VALUE... KEY-...", help="Objects, then label changes.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Allow changing the value of an existing label.")] = False,
    namespace: Annotated[Optional[str], typer.Option(
        "-n", "--namespace", help="Namespace (default: default).")] = None,
    selector: Annotated[Optional[str], typer.Option(
        "-l", "--selector", help="Label the objects of KIND matching this selector.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Label every object of KIND in the namespace.")] = False,
) -> None:
    from gitkube.cli.common import open_state
    from gitkube.cli.printers.naming import not_found, require_kind, resolve_kind, warn
    from gitkube.errors import UsageError

    info = resolve_kind(require_kind(kind, "label"))
    names, pairs = split_args(args or [])
    add, remove = parse_changes(pairs)
    if all_ and selector is not None:
        raise UsageError("cannot set --all and --selector at the same time")
    if not names and not all_ and selector is None:
        raise UsageError("one or more resources must be specified as <resource> <name>")
    if names and (all_ or selector is not None):
        raise UsageError("name cannot be provided when a selector or --all is specified")
    if not add and not remove:
        raise UsageError("at least one label update is required")
    store = open_state()
    ns = namespace or "default"
    if not names:
        parsed = None
        if selector:
            from gitkube.labels.selector import parse

            parsed = parse(selector)
        names = [o["metadata"]["name"] for o in store.list(info.kind, ns, parsed)]
        if not names:
            warn(f"No resources found in {ns} namespace." if info.namespaced else "No resources found")
    failed = False
    for name in names:
        message = relabel(store, info, ns, name, add, remove, overwrite)
        if message is None:
            warn(not_found(info, name))
            failed = True
        else:
            typer.echo(f"{info.resource_name}/{name} {message}")
    if failed:
        raise typer.Exit(1)
