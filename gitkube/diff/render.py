"""Show a DiffPlan: unified YAML diffs like `kubectl diff`, or JSON for machines.

Secret values never leave this module unmasked: equal values print as `***`, changed ones as
`*** (before)` / `*** (after)`, while added and removed keys stay visible (kubectl's rule).
"""

from __future__ import annotations

import difflib
import io
import json
from typing import Any

from gitkube.diff.compute import MISSING, DiffItem, DiffPlan
from gitkube.kinds import BY_KIND

MASK = "***"
SECRET_FIELDS = ("data", "stringData")


def mask_secret_pair(before: dict | None, after: dict | None) -> tuple[dict | None, dict | None]:
    """Copies of a Secret's two sides with every value masked, keys kept."""
    if (before or after or {}).get("kind") != "Secret":
        return before, after
    b = dict(before) if before else None
    a = dict(after) if after else None
    for f in SECRET_FIELDS:
        bv = (b or {}).get(f) or {}
        av = (a or {}).get(f) or {}
        if b is not None and f in b:
            b[f] = {k: (MASK if k not in av or av[k] == v else f"{MASK} (before)") for k, v in bv.items()}
        if a is not None and f in a:
            a[f] = {k: (MASK if k not in bv or bv[k] == v else f"{MASK} (after)") for k, v in av.items()}
    return b, a


def object_path(item: DiffItem) -> str:
    """`apps.v1.Deployment.default.web`, the file name kubectl diff uses for an object."""
    info = BY_KIND.get(item.kind)
    gv = f"{info.group}.{info.version}" if info and info.group else (info.version if info else "v1")
    ns = f"{item.namespace}." if item.namespace else ""
    return f"{gv}.{item.kind}.{ns}{item.name}"


def to_yaml(obj: dict | None) -> str:
    if not obj:
        return ""
    from ruamel.yaml import YAML

    y = YAML(typ="safe", pure=True)
    y.default_flow_style = False
    y.width = 4096
    buf = io.StringIO()
    y.dump(_sorted(obj), buf)
    return buf.getvalue()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def unified(item: DiffItem, color: bool = False) -> str:
    """One object's diff with a `diff -u -N LIVE/… MERGED/…` header, as kubectl prints it."""
    before, after = mask_secret_pair(item.before, item.after)
    name = object_path(item)
    lines = list(difflib.unified_diff(
        to_yaml(before).splitlines(keepends=True), to_yaml(after).splitlines(keepends=True),
        fromfile=f"LIVE/{name}", tofile=f"MERGED/{name}", n=3))
    out = [f"diff -u -N LIVE/{name} MERGED/{name}\n"] + [ln if ln.endswith("\n") else ln + "\n" for ln in lines]
    if not color:
        return "".join(out)
    return "".join(_colorize(ln) for ln in out)


def _colorize(line: str) -> str:
    if line.startswith(("diff ", "---", "+++")):
        return f"\x1b[1m{line[:-1]}\x1b[0m\n"
    if line.startswith("@@"):
        return f"\x1b[36m{line[:-1]}\x1b[0m\n"
    if line.startswith("+"):
        return f"\x1b[32m{line[:-1]}\x1b[0m\n"
    if line.startswith("-"):
        return f"\x1b[31m{line[:-1]}\x1b[0m\n"
    return line


def render_text(plan: DiffPlan, color: bool = False) -> str:
    parts = [unified(i, color) for i in plan.items if i.action != "unchanged"]
    parts.append(plan.summary() + "\n")
    return "".join(parts)


def render_json(plan: DiffPlan) -> str:
    """A stable structure for CI: summary counts and, per object, its action and field changes."""
    items = []
    for i in plan.items:
        secret = i.kind == "Secret"
        items.append({
            "action": i.action,
            "apiVersion": BY_KIND[i.kind].api_version if i.kind in BY_KIND else "",
            "kind": i.kind,
            "namespace": i.namespace,
            "name": i.name,
            "changes": [{"path": c.path, "op": c.op,
                         "old": _json_value(c.old, secret and c.path.startswith(SECRET_FIELDS)),
                         "new": _json_value(c.new, secret and c.path.startswith(SECRET_FIELDS))}
                        for c in i.changes],
        })
    summary = {a: plan.count(a) for a in ("create", "update", "unchanged", "prune")}
    return json.dumps({"summary": summary, "changed": plan.has_changes, "items": items}, indent=2)


def _json_value(value: Any, masked: bool) -> Any:
    if value is MISSING:
        return None
    if masked:
        return {k: MASK for k in value} if isinstance(value, dict) else MASK
    return value
