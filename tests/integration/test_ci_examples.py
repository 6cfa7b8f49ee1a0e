"""The CI examples work as shipped: the shell of the GitHub Actions steps and the GitLab CI jobs in
examples/ci/ run here, unchanged, against a sample repository of manifests, with their exit codes and
their JUnit / GitHub annotation output checked; and .pre-commit-hooks.yaml runs `gitkube validate`."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent.parent
CI = ROOT / "examples" / "ci"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: {value}\n"
BAD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\ndata:\n  key: value\nspec: {}\n"


def load(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text())


@pytest.fixture
def sample(tmp_path) -> Path:
    """A repository as the examples expect it: manifests in deploy/, committed."""
    repo = tmp_path / "sample"
    (repo / "deploy").mkdir(parents=True)
    (repo / "deploy" / "settings.yaml").write_text(CM.format(name="settings", value="one"))
    (repo / "deploy" / "flags.yaml").write_text(CM.format(name="flags", value="on"))
    (repo / "README.md").write_text("# sample\n")
    for args in (["init", "-q", "-b", "main"], ["config", "user.name", "CI"], ["config", "user.email", "ci@example.com"],
                 ["add", "-A"], ["commit", "-q", "-m", "sample"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    return repo


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """A runner's environment with `gitkube` on PATH (this checkout, not an installed copy)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "gitkube"
    shim.write_text(f"#!/bin/sh\nPYTHONPATH={shlex.quote(str(ROOT))} exec {shlex.quote(sys.executable)} -m gitkube \"$@\"\n")
    shim.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "GITKUBE_STATE": str(tmp_path / "state.db"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "XDG_CACHE_HOME": str(tmp_path / "cache")}


def run_script(script: str, cwd: Path, env: dict, extra: dict) -> subprocess.CompletedProcess:
    """As `shell: bash` runs a step (and GitLab's bash runs a job): -e, -o pipefail."""
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd,
                          env={**env, **{k: str(v) for k, v in extra.items()}}, capture_output=True, text=True,
                          timeout=300)


class GitHubWorkflow:
    def __init__(self):
        self.doc = load(CI / "github-actions.yml")

    def step(self, job: str, name: str) -> str:
        for step in self.doc["jobs"][job]["steps"]:
            if step.get("name") == name:
                return step["run"]
        raise AssertionError(f"no step {name!r} in job {job!r}")

    def run(self, job: str, name: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
        return run_script(self.step(job, name), cwd, env, self.doc.get("env", {}))


class GitLabPipeline:
    def __init__(self):
        self.doc = load(CI / "gitlab-ci.yml")

    def run(self, job: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
        return run_script("\n".join(self.doc[job]["script"]), cwd, env, self.doc.get("variables", {}))


def junit(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and root[0].tag == "testsuite"
    return root


def break_sample(sample: Path) -> None:
    (sample / "deploy" / "bad.yaml").write_text(BAD)


# --- GitHub Actions ---------------------------------------------------------------------------

def test_the_github_workflow_validates_and_diffs_pull_requests_and_applies_main():
    doc = GitHubWorkflow().doc
    assert set(doc["on"]) == {"pull_request", "push"} and doc["on"]["push"]["branches"] == ["main"]
    jobs = doc["jobs"]
    assert "pull_request" in jobs["diff"]["if"] and jobs["diff"]["needs"] == "validate"
    assert "refs/heads/main" in jobs["apply"]["if"] and jobs["apply"]["needs"] == "validate"
    assert "if" not in jobs["validate"]  # validate runs for pull requests and for main


def test_github_steps_on_a_valid_repository(sample, env, tmp_path):
    gh = GitHubWorkflow()
    v = gh.run("validate", "Validate manifests", sample, env)
    assert v.returncode == 0, v.stderr
    assert v.stdout == ""  # -o github prints annotations only, and there are none
    report = junit(sample / "gitkube-validate.xml")
    assert report.get("failures") == "0"

    d = gh.run("diff", "Diff against live state", sample, env)
    assert d.returncode == 0, d.stderr  # diff exits 1 (changes): fine on a pull request
    assert "2 to create, 0 to change, 0 unchanged, 0 to prune" in d.stdout
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "### gitkube diff (exit 1)" in summary and "```diff" in summary and "+  key: one" in summary

    a = gh.run("apply", "Apply", sample, env)
    assert a.returncode == 0, a.stdout + a.stderr
    assert "configmap/settings created" in a.stdout and "all 2 objects ready" in a.stdout

    Path(env["GITHUB_STEP_SUMMARY"]).unlink()
    again = gh.run("diff", "Diff against live state", sample, env)
    assert again.returncode == 0 and "0 to create, 0 to change, 2 unchanged" in again.stdout
    assert "### gitkube diff (exit 0)" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()


def test_github_steps_on_a_broken_repository_fail_with_annotations_and_a_junit_report(sample, env):
    break_sample(sample)
    gh = GitHubWorkflow()
    v = gh.run("validate", "Validate manifests", sample, env)
    assert v.returncode == 1
    annotations = v.stdout.splitlines()
    assert annotations == ["::error file=deploy/bad.yaml,line=7,col=1,title=gitkube unknown-field"
                           "::ConfigMap/bad: spec: unknown field \"spec\""], v.stdout
    report = junit(sample / "gitkube-validate.xml")
    assert report.get("failures") == "1"
    [case] = report.iter("testcase")
    assert case.get("name") == "deploy/bad.yaml:7:1 ConfigMap/bad"
    assert case.find("failure").get("type") == "unknown-field"

    d = gh.run("diff", "Diff against live state", sample, env)
    assert d.returncode == 2  # invalid manifests: diff cannot say what would change
    assert "deploy/bad.yaml:7:1: error[unknown-field]" in d.stderr
    assert "### gitkube diff (exit 2)" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()


# --- GitLab CI --------------------------------------------------------------------------------

def test_the_gitlab_pipeline_runs_validate_and_diff_on_merge_requests_and_apply_on_the_default_branch():
    doc = GitLabPipeline().doc
    assert doc["stages"] == ["validate", "diff", "apply"]
    assert doc["gitkube:validate"]["artifacts"]["reports"]["junit"] == "gitkube-validate.xml"
    assert "merge_request_event" in doc["gitkube:diff"]["rules"][0]["if"]
    assert doc["gitkube:apply"]["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]


def test_gitlab_jobs_on_a_valid_then_a_broken_repository(sample, env):
    gl = GitLabPipeline()
    v = gl.run("gitkube:validate", sample, env)
    assert v.returncode == 0 and "2 objects in 2 files: valid" in v.stdout
    assert junit(sample / "gitkube-validate.xml").get("failures") == "0"
    d = gl.run("gitkube:diff", sample, env)
    assert d.returncode == 0 and "2 to create" in (sample / "gitkube-diff.txt").read_text()

    break_sample(sample)
    v = gl.run("gitkube:validate", sample, env)
    assert v.returncode == 1 and "deploy/bad.yaml:7:1: error[unknown-field]" in v.stdout
    assert junit(sample / "gitkube-validate.xml").get("failures") == "1"
    assert gl.run("gitkube:diff", sample, env).returncode == 2


# --- pre-commit -------------------------------------------------------------------------------

def test_the_pre_commit_hook_runs_gitkube_validate_on_the_staged_manifests(sample, env):
    [hook] = load(ROOT / ".pre-commit-hooks.yaml")
    assert hook["id"] == "gitkube-validate" and hook["language"] == "python"
    files = re.compile(hook["files"])
    assert files.search("deploy/app.yaml") and files.search("k8s/x.yml") and not files.search("README.md")
    consumer = load(CI / "pre-commit-config.yaml")
    assert consumer["repos"][0]["hooks"][0]["id"] == hook["id"]

    def hook_run(*names: str) -> subprocess.CompletedProcess:  # as pre-commit calls it: entry + file names
        return subprocess.run([*shlex.split(hook["entry"]), *names], cwd=sample, env=env, capture_output=True,
                              text=True)

    ok = hook_run("deploy/settings.yaml", "deploy/flags.yaml")
    assert ok.returncode == 0, ok.stdout
    break_sample(sample)
    bad = hook_run("deploy/settings.yaml", "deploy/bad.yaml")
    assert bad.returncode == 1 and bad.stdout.startswith("deploy/bad.yaml:7:1: error[unknown-field]")
