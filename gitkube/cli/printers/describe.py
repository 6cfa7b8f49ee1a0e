"""`describe` text for each kind, after kubectl's `pkg/describe/describe.go`.

Lines are tab-separated cells laid out by a tabwriter (minwidth 0, padding 2), with two spaces of
indent per level, so labels and values line up the way kubectl's do. Related objects (a Service's
Endpoints, a ReplicaSet's pods, a Deployment's ReplicaSets) and events come from the store.
"""

from __future__ import annotations

import base64
import time
from typing import Any, Callable, Mapping, Sequence

from gitkube.cli.printers.columns import node_roles, node_status
from gitkube.cli.printers.format import (
    NONE, age, endpoints_string, format_label_selector, format_labels, human_duration, parse_time,
    service_cluster_ip, service_external_ip,
)
from gitkube.cli.printers.table import tabwrite
from gitkube.store.base import Store

Obj = Mapping[str, Any]


class Writer:
    """kubectl's PrefixWriter over a tabwriter: `line(level, *cells)`; `flush()` starts a new
    alignment block (kubectl flushes before tables such as Events)."""

    def __init__(self) -> None:
        self._done: list[str] = []
        self._lines: list[list[str]] = []

    def line(self, level: int, *cells: Any) -> None:
        parts = [str(c) for c in cells] or [""]
        parts[0] = "  " * level + parts[0]
        self._lines.append(parts)

    def multiline(self, level: int, title: str, items: Sequence[str]) -> None:
        """`Title:  first` then each further item alone in the value column; `<none>` when empty."""
        self.line(level, f"{title}:", items[0] if items else NONE)
        for item in items[1:]:
            self.line(level, "", item)

    def flush(self) -> None:
        self._done.append(tabwrite(self._lines, minwidth=0, padding=2))
        self._lines = []

    def text(self) -> str:
        self.flush()
        return "".join(self._done)


def _rfc1123(ts: str | None) -> str:
    t = parse_time(ts)
    return NONE if t is None else time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))


def _md(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _labels(labels: Mapping[str, str] | None) -> list[str]:
    return [f"{k}={v}" for k, v in sorted((labels or {}).items())]


def _annotations(annotations: Mapping[str, str] | None) -> list[str]:
    return [f"{k}: {v}" for k, v in sorted((annotations or {}).items())
            if k != "kubectl.kubernetes.io/last-applied-configuration"]


def _header(w: Writer, obj: Obj, *, namespace: bool = True) -> None:
    md = _md(obj)
    w.line(0, "Name:", md.get("name", ""))
    if namespace:
        w.line(0, "Namespace:", md.get("namespace", ""))
    w.multiline(0, "Labels", _labels(md.get("labels")))
    w.multiline(0, "Annotations", _annotations(md.get("annotations")))


def _controlled_by(w: Writer, obj: Obj) -> None:
    for ref in _md(obj).get("ownerReferences") or ():
        if ref.get("controller"):
            w.line(0, "Controlled By:", f"{ref.get('kind')}/{ref.get('name')}")


def _events(w: Writer, store: Store, obj: Obj, now: float) -> None:
    md = _md(obj)
    events = store.events(obj["kind"], md.get("namespace", ""), md.get("name", ""))
    if not events:
        w.line(0, "Events:", NONE)
        return
    w.flush()
    w.line(0, "Events:")
    w.line(1, "Type", "Reason", "Age", "From", "Message")
    w.line(1, "----", "------", "----", "----", "-------")
    for e in events:
        first = age(e.first_seen, now)
        shown = f"{age(e.last_seen, now)} (x{e.count} over {first})" if e.count > 1 else first
        w.line(1, e.type, e.reason, shown, "gitkube", e.message.strip())


# --- containers and pod templates ----------------------------------------------------------------

def _probe(probe: Obj) -> str:
    """DescribeProbe: `http-get http://:8080/ delay=0s timeout=1s period=10s #success=1 #failure=3`."""
    attrs = (f"delay={probe.get('initialDelaySeconds', 0)}s timeout={probe.get('timeoutSeconds', 1)}s "
             f"period={probe.get('periodSeconds', 10)}s #success={probe.get('successThreshold', 1)} "
             f"#failure={probe.get('failureThreshold', 3)}")
    if "exec" in probe:
        return f"exec [{' '.join(probe['exec'].get('command') or ())}] {attrs}"
    if "httpGet" in probe:
        h = probe["httpGet"]
        host = h.get("host", "")
        host = f"[{host}]" if ":" in host else host
        return f"http-get {h.get('scheme', 'HTTP').lower()}://{host}:{h.get('port', '')}{h.get('path', '/')} {attrs}"
    if "tcpSocket" in probe:
        t = probe["tcpSocket"]
        return f"tcp-socket {t.get('host', '')}:{t.get('port', '')} {attrs}"
    if "grpc" in probe:
        return f"grpc <pod>:{probe['grpc'].get('port')} {probe['grpc'].get('service', '')} {attrs}"
    return f"unknown {attrs}"


def _env_value(env: Obj) -> str:
    if "value" in env:
        return env["value"]
    src = env.get("valueFrom") or {}
    if "configMapKeyRef" in src:
        r = src["configMapKeyRef"]
        return f"<set to the key '{r.get('key')}' of config map '{r.get('name')}'>"
    if "secretKeyRef" in src:
        r = src["secretKeyRef"]
        return f"<set to the key '{r.get('key')}' in secret '{r.get('name')}'>"
    if "fieldRef" in src:
        return f"({src['fieldRef'].get('apiVersion', 'v1')}:{src['fieldRef'].get('fieldPath')})"
    if "resourceFieldRef" in src:
        return f"{src['resourceFieldRef'].get('resource')}"
    return ""


def _state(w: Writer, level: int, title: str, state: Obj) -> None:
    if "running" in state:
        w.line(level, f"{title}:", "Running")
        w.line(level + 1, "Started:", _rfc1123(state["running"].get("startedAt")))
    elif "waiting" in state:
        w.line(level, f"{title}:", "Waiting")
        if state["waiting"].get("reason"):
            w.line(level + 1, "Reason:", state["waiting"]["reason"])
    elif "terminated" in state:
        t = state["terminated"]
        w.line(level, f"{title}:", "Terminated")
        if t.get("reason"):
            w.line(level + 1, "Reason:", t["reason"])
        if t.get("message"):
            w.line(level + 1, "Message:", t["message"])
        w.line(level + 1, "Exit Code:", t.get("exitCode", 0))
        if t.get("signal"):
            w.line(level + 1, "Signal:", t["signal"])
        w.line(level + 1, "Started:", _rfc1123(t.get("startedAt")))
        w.line(level + 1, "Finished:", _rfc1123(t.get("finishedAt")))
    else:
        w.line(level, f"{title}:", "Waiting")


def _containers(w: Writer, level: int, title: str, containers: Sequence[Obj],
                statuses: Sequence[Obj] | None) -> None:
    """Containers of a pod (with their statuses) or of a pod template (statuses None)."""
    if not containers:
        return
    by_name = {s.get("name"): s for s in statuses or ()}
    w.line(level, f"{title}:")
    for c in containers:
        status = by_name.get(c.get("name"), {})
        w.line(level + 1, f"{c.get('name')}:")
        inner = level + 2
        if statuses is not None:
            w.line(inner, "Container ID:", status.get("containerID", ""))
        w.line(inner, "Image:", c.get("image", ""))
        if statuses is not None:
            w.line(inner, "Image ID:", status.get("imageID", ""))
        ports = [f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" + (f" ({p['name']})" if p.get("name") else "")
                 for p in c.get("ports") or ()]
        w.line(inner, "Port:" if len(ports) < 2 else "Ports:", ", ".join(ports) or NONE)
        w.line(inner, "Host Port:" if len(ports) < 2 else "Host Ports:",
               ", ".join(f"{p.get('hostPort', 0)}/{p.get('protocol', 'TCP')}" for p in c.get("ports") or ()) or NONE)
        for field, label in (("command", "Command"), ("args", "Args")):
            if c.get(field):
                w.line(inner, f"{label}:")
                for arg in c[field]:
                    for part in str(arg).splitlines() or [""]:
                        w.line(inner + 1, part)
        if statuses is not None:
            _state(w, inner, "State", status.get("state") or {})
            if status.get("lastState"):
                _state(w, inner, "Last State", status["lastState"])
            w.line(inner, "Ready:", str(bool(status.get("ready"))))
            w.line(inner, "Restart Count:", status.get("restartCount", 0))
        for field, label in (("livenessProbe", "Liveness"), ("readinessProbe", "Readiness"),
                             ("startupProbe", "Startup")):
            if c.get(field):
                w.line(inner, f"{label}:", _probe(c[field]))
        env = c.get("env") or []
        if env or c.get("envFrom"):
            w.line(inner, "Environment:")
            for e in env:
                w.line(inner + 1, f"{e.get('name')}:", _env_value(e))
            for src in c.get("envFrom") or ():
                ref = src.get("configMapRef") or src.get("secretRef") or {}
                what = "ConfigMap" if "configMapRef" in src else "Secret"
                w.line(inner + 1, f"{ref.get('name')}", f"{what}  Optional: {str(bool(ref.get('optional'))).lower()}")
        else:
            w.line(inner, "Environment:", NONE)
        mounts = [f"{m.get('mountPath')} from {m.get('name')} ({'ro' if m.get('readOnly') else 'rw'})"
                  for m in c.get("volumeMounts") or ()]
        w.multiline(inner, "Mounts", mounts)


def _volumes(w: Writer, level: int, volumes: Sequence[Obj]) -> None:
    if not volumes:
        w.line(level, "Volumes:", NONE)
        return
    w.line(level, "Volumes:")
    for v in volumes:
        w.line(level + 1, f"{v.get('name')}:")
        source = next(((k, val) for k, val in v.items() if k != "name"), None)
        if source:
            w.line(level + 2, "Type:", source[0])
            for key, val in (source[1] or {}).items():
                if not isinstance(val, (dict, list)):
                    w.line(level + 2, f"{key[:1].upper()}{key[1:]}:", val)


def _pod_template(w: Writer, template: Obj | None, level: int = 0) -> None:
    template = template or {}
    spec = template.get("spec") or {}
    w.line(level, "Pod Template:")
    w.multiline(level + 1, "Labels", _labels((template.get("metadata") or {}).get("labels")))
    annotations = _annotations((template.get("metadata") or {}).get("annotations"))
    if annotations:
        w.multiline(level + 1, "Annotations", annotations)
    _containers(w, level + 1, "Init Containers", spec.get("initContainers") or [], None)
    _containers(w, level + 1, "Containers", spec.get("containers") or [], None)
    if spec.get("nodeSelector"):
        w.line(level + 1, "Node-Selectors:", format_labels(spec["nodeSelector"]))
    _volumes(w, level + 1, spec.get("volumes") or [])


def _conditions(w: Writer, conditions: Sequence[Obj], extra: Sequence[str] = ("Reason",)) -> None:
    if not conditions:
        return
    w.line(0, "Conditions:")
    w.line(1, "Type", "Status", *extra)
    w.line(1, "----", "------", *["-" * len(e) for e in extra])
    for c in conditions:
        w.line(1, c.get("type", ""), c.get("status", ""), *[str(c.get(e[:1].lower() + e[1:], "")) for e in extra])


def _owned(store: Store, kind: str, owner: Obj, selector: Any) -> list[dict]:
    """Objects of `kind` in the owner's namespace, matching `selector`, with the owner as controller."""
    md = _md(owner)
    uid = md.get("uid")
    return [o for o in store.list(kind, md.get("namespace"), selector)
            if any(r.get("uid") == uid and r.get("controller") for r in _md(o).get("ownerReferences") or ())]


def _pods_status(pods: Sequence[Obj]) -> str:
    phases = [(p.get("status") or {}).get("phase") or "Pending" for p in pods]
    return (f"{phases.count('Running')} Running / {phases.count('Pending')} Waiting / "
            f"{phases.count('Succeeded')} Succeeded / {phases.count('Failed')} Failed")


# --- kinds ---------------------------------------------------------------------------------------

def _pod(w: Writer, store: Store, pod: Obj, now: float) -> None:
    md, spec, status = _md(pod), pod.get("spec") or {}, pod.get("status") or {}
    w.line(0, "Name:", md.get("name", ""))
    w.line(0, "Namespace:", md.get("namespace", ""))
    w.line(0, "Priority:", spec.get("priority", 0))
    w.line(0, "Service Account:", spec.get("serviceAccountName", "default"))
    w.line(0, "Node:", spec.get("nodeName") or NONE)
    if status.get("startTime"):
        w.line(0, "Start Time:", _rfc1123(status["startTime"]))
    w.multiline(0, "Labels", _labels(md.get("labels")))
    w.multiline(0, "Annotations", _annotations(md.get("annotations")))
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
    _controlled_by(w, pod)
    _containers(w, 0, "Init Containers", spec.get("initContainers") or [], status.get("initContainerStatuses") or [])
    _containers(w, 0, "Containers", spec.get("containers") or [], status.get("containerStatuses") or [])
    _conditions(w, status.get("conditions") or [], ())
    _volumes(w, 0, spec.get("volumes") or [])
    w.line(0, "Node-Selectors:", format_labels(spec.get("nodeSelector")))
    tolerations = [f"{t.get('key', '')}{'=' + t['value'] if t.get('value') else ''}"
                   f"{':' + t['effect'] if t.get('effect') else ''}" for t in spec.get("tolerations") or ()]
    w.multiline(0, "Tolerations", tolerations)
    _events(w, store, pod, now)


def _replica_set(w: Writer, store: Store, obj: Obj, now: float) -> None:
    from gitkube.labels.selector import from_label_selector, from_map

    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    template = spec.get("template") or {}
    if obj["kind"] == "ReplicationController":
        selector_map = spec.get("selector") or (template.get("metadata") or {}).get("labels") or {}
        shown, selector = format_labels(selector_map), from_map(selector_map, validate=False)
    else:
        shown, selector = format_label_selector(spec.get("selector")), from_label_selector(spec.get("selector"))
    md = _md(obj)
    w.line(0, "Name:", md.get("name", ""))
    w.line(0, "Namespace:", md.get("namespace", ""))
    w.line(0, "Selector:", shown)
    w.multiline(0, "Labels", _labels(md.get("labels")))
    w.multiline(0, "Annotations", _annotations(md.get("annotations")))
    _controlled_by(w, obj)
    w.line(0, "Replicas:", f"{status.get('replicas', 0)} current / {spec.get('replicas', 1)} desired")
    w.line(0, "Pods Status:", _pods_status(_owned(store, "Pod", obj, selector)))
    _pod_template(w, template)
    _conditions(w, status.get("conditions") or [], ("Reason",))
    _events(w, store, obj, now)


def _deployment(w: Writer, store: Store, obj: Obj, now: float) -> None:
    from gitkube.labels.selector import from_label_selector

    md, spec, status = _md(obj), obj.get("spec") or {}, obj.get("status") or {}
    w.line(0, "Name:", md.get("name", ""))
    w.line(0, "Namespace:", md.get("namespace", ""))
    w.line(0, "CreationTimestamp:", _rfc1123(md.get("creationTimestamp")))
    w.multiline(0, "Labels", _labels(md.get("labels")))
    w.multiline(0, "Annotations", _annotations(md.get("annotations")))
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
    _pod_template(w, spec.get("template"))
    _conditions(w, status.get("conditions") or [], ("Reason",))
    sets = _owned(store, "ReplicaSet", obj, from_label_selector(spec.get("selector")))
    sets.sort(key=lambda rs: int(_md(rs).get("annotations", {}).get("deployment.kubernetes.io/revision", 0) or 0))
    new = sets[-1:] if sets else []

    def summary(items: list[dict]) -> str:
        return ", ".join(f"{_md(rs).get('name')} ({(rs.get('status') or {}).get('replicas', 0)}/"
                         f"{(rs.get('spec') or {}).get('replicas', 1)} replicas created)" for rs in items) or NONE

    w.line(0, "OldReplicaSets:", summary([rs for rs in sets[:-1] if (rs.get("spec") or {}).get("replicas", 1)]))
    w.line(0, "NewReplicaSet:", summary(new))
    _events(w, store, obj, now)


def _daemon_set(w: Writer, store: Store, obj: Obj, now: float) -> None:
    from gitkube.labels.selector import from_label_selector

    md, spec, status = _md(obj), obj.get("spec") or {}, obj.get("status") or {}
    template = spec.get("template") or {}
    w.line(0, "Name:", md.get("name", ""))
    w.line(0, "Selector:", format_label_selector(spec.get("selector")))
    w.line(0, "Node-Selector:", format_labels((template.get("spec") or {}).get("nodeSelector")))
    w.multiline(0, "Labels", _labels(md.get("labels")))
    w.multiline(0, "Annotations", _annotations(md.get("annotations")))
    for label, field in (("Desired Number of Nodes Scheduled", "desiredNumberScheduled"),
                         ("Current Number of Nodes Scheduled", "currentNumberScheduled"),
                         ("Number of Nodes Scheduled with Up-to-date Pods", "updatedNumberScheduled"),
                         ("Number of Nodes Scheduled with Available Pods", "numberAvailable"),
                         ("Number of Nodes Misscheduled", "numberMisscheduled")):
        w.line(0, f"{label}: {status.get(field, 0)}")
    w.line(0, "Pods Status:", _pods_status(_owned(store, "Pod", obj, from_label_selector(spec.get("selector")))))
    _pod_template(w, template)
    _events(w, store, obj, now)


def _job(w: Writer, store: Store, obj: Obj, now: float) -> None:
    md, spec, status = _md(obj), obj.get("spec") or {}, obj.get("status") or {}
    w.line(0, "Name:", md.get("name", ""))
    w.line(0, "Namespace:", md.get("namespace", ""))
    w.line(0, "Selector:", format_label_selector(spec.get("selector")))
    w.multiline(0, "Labels", _labels(md.get("labels")))
    w.multiline(0, "Annotations", _annotations(md.get("annotations")))
    _controlled_by(w, obj)
    w.line(0, "Parallelism:", spec.get("parallelism", 1))
    w.line(0, "Completions:", spec.get("completions", "<unset>"))
    w.line(0, "Completion Mode:", spec.get("completionMode", "NonIndexed"))
    w.line(0, "Suspend:", str(bool(spec.get("suspend"))).lower())
    w.line(0, "Backoff Limit:", spec.get("backoffLimit", 6))
    if spec.get("activeDeadlineSeconds") is not None:
        w.line(0, "Active Deadline Seconds:", f"{spec['activeDeadlineSeconds']}s")
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    if start is not None:
        w.line(0, "Start Time:", _rfc1123(status["startTime"]))
    if end is not None:
        w.line(0, "Completed At:", _rfc1123(status["completionTime"]))
    if start is not None:
        w.line(0, "Duration:", human_duration((now if end is None else end) - start))
    w.line(0, "Pods Statuses:", f"{status.get('active', 0)} Active ({status.get('ready', 0)} Ready) / "
                                f"{status.get('succeeded', 0)} Succeeded / {status.get('failed', 0)} Failed")
    _pod_template(w, spec.get("template"))
    _conditions(w, status.get("conditions") or [], ("Reason",))
    _events(w, store, obj, now)


def _cron_job(w: Writer, store: Store, obj: Obj, now: float) -> None:
    md, spec, status = _md(obj), obj.get("spec") or {}, obj.get("status") or {}
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    unset = "<unset>"
    _header(w, obj)
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
    _pod_template(w, job_spec.get("template"))
    w.line(0, "Last Schedule Time:", _rfc1123(status["lastScheduleTime"]) if status.get("lastScheduleTime") else unset)
    w.line(0, "Active Jobs:", ", ".join(a.get("name", "") for a in status.get("active") or ()) or NONE)
    _events(w, store, obj, now)


def _service(w: Writer, store: Store, svc: Obj, now: float) -> None:
    md, spec = _md(svc), svc.get("spec") or {}
    _header(w, svc)
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
    _events(w, store, svc, now)


def _endpoints(w: Writer, store: Store, ep: Obj, now: float) -> None:
    _header(w, ep)
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
    _events(w, store, ep, now)


def _namespace(w: Writer, store: Store, ns: Obj, now: float) -> None:
    _header(w, ns, namespace=False)
    phase = "Terminating" if _md(ns).get("deletionTimestamp") else (ns.get("status") or {}).get("phase", "Active")
    w.line(0, "Status:", phase)
    w.line(0, "")
    w.line(0, "No resource quota.")
    w.line(0, "")
    w.line(0, "No LimitRange resource.")


def _node(w: Writer, store: Store, node: Obj, now: float) -> None:
    md, spec, status = _md(node), node.get("spec") or {}, node.get("status") or {}
    w.line(0, "Name:", md.get("name", ""))
    w.line(0, "Roles:", node_roles(node))
    w.multiline(0, "Labels", _labels(md.get("labels")))
    w.multiline(0, "Annotations", _annotations(md.get("annotations")))
    w.line(0, "CreationTimestamp:", _rfc1123(md.get("creationTimestamp")))
    w.multiline(0, "Taints", [f"{t.get('key')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect')}"
                              for t in spec.get("taints") or ()])
    w.line(0, "Unschedulable:", str(bool(spec.get("unschedulable"))).lower())
    w.line(0, "Status:", node_status(node))
    _conditions(w, status.get("conditions") or [], ("LastHeartbeatTime", "Reason", "Message"))
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
            w.line(1, _md(p).get("namespace", ""), _md(p).get("name", ""), age(_md(p).get("creationTimestamp"), now))
    _events(w, store, node, now)


def _secret(w: Writer, store: Store, secret: Obj, now: float) -> None:
    _header(w, secret)
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
    _header(w, cm)
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
    _events(w, store, cm, now)


def _backend(backend: Obj | None) -> str:
    svc = (backend or {}).get("service") or {}
    if not svc:
        res = (backend or {}).get("resource") or {}
        return f"APIGroup: {res.get('apiGroup', '')}, Kind: {res.get('kind', '')}, Name: {res.get('name', '')}"
    port = svc.get("port") or {}
    return f"{svc.get('name')}:{port.get('number', port.get('name', ''))}"


def _ingress(w: Writer, store: Store, ing: Obj, now: float) -> None:
    md, spec = _md(ing), ing.get("spec") or {}
    w.line(0, "Name:", md.get("name", ""))
    w.multiline(0, "Labels", _labels(md.get("labels")))
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
    w.multiline(0, "Annotations", _annotations(md.get("annotations")))
    _events(w, store, ing, now)


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
