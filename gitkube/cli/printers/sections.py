"""The pieces `describe` output is made of, after kubectl's `pkg/describe/describe.go`: a writer
that lines values up, the metadata header, containers and pod templates, conditions and events.

Lines are tab-separated cells laid out by a tabwriter (minwidth 0, padding 2), with two spaces of
indent per level, so labels and values line up the way kubectl's do.
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

from gitkube.cli.printers.format import NONE, age, format_labels, parse_time
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


def rfc1123(ts: str | None) -> str:
    t = parse_time(ts)
    return NONE if t is None else time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))


def meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def label_lines(labels: Mapping[str, str] | None) -> list[str]:
    return [f"{k}={v}" for k, v in sorted((labels or {}).items())]


def annotation_lines(annotations: Mapping[str, str] | None) -> list[str]:
    return [f"{k}: {v}" for k, v in sorted((annotations or {}).items())
            if k != "kubectl.kubernetes.io/last-applied-configuration"]


def header(w: Writer, obj: Obj, *, namespace: bool = True) -> None:
    md = meta(obj)
    w.line(0, "Name:", md.get("name", ""))
    if namespace:
        w.line(0, "Namespace:", md.get("namespace", ""))
    w.multiline(0, "Labels", label_lines(md.get("labels")))
    w.multiline(0, "Annotations", annotation_lines(md.get("annotations")))


def controlled_by(w: Writer, obj: Obj) -> None:
    for ref in meta(obj).get("ownerReferences") or ():
        if ref.get("controller"):
            w.line(0, "Controlled By:", f"{ref.get('kind')}/{ref.get('name')}")


def events(w: Writer, store: Store, obj: Obj, now: float) -> None:
    """kubectl's DescribeEvents: a Type / Reason / Age / From / Message table, or `Events:  <none>`.
    The store records no event source, so From is always `gitkube`."""
    md = meta(obj)
    items = store.events(obj["kind"], md.get("namespace", ""), md.get("name", ""))
    if not items:
        w.line(0, "Events:", NONE)
        return
    w.flush()
    w.line(0, "Events:")
    w.line(1, "Type", "Reason", "Age", "From", "Message")
    w.line(1, "----", "------", "----", "----", "-------")
    for e in items:
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
        w.line(level + 1, "Started:", rfc1123(state["running"].get("startedAt")))
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
        w.line(level + 1, "Started:", rfc1123(t.get("startedAt")))
        w.line(level + 1, "Finished:", rfc1123(t.get("finishedAt")))
    else:
        w.line(level, f"{title}:", "Waiting")


def containers(w: Writer, level: int, title: str, specs: Sequence[Obj], statuses: Sequence[Obj] | None) -> None:
    """Containers of a pod (with their statuses) or of a pod template (statuses None)."""
    if not specs:
        return
    by_name = {s.get("name"): s for s in statuses or ()}
    w.line(level, f"{title}:")
    for c in specs:
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


def volumes(w: Writer, level: int, specs: Sequence[Obj]) -> None:
    if not specs:
        w.line(level, "Volumes:", NONE)
        return
    w.line(level, "Volumes:")
    for v in specs:
        w.line(level + 1, f"{v.get('name')}:")
        source = next(((k, val) for k, val in v.items() if k != "name"), None)
        if source:
            w.line(level + 2, "Type:", source[0])
            for key, val in (source[1] or {}).items():
                if not isinstance(val, (dict, list)):
                    w.line(level + 2, f"{key[:1].upper()}{key[1:]}:", val)


def pod_template(w: Writer, template: Obj | None, level: int = 0) -> None:
    template = template or {}
    spec = template.get("spec") or {}
    w.line(level, "Pod Template:")
    w.multiline(level + 1, "Labels", label_lines((template.get("metadata") or {}).get("labels")))
    annotations = annotation_lines((template.get("metadata") or {}).get("annotations"))
    if annotations:
        w.multiline(level + 1, "Annotations", annotations)
    containers(w, level + 1, "Init Containers", spec.get("initContainers") or [], None)
    containers(w, level + 1, "Containers", spec.get("containers") or [], None)
    if spec.get("nodeSelector"):
        w.line(level + 1, "Node-Selectors:", format_labels(spec["nodeSelector"]))
    volumes(w, level + 1, spec.get("volumes") or [])


def conditions(w: Writer, items: Sequence[Obj], extra: Sequence[str] = ("Reason",)) -> None:
    """A Type / Status / extra… table of status conditions (nothing when there are none)."""
    if not items:
        return
    w.line(0, "Conditions:")
    w.line(1, "Type", "Status", *extra)
    w.line(1, "----", "------", *["-" * len(e) for e in extra])
    for c in items:
        w.line(1, c.get("type", ""), c.get("status", ""), *[str(c.get(e[:1].lower() + e[1:], "")) for e in extra])


def owned(store: Store, kind: str, owner: Obj, selector: Any) -> list[dict]:
    """Objects of `kind` in the owner's namespace, matching `selector`, with the owner as controller."""
    md = meta(owner)
    uid = md.get("uid")
    return [o for o in store.list(kind, md.get("namespace"), selector)
            if any(r.get("uid") == uid and r.get("controller") for r in meta(o).get("ownerReferences") or ())]


def pods_status(pods: Sequence[Obj]) -> str:
    phases = [(p.get("status") or {}).get("phase") or "Pending" for p in pods]
    return (f"{phases.count('Running')} Running / {phases.count('Pending')} Waiting / "
            f"{phases.count('Succeeded')} Succeeded / {phases.count('Failed')} Failed")
