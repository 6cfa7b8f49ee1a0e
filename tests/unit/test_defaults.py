"""Kubernetes defaults: each default filled in, explicit values kept, and the function pure and idempotent."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitkube.schema.defaults import MAX_INT32, apply_defaults

MISSING = object()


def get(obj: Any, path: tuple) -> Any:
    for step in path:
        try:
            obj = obj[step]
        except (KeyError, IndexError, TypeError):
            return MISSING
    return obj


def pod_spec(**extra: Any) -> dict:
    return {"containers": [{"name": "web", "image": "nginx:1.25"}], **extra}


def template(**spec: Any) -> dict:
    return {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec(**spec)}


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": pod_spec()}
PROBED = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {
    "initContainers": [{"name": "init", "image": "busybox"}],
    "containers": [{
        "name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
        "livenessProbe": {"httpGet": {"port": 80}},
        "readinessProbe": {"tcpSocket": {"port": 80}, "timeoutSeconds": 0, "periodSeconds": 5},
        "lifecycle": {"preStop": {"httpGet": {"port": 80}}},
    }]}}
RC = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web"},
      "spec": {"template": template()}}
RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
      "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()}}
DEPLOY = {**RS, "kind": "Deployment"}
DS = {**RS, "kind": "DaemonSet"}
JOB = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
       "spec": {"template": template(restartPolicy="Never")}}
CRON = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
        "spec": {"schedule": "@hourly", "jobTemplate": {"spec": {"template": template(restartPolicy="OnFailure")}}}}
SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
       "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"a": "b"}}
EP = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
      "subsets": [{"addresses": [{"ip": "10.0.0.5"}], "ports": [{"port": 80}]}]}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "host-a"}}
BACKEND = {"service": {"name": "web", "port": {"number": 80}}}
INGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"},
           "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": BACKEND}]}}]}}
EXAMPLES = [POD, PROBED, RC, RS, DEPLOY, DS, JOB, CRON, SVC, SECRET, EP, NODE, INGRESS]


def with_(base: dict, path: tuple, value: Any) -> dict:
    obj = copy.deepcopy(base)
    node = obj
    for step in path[:-1]:
        node = node.setdefault(step, {}) if isinstance(node, dict) else node[step]
    node[path[-1]] = value
    return obj


S = ("spec",)
C0 = ("spec", "containers", 0)
TS = ("spec", "template", "spec")
P0 = ("spec", "ports", 0)
JTS = ("spec", "jobTemplate", "spec")


def case(id: str, obj: dict, path: tuple, expected: Any) -> Any:
    return pytest.param(obj, path, expected, id=id)


FILLED = [
    case("a Pod gets the default namespace", POD, ("metadata", "namespace"), "default"),
    case("an explicit namespace is kept", with_(POD, ("metadata", "namespace"), "shop"), ("metadata", "namespace"),
         "shop"),
    case("a Node, being cluster-scoped, gets no namespace", NODE, ("metadata", "namespace"), MISSING),
    case("a Pod restarts Always by default", POD, S + ("restartPolicy",), "Always"),
    case("an explicit restartPolicy is kept", with_(POD, S + ("restartPolicy",), "Never"), S + ("restartPolicy",),
         "Never"),
    case("the grace period defaults to 30 seconds", POD, S + ("terminationGracePeriodSeconds",), 30),
    case("an explicit grace period of 0 is kept (a pointer field)",
         with_(POD, S + ("terminationGracePeriodSeconds",), 0), S + ("terminationGracePeriodSeconds",), 0),
    case("dnsPolicy defaults to ClusterFirst", POD, S + ("dnsPolicy",), "ClusterFirst"),
    case("schedulerName defaults to default-scheduler", POD, S + ("schedulerName",), "default-scheduler"),
    case("a Pod gets enableServiceLinks", POD, S + ("enableServiceLinks",), True),
    case("enableServiceLinks false is kept", with_(POD, S + ("enableServiceLinks",), False),
         S + ("enableServiceLinks",), False),
    case("a container gets the termination message path", POD, C0 + ("terminationMessagePath",),
         "/dev/termination-log"),
    case("a container gets the termination message policy", POD, C0 + ("terminationMessagePolicy",), "File"),
    case("an init container gets container defaults", PROBED, ("spec", "initContainers", 0, "imagePullPolicy"),
         "Always"),
    case("a container port gets protocol TCP", PROBED, C0 + ("ports", 0, "protocol"), "TCP"),
    case("a probe gets timeoutSeconds 1", PROBED, C0 + ("livenessProbe", "timeoutSeconds"), 1),
    case("a probe gets periodSeconds 10", PROBED, C0 + ("livenessProbe", "periodSeconds"), 10),
    case("a probe gets successThreshold 1", PROBED, C0 + ("livenessProbe", "successThreshold"), 1),
    case("a probe gets failureThreshold 3", PROBED, C0 + ("livenessProbe", "failureThreshold"), 3),
    case("initialDelaySeconds stays unset", PROBED, C0 + ("livenessProbe", "initialDelaySeconds"), MISSING),
    case("an explicit probe period is kept", PROBED, C0 + ("readinessProbe", "periodSeconds"), 5),
    case("a probe timeout of 0 is Go's unset and becomes 1", PROBED, C0 + ("readinessProbe", "timeoutSeconds"), 1),
    case("an httpGet probe gets path /", PROBED, C0 + ("livenessProbe", "httpGet", "path"), "/"),
    case("an httpGet probe gets scheme HTTP", PROBED, C0 + ("livenessProbe", "httpGet", "scheme"), "HTTP"),
    case("a lifecycle httpGet hook gets path /", PROBED, C0 + ("lifecycle", "preStop", "httpGet", "path"), "/"),
    case("an RC selector defaults to the template labels", RC, S + ("selector",), {"app": "web"}),
    case("an RC's own labels default to the template labels", RC, ("metadata", "labels"), {"app": "web"}),
    case("an explicit RC selector is kept", with_(RC, S + ("selector",), {"app": "web", "x": "y"}), S + ("selector",),
         {"app": "web", "x": "y"}),
    case("explicit RC labels are kept", with_(RC, ("metadata", "labels"), {"team": "a"}), ("metadata", "labels"),
         {"team": "a"}),
    case("an RC has 1 replica by default", RC, S + ("replicas",), 1),
    case("an RC template gets PodSpec defaults", RC, TS + ("restartPolicy",), "Always"),
    case("a ReplicaSet has 1 replica by default", RS, S + ("replicas",), 1),
    case("a Deployment has 1 replica by default", DEPLOY, S + ("replicas",), 1),
    case("replicas 0 is kept (a pointer field)", with_(DEPLOY, S + ("replicas",), 0), S + ("replicas",), 0),
    case("a Deployment rolls out with RollingUpdate", DEPLOY, S + ("strategy",),
         {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
    case("a partial rollingUpdate is completed", with_(DEPLOY, S + ("strategy",), {"rollingUpdate": {"maxSurge": 2}}),
         S + ("strategy",), {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": "25%"}}),
    case("a Recreate Deployment gets no rollingUpdate", with_(DEPLOY, S + ("strategy",), {"type": "Recreate"}),
         S + ("strategy",), {"type": "Recreate"}),
    case("a Deployment keeps 10 old ReplicaSets", DEPLOY, S + ("revisionHistoryLimit",), 10),
    case("a Deployment has a 600 second progress deadline", DEPLOY, S + ("progressDeadlineSeconds",), 600),
    case("a Deployment template gets PodSpec defaults", DEPLOY, TS + ("dnsPolicy",), "ClusterFirst"),
    case("a pod template gets no enableServiceLinks", DEPLOY, TS + ("enableServiceLinks",), MISSING),
    case("a DaemonSet updates one node at a time", DS, S + ("updateStrategy",),
         {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
    case("a DaemonSet keeps 10 revisions", DS, S + ("revisionHistoryLimit",), 10),
    case("a DaemonSet has no replicas", DS, S + ("replicas",), MISSING),
    case("a Job without completions and parallelism gets completions 1", JOB, S + ("completions",), 1),
    case("a Job without completions and parallelism gets parallelism 1", JOB, S + ("parallelism",), 1),
    case("a Job with completions only gets parallelism 1", with_(JOB, S + ("completions",), 5),
         S + ("parallelism",), 1),
    case("a work-queue Job (parallelism only) keeps completions unset", with_(JOB, S + ("parallelism",), 3),
         S + ("completions",), MISSING),
    case("a Job retries 6 times", JOB, S + ("backoffLimit",), 6),
    case("a Job with a per-index backoff limit gets an unlimited global one",
         with_(JOB, S + ("backoffLimitPerIndex",), 1), S + ("backoffLimit",), MAX_INT32),
    case("a Job is NonIndexed", JOB, S + ("completionMode",), "NonIndexed"),
    case("a Job is not suspended", JOB, S + ("suspend",), False),
    case("a Job template keeps its restartPolicy", JOB, TS + ("restartPolicy",), "Never"),
    case("a CronJob allows concurrent runs", CRON, S + ("concurrencyPolicy",), "Allow"),
    case("a CronJob is not suspended", CRON, S + ("suspend",), False),
    case("a CronJob keeps 3 successful Jobs", CRON, S + ("successfulJobsHistoryLimit",), 3),
    case("a CronJob keeps 1 failed Job", CRON, S + ("failedJobsHistoryLimit",), 1),
    case("a CronJob's pod template gets PodSpec defaults", CRON, JTS + ("template", "spec", "schedulerName"),
         "default-scheduler"),
    case("a CronJob's job template gets no Job defaults (as upstream)", CRON, JTS + ("backoffLimit",), MISSING),
    case("a Service is ClusterIP", SVC, S + ("type",), "ClusterIP"),
    case("a Service has no session affinity", SVC, S + ("sessionAffinity",), "None"),
    case("ClientIP affinity gets a 3 hour timeout", with_(SVC, S + ("sessionAffinity",), "ClientIP"),
         S + ("sessionAffinityConfig",), {"clientIP": {"timeoutSeconds": 10800}}),
    case("a service port gets protocol TCP", SVC, P0 + ("protocol",), "TCP"),
    case("a missing targetPort is the port", SVC, P0 + ("targetPort",), 80),
    case("targetPort 0 is the port", with_(SVC, P0 + ("targetPort",), 0), P0 + ("targetPort",), 80),
    case("a named targetPort is kept", with_(SVC, P0 + ("targetPort",), "http"), P0 + ("targetPort",), "http"),
    case("a ClusterIP Service has internal traffic policy Cluster", SVC, S + ("internalTrafficPolicy",), "Cluster"),
    case("a ClusterIP Service has no external traffic policy", SVC, S + ("externalTrafficPolicy",), MISSING),
    case("a NodePort Service has external traffic policy Cluster", with_(SVC, S + ("type",), "NodePort"),
         S + ("externalTrafficPolicy",), "Cluster"),
    case("a LoadBalancer allocates node ports", with_(SVC, S + ("type",), "LoadBalancer"),
         S + ("allocateLoadBalancerNodePorts",), True),
    case("an ExternalName Service has no internal traffic policy", with_(SVC, S + ("type",), "ExternalName"),
         S + ("internalTrafficPolicy",), MISSING),
    case("a Service gets no clusterIP: the server allocates it", SVC, S + ("clusterIP",), MISSING),
    case("a NodePort Service gets no nodePort: the server allocates it", with_(SVC, S + ("type",), "NodePort"),
         P0 + ("nodePort",), MISSING),
    case("no uid is invented", POD, ("metadata", "uid"), MISSING),
    case("a Secret is Opaque", SECRET, ("type",), "Opaque"),
    case("an explicit Secret type is kept", with_(SECRET, ("type",), "kubernetes.io/tls"), ("type",),
         "kubernetes.io/tls"),
    case("an Endpoints port gets protocol TCP", EP, ("subsets", 0, "ports", 0, "protocol"), "TCP"),
]


@pytest.mark.parametrize("obj, path, expected", FILLED)
def test_default(obj: dict, path: tuple, expected: Any) -> None:
    assert get(apply_defaults(obj), path) == expected


PULL_POLICIES = [
    ("busybox", "Always"),
    ("busybox:latest", "Always"),
    ("busybox:1.36", "IfNotPresent"),
    ("busybox@sha256:" + "a" * 64, "IfNotPresent"),
    ("busybox:latest@sha256:" + "a" * 64, "Always"),
    ("registry:5000/busybox", "Always"),
    ("registry:5000/busybox:1.36", "IfNotPresent"),
    ("registry:5000/team/busybox:latest", "Always"),
]


@pytest.mark.parametrize("image, policy", PULL_POLICIES,
                         ids=[f"{image[:40]} is pulled {policy}" for image, policy in PULL_POLICIES])
def test_image_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    assert get(apply_defaults(with_(POD, C0 + ("image",), image)), C0 + ("imagePullPolicy",)) == policy


def test_explicit_image_pull_policy_is_kept() -> None:
    obj = with_(POD, C0 + ("imagePullPolicy",), "Never")
    assert get(apply_defaults(obj), C0 + ("imagePullPolicy",)) == "Never"


@pytest.mark.parametrize("obj", EXAMPLES, ids=lambda o: f"defaulting a {o['kind']} twice changes nothing more")
def test_idempotent(obj: dict) -> None:
    once = apply_defaults(obj)
    assert apply_defaults(once) == once


@pytest.mark.parametrize("obj", EXAMPLES, ids=lambda o: f"defaulting a {o['kind']} leaves the input alone")
def test_input_is_not_mutated(obj: dict) -> None:
    before = copy.deepcopy(obj)
    apply_defaults(obj)
    assert obj == before


@pytest.mark.parametrize("obj", EXAMPLES, ids=lambda o: f"a defaulted {o['kind']} shares no containers with the input")
def test_output_is_independent_of_the_input(obj: dict) -> None:
    out = apply_defaults(obj)
    input_ids = {id(n) for n in _containers(obj)}
    assert not input_ids & {id(n) for n in _containers(out)}


def _containers(node: Any) -> list:
    if isinstance(node, dict):
        return [node, *(c for v in node.values() for c in _containers(v))]
    if isinstance(node, list):
        return [node, *(c for v in node for c in _containers(v))]
    return []


# --- properties over odd objects ----------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mangled(draw: st.DrawFn) -> dict:
    """An example with any one node replaced by arbitrary JSON."""
    base = draw(st.sampled_from(EXAMPLES))
    path = draw(st.sampled_from(_paths(base)))
    obj = copy.deepcopy(base)
    node = obj
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = draw(JSON)
    return obj


@settings(max_examples=400, deadline=None)
@given(mangled())
def test_odd_objects_are_defaulted_purely_and_idempotently(obj: dict) -> None:
    before = copy.deepcopy(obj)
    once = apply_defaults(obj)
    assert obj == before
    assert apply_defaults(once) == once
