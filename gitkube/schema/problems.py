"""A problem found inside one object, before it is tied to a file position.

Checks (structure, semantic rules, conversion) return FieldProblems with a field path; the
validation pipeline turns them into Diagnostics by looking the path up in the source positions.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitkube.errors import Severity

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class FieldProblem:
    path: Path  # e.g. ("spec", "template", "spec", "completions"); () = the whole object
    rule: str  # stable rule id, kebab-case
    message: str
    hint: str = ""
    severity: Severity = Severity.ERROR
    # Point at the key itself (True) or at its value (False) when resolving the position.
    at_key: bool = True


def dotted(path: Path) -> str:
    """("spec", "ports", 0, "name") -> "spec.ports[0].name"."""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out
