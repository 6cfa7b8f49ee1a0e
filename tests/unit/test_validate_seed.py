"""The seed's manifests get the verdicts the foundation issue asks for, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SEED = Path(__file__).parent.parent / "fixtures" / "seed"
EXAMPLES = Path(__file__).parent.parent.parent / "examples" / "manifests"


def gitkube(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gitkube", *args], capture_output=True, text=True, input=stdin)


# file -> (exit code, [(severity, rule, line)] expected among the diagnostics)
SEED_VERDICTS = {
    "pod-named-ports.yaml": (0, []),
    "pod-liveness.yaml": (0, []),
    "pod-readiness.yaml": (0, []),
    "rc.yaml": (0, []),
    "rs-v1beta2.yaml": (0, [("warning", "deprecated-api-version", 1)]),
    "rs-matchexpressions-and.yaml": (0, [("warning", "deprecated-api-version", 1)]),
    "rs-matchexpressions-or.yaml": (1, [("error", "duplicate-key", 13)]),
    "daemonset-v1beta2.yaml": (0, [("warning", "deprecated-api-version", 1)]),
    "job.yaml": (1, [("error", "unknown-field", 11), ("error", "unknown-field", 12)]),
    "cronjob-v1beta1.yaml": (0, [("warning", "deprecated-api-version", 1)]),
    "service-clientip.yaml": (0, []),
    "service-selectorless-endpoints.yaml": (0, []),
    "service-externalname.yaml": (0, []),
    "service-nodeport.yaml": (0, []),
    "service-loadbalancer.yaml": (0, []),
    "service-headless.yaml": (0, []),
    "ingress-v1beta1.yaml": (0, [("warning", "deprecated-api-version", 1), ("warning", "ingress-unknown-service", 16)]),
}


@pytest.mark.parametrize("name", sorted(SEED_VERDICTS), ids=lambda n: f"seed {n} gets its verdict")
def test_seed_manifest_verdicts(name):
    code, expected = SEED_VERDICTS[name]
    run = gitkube("validate", "-o", "json", str(SEED / name))
    assert run.returncode == code, run.stdout + run.stderr
    report = json.loads(run.stdout)
    seen = {(d["severity"], d["rule"], d["line"]) for d in report["diagnostics"]}
    for item in expected:
        assert item in seen, f"{item} not in {seen}"
    if not expected:
        assert report["diagnostics"] == []


def test_the_seed_job_error_points_at_the_line_and_suggests_spec_completions():
    run = gitkube("validate", str(SEED / "job.yaml"))
    assert run.returncode == 1
    first = run.stdout.splitlines()[0]
    assert first == (f"{SEED / 'job.yaml'}:11:7: error[unknown-field]: Job/batch-job: "
                     "spec.template.spec.completions: unknown field \"completions\" (did you mean spec.completions?)")


def test_the_seed_or_selector_reports_both_lines():
    run = gitkube("validate", str(SEED / "rs-matchexpressions-or.yaml"))
    assert ':13:5: error[duplicate-key]: ReplicaSet/kubia: spec.selector.matchExpressions: mapping key ' \
           '"matchExpressions" already defined at line 8' in run.stdout


def test_every_example_is_valid_without_warnings():
    run = gitkube("validate", str(EXAMPLES))
    assert run.returncode == 0, run.stdout
    assert "valid, 0 errors, 0 warnings" in run.stdout


def test_the_same_object_declared_twice_is_reported_at_both_places(tmp_path):
    (tmp_path / "a.yaml").write_text((SEED / "rc.yaml").read_text())
    (tmp_path / "b.yaml").write_text("# copy\n" + (SEED / "rc.yaml").read_text())
    run = gitkube("validate", str(tmp_path))
    assert run.returncode == 1
    lines = [ln for ln in run.stdout.splitlines() if "duplicate-object" in ln]
    assert len(lines) == 2
    assert lines[0].startswith(f"{tmp_path / 'b.yaml'}:2:1:") and lines[1].startswith(f"{tmp_path / 'a.yaml'}:1:1:")


def test_missing_identity_fields_are_errors_with_positions(tmp_path):
    f = tmp_path / "x.yaml"
    f.write_text("kind: Pod\nmetadata:\n  labels: {a: b}\n---\napiVersion: v1\nkind: Pod\nmetadata: {}\n")
    run = gitkube("validate", "-o", "json", str(f))
    diags = [(d["rule"], d["line"], d["message"]) for d in json.loads(run.stdout)["diagnostics"]]
    assert ("missing-field", 1, "apiVersion is required") in diags
    assert ("missing-field", 2, "metadata.name is required") in diags
    assert ("missing-field", 7, "metadata.name is required") in diags


def test_unknown_kind_lists_the_supported_ones(tmp_path):
    f = tmp_path / "x.yaml"
    f.write_text("apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: s\n")
    run = gitkube("validate", str(f))
    assert run.returncode == 1
    assert "error[unknown-kind]" in run.stdout and "apps/v1/Deployment" in run.stdout


def test_github_and_junit_outputs_are_well_formed():
    import xml.etree.ElementTree as ET

    gh = gitkube("validate", "-o", "github", str(SEED / "job.yaml"))
    assert gh.returncode == 1
    assert gh.stdout.startswith(f"::error file={SEED / 'job.yaml'},line=11,col=7,title=gitkube unknown-field::")
    junit = gitkube("validate", "-o", "junit", str(SEED / "job.yaml"))
    root = ET.fromstring(junit.stdout)
    suite = root.find("testsuite")
    assert suite.get("failures") == "2"
    assert len(suite.findall("testcase/failure")) == 2
    ok = ET.fromstring(gitkube("validate", "-o", "junit", str(SEED / "rc.yaml")).stdout)
    assert ok.find("testsuite").get("failures") == "0"


def test_stdin_is_validated_with_a_dash():
    run = gitkube("validate", "-", stdin=(SEED / "job.yaml").read_text())
    assert run.returncode == 1
    assert run.stdout.startswith("<stdin>:11:7: error[unknown-field]")


def test_an_unknown_output_format_is_a_usage_error():
    run = gitkube("validate", "-o", "xml", str(SEED / "rc.yaml"))
    assert run.returncode == 2
    assert run.stderr.startswith("error: unknown output format")
    assert "Traceback" not in run.stderr
