"""Controller rules: selectors against templates, restart policies, Job and CronJob fields.

A controller whose selector does not match its own template would create pods forever without
ever counting them, so the selector/template relation is checked before anything runs.
"""

from __future__ import annotations

from gitkube.labels.validation import dns1123_label, label_key, label_value
from gitkube.schema.cron import load_time_zone, parse_schedule
from gitkube.schema.problems import Path
from gitkube.schema.rules_base import (
    Problems,
    as_dict,
    as_int,
    as_list,
    check_enum,
    forbidden,
    invalid,
    non_negative,
    required,
    unsupported,
)
from gitkube.schema.rules_meta import check_labels, check_template_metadata
from gitkube.schema.rules_pod import check_pod_template

SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
KEEP_RUNNING = ("Always",)
RUN_TO_COMPLETION = ("OnFailure", "Never")
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
COMPLETION_MODES = ("NonIndexed", "Indexed")
# kind -> (field holding the update strategy, its allowed types)
UPDATE_STRATEGIES = {
    "Deployment": ("strategy", ("RollingUpdate", "Recreate")),
    "DaemonSet": ("updateStrategy", ("RollingUpdate", "OnDelete")),
}
JOB_COUNTS = ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished")
CRONJOB_COUNTS = ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit")
JOB_NAME_MAX = 63  # the name is the value of the job-name label on its pods
CRONJOB_NAME_MAX = 52  # 63 minus the 11-character "-<unix minutes>" suffix of its Jobs
SELECTOR_MISMATCH = "`selector` does not match template `labels`"
_TEMPLATE_LABELS = ("spec", "template", "metadata", "labels")


def check_replication_controller(obj: dict) -> Problems:
    """The RC selector is a plain map that defaults to the template labels when absent."""
    spec = as_dict(obj.get("spec"))
    template = as_dict(spec.get("template"))
    labels = _template_labels(template)
    selector = as_dict(spec.get("selector"))
    yield from check_labels(selector, ("spec", "selector"))
    if selector:
        if not _map_matches(selector, labels):
            yield invalid(_TEMPLATE_LABELS, "selector-mismatch", labels, SELECTOR_MISMATCH)
    elif not labels:
        yield required(("spec", "selector"), "required-selector", hint="set spec.selector or template labels")
    yield from non_negative(spec, ("spec",), ("replicas", "minReadySeconds"))
    yield from check_pod_template(template, ("spec", "template"), KEEP_RUNNING)


def check_apps_workload(obj: dict) -> Problems:
    """ReplicaSet, Deployment, DaemonSet: apps/v1 requires a non-empty selector matching the template."""
    spec = as_dict(obj.get("spec"))
    template = as_dict(spec.get("template"))
    selector = spec.get("selector")
    if selector is None:
        yield required(("spec", "selector"), "required-selector",
                       hint="apps/v1 no longer defaults the selector from the template labels")
    elif isinstance(selector, dict):
        problems = list(check_label_selector(selector, ("spec", "selector")))
        yield from problems
        if _is_empty(selector):
            # Upstream says "deployment" for all three kinds; keep the text users search for.
            yield invalid(("spec", "selector"), "empty-selector", selector, "empty selector is invalid for deployment")
        elif not problems and not selector_matches(selector, _template_labels(template)):
            yield invalid(_TEMPLATE_LABELS, "selector-mismatch", _template_labels(template), SELECTOR_MISMATCH)
    counts = ("replicas", "minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds")
    yield from non_negative(spec, ("spec",), counts)
    if (strategy := UPDATE_STRATEGIES.get(obj.get("kind", ""))) is not None:
        field, types = strategy
        yield from check_enum(as_dict(spec.get(field)), "type", ("spec", field), types)
    yield from check_pod_template(template, ("spec", "template"), KEEP_RUNNING)


def check_job(obj: dict) -> Problems:
    spec = as_dict(obj.get("spec"))
    yield from _check_job_spec(spec, ("spec",), in_cronjob=False)
    name = as_dict(obj.get("metadata")).get("name")
    if not isinstance(name, str):
        return
    yield from _check_name_length(name, JOB_NAME_MAX, "the Job name becomes the job-name label value on its pods")
    completions = as_int(spec.get("completions"))
    if spec.get("completionMode") == "Indexed" and completions and completions > 0:
        hostname = f"{name}-{completions - 1}"  # the hostname of the pod with the highest index
        if dns1123_label(hostname):
            yield invalid(("metadata", "name"), "indexed-job-name", name,
                          f"will not be able to create pod with invalid DNS label: {hostname}")


def check_cronjob(obj: dict) -> Problems:
    spec = as_dict(obj.get("spec"))
    schedule = spec.get("schedule")
    if isinstance(schedule, str):
        try:
            parse_schedule(schedule)
        except ValueError as e:
            yield invalid(("spec", "schedule"), "invalid-schedule", schedule, str(e))
    time_zone = spec.get("timeZone")
    if time_zone is not None:
        try:
            load_time_zone(time_zone)
        except ValueError as e:
            yield invalid(("spec", "timeZone"), "invalid-time-zone", time_zone, str(e))
    yield from check_enum(spec, "concurrencyPolicy", ("spec",), CONCURRENCY_POLICIES)
    yield from non_negative(spec, ("spec",), CRONJOB_COUNTS)
    job_template = as_dict(spec.get("jobTemplate"))
    yield from check_template_metadata(as_dict(job_template.get("metadata")), ("spec", "jobTemplate", "metadata"))
    yield from _check_job_spec(as_dict(job_template.get("spec")), ("spec", "jobTemplate", "spec"), in_cronjob=True)
    name = as_dict(obj.get("metadata")).get("name")
    if isinstance(name, str):
        yield from _check_name_length(name, CRONJOB_NAME_MAX,
                                      "the controller appends an 11-character suffix to name each Job")


def _check_job_spec(spec: dict, path: Path, *, in_cronjob: bool) -> Problems:
    yield from non_negative(spec, path, JOB_COUNTS)
    selector = spec.get("selector")
    manual = spec.get("manualSelector") is True
    template = as_dict(spec.get("template"))
    if in_cronjob:
        if selector is not None:
            yield invalid((*path, "selector"), "selector-not-allowed", selector, "`selector` will be auto-generated")
        if manual:
            yield unsupported((*path, "manualSelector"), "selector-not-allowed", True, ("nil", "false"))
    elif manual:
        if selector is None:
            yield required((*path, "selector"), "required-selector", hint="manualSelector: true needs a selector")
        elif isinstance(selector, dict):
            problems = list(check_label_selector(selector, (*path, "selector")))
            yield from problems
            labels = _template_labels(template)
            if not problems and not selector_matches(selector, labels):
                yield invalid((*path, "template", "metadata", "labels"), "selector-mismatch", labels,
                              SELECTOR_MISMATCH)
    elif selector is not None:
        yield invalid((*path, "selector"), "manual-selector-required", selector, "`selector` not auto-generated",
                      "set manualSelector: true to use your own selector, or remove it")
    yield from check_enum(spec, "completionMode", path, COMPLETION_MODES)
    if spec.get("completionMode") == "Indexed" and spec.get("completions") is None:
        yield required((*path, "completions"), "indexed-completions-required", "when completion mode is Indexed")
    yield from check_pod_template(template, (*path, "template"), RUN_TO_COMPLETION)


def _check_name_length(name: str, limit: int, why: str) -> Problems:
    if len(name) > limit:
        yield invalid(("metadata", "name"), "name-too-long", name, f"must be no more than {limit} characters", why)


def check_label_selector(selector: dict, path: Path) -> Problems:
    """metav1.LabelSelector syntax: label keys/values, operators, and the values each operator needs."""
    yield from check_labels(as_dict(selector.get("matchLabels")), (*path, "matchLabels"))
    for i, expr in enumerate(as_list(selector.get("matchExpressions"))):
        if isinstance(expr, dict):
            yield from _check_requirement(expr, (*path, "matchExpressions", i))


def _check_requirement(expr: dict, path: Path) -> Problems:
    key = expr.get("key")
    if isinstance(key, str) and (errs := label_key(key)):
        yield invalid((*path, "key"), "invalid-label-key", key, "; ".join(errs))
    operator, values = expr.get("operator"), as_list(expr.get("values"))
    if operator in ("In", "NotIn"):
        if not values:
            yield required((*path, "values"), "selector-values-required",
                           "must be specified when `operator` is 'In' or 'NotIn'")
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            yield forbidden((*path, "values"), "selector-values-forbidden",
                            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
    elif isinstance(operator, str):
        yield invalid((*path, "operator"), "invalid-operator", operator, "not a valid selector operator",
                      f"use one of {', '.join(SELECTOR_OPERATORS)} (case-sensitive)")
    for k, value in enumerate(values):
        if isinstance(value, str) and (errs := label_value(value)):
            yield invalid((*path, "values", k), "invalid-label-value", value, "; ".join(errs))


def selector_matches(selector: dict, labels: dict) -> bool:
    """Does a valid structured selector select `labels`? All requirements ANDed (K8S-SEMANTICS 1.3/1.4)."""
    if not _map_matches(as_dict(selector.get("matchLabels")), labels):
        return False
    return all(_requirement_matches(e, labels) for e in as_list(selector.get("matchExpressions"))
               if isinstance(e, dict))


def _requirement_matches(expr: dict, labels: dict) -> bool:
    key, operator, values = expr.get("key"), expr.get("operator"), as_list(expr.get("values"))
    if not isinstance(key, str):
        return False
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    return False


def _map_matches(wanted: dict, labels: dict) -> bool:
    return all(key in labels and labels[key] == value for key, value in wanted.items())


def _is_empty(selector: dict) -> bool:
    return not as_dict(selector.get("matchLabels")) and not as_list(selector.get("matchExpressions"))


def _template_labels(template: dict) -> dict:
    return as_dict(as_dict(template.get("metadata")).get("labels"))
