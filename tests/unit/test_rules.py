"""Semantic rules: one table row per rule, valid and invalid, with the exact rule id and field path."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitkube.errors import Severity
from gitkube.schema.rules import check_cross, check_object

DELETE = object()


def variant(base: dict, *edits: tuple[tuple, Any]) -> dict:
    """A deep copy of `base` with each (path, value) set; DELETE removes the key, a list index one past
    the end appends."""
    obj = copy.deepcopy(base)
    for path, value in edits:
        node = obj
        for step in path[:-1]:
            node = node[step]
        last = path[-1]
        if value is DELETE:
            del node[last]
        elif isinstance(node, list) and last == len(node):
            node.append(value)
        else:
            node[last] = value
    return obj


def container(name: str = "web", **fields: Any) -> dict:
    return {"name": name, "image": "nginx:1.25", **fields}


def template(restart: str | None = None, labels: dict | None = None) -> dict:
    spec: dict = {"containers": [container()]}
    if restart:
        spec["restartPolicy"] = restart
    return {"metadata": {"labels": {"app": "web"} if labels is None else labels}, "spec": spec}


POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
    "spec": {
        "containers": [container(
            ports=[{"name": "http", "containerPort": 80}],
            env=[{"name": "MODE", "value": "prod"}],
            volumeMounts=[{"name": "data", "mountPath": "/data"}],
            livenessProbe={"httpGet": {"port": "http"}},
            readinessProbe={"tcpSocket": {"port": 80}},
        )],
        "volumes": [{"name": "data", "emptyDir": {}}],
    },
}
RC = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web"},
      "spec": {"replicas": 2, "selector": {"app": "web"}, "template": template()}}
RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
      "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()}}
DEPLOY = {**RS, "kind": "Deployment"}
DS = {**RS, "kind": "DaemonSet"}
JOB = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
       "spec": {"template": template("Never", labels={})}}
CRON = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template("OnFailure", {})}}}}
SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
       "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
EP = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
      "subsets": [{"addresses": [{"ip": "10.0.0.5"}], "ports": [{"port": 80}]}]}
BACKEND = {"service": {"name": "web", "port": {"number": 80}}}
INGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"},
           "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": BACKEND}]}}]}}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "host-a"}}
NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}

BASES = [POD, RC, RS, DEPLOY, DS, JOB, CRON, SVC, EP, INGRESS, NODE, NAMESPACE]

M = ("metadata",)
LABELS = ("metadata", "labels")
C0 = ("spec", "containers", 0)
T = ("spec", "template")
TC0 = ("spec", "template", "spec", "containers", 0)
SEL = ("spec", "selector")
EXPR0 = ("spec", "selector", "matchExpressions", 0)
JT = ("spec", "jobTemplate", "spec")
P0 = ("spec", "ports", 0)
ADDR0 = ("subsets", 0, "addresses", 0, "ip")


def case(id: str, obj: dict, *expected: tuple[str, tuple]) -> Any:
    return pytest.param(obj, list(expected), id=id)


def expr(key: str, operator: str, values: list | None = None) -> dict:
    out: dict = {"key": key, "operator": operator}
    if values is not None:
        out["values"] = values
    return out


@pytest.mark.parametrize("obj", BASES, ids=lambda o: f"a plain {o['kind']} has no problems")
def test_base_objects_are_clean(obj: dict) -> None:
    assert check_object(obj) == []


NAMES = [
    case("an upper-case pod name is invalid", variant(POD, (M + ("name",), "Web")), ("invalid-name", M + ("name",))),
    case("a pod name with dots is a valid subdomain", variant(POD, (M + ("name",), "web.v1"))),
    case("a pod name may start with a digit", variant(POD, (M + ("name",), "1web"))),
    case("a 254-character pod name is invalid", variant(POD, (M + ("name",), "a" * 254)),
         ("invalid-name", M + ("name",))),
    case("a service name with a dot is invalid (DNS-1035)", variant(SVC, (M + ("name",), "web.v1")),
         ("invalid-name", M + ("name",))),
    case("a service name starting with a digit is invalid (DNS-1035)", variant(SVC, (M + ("name",), "1web")),
         ("invalid-name", M + ("name",))),
    case("a namespace name with a dot is invalid (DNS label)", variant(NAMESPACE, (M + ("name",), "team.a")),
         ("invalid-name", M + ("name",))),
    case("a node name with dots is valid", variant(NODE, (M + ("name",), "host-a.example.com"))),
    case("an upper-case namespace is invalid", variant(POD, (M + ("namespace",), "Shop")),
         ("invalid-namespace", M + ("namespace",))),
    case("a namespace with a dot is invalid", variant(POD, (M + ("namespace",), "shop.eu")),
         ("invalid-namespace", M + ("namespace",))),
    case("a generateName ending in a dash is a valid prefix", variant(POD, (M + ("generateName",), "web-"))),
    case("an upper-case generateName is invalid", variant(POD, (M + ("generateName",), "Web-")),
         ("invalid-generate-name", M + ("generateName",))),
    case("an upper-case container name is invalid", variant(POD, (C0 + ("name",), "Web")),
         ("invalid-container-name", C0 + ("name",))),
    case("a container name with a dot is invalid (DNS label)", variant(POD, (C0 + ("name",), "web.1")),
         ("invalid-container-name", C0 + ("name",))),
    case("a 52-character CronJob name is accepted", variant(CRON, (M + ("name",), "c" * 52))),
    case("a 53-character CronJob name is too long for its Job names",
         variant(CRON, (M + ("name",), "c" * 53)), ("name-too-long", M + ("name",))),
    case("a 63-character Job name is accepted", variant(JOB, (M + ("name",), "j" * 63))),
    case("a 64-character Job name cannot be a job-name label value",
         variant(JOB, (M + ("name",), "j" * 64)), ("name-too-long", M + ("name",))),
]

LABEL_RULES = [
    case("a label key starting with a dash is invalid", variant(POD, (LABELS, {"-app": "web"})),
         ("invalid-label-key", LABELS + ("-app",))),
    case("a label key with two slashes is invalid", variant(POD, (LABELS, {"a/b/c": "x"})),
         ("invalid-label-key", LABELS + ("a/b/c",))),
    case("an upper-case label prefix is invalid", variant(POD, (LABELS, {"Example.com/abc": "x"})),
         ("invalid-label-key", LABELS + ("Example.com/abc",))),
    case("an upper-case label name after a valid prefix is valid",
         variant(POD, (LABELS, {"example.com/Uppercase_Is_OK_123": "x"}))),
    case("an empty label value is valid", variant(POD, (LABELS, {"app": ""}))),
    case("a label value with a space is invalid", variant(POD, (LABELS, {"app": "my app"})),
         ("invalid-label-value", LABELS + ("app",))),
    case("a 64-character label value is invalid", variant(POD, (LABELS, {"app": "v" * 64})),
         ("invalid-label-value", LABELS + ("app",))),
    case("a template label value is checked too",
         variant(DEPLOY, (SEL, {"matchLabels": {"app": "web"}}), (T + ("metadata", "labels", "tier"), "-x")),
         ("invalid-label-value", T + ("metadata", "labels", "tier"))),
    case("an annotation key with a space is invalid", variant(POD, (M + ("annotations",), {"my note": "x"})),
         ("invalid-annotation-key", M + ("annotations", "my note"))),
    case("an annotation key is checked in lower case, as upstream does",
         variant(POD, (M + ("annotations",), {"Example.com/Note": "x"}))),
    case("an annotation value may be any text",
         variant(POD, (M + ("annotations",), {"note": "any text, even: this!"}))),
    case("a gitkube.io label is reserved for gitkube", variant(POD, (LABELS, {"gitkube.io/owner": "me"})),
         ("reserved-label-prefix", LABELS + ("gitkube.io/owner",))),
    case("a subdomain of gitkube.io is reserved too", variant(POD, (LABELS, {"x.gitkube.io/owner": "me"})),
         ("reserved-label-prefix", LABELS + ("x.gitkube.io/owner",))),
    case("a look-alike domain is not reserved", variant(POD, (LABELS, {"notgitkube.io/owner": "me"}))),
    case("a reserved label in a pod template is rejected",
         variant(DEPLOY, (T + ("metadata", "labels", "gitkube.io/pod"), "x")),
         ("reserved-label-prefix", T + ("metadata", "labels", "gitkube.io/pod"))),
    case("gitkube.io/prune: disabled is the one allowed gitkube label",
         variant(DEPLOY, (LABELS, {"gitkube.io/prune": "disabled"}))),
    case("gitkube.io/prune with any other value is rejected", variant(POD, (LABELS, {"gitkube.io/prune": "false"})),
         ("invalid-prune-label", LABELS + ("gitkube.io/prune",))),
    case("gitkube.io annotations are allowed",
         variant(NODE, (M + ("annotations",), {"gitkube.io/docker-host": "ssh://root@host-a"}))),
]

SELECTORS = [
    case("an RC without selector is valid: it defaults to the template labels", variant(RC, (SEL, DELETE))),
    case("an RC selector that does not match its template labels is rejected", variant(RC, (SEL, {"app": "api"})),
         ("selector-mismatch", T + ("metadata", "labels"))),
    case("an RC selector that is a subset of the template labels matches",
         variant(RC, (T + ("metadata", "labels"), {"app": "web", "tier": "front"}))),
    case("an RC with neither selector nor template labels needs a selector",
         variant(RC, (SEL, DELETE), (T + ("metadata", "labels"), {})), ("required-selector", SEL)),
    case("an RC selector value must be a label value",
         variant(RC, (SEL, {"app": "-web"}), (T + ("metadata", "labels"), {"app": "-web"})),
         ("invalid-label-value", SEL + ("app",)), ("invalid-label-value", T + ("metadata", "labels", "app"))),
    case("a Deployment without selector is rejected", variant(DEPLOY, (SEL, DELETE)), ("required-selector", SEL)),
    case("a ReplicaSet without selector is rejected", variant(RS, (SEL, DELETE)), ("required-selector", SEL)),
    case("a DaemonSet without selector is rejected", variant(DS, (SEL, DELETE)), ("required-selector", SEL)),
    case("a Deployment with an empty selector is rejected", variant(DEPLOY, (SEL, {})), ("empty-selector", SEL)),
    case("a ReplicaSet with empty matchLabels is rejected", variant(RS, (SEL, {"matchLabels": {}})),
         ("empty-selector", SEL)),
    case("a DaemonSet with empty matchExpressions is rejected", variant(DS, (SEL, {"matchExpressions": []})),
         ("empty-selector", SEL)),
    case("a Deployment selector that does not match its template is rejected",
         variant(DEPLOY, (SEL, {"matchLabels": {"app": "api"}})), ("selector-mismatch", T + ("metadata", "labels"))),
    case("a DaemonSet selector needs every matchLabels entry in the template",
         variant(DS, (SEL + ("matchLabels", "tier"), "front")), ("selector-mismatch", T + ("metadata", "labels"))),
    case("an In expression containing the template value matches",
         variant(DEPLOY, (SEL, {"matchExpressions": [expr("app", "In", ["web", "api"])]}))),
    case("a NotIn expression excluding the template value does not match",
         variant(DEPLOY, (SEL, {"matchExpressions": [expr("app", "NotIn", ["web"])]})),
         ("selector-mismatch", T + ("metadata", "labels"))),
    case("a NotIn expression on an absent label matches",
         variant(DEPLOY, (SEL, {"matchLabels": {"app": "web"}, "matchExpressions": [expr("tier", "NotIn", ["db"])]}))),
    case("an Exists expression on an absent label does not match",
         variant(RS, (SEL, {"matchExpressions": [expr("tier", "Exists")]})),
         ("selector-mismatch", T + ("metadata", "labels"))),
    case("a DoesNotExist expression on an absent label matches",
         variant(RS, (SEL + ("matchExpressions",), [expr("tier", "DoesNotExist")]))),
    case("a lower-case operator is invalid", variant(RS, (SEL + ("matchExpressions",), [expr("app", "in", ["web"])])),
         ("invalid-operator", EXPR0 + ("operator",))),
    case("In without values is rejected", variant(RS, (SEL + ("matchExpressions",), [expr("app", "In")])),
         ("selector-values-required", EXPR0 + ("values",))),
    case("NotIn with an empty value list is rejected",
         variant(RS, (SEL + ("matchExpressions",), [expr("app", "NotIn", [])])),
         ("selector-values-required", EXPR0 + ("values",))),
    case("Exists with values is rejected", variant(RS, (SEL + ("matchExpressions",), [expr("app", "Exists", ["web"])])),
         ("selector-values-forbidden", EXPR0 + ("values",))),
    case("DoesNotExist with values is rejected",
         variant(RS, (SEL + ("matchExpressions",), [expr("x", "DoesNotExist", ["a"])])),
         ("selector-values-forbidden", EXPR0 + ("values",))),
    case("an expression key must be a label key",
         variant(RS, (SEL + ("matchExpressions",), [expr("-app", "Exists")])), ("invalid-label-key", EXPR0 + ("key",))),
    case("an expression value must be a label value",
         variant(RS, (SEL + ("matchExpressions",), [expr("app", "In", ["web", "a b"])])),
         ("invalid-label-value", EXPR0 + ("values", 1))),
    case("an empty string is a valid expression value",
         variant(RS, (SEL + ("matchExpressions",), [expr("app", "In", ["web", ""])]))),
]

RESTART = [
    case("a Job template without restartPolicy is rejected: the default Always is not allowed",
         variant(JOB, (T + ("spec", "restartPolicy"), DELETE)),
         ("invalid-restart-policy", T + ("spec", "restartPolicy"))),
    case("a Job template with Always is rejected", variant(JOB, (T + ("spec", "restartPolicy"), "Always")),
         ("invalid-restart-policy", T + ("spec", "restartPolicy"))),
    case("a Job template with OnFailure is accepted", variant(JOB, (T + ("spec", "restartPolicy"), "OnFailure"))),
    case("a CronJob job template with Always is rejected",
         variant(CRON, (JT + ("template", "spec", "restartPolicy"), "Always")),
         ("invalid-restart-policy", JT + ("template", "spec", "restartPolicy"))),
    case("a Deployment template with Never is rejected", variant(DEPLOY, (T + ("spec", "restartPolicy"), "Never")),
         ("invalid-restart-policy", T + ("spec", "restartPolicy"))),
    case("a Deployment template may spell out Always", variant(DEPLOY, (T + ("spec", "restartPolicy"), "Always"))),
    case("an RC template with OnFailure is rejected", variant(RC, (T + ("spec", "restartPolicy"), "OnFailure")),
         ("invalid-restart-policy", T + ("spec", "restartPolicy"))),
    case("a DaemonSet template with Never is rejected", variant(DS, (T + ("spec", "restartPolicy"), "Never")),
         ("invalid-restart-policy", T + ("spec", "restartPolicy"))),
    case("a bare pod may use OnFailure", variant(POD, (("spec", "restartPolicy"), "OnFailure"))),
    case("a bare pod restartPolicy outside Always/OnFailure/Never is unsupported",
         variant(POD, (("spec", "restartPolicy"), "always")), ("unsupported-value", ("spec", "restartPolicy"))),
]

JOBS = [
    *[case(f"a negative Job {f} is rejected", variant(JOB, (("spec", f), -1)), ("negative-value", ("spec", f)))
      for f in ("completions", "parallelism", "backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished")],
    case("a Job parallelism of 0 (paused) is accepted", variant(JOB, (("spec", "parallelism"), 0))),
    case("a Job selector without manualSelector is rejected",
         variant(JOB, (SEL, {"matchLabels": {"app": "pi"}}), (T + ("metadata", "labels"), {"app": "pi"})),
         ("manual-selector-required", SEL)),
    case("a Job selector with manualSelector that matches the template is accepted",
         variant(JOB, (SEL, {"matchLabels": {"app": "pi"}}), (("spec", "manualSelector"), True),
                 (T + ("metadata", "labels"), {"app": "pi"}))),
    case("a manual Job selector that does not match the template is rejected",
         variant(JOB, (SEL, {"matchLabels": {"app": "pi"}}), (("spec", "manualSelector"), True)),
         ("selector-mismatch", T + ("metadata", "labels"))),
    case("manualSelector without a selector is rejected", variant(JOB, (("spec", "manualSelector"), True)),
         ("required-selector", SEL)),
    case("an Indexed Job needs completions", variant(JOB, (("spec", "completionMode"), "Indexed")),
         ("indexed-completions-required", ("spec", "completions"))),
    case("an Indexed Job whose last pod hostname is not a DNS label is rejected",
         variant(JOB, (M + ("name",), "pi.v1"), (("spec", "completionMode"), "Indexed"), (("spec", "completions"), 3)),
         ("indexed-job-name", M + ("name",))),
    case("an unknown completionMode is unsupported", variant(JOB, (("spec", "completionMode"), "Ordered")),
         ("unsupported-value", ("spec", "completionMode"))),
]

CRONJOBS = [
    case("a six-field schedule is rejected", variant(CRON, (("spec", "schedule"), "0 * * * * *")),
         ("invalid-schedule", ("spec", "schedule"))),
    case("a schedule with a TZ prefix is rejected", variant(CRON, (("spec", "schedule"), "TZ=UTC 0 * * * *")),
         ("invalid-schedule", ("spec", "schedule"))),
    case("a day-of-week 7 is rejected", variant(CRON, (("spec", "schedule"), "0 0 * * 7")),
         ("invalid-schedule", ("spec", "schedule"))),
    case("an @every schedule is accepted", variant(CRON, (("spec", "schedule"), "@every 5m"))),
    case("an IANA timeZone is accepted", variant(CRON, (("spec", "timeZone"), "Europe/Berlin"))),
    case("timeZone Local is rejected", variant(CRON, (("spec", "timeZone"), "Local")),
         ("invalid-time-zone", ("spec", "timeZone"))),
    case("an unknown timeZone is rejected", variant(CRON, (("spec", "timeZone"), "Nowhere/City")),
         ("invalid-time-zone", ("spec", "timeZone"))),
    case("concurrencyPolicy Forbid is accepted", variant(CRON, (("spec", "concurrencyPolicy"), "Forbid"))),
    case("an unknown concurrencyPolicy is unsupported", variant(CRON, (("spec", "concurrencyPolicy"), "Sometimes")),
         ("unsupported-value", ("spec", "concurrencyPolicy"))),
    *[case(f"a negative CronJob {f} is rejected", variant(CRON, (("spec", f), -1)), ("negative-value", ("spec", f)))
      for f in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit")],
    case("a history limit of 0 is accepted", variant(CRON, (("spec", "successfulJobsHistoryLimit"), 0))),
    case("a job template selector is rejected: it is always generated",
         variant(CRON, (JT + ("selector",), {"matchLabels": {"a": "b"}})),
         ("selector-not-allowed", JT + ("selector",))),
    case("a job template manualSelector: true is rejected", variant(CRON, (JT + ("manualSelector",), True)),
         ("selector-not-allowed", JT + ("manualSelector",))),
    case("a negative job template backoffLimit is rejected", variant(CRON, (JT + ("backoffLimit",), -2)),
         ("negative-value", JT + ("backoffLimit",))),
    case("job template labels are checked",
         variant(CRON, (("spec", "jobTemplate", "metadata"), {"labels": {"a b": "c"}})),
         ("invalid-label-key", ("spec", "jobTemplate", "metadata", "labels", "a b"))),
]

PODS = [
    case("duplicate container names across init and app containers are rejected",
         variant(POD, (("spec", "initContainers"), [container()])), ("duplicate-container-name", C0 + ("name",))),
    case("an upper-case container port name is invalid",
         variant(POD, (C0 + ("ports", 0, "name"), "HTTP"), (C0 + ("livenessProbe",), {"tcpSocket": {"port": 80}})),
         ("invalid-port-name", C0 + ("ports", 0, "name"))),
    case("a 16-character container port name is invalid",
         variant(POD, (C0 + ("ports", 0, "name"), "a" * 16), (C0 + ("livenessProbe",), {"tcpSocket": {"port": 80}})),
         ("invalid-port-name", C0 + ("ports", 0, "name"))),
    case("a container port name used by two containers is a duplicate",
         variant(POD, (("spec", "containers", 1), container("side", ports=[{"name": "http", "containerPort": 81}]))),
         ("duplicate-port-name", ("spec", "containers", 1, "ports", 0, "name"))),
    case("containerPort 0 is invalid", variant(POD, (C0 + ("ports", 0, "containerPort"), 0)),
         ("invalid-port-number", C0 + ("ports", 0, "containerPort"))),
    case("containerPort 65536 is invalid", variant(POD, (C0 + ("ports", 0, "containerPort"), 65536)),
         ("invalid-port-number", C0 + ("ports", 0, "containerPort"))),
    case("hostPort 0 means no host port", variant(POD, (C0 + ("ports", 0, "hostPort"), 0))),
    case("hostPort 70000 is invalid", variant(POD, (C0 + ("ports", 0, "hostPort"), 70000)),
         ("invalid-port-number", C0 + ("ports", 0, "hostPort"))),
    case("an unknown container port protocol is unsupported", variant(POD, (C0 + ("ports", 0, "protocol"), "tcp")),
         ("unsupported-value", C0 + ("ports", 0, "protocol"))),
    case("a probe naming a port the container does not declare is rejected",
         variant(POD, (C0 + ("livenessProbe", "httpGet", "port"), "admin")),
         ("unknown-port-name", C0 + ("livenessProbe", "httpGet", "port"))),
    case("a probe cannot use another container's named port",
         variant(POD, (("spec", "containers", 1), container("side", readinessProbe={"tcpSocket": {"port": "http"}}))),
         ("unknown-port-name", ("spec", "containers", 1, "readinessProbe", "tcpSocket", "port"))),
    case("a probe port name that is not an IANA name is invalid",
         variant(POD, (C0 + ("livenessProbe", "httpGet", "port"), "Http")),
         ("invalid-port-name", C0 + ("livenessProbe", "httpGet", "port"))),
    case("a probe port number 0 is invalid", variant(POD, (C0 + ("readinessProbe", "tcpSocket", "port"), 0)),
         ("invalid-port-number", C0 + ("readinessProbe", "tcpSocket", "port"))),
    case("a liveness successThreshold other than 1 is rejected",
         variant(POD, (C0 + ("livenessProbe", "successThreshold"), 2)),
         ("invalid-success-threshold", C0 + ("livenessProbe", "successThreshold"))),
    case("a startup successThreshold other than 1 is rejected",
         variant(POD, (C0 + ("startupProbe",), {"exec": {"command": ["true"]}, "successThreshold": 3})),
         ("invalid-success-threshold", C0 + ("startupProbe", "successThreshold"))),
    case("a readiness successThreshold above 1 is accepted",
         variant(POD, (C0 + ("readinessProbe", "successThreshold"), 3))),
    case("a probe without a handler is rejected", variant(POD, (C0 + ("readinessProbe",), {"periodSeconds": 5})),
         ("probe-handler-count", C0 + ("readinessProbe",))),
    case("a probe with two handlers is rejected",
         variant(POD, (C0 + ("livenessProbe", "tcpSocket"), {"port": 80})),
         ("probe-handler-count", C0 + ("livenessProbe", "tcpSocket"))),
    case("a negative probe period is rejected", variant(POD, (C0 + ("livenessProbe", "periodSeconds"), -1)),
         ("negative-value", C0 + ("livenessProbe", "periodSeconds"))),
    case("an env var name starting with a digit is invalid", variant(POD, (C0 + ("env", 0, "name"), "1MODE")),
         ("invalid-env-name", C0 + ("env", 0, "name"))),
    case("an env var name with '=' is invalid", variant(POD, (C0 + ("env", 0, "name"), "A=B")),
         ("invalid-env-name", C0 + ("env", 0, "name"))),
    case("an env var name with dots and dashes is valid", variant(POD, (C0 + ("env", 0, "name"), "my.var-name_1"))),
    case("an upper-case volume name is invalid",
         variant(POD, (("spec", "volumes", 0, "name"), "Data"), (C0 + ("volumeMounts", 0, "name"), "Data")),
         ("invalid-volume-name", ("spec", "volumes", 0, "name"))),
    case("two volumes with one name are rejected",
         variant(POD, (("spec", "volumes", 1), {"name": "data", "emptyDir": {}})),
         ("duplicate-volume-name", ("spec", "volumes", 1, "name"))),
    case("a volumeMount naming an undeclared volume is rejected",
         variant(POD, (C0 + ("volumeMounts", 0, "name"), "cache")),
         ("unknown-volume", C0 + ("volumeMounts", 0, "name"))),
    case("an init container mount is checked too",
         variant(POD, (("spec", "initContainers"),
                       [container("init", volumeMounts=[{"name": "x", "mountPath": "/x"}])])),
         ("unknown-volume", ("spec", "initContainers", 0, "volumeMounts", 0, "name"))),
    case("an unknown imagePullPolicy is unsupported", variant(POD, (C0 + ("imagePullPolicy",), "always")),
         ("unsupported-value", C0 + ("imagePullPolicy",))),
    case("an unknown dnsPolicy is unsupported", variant(POD, (("spec", "dnsPolicy"), "Cluster")),
         ("unsupported-value", ("spec", "dnsPolicy"))),
    case("pod template containers are checked like pod containers",
         variant(DEPLOY, (TC0 + ("name",), "Web")), ("invalid-container-name", TC0 + ("name",))),
    case("an unknown Deployment strategy is unsupported",
         variant(DEPLOY, (("spec", "strategy"), {"type": "BlueGreen"})),
         ("unsupported-value", ("spec", "strategy", "type"))),
    case("a DaemonSet OnDelete strategy is accepted", variant(DS, (("spec", "updateStrategy"), {"type": "OnDelete"}))),
    case("negative replicas are rejected", variant(RS, (("spec", "replicas"), -1)),
         ("negative-value", ("spec", "replicas"))),
]

SERVICES = [
    case("a second unnamed port is rejected: names are required when there are several",
         variant(SVC, (P0 + ("name",), DELETE), (("spec", "ports", 1), {"name": "https", "port": 443})),
         ("port-name-required", P0 + ("name",))),
    case("a single unnamed port is accepted", variant(SVC, (P0 + ("name",), DELETE))),
    case("duplicate service port names are rejected",
         variant(SVC, (("spec", "ports", 1), {"name": "http", "port": 8080})),
         ("duplicate-port-name", ("spec", "ports", 1, "name"))),
    case("an upper-case service port name is invalid", variant(SVC, (P0 + ("name",), "Http")),
         ("invalid-port-name", P0 + ("name",))),
    case("an all-digit service port name is a valid DNS label", variant(SVC, (P0 + ("name",), "8080"))),
    case("a targetPort name that is not an IANA name is invalid", variant(SVC, (P0 + ("targetPort",), "web_port")),
         ("invalid-port-name", P0 + ("targetPort",))),
    case("a numeric targetPort above 65535 is invalid", variant(SVC, (P0 + ("targetPort",), 70000)),
         ("invalid-port-number", P0 + ("targetPort",))),
    case("targetPort 0 means the same as port", variant(SVC, (P0 + ("targetPort",), 0))),
    case("service port 0 is invalid", variant(SVC, (P0 + ("port",), 0)), ("invalid-port-number", P0 + ("port",))),
    case("the same port and protocol twice is rejected",
         variant(SVC, (("spec", "ports", 1), {"name": "again", "port": 80})),
         ("duplicate-port", ("spec", "ports", 1, "port"))),
    case("the same port over TCP and UDP is accepted",
         variant(SVC, (("spec", "ports", 1), {"name": "dns", "port": 80, "protocol": "UDP"}))),
    case("a nodePort in range on a NodePort Service is accepted",
         variant(SVC, (("spec", "type"), "NodePort"), (P0 + ("nodePort",), 30080))),
    case("a nodePort outside 30000-32767 is rejected",
         variant(SVC, (("spec", "type"), "NodePort"), (P0 + ("nodePort",), 8080)),
         ("nodeport-range", P0 + ("nodePort",))),
    case("a nodePort on a ClusterIP Service is rejected", variant(SVC, (P0 + ("nodePort",), 30080)),
         ("nodeport-not-allowed", P0 + ("nodePort",))),
    case("a nodePort on a LoadBalancer Service is accepted",
         variant(SVC, (("spec", "type"), "LoadBalancer"), (P0 + ("nodePort",), 32767))),
    case("an ExternalName Service needs externalName", variant(SVC, (("spec", "type"), "ExternalName")),
         ("externalname-required", ("spec", "externalName"))),
    case("an ExternalName Service with a DNS name is accepted",
         variant(SVC, (("spec", "type"), "ExternalName"), (("spec", "externalName"), "db.example.com."))),
    case("an externalName that is not a DNS name is invalid",
         variant(SVC, (("spec", "type"), "ExternalName"), (("spec", "externalName"), "DB_HOST")),
         ("invalid-external-name", ("spec", "externalName"))),
    case("an ExternalName Service cannot set clusterIP",
         variant(SVC, (("spec", "type"), "ExternalName"), (("spec", "externalName"), "db.example.com"),
                 (("spec", "clusterIP"), "10.96.0.10")), ("clusterip-not-allowed", ("spec", "clusterIP"))),
    case("an ExternalName Service cannot be headless",
         variant(SVC, (("spec", "type"), "ExternalName"), (("spec", "externalName"), "db.example.com"),
                 (("spec", "clusterIP"), "None")), ("clusterip-not-allowed", ("spec", "clusterIP"))),
    case("a headless ClusterIP Service is accepted", variant(SVC, (("spec", "clusterIP"), "None"))),
    case("a ClientIP timeout of 0 is rejected",
         variant(SVC, (("spec", "sessionAffinity"), "ClientIP"),
                 (("spec", "sessionAffinityConfig"), {"clientIP": {"timeoutSeconds": 0}})),
         ("invalid-session-timeout", ("spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"))),
    case("a ClientIP timeout above a day is rejected",
         variant(SVC, (("spec", "sessionAffinityConfig"), {"clientIP": {"timeoutSeconds": 86401}})),
         ("invalid-session-timeout", ("spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"))),
    case("a ClientIP timeout of a day is accepted",
         variant(SVC, (("spec", "sessionAffinityConfig"), {"clientIP": {"timeoutSeconds": 86400}}))),
    case("a misspelt Service type is unsupported", variant(SVC, (("spec", "type"), "Nodeport")),
         ("unsupported-value", ("spec", "type"))),
    case("Service selector values must be label values", variant(SVC, (SEL, {"app": "web app"})),
         ("invalid-label-value", SEL + ("app",))),
]

ENDPOINTS = [
    *[case(f"endpoint IP {ip} is rejected ({why})", variant(EP, (ADDR0, ip)), ("invalid-endpoint-ip", ADDR0))
      for ip, why in [("127.0.0.1", "loopback"), ("::1", "IPv6 loopback"), ("169.254.10.1", "link-local"),
                      ("fe80::1", "IPv6 link-local"), ("224.0.0.251", "link-local multicast"),
                      ("ff02::1", "IPv6 link-local multicast"), ("0.0.0.0", "unspecified"),
                      ("::ffff:127.0.0.1", "IPv4-mapped loopback"), ("10.0.0", "not an IP"),
                      ("fe80::1%eth0", "zoned")]],
    case("an ordinary IPv6 endpoint is accepted", variant(EP, (ADDR0, "2001:db8::1"))),
    case("a not-ready address is checked too",
         variant(EP, (("subsets", 0, "notReadyAddresses"), [{"ip": "127.0.0.2"}])),
         ("invalid-endpoint-ip", ("subsets", 0, "notReadyAddresses", 0, "ip"))),
    case("an endpoint port 0 is invalid", variant(EP, (("subsets", 0, "ports", 0, "port"), 0)),
         ("invalid-port-number", ("subsets", 0, "ports", 0, "port"))),
]


@pytest.mark.parametrize("obj, expected",
                         NAMES + LABEL_RULES + SELECTORS + RESTART + JOBS + CRONJOBS + PODS + SERVICES + ENDPOINTS)
def test_rule(obj: dict, expected: list[tuple[str, tuple]]) -> None:
    assert [(p.rule, p.path) for p in check_object(obj)] == expected


def _only(obj: dict):
    (problem,) = check_object(obj)
    return problem


MESSAGES = [
    pytest.param(variant(DEPLOY, (SEL, {"matchLabels": {"app": "api"}})),
                 "Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
                 id="a selector mismatch says so in upstream's words"),
    pytest.param(variant(DS, (SEL, {})), "Invalid value: {}: empty selector is invalid for deployment",
                 id="an empty DaemonSet selector uses upstream's 'deployment' wording"),
    pytest.param(variant(JOB, (T + ("spec", "restartPolicy"), "Always")),
                 'Unsupported value: "Always": supported values: "OnFailure", "Never"',
                 id="a Job with Always lists the supported values"),
    pytest.param(variant(JOB, (T + ("spec", "restartPolicy"), DELETE)),
                 'Required value: supported values: "OnFailure", "Never"',
                 id="a Job without restartPolicy says the value is required"),
    pytest.param(variant(CRON, (("spec", "schedule"), "TZ=UTC 0 * * * *")),
                 'Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead',
                 id="a TZ schedule points to the timeZone field"),
    pytest.param(variant(RS, (SEL + ("matchExpressions",), [expr("app", "In")])),
                 "Required value: must be specified when `operator` is 'In' or 'NotIn'",
                 id="In without values quotes upstream"),
    pytest.param(variant(EP, (ADDR0, "127.0.0.1")),
                 'Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
                 id="a loopback endpoint names the range"),
]


@pytest.mark.parametrize("obj, message", MESSAGES)
def test_messages(obj: dict, message: str) -> None:
    assert _only(obj).message == message


def test_invalid_values_point_at_the_value_and_bad_keys_at_the_key() -> None:
    assert _only(variant(POD, (M + ("name",), "Web"))).at_key is False
    assert _only(variant(POD, (LABELS, {"-app": "web"}))).at_key is True
    assert _only(variant(POD, (LABELS, {"app": "-web"}))).at_key is False


# --- cross-object rules -------------------------------------------------------------------------

def named(obj: dict, name: str, namespace: str | None = None) -> dict:
    meta = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    return variant(obj, (("metadata",), meta))


def with_node_port(port: int, name: str, namespace: str | None = None) -> dict:
    return variant(named(SVC, name, namespace), (("spec", "type"), "NodePort"), (P0 + ("nodePort",), port))


CROSS = [
    pytest.param([SVC, EP], [], id="Endpoints with a same-named Service are fine"),
    pytest.param([named(SVC, "db"), EP], [(1, "endpoints-without-service", ("metadata", "name"), Severity.WARNING)],
                 id="Endpoints without a same-named Service are warned about"),
    pytest.param([named(SVC, "web", "shop"), EP],
                 [(1, "endpoints-without-service", ("metadata", "name"), Severity.WARNING)],
                 id="a Service in another namespace does not count for Endpoints"),
    pytest.param([named(SVC, "web", "default"), EP], [],
                 id="an unset namespace is the default namespace"),
    pytest.param([INGRESS, SVC], [], id="an Ingress backend naming a declared Service is fine"),
    pytest.param([INGRESS], [(0, "ingress-unknown-service",
                              ("spec", "rules", 0, "http", "paths", 0, "backend", "service", "name"),
                              Severity.WARNING)],
                 id="an Ingress backend naming an undeclared Service is warned about"),
    pytest.param([variant(INGRESS, (("spec", "defaultBackend"), {"service": {"name": "fallback"}})), SVC],
                 [(0, "ingress-unknown-service", ("spec", "defaultBackend", "service", "name"), Severity.WARNING)],
                 id="an Ingress default backend is checked too"),
    pytest.param([with_node_port(30080, "a"), with_node_port(30080, "b")],
                 [(1, "nodeport-conflict", P0 + ("nodePort",), Severity.ERROR)],
                 id="two Services requesting one nodePort conflict"),
    pytest.param([with_node_port(30080, "a", "x"), with_node_port(30080, "a", "y")],
                 [(1, "nodeport-conflict", P0 + ("nodePort",), Severity.ERROR)],
                 id="node ports are cluster-wide, so namespaces do not separate them"),
    pytest.param([with_node_port(30080, "a"), with_node_port(30081, "b")], [],
                 id="Services with different nodePorts are fine"),
    pytest.param([variant(with_node_port(30053, "dns"),
                          (("spec", "ports", 1), {"name": "udp", "port": 80, "protocol": "UDP", "nodePort": 30053}))],
                 [], id="one Service may use a nodePort for TCP and UDP"),
]


@pytest.mark.parametrize("objs, expected", CROSS)
def test_cross(objs: list[dict], expected: list) -> None:
    assert [(i, p.rule, p.path, p.severity) for i, p in check_cross(objs)] == expected


# --- robustness: odd input skips rules, never raises ----------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-70000, 70000) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
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
    base = draw(st.sampled_from(BASES))
    path = draw(st.sampled_from(_paths(base)))
    return variant(base, (path, draw(JSON)))


@settings(max_examples=400, deadline=None)
@given(st.lists(mangled(), min_size=1, max_size=4))
def test_odd_values_anywhere_never_raise(objs: list[dict]) -> None:
    for obj in objs:
        assert isinstance(check_object(obj), list)
    assert isinstance(check_cross(objs), list)
