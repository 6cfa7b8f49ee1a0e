"""`-o yaml`, `-o json` and `-o name`, as kubectl prints them."""

from __future__ import annotations

import io
import json
from typing import Any, Mapping, Sequence

from gitkube.kinds import BY_KIND


def as_list(objs: Sequence[Mapping[str, Any]]) -> dict:
    """The `kind: List` wrapper kubectl prints around several objects."""
    return {"apiVersion": "v1", "items": list(objs), "kind": "List", "metadata": {"resourceVersion": ""}}


def to_json(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, indent=4, ensure_ascii=False) + "\n"


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def to_yaml(obj: Mapping[str, Any]) -> str:
    """Block-style YAML with keys sorted, sequences not indented under their key (kubectl's look)."""
    from ruamel.yaml import YAML

    y = YAML(typ="safe")
    y.default_flow_style = False
    y.width = 1 << 16
    buf = io.StringIO()
    y.dump(_sorted(obj), buf)
    return buf.getvalue()


def resource_name(obj: Mapping[str, Any]) -> str:
    """`pod/web`, `deployment.apps/web`: what `-o name` prints."""
    return f"{BY_KIND[obj['kind']].resource_name}/{(obj.get('metadata') or {}).get('name', '')}"
