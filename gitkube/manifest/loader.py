"""Load Kubernetes manifests from files, directories and stdin, remembering where every value was written.

Two speeds: every file is first parsed with the C-accelerated safe loader (no positions, fast).
Positions are only needed when something is reported, so a file is composed a second time, in
position-tracking mode, lazily (`SourceFile.positions`) or at once when the fast parse fails
(syntax errors, duplicate keys). Document indexes are the same in both modes.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any, Iterable

from gitkube.errors import Diagnostic, Severity
from gitkube.manifest.positions import DocPositions, compose_documents
from gitkube.manifest.yaml import load_documents, position_error

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class SourceFile:
    """One input file (or stdin) and, lazily, the positions of everything in it."""

    name: str  # what diagnostics print
    text: str | None  # None: read from `name` again when positions are needed
    _positions: list[DocPositions | None] | None = field(default=None, repr=False)

    @property
    def positions(self) -> list[DocPositions | None]:
        if self._positions is None:
            try:
                text = self.text if self.text is not None else FsPath(self.name).read_text(encoding="utf-8")
                docs, _ = compose_documents(text)
            except Exception:  # positions are best effort once the fast parse succeeded
                docs = []
            self._positions = docs
        return self._positions


@dataclass
class Manifest:
    """One object as written in a source, with a way back to its file position."""

    obj: dict[str, Any]
    source: SourceFile
    doc_index: int
    item_path: tuple[str | int, ...] = ()  # ("items", 3) for an object inside `kind: List`

    @property
    def kind(self) -> str:
        k = self.obj.get("kind")
        return k if isinstance(k, str) else ""

    @property
    def name(self) -> str:
        md = self.obj.get("metadata")
        n = md.get("name") if isinstance(md, dict) else None
        return n if isinstance(n, str) else ""

    def locate(self, path: tuple[str | int, ...] = (), at_key: bool = True) -> tuple[int, int]:
        """(line, column), 1-based, of `path` inside this object; the nearest existing ancestor
        when the path does not exist (e.g. a missing required field points at its parent)."""
        docs = self.source.positions
        doc = docs[self.doc_index] if self.doc_index < len(docs) else None
        if doc is None:
            return (0, 0)
        return doc.locate(self.item_path + tuple(path), at_key=at_key)

    def diagnostic(self, severity: Severity, rule: str, message: str, path: tuple[str | int, ...] = (),
                   hint: str = "", at_key: bool = True) -> Diagnostic:
        from gitkube.schema.problems import dotted

        line, col = self.locate(path, at_key)
        return Diagnostic(severity, rule, message, self.source.name, line, col, self.kind, self.name,
                          dotted(path), hint)


@dataclass
class LoadResult:
    manifests: list[Manifest] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def expand_paths(paths: Iterable[str]) -> tuple[list[str], list[Diagnostic]]:
    """Files named directly are taken whatever their suffix; directories are walked recursively
    (sorted, hidden entries skipped) for .yaml/.yml/.json files."""
    out: list[str] = []
    problems: list[Diagnostic] = []
    for p in paths:
        if p == "-":
            out.append(p)
        elif os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    if f.endswith(MANIFEST_SUFFIXES) and not f.startswith("."):
                        out.append(os.path.join(root, f))
        elif os.path.exists(p):
            out.append(p)
        else:
            problems.append(Diagnostic(Severity.ERROR, "file-not-found", f"the path {p!r} does not exist",
                                       file=p))
    return out, problems


def read_source(path: str) -> SourceFile | Diagnostic:
    try:
        if path == "-":
            return SourceFile("<stdin>", sys.stdin.read())
        return SourceFile(path, FsPath(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        return Diagnostic(Severity.ERROR, "encoding", f"not UTF-8 text ({e.reason} at byte {e.start})", file=path)
    except OSError as e:
        return Diagnostic(Severity.ERROR, "read-error", e.strerror or str(e), file=path)


def load_sources(sources: list[SourceFile]) -> LoadResult:
    result = LoadResult()
    for src in sources:
        _load_one(src, result)
    return result


def load_paths(paths: Iterable[str]) -> LoadResult:
    files, problems = expand_paths(paths)
    result = LoadResult(diagnostics=problems)
    for f in files:
        src = read_source(f)
        if isinstance(src, Diagnostic):
            result.diagnostics.append(src)
        else:
            _load_one(src, result)
    return result


def _load_one(src: SourceFile, result: LoadResult) -> None:
    docs = _fast_parse(src)
    if docs is None:
        docs = _slow_parse(src, result.diagnostics)
        if docs is None:
            return
    for index, doc in enumerate(docs):
        _add_document(src, index, doc, result)


def _fast_parse(src: SourceFile) -> list[Any] | None:
    """All documents, or None when the fast loader refused the text (then positions are needed)."""
    try:
        if src.name.endswith(".json"):
            return [json.loads(src.text)] if src.text.strip() else []
        return load_documents(src.text)
    except Exception:
        return None


def _slow_parse(src: SourceFile, diagnostics: list[Diagnostic]) -> list[Any] | None:
    try:
        positions, values = compose_documents(src.text)
    except Exception as exc:  # a syntax error: nothing of this file can be trusted
        line, col, message = position_error(exc)
        diagnostics.append(Diagnostic(Severity.ERROR, "yaml-syntax", message, src.name, line, col))
        return None
    src._positions = positions
    for doc, value in zip(positions, values):
        if doc is None:
            continue
        ident = Manifest(value, src, 0) if isinstance(value, dict) else None
        for dup in doc.duplicates:
            diagnostics.append(Diagnostic(
                Severity.ERROR, "duplicate-key",
                f'mapping key "{dup.key}" already defined at line {dup.first_line}',
                src.name, dup.line, dup.column, ident.kind if ident else "", ident.name if ident else "",
                dup.path, _duplicate_hint(dup.key)))
    return values


def _duplicate_hint(key: str) -> str:
    if key == "matchExpressions":
        return ("a selector has one matchExpressions list and its expressions are ANDed; "
                "there is no OR between lists")
    return "YAML would keep only the last one; merge them into one key"


def _add_document(src: SourceFile, index: int, doc: Any, result: LoadResult) -> None:
    if doc is None:
        return
    probe = Manifest({}, src, index)
    if not isinstance(doc, dict):
        line, col = probe.locate(())
        result.diagnostics.append(Diagnostic(
            Severity.ERROR, "not-a-mapping",
            f"a manifest document must be a mapping (an object), got {_type_name(doc)}", src.name, line, col))
        return
    if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
        for i, item in enumerate(doc["items"]):
            path: tuple[str | int, ...] = ("items", i)
            if isinstance(item, dict):
                result.manifests.append(Manifest(item, src, index, path))
            else:
                line, col = probe.locate(path)
                result.diagnostics.append(Diagnostic(
                    Severity.ERROR, "not-a-mapping", f"List item must be a mapping, got {_type_name(item)}",
                    src.name, line, col, path=f"items[{i}]"))
        return
    result.manifests.append(Manifest(doc, src, index))


def _type_name(value: Any) -> str:
    if isinstance(value, list):
        return "a sequence"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return {bool: "a boolean", int: "an integer", float: "a number"}.get(type(value), type(value).__name__)
