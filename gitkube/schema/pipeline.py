"""Load and validate sources in one call: what `validate`, `diff` and `apply` all start with.

Large inputs are split across processes (one per core): parsing YAML dominates and is per file.
Workers return converted objects and finished diagnostics; the parent keeps only file names and
re-reads a file for positions if a cross-object check has something to report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

from gitkube.errors import Diagnostic
from gitkube.manifest.loader import Manifest, SourceFile, expand_paths, load_sources, read_source
from gitkube.schema.validate import Validated, ValidationResult, check_across, check_each

PARALLEL_MIN_BYTES = 1_000_000  # below this, starting workers costs more than it saves


@dataclass
class CheckedSources(ValidationResult):
    files: int = 0


def load_and_validate(paths: Iterable[str], default_namespace: str = "default") -> CheckedSources:
    files, problems = expand_paths(paths)
    workers = _worker_count(files)
    if workers > 1:
        result = _check_parallel(files, default_namespace, workers)
    else:
        result = _check_files(files, default_namespace)
    result.diagnostics[:0] = problems
    check_across(result)
    return CheckedSources(result.objects, result.diagnostics, result.total, files=len(files))


def _check_files(files: list[str], default_namespace: str) -> ValidationResult:
    sources: list[SourceFile] = []
    problems: list[Diagnostic] = []
    for f in files:
        src = read_source(f)
        if isinstance(src, SourceFile):
            sources.append(src)
        else:
            problems.append(src)
    result = check_each(load_sources(sources), default_namespace)
    result.diagnostics[:0] = problems
    return result


def _worker_count(files: list[str]) -> int:
    if len(files) < 4 or "-" in files:
        return 1
    size = sum(os.path.getsize(f) for f in files if os.path.isfile(f))
    if size < PARALLEL_MIN_BYTES:
        return 1
    return min(os.cpu_count() or 1, 8, len(files))


def _check_chunk(args: tuple[list[str], str]) -> tuple[list[tuple[dict, str, int, tuple]], list[Diagnostic], int]:
    files, default_namespace = args
    result = _check_files(files, default_namespace)
    objects = [(v.obj, v.manifest.source.name, v.manifest.doc_index, v.manifest.item_path) for v in result.objects]
    return objects, result.diagnostics, result.total


def _check_parallel(files: list[str], default_namespace: str, workers: int) -> ValidationResult:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    sizes = [os.path.getsize(f) if os.path.isfile(f) else 0 for f in files]
    chunks: list[list[str]] = []
    target = sum(sizes) / workers
    current: list[str] = []
    acc = 0
    for f, size in zip(files, sizes):  # contiguous chunks keep the output in file order
        current.append(f)
        acc += size
        if acc >= target and len(chunks) < workers - 1:
            chunks.append(current)
            current, acc = [], 0
    if current:
        chunks.append(current)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(len(chunks), mp_context=context) as pool:
        parts = list(pool.map(_check_chunk, [(c, default_namespace) for c in chunks]))
    result = ValidationResult()
    sources: dict[str, SourceFile] = {}
    for objects, diagnostics, total in parts:
        result.diagnostics.extend(diagnostics)
        result.total += total
        for obj, name, doc_index, item_path in objects:
            src = sources.setdefault(name, SourceFile(name, None))
            result.objects.append(Validated(obj, Manifest(obj, src, doc_index, item_path)))
    return result
