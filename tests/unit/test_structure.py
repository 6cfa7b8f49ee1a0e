"""Strict structural validation: what passes, what is reported, where, and with which hint."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitkube.kinds import KINDS
from gitkube.schema.problems import FieldProblem
from gitkube.schema.structure import check_structure

POD_SPEC = {"containers": [{"name": "main", "image": "luksa/kubia"}]}
TEMPLATE = {"metadata": {"labels": {"app": "kubia"}}, "spec": POD_SPEC}
SELECTOR = {"matchLabels": {"app": "kubia"}}

MINIMAL: dict[str, dict] = {
    "Namespace": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}},
    "Node": {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}},
    "Pod": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": POD_SPEC},
    "ReplicationController": {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
                              "spec": {"replicas": 3, "selector": {"app": "kubia"}, "template": TEMPLATE}},
    "Service": {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
                "spec": {"selector": {"app": "kubia"}, "ports": [{"port": 80, "targetPort": 8080}]}},
    "Endpoints": {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "svc"},
                  "subsets": [{"addresses": [{"ip": "11.11.11.11"}], "ports": [{"port": 80}]}]},
    "Secret": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque",
               "data": {"k": "dmFsdWU="}, "stringData": {"plain": "value"}},
    "ConfigMap": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"k": "v"}},
    "ReplicaSet": {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
                   "spec": {"replicas": 3, "selector": SELECTOR, "template": TEMPLATE}},
    "Deployment": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                   "spec": {"selector": SELECTOR, "template": TEMPLATE}},
    "DaemonSet": {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
                  "spec": {"selector": SELECTOR, "template": TEMPLATE}},
    "Job": {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {"completions": 5, "parallelism": 2,
                     "template": {"spec": {**POD_SPEC, "restartPolicy": "OnFailure"}}}},
    "CronJob": {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
                "spec": {"schedule": "*/15 * * * *",
                         "jobTemplate": {"spec": {"template": {"spec": {**POD_SPEC, "restartPolicy": "Never"}}}}}},
    "Ingress": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "ing"},
                "spec": {"rules": [{"host": "kubia.example.com", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix",
                     "backend": {"service": {"name": "kubia", "port": {"number": 80}}}}]}}]}},
}


def with_field(kind: str, path: tuple, value: object) -> dict:
    """A copy of the minimal object of `kind` with `value` set at `path` (creating mappings)."""
    obj = copy.deepcopy(MINIMAL[kind])
    node = obj
    for step in path[:-1]:
        node = node.setdefault(step, {}) if isinstance(step, str) else node[step]
    node[path[-1]] = value
    return obj


def without_field(kind: str, path: tuple) -> dict:
    obj = copy.deepcopy(MINIMAL[kind])
    node = obj
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return obj


def test_every_supported_kind_has_a_minimal_case():
    assert set(MINIMAL) == {k.kind for k in KINDS}


@pytest.mark.parametrize("kind", list(MINIMAL), ids=lambda k: f"a minimal {k} is valid")
def test_minimal_objects_pass(kind):
    assert check_structure(MINIMAL[kind]) == []


VALID_VARIANTS = [
    pytest.param(with_field("Service", ("spec", "ports", 0, "targetPort"), "http"),
                 id="a Service targetPort may be a port name"),
    pytest.param(with_field("Service", ("spec", "ports", 0, "targetPort"), 8080),
                 id="a Service targetPort may be a number"),
    pytest.param(with_field("Deployment", ("spec", "strategy"),
                            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}}),
                 id="Deployment maxSurge and maxUnavailable take a percentage or a number"),
    pytest.param(with_field("Pod", ("spec", "containers", 0, "livenessProbe"),
                            {"httpGet": {"path": "/", "port": "http"}, "initialDelaySeconds": 5}),
                 id="a probe port may be a name"),
    pytest.param(with_field("Pod", ("spec", "containers", 0, "readinessProbe"), {"tcpSocket": {"port": 8080}}),
                 id="a probe port may be a number"),
    pytest.param(with_field("Pod", ("spec", "containers", 0, "resources"),
                            {"limits": {"cpu": 1, "memory": "128Mi"}, "requests": {"cpu": 0.5}}),
                 id="resource quantities may be numbers or strings"),
    pytest.param(with_field("Pod", ("metadata", "creationTimestamp"), None),
                 id="metadata.creationTimestamp may be null as kubectl writes it"),
    pytest.param(with_field("Pod", ("status",), {"phase": "Running", "podIP": "10.0.0.1",
                                                   "conditions": [{"type": "Ready", "status": "True"}]}),
                 id="a Pod may carry a status"),
    pytest.param(with_field("Deployment", ("status",), {"replicas": 3, "readyReplicas": 3}),
                 id="a Deployment may carry a status"),
    pytest.param(with_field("Pod", ("spec", "nodeSelector"), None), id="any optional field may be null"),
]


@pytest.mark.parametrize("obj", VALID_VARIANTS)
def test_valid_variants_pass(obj):
    assert check_structure(obj) == []


UNKNOWN_FIELDS = [
    pytest.param(with_field("Pod", ("replicas",), 3), ("replicas",), "",
                 id="an unknown top-level field is reported at its own path"),
    pytest.param(with_field("ConfigMap", ("metadata", "nmae"), "x"), ("metadata", "nmae"), "did you mean name?",
                 id="a misspelt metadata field suggests the right spelling"),
    pytest.param(with_field("Pod", ("spec", "contianers"), []), ("spec", "contianers"), "did you mean containers?",
                 id="a misspelt PodSpec field suggests the sibling it resembles"),
    pytest.param(with_field("Pod", ("spec", "containers", 0, "port"), 80), ("spec", "containers", 0, "port"),
                 "did you mean ports?", id="a field inside a list item is reported with the item index"),
    pytest.param(with_field("Pod", ("spec", "image"), "x"), ("spec", "image"), "did you mean spec.containers[].image?",
                 id="a container field written on the PodSpec points into the containers list"),
    pytest.param(with_field("Deployment", ("spec", "template", "spec", "replicas"), 3),
                 ("spec", "template", "spec", "replicas"), "did you mean spec.replicas?",
                 id="replicas under the pod template points back to spec.replicas"),
    pytest.param(with_field("Ingress", ("spec", "rules", 0, "http", "paths", 0, "backend", "serviceName"), "kubia"),
                 ("spec", "rules", 0, "http", "paths", 0, "backend", "serviceName"), "did you mean service?",
                 id="an old Ingress backend field in a v1 Ingress is unknown"),
    pytest.param(with_field("Pod", ("spec", "selector"), {}), ("spec", "selector"), "did you mean nodeSelector?",
                 id="a same-named field far away is not suggested over a close spelling"),
]


@pytest.mark.parametrize(("obj", "path", "hint"), UNKNOWN_FIELDS)
def test_unknown_fields_are_reported_at_their_own_path(obj, path, hint):
    name = path[-1]
    assert check_structure(obj) == [FieldProblem(path, "unknown-field", f'unknown field "{name}"', hint=hint)]


def test_job_with_completions_inside_the_pod_spec_points_to_the_job_spec():
    job = copy.deepcopy(MINIMAL["Job"])
    spec = job["spec"]
    pod_spec = spec["template"]["spec"]
    pod_spec["completions"], pod_spec["parallelism"] = spec.pop("completions"), spec.pop("parallelism")
    assert check_structure(job) == [
        FieldProblem(("spec", "template", "spec", "completions"), "unknown-field", 'unknown field "completions"',
                     hint="did you mean spec.completions?"),
        FieldProblem(("spec", "template", "spec", "parallelism"), "unknown-field", 'unknown field "parallelism"',
                     hint="did you mean spec.parallelism?"),
    ]


def test_cronjob_with_completions_inside_the_pod_spec_points_to_the_job_template_spec():
    obj = with_field("CronJob", ("spec", "jobTemplate", "spec", "template", "spec", "completions"), 5)
    [problem] = check_structure(obj)
    assert problem.hint == "did you mean spec.jobTemplate.spec.completions?"


WRONG_TYPES = [
    pytest.param(with_field("Deployment", ("spec", "replicas"), "3"), ("spec", "replicas"),
                 'expected integer, got string "3"', id="replicas as a quoted number is a type error"),
    pytest.param(with_field("Pod", ("spec", "containers"), {"name": "main", "image": "x"}), ("spec", "containers"),
                 "expected array, got object", id="containers written as a mapping is a type error"),
    pytest.param(with_field("Pod", ("metadata", "labels"), {"tier": 1}), ("metadata", "labels", "tier"),
                 "expected string, got integer 1", id="a numeric label value is a type error"),
    pytest.param(with_field("Pod", ("spec", "hostNetwork"), "yes"), ("spec", "hostNetwork"),
                 'expected boolean, got string "yes"', id="a string where a boolean belongs is a type error"),
    pytest.param(with_field("Service", ("spec", "ports", 0, "targetPort"), [8080]), ("spec", "ports", 0, "targetPort"),
                 "expected string or integer, got array", id="an IntOrString field still rejects a list"),
    pytest.param(with_field("Pod", ("spec", "containers", 0, "ports"), [{"containerPort": "8080"}]),
                 ("spec", "containers", 0, "ports", 0, "containerPort"), 'expected integer, got string "8080"',
                 id="a wrong type deep in a list is reported with its indexes"),
]


@pytest.mark.parametrize(("obj", "path", "message"), WRONG_TYPES)
def test_wrong_types(obj, path, message):
    assert check_structure(obj) == [FieldProblem(path, "type", message, at_key=False)]


MISSING = [
    pytest.param(without_field("Pod", ("spec", "containers")), ("spec",), "containers",
                 id="a PodSpec without containers misses a required field"),
    pytest.param(without_field("Pod", ("spec", "containers", 0, "name")), ("spec", "containers", 0), "name",
                 id="a container without a name misses a required field"),
    pytest.param(without_field("Deployment", ("spec", "selector")), ("spec",), "selector",
                 id="an apps/v1 Deployment without a selector misses a required field"),
    pytest.param(without_field("Ingress", ("spec", "rules", 0, "http", "paths", 0, "pathType")),
                 ("spec", "rules", 0, "http", "paths", 0), "pathType",
                 id="a v1 Ingress path without pathType misses a required field"),
]


@pytest.mark.parametrize(("obj", "path", "name"), MISSING)
def test_missing_required_fields(obj, path, name):
    assert check_structure(obj) == [FieldProblem(path, "required-field", f'required field "{name}" is missing')]


def test_a_wrong_api_version_for_the_kind_is_an_enum_problem():
    obj = {**MINIMAL["Pod"], "apiVersion": "apps/v1"}
    assert check_structure(obj) == [
        FieldProblem(("apiVersion",), "enum", 'unsupported value "apps/v1"; expected one of "v1"', at_key=False)]


def test_every_problem_is_reported_at_once_in_document_order():
    obj = copy.deepcopy(MINIMAL["Deployment"])
    obj["spec"]["replicas"] = "two"
    obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    obj["spec"]["template"]["spec"]["containers"].append({"image": "x"})
    obj["metadata"]["lables"] = {}
    problems = check_structure(obj)
    assert [(p.rule, p.path) for p in problems] == [
        ("unknown-field", ("metadata", "lables")),
        ("unknown-field", ("spec", "template", "spec", "containers", 0, "imagePullPolicyy")),
        ("required-field", ("spec", "template", "spec", "containers", 1)),
        ("type", ("spec", "replicas")),  # written last: the minimal Deployment has no replicas
    ]
    assert problems[0].hint == "did you mean labels?"
    assert problems[1].hint == "did you mean imagePullPolicy?"


def test_checking_never_mutates_the_object():
    obj = with_field("Job", ("spec", "template", "spec", "completions"), 5)
    before = copy.deepcopy(obj)
    check_structure(obj)
    assert obj == before


def mapping_paths(node: object, path: tuple = ()) -> list[tuple]:
    """Every path in `node` that leads to a mapping."""
    if isinstance(node, dict):
        return [path] + [p for k, v in node.items() for p in mapping_paths(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in mapping_paths(v, (*path, i))]
    return []


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from(["name", "port", "x"]), inner,
                                                                max_size=2),
    max_leaves=4)
FIELD_NAMES = st.sampled_from(["name", "image", "port", "replicas", "containers", "labels", "selector",
                               "completions", "spec", "metadata", "status", "zzz"])


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(sorted(MINIMAL)), data=st.data())
def test_the_fast_and_the_detailed_validator_always_agree(kind, data):
    obj = copy.deepcopy(MINIMAL[kind])
    path = data.draw(st.sampled_from(mapping_paths(obj)))
    node = obj
    for step in path:
        node = node[step]
    node[data.draw(FIELD_NAMES)] = data.draw(JSON_VALUES)
    problems = check_structure(obj)
    assert all(p.path != () or p.rule != "schema" for p in problems), "validators disagree"


def test_an_unsupported_kind_is_a_caller_error():
    with pytest.raises(ValueError):
        check_structure({"apiVersion": "apps/v1", "kind": "StatefulSet"})


REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "gitkube" / "schema"


def generator():
    spec = importlib.util.spec_from_file_location("gen_schemas", REPO / "tools" / "gen_schemas.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_fast_validator_matches_definitions_json():
    bundle = json.loads((DATA / "data" / "definitions.json").read_text())
    assert generator().fast_code(bundle) == (DATA / "_fast_validators.py").read_text(), \
        "stale generated validator: re-run python3 tools/gen_schemas.py"


def test_definitions_json_matches_the_kubernetes_schemas():
    pytest.importorskip("kubernetes_validate")
    committed = json.loads((DATA / "data" / "definitions.json").read_text())
    assert generator().build("1.33.0") == committed, "stale schemas: re-run python3 tools/gen_schemas.py"
