"""Load and validate sources in one call: what `validate`, `diff` and `apply` all start with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from gitkube.manifest.loader import SourceFile, expand_paths, load_sources, read_source
from gitkube.schema.validate import ValidationResult, validate_loaded


@dataclass
class CheckedSources(ValidationResult):
    files: int = 0


def load_and_validate(paths: Iterable[str], default_namespace: str = "default") -> CheckedSources:
    files, problems = expand_paths(paths)
    sources: list[SourceFile] = []
    for f in files:
        src = read_source(f)
        if isinstance(src, SourceFile):
            sources.append(src)
        else:
            problems.append(src)
    loaded = load_sources(sources)
    loaded.diagnostics[:0] = problems
    result = validate_loaded(loaded, default_namespace)
    return CheckedSources(result.objects, result.diagnostics, result.total, files=len(files))
