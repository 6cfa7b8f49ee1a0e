"""Semantic rules that jsonschema cannot express: the entry points of the rule modules.

Objects arrive converted to the current apiVersion and checked against the JSON schema, but
rules never trust that: a field of the wrong type just skips the rules that need it. Each
problem carries a stable kebab-case rule id and the most precise field path; the caller turns
the path into file:line:col.

Rule ids, by module:
  rules_meta     invalid-name, invalid-generate-name, invalid-namespace,
                 invalid-label-key, invalid-label-value, invalid-annotation-key,
                 reserved-label-prefix, invalid-prune-label
  rules_pod      invalid-container-name, duplicate-container-name, invalid-port-name,
                 duplicate-port-name, invalid-port-number, invalid-env-name, invalid-volume-name,
                 duplicate-volume-name, unknown-volume, unknown-port-name, probe-handler-count,
                 invalid-success-threshold, invalid-restart-policy, negative-value
  rules_workload selector-mismatch, required-selector, empty-selector, invalid-operator,
                 selector-values-required, selector-values-forbidden, manual-selector-required,
                 selector-not-allowed, indexed-completions-required, indexed-job-name,
                 name-too-long, invalid-schedule, invalid-time-zone
  rules_service  port-name-required, duplicate-port, nodeport-range, nodeport-not-allowed,
                 externalname-required, invalid-external-name, clusterip-not-allowed,
                 invalid-session-timeout, invalid-endpoint-ip
  all of them    unsupported-value (a field with a fixed set of values; the schema has no enums)
  cross-object   endpoints-without-service (warning), ingress-unknown-service (warning),
                 nodeport-conflict
"""

from __future__ import annotations

from collections.abc import Callable

from gitkube.schema.problems import FieldProblem
from gitkube.schema.rules_base import Problems
from gitkube.schema.rules_meta import check_metadata
from gitkube.schema.rules_pod import check_pod
from gitkube.schema.rules_service import check_endpoints, check_service, check_services_cross
from gitkube.schema.rules_workload import check_apps_workload, check_cronjob, check_job, check_replication_controller

_KIND_RULES: dict[str, Callable[[dict], Problems]] = {
    "Pod": check_pod,
    "ReplicationController": check_replication_controller,
    "ReplicaSet": check_apps_workload,
    "Deployment": check_apps_workload,
    "DaemonSet": check_apps_workload,
    "Job": check_job,
    "CronJob": check_cronjob,
    "Service": check_service,
    "Endpoints": check_endpoints,
}


def check_object(obj: dict) -> list[FieldProblem]:
    """Every semantic problem of one object, in field order within each rule group."""
    if not isinstance(obj, dict):
        return []
    problems = list(check_metadata(obj))
    kind = obj.get("kind")
    kind_rules = _KIND_RULES.get(kind) if isinstance(kind, str) else None
    if kind_rules is not None:
        problems.extend(kind_rules(obj))
    return problems


def check_cross(objs: list[dict]) -> list[tuple[int, FieldProblem]]:
    """Problems that need the whole manifest set; each is tied to the index of the object it is about."""
    return check_services_cross(objs)
