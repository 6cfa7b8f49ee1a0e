"""No input ever makes validation crash: random and mutated YAML give diagnostics, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitkube.manifest.loader import SourceFile, load_sources
from gitkube.schema.validate import validate_loaded

SEEDS = [p.read_text() for p in sorted((Path(__file__).parent.parent / "fixtures" / "seed").glob("*.yaml"))]
SEEDS += [p.read_text() for p in sorted((Path(__file__).parent.parent.parent / "examples" / "manifests").glob("*.yaml"))]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=30))
keys = st.one_of(st.sampled_from(["apiVersion", "kind", "metadata", "name", "spec", "containers", "selector",
                                  "matchLabels", "matchExpressions", "ports", "template", "labels", "image",
                                  "replicas", "schedule", "jobTemplate", "subsets", "data", "type"]),
                 st.text(max_size=12))
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(keys, inner, max_size=6)), max_leaves=25)


def check_text(text: str) -> None:
    result = validate_loaded(load_sources([SourceFile("fuzz.yaml", text)]))
    for d in result.diagnostics:
        assert d.rule != "internal-error", d.format()
        d.format()
        json.dumps(d.to_dict())


@st.composite
def mutated_seed(draw):
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "swap", "dup", "replace"]))
        lines = text.splitlines(keepends=True) or [""]
        if op == "delete" and text:
            i = draw(st.integers(0, len(text) - 1))
            text = text[:i] + text[i + draw(st.integers(1, 10)):]
        elif op == "insert":
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(st.sampled_from([":", "-", " ", "\n", "[", "{", "'", "\"", "&a", "*a", "!!x",
                                                   "\t", "null", "~", "0x1F", "yes", "---\n", "1e400"])) + text[i:]
        elif op == "swap" and len(lines) > 1:
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
        elif op == "dup" and lines:
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            text = "".join(lines)
        elif op == "replace" and lines:
            i = draw(st.integers(0, len(lines) - 1))
            indent = len(lines[i]) - len(lines[i].lstrip())
            lines[i] = " " * indent + draw(st.sampled_from(["replicas: many", "- 1", "ports: 80", "image: [1]",
                                                            "selector: {}", "name: BAD_NAME", "port: http",
                                                            "containers: null", "operator: Or"])) + "\n"
            text = "".join(lines)
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_seed())
def test_mutated_seed_manifests_never_crash_the_validator(text):
    check_text(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_structures_never_crash_the_validator(doc):
    from ruamel.yaml import YAML
    import io

    buf = io.StringIO()
    YAML(typ="safe", pure=True).dump(doc, buf)
    check_text(buf.getvalue())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_never_crashes_the_validator(text):
    check_text(text)


@settings(max_examples=15, deadline=None)
@given(mutated_seed())
def test_the_cli_exits_cleanly_on_mutated_input(text):
    run = subprocess.run([sys.executable, "-m", "gitkube", "validate", "-"], input=text, capture_output=True, text=True)
    assert run.returncode in (0, 1)
    assert "Traceback" not in run.stderr + run.stdout
