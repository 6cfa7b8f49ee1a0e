"""The validation pipeline: loaded manifests in, converted objects and every diagnostic out.

Per object: required identity fields → apiVersion conversion → strict structure → semantic rules.
Then across objects: the same (kind, namespace, name) declared twice, and the cross-object rules.
Each check returns FieldProblems; only here are they tied to file:line:col.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitkube.errors import Diagnostic, Severity
from gitkube.kinds import BY_KIND
from gitkube.manifest.loader import LoadResult, Manifest
from gitkube.schema.problems import FieldProblem


@dataclass
class Validated:
    """An object that passed validation (possibly with warnings), converted to its current apiVersion."""

    obj: dict
    manifest: Manifest

    @property
    def key(self) -> tuple[str, str, str]:
        md = self.obj["metadata"]
        return (self.obj["kind"], md.get("namespace", ""), md["name"])


@dataclass
class ValidationResult:
    objects: list[Validated] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    total: int = 0  # objects found in the sources, valid or not

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]


def validate_loaded(loaded: LoadResult, default_namespace: str = "default") -> ValidationResult:
    result = check_each(loaded, default_namespace)
    check_across(result)
    return result


def check_each(loaded: LoadResult, default_namespace: str = "default") -> ValidationResult:
    """The per-object checks: independent of each other, so they may run in parallel workers."""
    result = ValidationResult(diagnostics=list(loaded.diagnostics), total=len(loaded.manifests))
    for m in loaded.manifests:
        obj, problems = check_manifest(m.obj, default_namespace)
        result.diagnostics.extend(_diagnose(m, problems))
        if obj is not None and not any(p.severity is Severity.ERROR for p in problems):
            result.objects.append(Validated(obj, m))
    return result


def check_across(result: ValidationResult) -> None:
    """The checks that need every object at once: duplicates and cross-object rules."""
    _check_duplicates(result)
    _check_cross(result)


def check_manifest(raw: dict, default_namespace: str = "default") -> tuple[dict | None, list[FieldProblem]]:
    """Converted object (None when it cannot be identified) and every problem found in it."""
    problems = _identity_problems(raw)
    if problems:
        return None, problems
    from gitkube.schema.convert import convert

    from gitkube.manifest.yaml import drop_nulls

    obj, conv = convert(drop_nulls(raw))
    problems.extend(conv)
    if any(p.severity is Severity.ERROR for p in conv):
        return None, problems
    try:
        from gitkube.schema.rules import check_object
        from gitkube.schema.structure import check_structure

        structural = check_structure(obj)
        problems.extend(structural)
        problems.extend(check_object(obj))
    except Exception as exc:  # a checker must never take the whole run down
        problems.append(FieldProblem((), "internal-error", f"validator failed on this object: {exc!r}"))
    info = BY_KIND[obj["kind"]]
    md = obj["metadata"]
    if info.namespaced and not md.get("namespace"):
        obj = {**obj, "metadata": {**md, "namespace": default_namespace}}
    elif not info.namespaced and md.get("namespace"):
        problems.append(FieldProblem(("metadata", "namespace"), "cluster-scoped",
                                     f"{obj['kind']} is cluster-scoped and cannot have a namespace",
                                     severity=Severity.ERROR))
    return obj, problems


def _identity_problems(raw: dict) -> list[FieldProblem]:
    out: list[FieldProblem] = []
    for key in ("apiVersion", "kind"):
        value = raw.get(key)
        if value is None:
            out.append(FieldProblem((key,) if key in raw else (), "missing-field", f"{key} is required"))
        elif not isinstance(value, str) or not value:
            out.append(FieldProblem((key,), "type", f"{key} must be a non-empty string"))
    md = raw.get("metadata")
    if not isinstance(md, dict):
        path = ("metadata",) if "metadata" in raw else ()
        out.append(FieldProblem(path, "missing-field", "metadata.name is required"))
    else:
        name = md.get("name")
        if name is None or name == "":
            out.append(FieldProblem(("metadata",), "missing-field", "metadata.name is required",
                                    hint="gitkube needs a fixed name to track the object; generateName "
                                         "is only for objects that controllers create"))
        elif not isinstance(name, str):
            out.append(FieldProblem(("metadata", "name"), "type", "metadata.name must be a string", at_key=False))
    return out


def _diagnose(m: Manifest, problems: list[FieldProblem]) -> list[Diagnostic]:
    return [m.diagnostic(p.severity, p.rule, p.message, p.path, p.hint, p.at_key) for p in problems]


def _check_duplicates(result: ValidationResult) -> None:
    seen: dict[tuple[str, str, str], Validated] = {}
    keep: list[Validated] = []
    for v in result.objects:
        first = seen.get(v.key)
        if first is None:
            seen[v.key] = v
            keep.append(v)
            continue
        f_line, _ = first.manifest.locate()
        ns = f" in namespace {v.key[1]}" if v.key[1] else ""
        result.diagnostics.append(v.manifest.diagnostic(
            Severity.ERROR, "duplicate-object",
            f"{v.key[0]}/{v.key[2]}{ns} is declared twice; first at {first.manifest.source.name}:{f_line}"))
        line, _ = v.manifest.locate()
        result.diagnostics.append(first.manifest.diagnostic(
            Severity.ERROR, "duplicate-object",
            f"{v.key[0]}/{v.key[2]}{ns} is declared twice; again at {v.manifest.source.name}:{line}"))
    result.objects = keep


def _check_cross(result: ValidationResult) -> None:
    from gitkube.schema.rules import check_cross

    objs = [v.obj for v in result.objects]
    try:
        found = check_cross(objs)
    except Exception as exc:
        result.diagnostics.append(Diagnostic(Severity.ERROR, "internal-error", f"cross-object checks failed: {exc!r}"))
        return
    bad: set[int] = set()
    for index, problem in found:
        v = result.objects[index]
        result.diagnostics.extend(_diagnose(v.manifest, [problem]))
        if problem.severity is Severity.ERROR:
            bad.add(index)
    if bad:
        result.objects = [v for i, v in enumerate(result.objects) if i not in bad]
