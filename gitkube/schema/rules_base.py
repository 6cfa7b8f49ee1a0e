"""Shared pieces of the semantic rules: tolerant field access and upstream-shaped messages.

Rules run after the JSON schema, but a manifest with errors there still reaches them, so every
accessor returns an empty value for a wrong type instead of raising. Messages follow
apimachinery's field.Error wording (`Invalid value: "x": …`, `Required value`, …) so they read
like the errors users already search for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from gitkube.errors import Severity
from gitkube.schema.problems import FieldProblem, Path

Problems = Iterator[FieldProblem]


def as_dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list:
    return value if isinstance(value, list) else []


def as_int(value: object) -> int | None:
    """An integer field's value; None for missing, bool, float or string."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def go_repr(value: object) -> str:
    """How field.Invalid prints a value: strings quoted, numbers bare, objects as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except ValueError:  # a self-referencing structure cannot come from YAML, but stay total
        return repr(value)


def quoted_list(values: Iterable[str]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def invalid(path: Path, rule: str, value: object, detail: str, hint: str = "", *,
            at_key: bool = False, severity: Severity = Severity.ERROR) -> FieldProblem:
    return FieldProblem(path, rule, f"Invalid value: {go_repr(value)}: {detail}", hint, severity, at_key)


def required(path: Path, rule: str, detail: str = "", hint: str = "") -> FieldProblem:
    return FieldProblem(path, rule, f"Required value: {detail}" if detail else "Required value", hint)


def unsupported(path: Path, rule: str, value: object, supported: Iterable[str], hint: str = "") -> FieldProblem:
    message = f"Unsupported value: {go_repr(value)}: supported values: {quoted_list(supported)}"
    return FieldProblem(path, rule, message, hint, at_key=False)


def forbidden(path: Path, rule: str, detail: str, hint: str = "") -> FieldProblem:
    return FieldProblem(path, rule, f"Forbidden: {detail}", hint)


def duplicate(path: Path, rule: str, value: object, hint: str = "") -> FieldProblem:
    return FieldProblem(path, rule, f"Duplicate value: {go_repr(value)}", hint, at_key=False)


def not_found(path: Path, rule: str, value: object, hint: str = "",
              severity: Severity = Severity.ERROR) -> FieldProblem:
    return FieldProblem(path, rule, f"Not found: {go_repr(value)}", hint, severity, at_key=False)


def non_negative(parent: dict, path: Path, fields: Iterable[str]) -> Problems:
    """Counts and durations that upstream checks with ValidateNonnegativeField."""
    for name in fields:
        value = as_int(parent.get(name))
        if value is not None and value < 0:
            yield invalid((*path, name), "negative-value", value, "must be greater than or equal to 0")


def check_enum(parent: dict, key: str, path: Path, allowed: tuple[str, ...]) -> Problems:
    """A string field with a fixed set of values; "" counts as unset because defaulting fills it."""
    value = parent.get(key)
    if isinstance(value, str) and value and value not in allowed:
        yield unsupported((*path, key), "unsupported-value", value, allowed)
