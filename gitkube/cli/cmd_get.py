"""`gitkube get KIND [NAME...]`: list objects as kubectl does (tables, wide, yaml, json, name)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from gitkube.cli.main import app

if TYPE_CHECKING:
    from gitkube.kinds import KindInfo

OUTPUTS = ("wide", "yaml", "json", "name")


@app.command(short_help="Display one or many objects, like kubectl get.",
             help="Display one or many objects, like kubectl get.\n\n"
                  "KIND is a kind, plural or short name (po, rc, rs, deploy, ds, job, cj, svc, ep, ns, no, ing, "
                  "secret, cm), several joined with commas, or all.\n\n"
                  "Exit codes: 0 success (also when nothing matches); 1 a named object was not found; "
                  "2 usage error (unknown kind, invalid selector, conflicting flags).")
def get(
    kind: Annotated[Optional[str], typer.Argument(
        metavar="KIND", help="What to list: po, deploy, svc, pods,svc, all…")] = None,
    names: Annotated[Optional[list[str]], typer.Argument(metavar="[NAME]...", help="Only these objects.")] = None,
    namespace: Annotated[Optional[str], typer.Option("-n", "--namespace", help="Namespace (default: default).")] = None,
    all_namespaces: Annotated[bool, typer.Option("-A", "--all-namespaces", help="List across all namespaces.")] = False,
    selector: Annotated[Optional[str], typer.Option(
        "-l", "--selector", help="Label selector; supports '=', '==', '!=', 'in', 'notin', 'key', '!key'.")] = None,
    show_labels: Annotated[bool, typer.Option("--show-labels", help="Add a LABELS column.")] = False,
    label_columns: Annotated[list[str], typer.Option(
        "-L", "--label-columns", help="Add a column per label key (comma-separated, repeatable).")] = [],
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="wide | yaml | json | name")] = None,
    no_headers: Annotated[bool, typer.Option("--no-headers", help="Print tables without the header line.")] = False,
) -> None:
    import sys
    import time

    from gitkube.cli.common import open_state
    from gitkube.cli.printers.naming import not_found, require_kind, resolve_kinds, warn
    from gitkube.errors import UsageError

    infos = resolve_kinds(require_kind(kind, "get"))
    names = names or []
    output = output or ""
    if output not in ("", *OUTPUTS):
        raise UsageError(f'unable to match a printer suitable for the output format "{output}", '
                         f"allowed formats are: {','.join(sorted(OUTPUTS))}")
    if output not in ("", "wide"):
        if show_labels:
            raise UsageError(f"--show-labels option cannot be used with {output} printer")
        if label_columns:
            raise UsageError(f"--label-columns option cannot be used with {output} printer")
    if names and selector is not None:
        raise UsageError("name cannot be provided when a selector is specified")
    if names and all_namespaces:
        raise UsageError("a resource cannot be retrieved by name across all namespaces")
    parsed = None
    if selector:
        from gitkube.labels.selector import parse

        parsed = parse(selector)

    store = open_state()
    ns = namespace or "default"
    found: list[tuple[KindInfo, list[dict]]] = []
    errors: list[str] = []
    for info in infos:
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
        found.append((info, objs))

    objects = [o for _, objs in found for o in objs]
    if output in ("yaml", "json"):
        from gitkube.cli.printers.structured import as_list, to_json, to_yaml

        if objects or not names:
            doc = objects[0] if len(infos) == 1 and len(names) == 1 else as_list(objects)
            sys.stdout.write(to_yaml(doc) if output == "yaml" else to_json(doc))
    elif output == "name":
        from gitkube.cli.printers.structured import resource_name

        sys.stdout.write("".join(resource_name(o) + "\n" for o in objects))
    elif objects:
        from gitkube.cli.printers.table import TableOptions, table_lines, tabwrite

        columns = tuple(k for item in label_columns for k in item.split(",") if k)
        opts = TableOptions(wide=output == "wide", with_namespace=all_namespaces, with_kind=len(infos) > 1,
                            label_columns=columns, show_labels=show_labels, no_headers=no_headers)
        now = time.time()
        tables = [tabwrite(table_lines(info.kind, objs, opts, now)) for info, objs in found if objs]
        sys.stdout.write("\n".join(tables))
    elif not errors:
        namespaced = all(info.namespaced for info in infos) and not all_namespaces
        warn(f"No resources found in {ns} namespace." if namespaced else "No resources found")
    for line in errors:
        warn(line)
    if errors:
        raise typer.Exit(1)
