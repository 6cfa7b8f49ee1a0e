"""The one error tree of gitkube, and the diagnostics that manifest checks produce.

GitkubeError
├── ManifestError      – the manifests are wrong; carries Diagnostics (file:line:col, object, field, hint)
├── SelectorError      – a label selector string or structure is invalid
├── StoreError
│   ├── NotFound
│   ├── AlreadyExists
│   └── Conflict       – a write carried a stale resourceVersion
├── PruneRefused       – prune would delete too much without --force-prune
├── SourceError        – a Git source cannot be read (unknown ref, unreachable repo, auth)
└── RuntimeFailure     – a Docker host or SSH connection failed
    ├── TransientError – retry with back-off
    └── PermanentError – recorded as a condition; no retry until the spec changes

Every CLI command maps these to one-line messages and documented exit codes; no traceback
reaches a user unless --debug is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a manifest, pointing at the exact place it was written."""

    severity: Severity
    rule: str  # stable rule id, e.g. "yaml-syntax", "unknown-field", "dns1123-name"
    message: str
    file: str = "<unknown>"
    line: int = 0  # 1-based; 0 when unknown
    column: int = 0  # 1-based; 0 when unknown
    kind: str = ""
    name: str = ""
    path: str = ""  # dotted field path inside the object, e.g. "spec.template.spec.completions"
    hint: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def object_ref(self) -> str:
        if not self.kind:
            return ""
        return f"{self.kind}/{self.name or '<unnamed>'}"

    def format(self) -> str:
        """`FILE:LINE:COL: error[RULE]: Kind/name: field.path: message (hint)`."""
        parts = [f"{self.file}:{self.line}:{self.column}: {self.severity.value}[{self.rule}]:"]
        if self.object_ref:
            parts.append(f" {self.object_ref}:")
        if self.path:
            parts.append(f" {self.path}:")
        parts.append(f" {self.message}")
        if self.hint:
            parts.append(f" ({self.hint})")
        return "".join(parts)

    def to_dict(self) -> dict:
        return {
            "severity": self.severity.value,
            "rule": self.rule,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "kind": self.kind,
            "name": self.name,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


class GitkubeError(Exception):
    """Base of every error gitkube raises on purpose. `exit_code` is what the CLI returns."""

    exit_code = 2


class ManifestError(GitkubeError):
    """Manifests failed to load or validate; `diagnostics` holds every problem at once."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        errors = [d for d in diagnostics if d.is_error]
        first = errors[0].format() if errors else "invalid manifests"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first + more)


class SelectorError(GitkubeError):
    """A label selector is invalid (never treated as 'matches nothing')."""


class UsageError(GitkubeError):
    """A command was called with arguments that make no sense together."""


class StoreError(GitkubeError):
    pass


class NotFound(StoreError):
    exit_code = 1


class AlreadyExists(StoreError):
    pass


class Conflict(StoreError):
    """A write carried a resourceVersion that is no longer current."""


class PruneRefused(GitkubeError):
    """Prune would delete everything, or more than half of a source's objects."""

    exit_code = 5

    def __init__(self, message: str, victims: list[str]):
        self.victims = victims
        super().__init__(message)


class SourceError(GitkubeError):
    """A Git source cannot be read: unknown ref, unreachable repository, authentication."""


class RuntimeFailure(GitkubeError):
    """A Docker host or the SSH connection to it failed."""


class TransientError(RuntimeFailure):
    """Worth retrying with back-off (connection refused, timeout)."""


class PermanentError(RuntimeFailure):
    """Not worth retrying until the spec changes (image missing with pullPolicy Never, bad config)."""


@dataclass
class DiagnosticList:
    """Collects diagnostics across loading and validation, in order."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, d: Diagnostic) -> None:
        self.items.append(d)

    def extend(self, ds: list[Diagnostic]) -> None:
        self.items.extend(ds)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)
