"""`describe` text for each kind, after kubectl's `pkg/describe/describe.go`. Related objects (a
Service's Endpoints, a ReplicaSet's pods, a Deployment's ReplicaSets) and events come from the store.
"""

from __future__ import annotations

import base64
from typing import Callable

from gitkube.cli.printers.columns import node_roles, node_status
from gitkube.cli.printers.format import (
    NONE, age, endpoints_string, format_label_selector, format_labels, human_duration, parse_time,
    service_cluster_ip, service_external_ip,
)
from gitkube.cli.printers.sections import (
    Obj, Writer, annotation_lines, conditions, containers, controlled_by, events, header, label_lines, meta,
    owned, pod_template, pods_status, rfc1123, volumes,
)
from gitkube.store.base import Store


def _pod(w: Writer, store: Store, pod: Obj, now: float) -> None:
    md, spec, status = meta(pod), pod.get("spec") or {}, pod.get("status") or {}
    w.line(0, "Name:", md.get("name", ""))
    w.line(0, "Namespace:", md.get("namespace", ""))
    w.line(0, "Priority:", spec.get("priority", 0))
    w.line(0, "Service Account:", spec.get("serviceAccountName", "default"))
    w.line(0, "Node:", spec.get("nodeName") or NONE)
    if status.get("startTime"):
        w.line(0, "Start Time:", rfc1123(status["startTime"]))
    w.multiline(0, "Labels", label_lines(md.get("labels")))
    w.multiline(0, "Annotations", annotation_lines(md.get("annotations")))
    if md.get("deletionTimestamp"):
        w.line(0, "Status:", f"Terminating (lasts {age(md['deletionTimestamp'], now)})")
        w.line(0, "Termination Grace Period:", f"{md.get('deletionGracePeriodSeconds', 30)}s")
    else:
        w.line(0, "Status:", status.get("phase") or "Pending")
    if status.get("reason"):
        w.line(0, "Reason:", status["reason"])
    if status.get("message"):
        w.line(0, "Message:", status["message"])
    w.line(0, "IP:", status.get("podIP", ""))
    ips = [i.get("ip", "") for i in status.get("podIPs") or ()] or ([status["podIP"]] if status.get("podIP") else [])
    if ips:
        w.line(0, "IPs:")
        for ip in ips:
            w.line(1, "IP:", ip)
    else:
        w.line(0, "IPs:", NONE)
    controlled_by(w, pod)
    containers(w, 0, "Init Containers", spec.get("initContainers") or [], status.get("initContainerStatuses") or [])
    containers(w, 0, "Containers", spec.get("containers") or [], status.get("containerStatuses") or [])
    conditions(w, status.get("conditions") or [], ())
    volumes(w, 0, spec.get("volumes") or [])
    w.line(0, "Node-Selectors:", format_labels(spec.get("nodeSelector")))
    tolerations = [f"{t.get('key', '')}{'=' + t['value'] if t.get('value') else ''}"
                   f"{':' + t['effect'] if t.get('effect') else ''}" for t in spec.get("tolerations") or ()]
    w.multiline(0, "Tolerations", tolerations)
    events(w, store, pod, now)


def _replica_set(w: Writer, store: Store, obj: Obj, now: float) -> None:
    from gitkube.labels.selector import from_label_selector, from_map

    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    template = spec.get("template") or {}
    if obj["kind"] == "ReplicationController":
        selector_map = spec.get("selector") or (template.get("metadata") or {}).get("labels") or {}
        shown, selector = format_labels(selector_map), from_map(selector_map, validate=False)
    else:
        shown, selector = format_label_selector(spec.get("selector")), from_label_selector(spec.get("selector"))
    md = meta(obj)
    w.line(0, "Name:", md.get("name", ""))
    w.line(0, "Namespace:", md.get("namespace", ""))
    w.line(0, "Selector:", shown)
    w.multiline(0, "Labels", label_lines(md.get("labels")))
    w.multiline(0, "Annotations", annotation_lines(md.get("annotations")))
    controlled_by(w, obj)
    w.line(0, "Replicas:", f"{status.get('replicas', 0)} current / {spec.get('replicas', 1)} desired")
    w.line(0, "Pods Status:", pods_status(owned(store, "Pod", obj, selector)))
    pod_template(w, template)
    conditions(w, status.get("conditions") or [], ("Reason",))
    events(w, store, obj, now)


def _deployment(w: Writer, store: Store, obj: Obj, now: float) -> None:
    from gitkube.labels.selector import from_label_selector

    md, spec, status = meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    w.line(0, "Name:", md.get("name", ""))
    w.line(0, "Namespace:", md.get("namespace", ""))
    w.line(0, "CreationTimestamp:", rfc1123(md.get("creationTimestamp")))
    w.multiline(0, "Labels", label_lines(md.get("labels")))
    w.multiline(0, "Annotations", annotation_lines(md.get("annotations")))
    w.line(0, "Selector:", format_label_selector(spec.get("selector")))
    w.line(0, "Replicas:", f"{spec.get('replicas', 1)} desired | {status.get('updatedReplicas', 0)} updated | "
                           f"{status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available | "
                           f"{status.get('unavailableReplicas', 0)} unavailable")
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type", "RollingUpdate")
    w.line(0, "StrategyType:", kind)
    w.line(0, "MinReadySeconds:", spec.get("minReadySeconds", 0))
    if kind == "RollingUpdate":
        ru = strategy.get("rollingUpdate") or {}
        w.line(0, "RollingUpdateStrategy:",
               f"{ru.get('maxUnavailable', '25%')} max unavailable, {ru.get('maxSurge', '25%')} max surge")
    pod_template(w, spec.get("template"))
    conditions(w, status.get("conditions") or [], ("Reason",))
    sets = owned(store, "ReplicaSet", obj, from_label_selector(spec.get("selector")))
    sets.sort(key=lambda rs: int(meta(rs).get("annotations", {}).get("deployment.kubernetes.io/revision", 0) or 0))
    new = sets[-1:] if sets else []

    def summary(items: list[dict]) -> str:
        return ", ".join(f"{meta(rs).get('name')} ({(rs.get('status') or {}).get('replicas', 0)}/"
                         f"{(rs.get('spec') or {}).get('replicas', 1)} replicas created)" for rs in items) or NONE

    w.line(0, "OldReplicaSets:", summary([rs for rs in sets[:-1] if (rs.get("spec") or {}).get("replicas", 1)]))
    w.line(0, "NewReplicaSet:", summary(new))
    events(w, store, obj, now)


def _daemon_set(w: Writer, store: Store, obj: Obj, now: float) -> None:
    from gitkube.labels.selector import from_label_selector

    md, spec, status = meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    template = spec.get("template") or {}
    w.line(0, "Name:", md.get("name", ""))
    w.line(0, "Selector:", format_label_selector(spec.get("selector")))
    w.line(0, "Node-Selector:", format_labels((template.get("spec") or {}).get("nodeSelector")))
    w.multiline(0, "Labels", label_lines(md.get("labels")))
    w.multiline(0, "Annotations", annotation_lines(md.get("annotations")))
    for label, field in (("Desired Number of Nodes Scheduled", "desiredNumberScheduled"),
                         ("Current Number of Nodes Scheduled", "currentNumberScheduled"),
                         ("Number of Nodes Scheduled with Up-to-date Pods", "updatedNumberScheduled"),
                         ("Number of Nodes Scheduled with Available Pods", "numberAvailable"),
                         ("Number of Nodes Misscheduled", "numberMisscheduled")):
        w.line(0, f"{label}: {status.get(field, 0)}")
    w.line(0, "Pods Status:", pods_status(owned(store, "Pod", obj, from_label_selector(spec.get("selector")))))
    pod_template(w, template)
    events(w, store, obj, now)


def _job(w: Writer, store: Store, obj: Obj, now: float) -> None:
    md, spec, status = meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    w.line(0, "Name:", md.get("name", ""))
    w.line(0, "Namespace:", md.get("namespace", ""))
    w.line(0, "Selector:", format_label_selector(spec.get("selector")))
    w.multiline(0, "Labels", label_lines(md.get("labels")))
    w.multiline(0, "Annotations", annotation_lines(md.get("annotations")))
    controlled_by(w, obj)
    w.line(0, "Parallelism:", spec.get("parallelism", 1))
    w.line(0, "Completions:", spec.get("completions", "<unset>"))
    w.line(0, "Completion Mode:", spec.get("completionMode", "NonIndexed"))
    w.line(0, "Suspend:", str(bool(spec.get("suspend"))).lower())
    w.line(0, "Backoff Limit:", spec.get("backoffLimit", 6))
    if spec.get("activeDeadlineSeconds") is not None:
        w.line(0, "Active Deadline Seconds:", f"{spec['activeDeadlineSeconds']}s")
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    if start is not None:
        w.line(0, "Start Time:", rfc1123(status["startTime"]))
    if end is not None:
        w.line(0, "Completed At:", rfc1123(status["completionTime"]))
    if start is not None:
        w.line(0, "Duration:", human_duration((now if end is None else end) - start))
    w.line(0, "Pods Statuses:", f"{status.get('active', 0)} Active ({status.get('ready', 0)} Ready) / "
                                f"{status.get('succeeded', 0)} Succeeded / {status.get('failed', 0)} Failed")
    pod_template(w, spec.get("template"))
    conditions(w, status.get("conditions") or [], ("Reason",))
    events(w, store, obj, now)


def _cron_job(w: Writer, store: Store, obj: Obj, now: float) -> None:
    md, spec, status = meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    unset = "<unset>"
    header(w, obj)
    w.line(0, "Schedule:", spec.get("schedule", ""))
    if spec.get("timeZone"):
        w.line(0, "Time Zone:", spec["timeZone"])
    w.line(0, "Concurrency Policy:", spec.get("concurrencyPolicy", "Allow"))
    w.line(0, "Suspend:", str(bool(spec.get("suspend"))))
    w.line(0, "Successful Job History Limit:", spec.get("successfulJobsHistoryLimit", 3))
    w.line(0, "Failed Job History Limit:", spec.get("failedJobsHistoryLimit", 1))
    w.line(0, "Starting Deadline Seconds:",
           f"{spec['startingDeadlineSeconds']}s" if spec.get("startingDeadlineSeconds") is not None else unset)
    w.line(0, "Selector:", format_label_selector(job_spec["selector"]) if job_spec.get("selector") else unset)
    w.line(0, "Parallelism:", job_spec.get("parallelism", unset))
    w.line(0, "Completions:", job_spec.get("completions", unset))
    pod_template(w, job_spec.get("template"))
    w.line(0, "Last Schedule Time:", rfc1123(status["lastScheduleTime"]) if status.get("lastScheduleTime") else unset)
    w.line(0, "Active Jobs:", ", ".join(a.get("name", "") for a in status.get("active") or ()) or NONE)
    events(w, store, obj, now)


def _service(w: Writer, store: Store, svc: Obj, now: float) -> None:
    md, spec = meta(svc), svc.get("spec") or {}
    header(w, svc)
    w.line(0, "Selector:", format_labels(spec.get("selector")))
    kind = spec.get("type") or "ClusterIP"
    w.line(0, "Type:", kind)
    if kind == "ExternalName":
        w.line(0, "External Name:", spec.get("externalName", ""))
    else:
        w.line(0, "IP:", service_cluster_ip(svc))
        w.line(0, "IPs:", ",".join(spec.get("clusterIPs") or ()) or service_cluster_ip(svc))
    if spec.get("externalIPs"):
        w.line(0, "External IPs:", ",".join(spec["externalIPs"]))
    if kind == "LoadBalancer":
        w.line(0, "LoadBalancer Ingress:", service_external_ip(svc, wide=True))
    ep = store.get("Endpoints", md.get("namespace", ""), md.get("name", "")) or {}
    for p in spec.get("ports") or ():
        name, proto = p.get("name") or "<unset>", p.get("protocol") or "TCP"
        w.line(0, "Port:", name, f"{p.get('port')}/{proto}")
        w.line(0, "TargetPort:", f"{p.get('targetPort', p.get('port'))}/{proto}")
        if p.get("nodePort"):
            w.line(0, "NodePort:", name, f"{p['nodePort']}/{proto}")
        w.line(0, "Endpoints:", endpoints_string(ep, {p.get("name", "")}))
    w.line(0, "Session Affinity:", spec.get("sessionAffinity", "None"))
    if kind in ("NodePort", "LoadBalancer") or spec.get("externalIPs"):
        w.line(0, "External Traffic Policy:", spec.get("externalTrafficPolicy", "Cluster"))
    events(w, store, svc, now)


def _endpoints(w: Writer, store: Store, ep: Obj, now: float) -> None:
    header(w, ep)
    w.line(0, "Subsets:")
    for ss in ep.get("subsets") or ():
        for field, label in (("addresses", "Addresses"), ("notReadyAddresses", "NotReadyAddresses")):
            w.line(1, f"{label}:", ",".join(a.get("ip", "") for a in ss.get(field) or ()) or NONE)
        if ss.get("ports"):
            w.line(1, "Ports:")
            w.line(2, "Name", "Port", "Protocol")
            w.line(2, "----", "----", "--------")
            for p in ss["ports"]:
                w.line(2, p.get("name") or "<unset>", p.get("port"), p.get("protocol") or "TCP")
        w.line(0, "")
    events(w, store, ep, now)


def _namespace(w: Writer, store: Store, ns: Obj, now: float) -> None:
    header(w, ns, namespace=False)
    phase = "Terminating" if meta(ns).get("deletionTimestamp") else (ns.get("status") or {}).get("phase", "Active")
    w.line(0, "Status:", phase)
    w.line(0, "")
    w.line(0, "No resource quota.")
    w.line(0, "")
    w.line(0, "No LimitRange resource.")


def _node(w: Writer, store: Store, node: Obj, now: float) -> None:
    md, spec, status = meta(node), node.get("spec") or {}, node.get("status") or {}
    w.line(0, "Name:", md.get("name", ""))
    w.line(0, "Roles:", node_roles(node))
    w.multiline(0, "Labels", label_lines(md.get("labels")))
    w.multiline(0, "Annotations", annotation_lines(md.get("annotations")))
    w.line(0, "CreationTimestamp:", rfc1123(md.get("creationTimestamp")))
    w.multiline(0, "Taints", [f"{t.get('key')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect')}"
                              for t in spec.get("taints") or ()])
    w.line(0, "Unschedulable:", str(bool(spec.get("unschedulable"))).lower())
    w.line(0, "Status:", node_status(node))
    conditions(w, status.get("conditions") or [], ("LastHeartbeatTime", "Reason", "Message"))
    if status.get("addresses"):
        w.line(0, "Addresses:")
        for a in status["addresses"]:
            w.line(1, f"{a.get('type')}:", a.get("address", ""))
    info = status.get("nodeInfo") or {}
    if info:
        w.line(0, "System Info:")
        for key in sorted(info):
            w.line(1, f"{key[:1].upper()}{key[1:]}:", info[key])
    pods = [p for p in store.list("Pod") if (p.get("spec") or {}).get("nodeName") == md.get("name")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    w.flush()
    w.line(0, "Non-terminated Pods:", f"({len(pods)} in total)")
    if pods:
        w.line(1, "Namespace", "Name", "Age")
        w.line(1, "---------", "----", "---")
        for p in pods:
            w.line(1, meta(p).get("namespace", ""), meta(p).get("name", ""), age(meta(p).get("creationTimestamp"), now))
    events(w, store, node, now)


def _secret(w: Writer, store: Store, secret: Obj, now: float) -> None:
    header(w, secret)
    w.line(0, "")
    w.line(0, "Type:", secret.get("type") or "Opaque")
    w.line(0, "")
    w.line(0, "Data")
    w.line(0, "====")
    sizes: dict[str, int] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            sizes[key] = len(base64.b64decode(value or ""))
        except ValueError:
            sizes[key] = len(value or "")
    for key, value in (secret.get("stringData") or {}).items():
        sizes[key] = len((value or "").encode())
    for key in sorted(sizes):
        w.line(0, f"{key}:", f"{sizes[key]} bytes")


def _config_map(w: Writer, store: Store, cm: Obj, now: float) -> None:
    header(w, cm)
    w.line(0, "")
    w.line(0, "Data")
    w.line(0, "====")
    for key, value in sorted((cm.get("data") or {}).items()):
        w.line(0, f"{key}:")
        w.line(0, "----")
        for part in (value or "").splitlines() or [""]:
            w.line(0, part)
        w.line(0, "")
    w.line(0, "")
    w.line(0, "BinaryData")
    w.line(0, "====")
    for key, value in sorted((cm.get("binaryData") or {}).items()):
        w.line(0, f"{key}:", f"{len(base64.b64decode(value or ''))} bytes")
    w.line(0, "")
    events(w, store, cm, now)


def _backend(backend: Obj | None) -> str:
    svc = (backend or {}).get("service") or {}
    if not svc:
        res = (backend or {}).get("resource") or {}
        return f"APIGroup: {res.get('apiGroup', '')}, Kind: {res.get('kind', '')}, Name: {res.get('name', '')}"
    port = svc.get("port") or {}
    return f"{svc.get('name')}:{port.get('number', port.get('name', ''))}"


def _ingress(w: Writer, store: Store, ing: Obj, now: float) -> None:
    md, spec = meta(ing), ing.get("spec") or {}
    w.line(0, "Name:", md.get("name", ""))
    w.multiline(0, "Labels", label_lines(md.get("labels")))
    w.line(0, "Namespace:", md.get("namespace", ""))
    ingress = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    w.line(0, "Address:", ",".join(i.get("ip") or i.get("hostname") or "" for i in ingress))
    w.line(0, "Ingress Class:", spec.get("ingressClassName") or NONE)
    w.line(0, "Default backend:", _backend(spec["defaultBackend"]) if spec.get("defaultBackend") else "<default>")
    for tls in spec.get("tls") or ():
        w.line(0, "TLS:")
        w.line(1, f"{tls.get('secretName', '')} terminates {','.join(tls.get('hosts') or ())}")
    w.line(0, "Rules:")
    w.line(1, "Host", "Path", "Backends")
    w.line(1, "----", "----", "--------")
    for rule in spec.get("rules") or ():
        w.line(1, rule.get("host") or "*", "", "")
        for path in (rule.get("http") or {}).get("paths") or ():
            w.line(1, "", path.get("path", ""), _backend(path.get("backend")))
    w.multiline(0, "Annotations", annotation_lines(md.get("annotations")))
    events(w, store, ing, now)


DESCRIBERS: dict[str, Callable[[Writer, Store, Obj, float], None]] = {
    "Pod": _pod,
    "ReplicationController": _replica_set,
    "ReplicaSet": _replica_set,
    "Deployment": _deployment,
    "DaemonSet": _daemon_set,
    "Job": _job,
    "CronJob": _cron_job,
    "Service": _service,
    "Endpoints": _endpoints,
    "Namespace": _namespace,
    "Node": _node,
    "Secret": _secret,
    "ConfigMap": _config_map,
    "Ingress": _ingress,
}


def describe(obj: Obj, store: Store, now: float) -> str:
    """The `describe` text of one object."""
    w = Writer()
    DESCRIBERS[obj["kind"]](w, store, obj, now)
    return w.text()
