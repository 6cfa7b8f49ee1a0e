"""apiVersion conversion: old tutorial manifests become valid current objects, with a warning."""

from __future__ import annotations

import copy

import pytest

from gitkube.errors import Severity
from gitkube.kinds import DEPRECATED_API_VERSIONS
from gitkube.schema.convert import convert
from gitkube.schema.problems import FieldProblem
from gitkube.schema.structure import check_structure

POD_SPEC = {"containers": [{"name": "main", "image": "luksa/kubia"}]}
TEMPLATE = {"metadata": {"labels": {"app": "kubia"}}, "spec": POD_SPEC}

# Old-style objects as tutorials print them: selectors given (apps/v1beta2 required them).
OLD_STYLE: dict[str, dict] = {
    "Deployment": {"spec": {"replicas": 3, "selector": {"matchLabels": {"app": "kubia"}}, "template": TEMPLATE}},
    "ReplicaSet": {"spec": {"replicas": 3, "selector": {"matchLabels": {"app": "kubia"}}, "template": TEMPLATE}},
    "DaemonSet": {"spec": {"selector": {"matchLabels": {"app": "kubia"}}, "template": TEMPLATE}},
    "CronJob": {"spec": {"schedule": "0,15,30,45 * * * *", "jobTemplate": {"spec": {"template": {
        "spec": {**POD_SPEC, "restartPolicy": "OnFailure"}}}}}},
    "Ingress": {"spec": {"backend": {"serviceName": "default", "servicePort": 80}, "rules": [
        {"host": "kubia.example.com", "http": {"paths": [
            {"path": "/", "backend": {"serviceName": "kubia", "servicePort": "http"}}]}}]}},
}

SEED_INGRESS = {
    "apiVersion": "extensions/v1beta1",
    "kind": "Ingress",
    "metadata": {"name": "kubia"},
    "spec": {
        "tls": [{"hosts": ["kubia.example.com"], "secretName": "tls-secret"}],
        "rules": [{"host": "kubia.example.com", "http": {"paths": [
            {"path": "/kubia1", "backend": {"serviceName": "kubia1", "servicePort": 80}}]}}],
    },
}


def old(api_version: str, kind: str, **overrides) -> dict:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "old"},
            **copy.deepcopy(OLD_STYLE[kind]), **overrides}


def warning(api_version: str, kind: str, target: str, extra: str = "") -> FieldProblem:
    return FieldProblem(("apiVersion",), "deprecated-api-version",
                        f"{api_version} {kind} is no longer served by Kubernetes; converted to {target}{extra}",
                        hint=f"use apiVersion: {target}", severity=Severity.WARNING, at_key=False)


@pytest.mark.parametrize(("api_version", "kind", "target"),
                         [(a, k, t) for (a, k), t in DEPRECATED_API_VERSIONS.items()],
                         ids=[f"{a} {k} becomes a valid {t} {k} with a warning"
                              for (a, k), t in DEPRECATED_API_VERSIONS.items()])
def test_each_deprecated_api_version_converts_with_a_warning(api_version, kind, target):
    converted, problems = convert(old(api_version, kind))
    assert problems == [warning(api_version, kind, target)]
    assert converted["apiVersion"] == target
    assert check_structure(converted) == []


def test_the_seed_ingress_becomes_a_valid_networking_v1_ingress():
    converted, problems = convert(SEED_INGRESS)
    assert problems == [warning("extensions/v1beta1", "Ingress", "networking.k8s.io/v1")]
    assert converted == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "kubia"},
        "spec": {
            "tls": [{"hosts": ["kubia.example.com"], "secretName": "tls-secret"}],
            "rules": [{"host": "kubia.example.com", "http": {"paths": [
                {"path": "/kubia1", "pathType": "ImplementationSpecific",
                 "backend": {"service": {"name": "kubia1", "port": {"number": 80}}}}]}}],
        },
    }
    assert check_structure(converted) == []


def test_ingress_default_backend_and_named_ports_are_converted():
    converted, _ = convert(old("networking.k8s.io/v1beta1", "Ingress"))
    spec = converted["spec"]
    assert "backend" not in spec
    assert spec["defaultBackend"] == {"service": {"name": "default", "port": {"number": 80}}}
    assert spec["rules"][0]["http"]["paths"][0]["backend"] == {"service": {"name": "kubia", "port": {"name": "http"}}}


def test_an_explicit_ingress_path_type_is_kept():
    ingress = copy.deepcopy(SEED_INGRESS)
    ingress["spec"]["rules"][0]["http"]["paths"][0]["pathType"] = "Prefix"
    converted, _ = convert(ingress)
    assert converted["spec"]["rules"][0]["http"]["paths"][0]["pathType"] == "Prefix"


DEFAULTED_SELECTOR = "; spec.selector defaulted to the template labels as the old API did"


@pytest.mark.parametrize(("api_version", "kind"), [
    pytest.param("extensions/v1beta1", "Deployment", id="an extensions/v1beta1 Deployment gets its selector defaulted"),
    pytest.param("apps/v1beta1", "Deployment", id="an apps/v1beta1 Deployment gets its selector defaulted"),
    pytest.param("apps/v1beta1", "ReplicaSet", id="an apps/v1beta1 ReplicaSet gets its selector defaulted"),
    pytest.param("extensions/v1beta1", "DaemonSet", id="an extensions/v1beta1 DaemonSet gets its selector defaulted"),
])
def test_old_workloads_without_a_selector_get_it_from_the_template_labels(api_version, kind):
    obj = old(api_version, kind)
    del obj["spec"]["selector"]
    converted, problems = convert(obj)
    target = DEPRECATED_API_VERSIONS[(api_version, kind)]
    assert problems == [warning(api_version, kind, target, DEFAULTED_SELECTOR)]
    assert converted["spec"]["selector"] == {"matchLabels": {"app": "kubia"}}
    assert check_structure(converted) == []


def test_apps_v1beta2_never_defaulted_the_selector_so_it_stays_missing():
    obj = old("apps/v1beta2", "ReplicaSet")
    del obj["spec"]["selector"]
    converted, problems = convert(obj)
    assert problems == [warning("apps/v1beta2", "ReplicaSet", "apps/v1")]
    assert check_structure(converted) == [
        FieldProblem(("spec",), "required-field", 'required field "selector" is missing')]


def test_conversion_never_mutates_its_input():
    obj = old("extensions/v1beta1", "Deployment")
    del obj["spec"]["selector"]
    before = copy.deepcopy(obj)
    convert(obj)
    convert(SEED_INGRESS)
    assert obj == before
    assert SEED_INGRESS["apiVersion"] == "extensions/v1beta1"
    assert "serviceName" in SEED_INGRESS["spec"]["rules"][0]["http"]["paths"][0]["backend"]


def test_a_current_object_comes_back_unchanged_without_problems():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": POD_SPEC}
    assert convert(pod) == (pod, [])


@pytest.mark.parametrize(("api_version", "kind", "path", "rule", "hint"), [
    pytest.param("apps/v1", "StatefulSet", ("kind",), "unknown-kind", None,
                 id="a kind gitkube does not support is an error listing the supported ones"),
    pytest.param("example.com/v1", "Widget", ("kind",), "unknown-kind", None,
                 id="a custom resource kind is an unknown kind"),
    pytest.param("v1", "Deployment", ("apiVersion",), "unknown-api-version", "use apiVersion: apps/v1",
                 id="a known kind in the wrong group names the right apiVersion"),
    pytest.param("batch/v1beta1", "Job", ("apiVersion",), "unknown-api-version", "use apiVersion: batch/v1",
                 id="a known kind in a version that never existed names the right apiVersion"),
    pytest.param("apps/v1beta1", "DaemonSet", ("apiVersion",), "unknown-api-version", "use apiVersion: apps/v1",
                 id="a deprecated version that never served this kind names the right apiVersion"),
])
def test_unknown_kinds_and_versions_are_errors(api_version, kind, path, rule, hint):
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}
    converted, problems = convert(obj)
    assert converted is obj
    [problem] = problems
    assert (problem.path, problem.rule, problem.severity) == (path, rule, Severity.ERROR)
    assert problem.message == f'no matches for kind "{kind}" in version "{api_version}"'
    if hint is None:
        assert "apps/v1/Deployment" in problem.hint and "networking.k8s.io/v1/Ingress" in problem.hint
    else:
        assert problem.hint == hint
