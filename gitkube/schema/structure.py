"""Strict structural validation of one object against its kind's OpenAPI schema.

Like `kubectl --validate=strict`: unknown fields, wrong types, missing required fields. Valid
objects take one call into a pre-generated fastjsonschema validator; only invalid ones pay for
`jsonschema`, which reports every problem with its path. Both are imported on first use so that
importing this module stays cheap for commands that never validate.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Callable

from gitkube.kinds import BY_KIND
from gitkube.schema.problems import FieldProblem
from gitkube.schema.problems import Path as FieldPath

_DATA = Path(__file__).parent / "data" / "definitions.json"
_REF = "#/definitions/"
_ITEM = "[]"  # path segment standing for "any element of the list"
_TYPO_SURE = 0.85  # sibling spelling this close beats a same-named field elsewhere
_TYPO_MAYBE = 0.75
_MAX_MOVE = 3  # a same-named field more levels away than this is a coincidence, not a misplacement

Schema = dict[str, Any]
Segments = tuple[str, ...]


def check_structure(obj: dict) -> list[FieldProblem]:
    """Every structural problem of `obj`, in document order; [] when valid.

    `obj` must already carry a supported kind at its current apiVersion (see convert.convert).
    """
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in BY_KIND:
        raise ValueError(f"check_structure needs a supported kind, got {kind!r}")
    validate, invalid = _fast()
    try:
        validate({kind: obj})
        return []
    except invalid:
        return _slow_check(kind, obj)


@cache
def _fast() -> tuple[Callable[[dict], Any], type[Exception]]:
    from fastjsonschema import JsonSchemaValueException

    from gitkube.schema._fast_validators import validate

    return validate, JsonSchemaValueException


@cache
def _bundle() -> Schema:
    return json.loads(_DATA.read_text())


@cache
def _validator(kind: str) -> Any:
    from jsonschema import Draft7Validator

    bundle = _bundle()
    return Draft7Validator({"definitions": bundle["definitions"], **bundle["kinds"][kind]})


def _slow_check(kind: str, obj: dict) -> list[FieldProblem]:
    problems: dict[tuple[FieldPath, str, str], FieldProblem] = {}
    for error in _validator(kind).iter_errors(obj):
        for p in _problems_of(kind, error):
            problems.setdefault((p.path, p.rule, p.message), p)
    found = list(problems.values())
    if not found:  # the two validators disagree; never let an invalid object through silently
        found = [FieldProblem((), "schema", "object does not match its schema")]
    return sorted(found, key=lambda p: _document_order(obj, p.path))


def _problems_of(kind: str, error: Any) -> list[FieldProblem]:
    path: FieldPath = tuple(error.absolute_path)
    check, expected, value = error.validator, error.validator_value, error.instance
    if check == "additionalProperties" and expected is False:
        known = error.schema.get("properties", {})
        return [FieldProblem((*path, name), "unknown-field", f'unknown field "{name}"',
                             hint=_suggest(kind, (*path, name), list(known)))
                for name in value if name not in known]
    if check == "type":
        wanted = " or ".join(t for t in ([expected] if isinstance(expected, str) else expected) if t != "null")
        return [FieldProblem(path, "type", f"expected {wanted}, got {_describe(value)}", at_key=False)]
    if check == "required":
        return [FieldProblem(path, "required-field", f'required field "{name}" is missing')
                for name in expected if name not in value]
    if check == "enum":
        allowed = ", ".join(json.dumps(v) for v in expected)
        return [FieldProblem(path, "enum", f"unsupported value {json.dumps(value)}; expected one of {allowed}",
                             at_key=False)]
    return [FieldProblem(path, "schema", error.message, at_key=False)]


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if isinstance(value, str):
        return f"string {json.dumps(value)}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    return "array" if isinstance(value, list) else "object"


def _document_order(obj: Any, path: FieldPath) -> tuple[int, ...]:
    """Position of each path step among its siblings, so problems come out in the order written."""
    order: list[int] = []
    node = obj
    for step in path:
        if isinstance(node, dict):
            keys = list(node)
            order.append(keys.index(step) if step in node else len(keys))
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int):
            order.append(step)
            node = node[step] if step < len(node) else None
        else:
            order.append(0)
            node = None
    return tuple(order)


def _suggest(kind: str, wrong: FieldPath, siblings: list[str]) -> str:
    """`did you mean spec.completions?` for a misplaced field, `did you mean containers?` for a typo."""
    name = str(wrong[-1])
    sure = _close_sibling(name, siblings, _TYPO_SURE)
    if sure:
        return f"did you mean {sure}?"
    where = _segments(wrong)
    near = [c for c in _field_index(kind).get(name, ()) if _moves(c, where) <= _MAX_MOVE]
    if near:
        best = min(near, key=lambda c: (-_common_prefix(c, where), c[0] == "status", len(c), c))
        return f"did you mean {_render(best)}?"
    maybe = _close_sibling(name, siblings, _TYPO_MAYBE)
    return f"did you mean {maybe}?" if maybe else ""


def _close_sibling(name: str, siblings: list[str], cutoff: float) -> str:
    import difflib

    lowered = {s.lower(): s for s in siblings}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=cutoff)
    return lowered[match[0]] if match else ""


def _segments(path: FieldPath) -> Segments:
    return tuple(_ITEM if isinstance(p, int) else p for p in path)


def _common_prefix(a: Segments, b: Segments) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _moves(a: Segments, b: Segments) -> int:
    """Field levels to go up from `b` and down to `a` (list steps don't count)."""
    common = _common_prefix(a, b)
    return sum(s != _ITEM for s in a[common:]) + sum(s != _ITEM for s in b[common:]) - 2


def _render(segments: Segments) -> str:
    """("spec", "containers", "[]", "image") -> "spec.containers[].image"."""
    return ".".join(segments).replace("." + _ITEM, _ITEM)


@cache
def _field_index(kind: str) -> dict[str, list[Segments]]:
    """Field name -> every path in the kind's schema that ends in it."""
    bundle = _bundle()
    index: dict[str, list[Segments]] = {}
    _index_fields(bundle["kinds"][kind], bundle["definitions"], (), frozenset(), index)
    return index


def _index_fields(schema: Schema, defs: dict[str, Schema], prefix: Segments, seen: frozenset[str],
                  index: dict[str, list[Segments]]) -> None:
    ref = schema.get("$ref")
    if ref is not None:
        if ref not in seen:  # schemas may be recursive; stop at the first repeat on a branch
            _index_fields(defs[ref.removeprefix(_REF)], defs, prefix, seen | {ref}, index)
        return
    for name, sub in schema.get("properties", {}).items():
        path = (*prefix, name)
        index.setdefault(name, []).append(path)
        _index_fields(sub, defs, path, seen, index)
    items = schema.get("items")
    if isinstance(items, dict):
        _index_fields(items, defs, (*prefix, _ITEM), seen, index)
