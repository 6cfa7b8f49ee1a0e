"""Diagnostics in the formats people and CI systems read: text, json, junit, github."""

from __future__ import annotations

import json
from typing import Sequence
from xml.sax.saxutils import escape, quoteattr

from gitkube.errors import Diagnostic

FORMATS = ("text", "json", "junit", "github")


def render(diagnostics: Sequence[Diagnostic], fmt: str, checked: int, files: int) -> str:
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    if fmt == "json":
        return json.dumps({"valid": errors == 0, "objects": checked, "files": files, "errors": errors,
                           "warnings": warnings, "diagnostics": [d.to_dict() for d in diagnostics]}, indent=2)
    if fmt == "github":
        return "\n".join(_github(d) for d in diagnostics)
    if fmt == "junit":
        return _junit(diagnostics, checked, errors)
    lines = [d.format() for d in diagnostics]
    verdict = "valid" if errors == 0 else "invalid"
    lines.append(f"{checked} objects in {files} files: {verdict}, {errors} errors, {warnings} warnings")
    return "\n".join(lines)


def _github(d: Diagnostic) -> str:
    """GitHub Actions workflow command: ::error file=F,line=L,col=C,title=T::message"""
    level = "error" if d.is_error else "warning"
    text = "".join(part for part in (f"{d.object_ref}: " if d.object_ref else "", f"{d.path}: " if d.path else "",
                                     d.message, f" ({d.hint})" if d.hint else ""))

    def prop(v: str) -> str:
        return v.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A").replace(":", "%3A").replace(",", "%2C")

    def data(v: str) -> str:
        return v.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    return (f"::{level} file={prop(d.file)},line={d.line},col={d.column},title={prop('gitkube ' + d.rule)}"
            f"::{data(text)}")


def _junit(diagnostics: Sequence[Diagnostic], checked: int, errors: int) -> str:
    """One testsuite; one failing testcase per error (warnings go to system-out)."""
    cases = []
    for d in diagnostics:
        name = quoteattr(f"{d.file}:{d.line}:{d.column} {d.object_ref or d.rule}")
        if d.is_error:
            cases.append(f'    <testcase classname="gitkube.validate" name={name}>\n'
                         f'      <failure type={quoteattr(d.rule)} message={quoteattr(d.message)}>'
                         f'{escape(d.format())}</failure>\n    </testcase>')
    if not cases:
        cases.append('    <testcase classname="gitkube.validate" name="manifests"/>')
    warn = "\n".join(escape(d.format()) for d in diagnostics if not d.is_error)
    tests = max(errors, 1)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuites name="gitkube" tests="{tests}" failures="{errors}">\n'
            f'  <testsuite name="gitkube validate" tests="{tests}" failures="{errors}" errors="0" '
            f'skipped="0">\n' + "\n".join(cases) + "\n"
            f'    <system-out>{warn}</system-out>\n  </testsuite>\n</testsuites>')
