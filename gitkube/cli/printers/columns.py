"""The `get` columns of each kind, after kubectl's `pkg/printers/internalversion/printers.go`.

Job and CronJob use the ~1.22 printer (K8S-SEMANTICS 8.2): `COMPLETIONS DURATION` and
`SCHEDULE SUSPEND ACTIVE LAST SCHEDULE`. A Node's VERSION is `status.nodeInfo.kubeletVersion`,
falling back to `containerRuntimeVersion` (gitkube nodes run no kubelet: `docker://24.0.7`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from gitkube.cli.printers.format import (
    NONE, age, containers_cells, endpoints_string, format_label_selector, format_labels, human_duration,
    ingress_hosts, load_balancer_ips, parse_time, pod_summary, readiness_gates, service_cluster_ip,
    service_external_ip, service_ports,
)

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Columns:
    headers: tuple[str, ...]
    wide_headers: tuple[str, ...]
    cells: Callable[[Obj, float, bool], list[str]]  # (object, now, wide) -> one cell per header


def _md(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Mapping[str, Any]:
    return obj.get("status") or {}


def _head(obj: Obj, now: float) -> tuple[str, str]:
    md = _md(obj)
    return md.get("name", ""), age(md.get("creationTimestamp"), now)


def _template_wide(template: Mapping[str, Any] | None, selector: str) -> list[str]:
    """CONTAINERS IMAGES SELECTOR of a workload."""
    names, images = containers_cells(((template or {}).get("spec") or {}).get("containers"))
    return [names, images, selector]


def _pod(obj: Obj, now: float, wide: bool) -> list[str]:
    name, created = _head(obj, now)
    s = pod_summary(obj, now)
    cells = [name, s.ready, s.status, s.restarts, created]
    if wide:
        status = _status(obj)
        ips = status.get("podIPs") or []
        ip = (ips[0].get("ip") if ips else status.get("podIP")) or NONE
        cells += [ip, _spec(obj).get("nodeName") or NONE, status.get("nominatedNodeName") or NONE,
                  readiness_gates(obj)]
    return cells


def _replicas(obj: Obj, now: float, wide: bool) -> list[str]:
    name, created = _head(obj, now)
    spec, status = _spec(obj), _status(obj)
    cells = [name, str(spec.get("replicas", 1)), str(status.get("replicas", 0)),
             str(status.get("readyReplicas", 0)), created]
    if wide:
        template = spec.get("template") or {}
        if obj.get("kind") == "ReplicationController":  # a map, defaulted to the template labels
            shown = format_labels(spec.get("selector") or (template.get("metadata") or {}).get("labels"))
        else:
            shown = format_label_selector(spec.get("selector"))
        cells += _template_wide(template, shown)
    return cells


def _deployment(obj: Obj, now: float, wide: bool) -> list[str]:
    name, created = _head(obj, now)
    spec, status = _spec(obj), _status(obj)
    cells = [name, f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
             str(status.get("updatedReplicas", 0)), str(status.get("availableReplicas", 0)), created]
    if wide:
        cells += _template_wide(spec.get("template"), format_label_selector(spec.get("selector")))
    return cells


def _daemonset(obj: Obj, now: float, wide: bool) -> list[str]:
    name, created = _head(obj, now)
    spec, status = _spec(obj), _status(obj)
    node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector")
    cells = [name] + [str(status.get(f, 0)) for f in (
        "desiredNumberScheduled", "currentNumberScheduled", "numberReady", "updatedNumberScheduled",
        "numberAvailable")] + [format_labels(node_selector), created]
    if wide:
        cells += _template_wide(spec.get("template"), format_label_selector(spec.get("selector")))
    return cells


def _job(obj: Obj, now: float, wide: bool) -> list[str]:
    name, created = _head(obj, now)
    spec, status = _spec(obj), _status(obj)
    succeeded = status.get("succeeded", 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif (spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = "" if start is None else human_duration((now if end is None else end) - start)
    cells = [name, completions, duration, created]
    if wide:
        cells += _template_wide(spec.get("template"), format_label_selector(spec.get("selector")))
    return cells


def _cronjob(obj: Obj, now: float, wide: bool) -> list[str]:
    name, created = _head(obj, now)
    spec, status = _spec(obj), _status(obj)
    last = status.get("lastScheduleTime")
    cells = [name, spec.get("schedule", ""), str(bool(spec.get("suspend", False))),
             str(len(status.get("active") or ())), age(last, now) if last else NONE, created]
    if wide:
        job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        cells += _template_wide(job_spec.get("template"), format_label_selector(job_spec.get("selector")))
    return cells


def _service(obj: Obj, now: float, wide: bool) -> list[str]:
    name, created = _head(obj, now)
    spec = _spec(obj)
    cells = [name, spec.get("type") or "ClusterIP", service_cluster_ip(obj), service_external_ip(obj, wide),
             service_ports(spec.get("ports")), created]
    if wide:
        cells.append(format_labels(spec.get("selector")))
    return cells


def _endpoints(obj: Obj, now: float, wide: bool) -> list[str]:
    name, created = _head(obj, now)
    return [name, endpoints_string(obj), created]


def _namespace(obj: Obj, now: float, wide: bool) -> list[str]:
    name, created = _head(obj, now)
    phase = "Terminating" if _md(obj).get("deletionTimestamp") else _status(obj).get("phase") or "Active"
    return [name, phase, created]


def node_status(node: Obj) -> str:
    """Ready / NotReady / Unknown (no Ready condition), plus `,SchedulingDisabled` when cordoned."""
    ready = next((c for c in _status(node).get("conditions") or () if c.get("type") == "Ready"), None)
    shown = ["Unknown" if ready is None else "Ready" if ready.get("status") == "True" else "NotReady"]
    if _spec(node).get("unschedulable"):
        shown.append("SchedulingDisabled")
    return ",".join(shown)


def node_roles(node: Obj) -> str:
    """findNodeRoles: `node-role.kubernetes.io/<role>` keys and the `kubernetes.io/role` value."""
    roles = set()
    for key, value in (_md(node).get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key != "node-role.kubernetes.io/":
            roles.add(key.split("/", 1)[1])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(roles)) or NONE


def node_address(node: Obj, kind: str) -> str:
    addrs = [a.get("address", "") for a in _status(node).get("addresses") or () if a.get("type") == kind]
    return addrs[0] if addrs else NONE


def _node(obj: Obj, now: float, wide: bool) -> list[str]:
    name, created = _head(obj, now)
    info = _status(obj).get("nodeInfo") or {}
    version = info.get("kubeletVersion") or info.get("containerRuntimeVersion") or ""
    cells = [name, node_status(obj), node_roles(obj), created, version]
    if wide:
        cells += [node_address(obj, "InternalIP"), node_address(obj, "ExternalIP")]
        cells += [info.get(f) or "<unknown>" for f in ("osImage", "kernelVersion", "containerRuntimeVersion")]
    return cells


def _secret(obj: Obj, now: float, wide: bool) -> list[str]:
    name, created = _head(obj, now)
    keys = set(obj.get("data") or {}) | set(obj.get("stringData") or {})
    return [name, obj.get("type") or "Opaque", str(len(keys)), created]


def _configmap(obj: Obj, now: float, wide: bool) -> list[str]:
    name, created = _head(obj, now)
    return [name, str(len(obj.get("data") or {}) + len(obj.get("binaryData") or {})), created]


def _ingress(obj: Obj, now: float, wide: bool) -> list[str]:
    name, created = _head(obj, now)
    spec = _spec(obj)
    ports = "80, 443" if spec.get("tls") else "80"
    return [name, spec.get("ingressClassName") or NONE, ingress_hosts(spec.get("rules")),
            load_balancer_ips(_status(obj), wide), ports, created]


_WORKLOAD_WIDE = ("CONTAINERS", "IMAGES", "SELECTOR")

COLUMNS: dict[str, Columns] = {
    "Pod": Columns(("NAME", "READY", "STATUS", "RESTARTS", "AGE"),
                   ("IP", "NODE", "NOMINATED NODE", "READINESS GATES"), _pod),
    "ReplicationController": Columns(("NAME", "DESIRED", "CURRENT", "READY", "AGE"), _WORKLOAD_WIDE, _replicas),
    "ReplicaSet": Columns(("NAME", "DESIRED", "CURRENT", "READY", "AGE"), _WORKLOAD_WIDE, _replicas),
    "Deployment": Columns(("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"), _WORKLOAD_WIDE, _deployment),
    "DaemonSet": Columns(("NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR",
                          "AGE"), _WORKLOAD_WIDE, _daemonset),
    "Job": Columns(("NAME", "COMPLETIONS", "DURATION", "AGE"), _WORKLOAD_WIDE, _job),
    "CronJob": Columns(("NAME", "SCHEDULE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"), _WORKLOAD_WIDE, _cronjob),
    "Service": Columns(("NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"), ("SELECTOR",), _service),
    "Endpoints": Columns(("NAME", "ENDPOINTS", "AGE"), (), _endpoints),
    "Namespace": Columns(("NAME", "STATUS", "AGE"), (), _namespace),
    "Node": Columns(("NAME", "STATUS", "ROLES", "AGE", "VERSION"),
                    ("INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"), _node),
    "Secret": Columns(("NAME", "TYPE", "DATA", "AGE"), (), _secret),
    "ConfigMap": Columns(("NAME", "DATA", "AGE"), (), _configmap),
    "Ingress": Columns(("NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"), (), _ingress),
}
