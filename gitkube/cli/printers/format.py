"""Cell values as kubectl prints them: ages, pod status, Service and Endpoints summaries, labels.

Sources: apimachinery `util/duration.HumanDuration`; kubernetes `pkg/printers/internalversion/
printers.go` (`printPod`, `printService`, `formatEndpoints`, `formatHosts`, `layoutContainerCells`);
cli-runtime `tableprinter.go` (`formatLabelHeaders`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, NamedTuple

NONE = "<none>"


# --- time ----------------------------------------------------------------------------------------

def parse_time(ts: str | None) -> float | None:
    """Seconds since the epoch of an RFC 3339 timestamp; None when absent or unreadable."""
    if not ts:
        return None
    try:
        dt = datetime.fromisoformat(ts)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def human_duration(seconds: float) -> str:
    """kubectl's HumanDuration: `45s`, `2m5s`, `15m`, `4h5m`, `20h`, `2d9h`, `30d`, `2y45d`, `9y`."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = divmod(hours // 24, 365)
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


def age(ts: str | None, now: float) -> str:
    """translateTimestampSince: the human duration since `ts`, `<unknown>` without one."""
    t = parse_time(ts)
    return "<unknown>" if t is None else human_duration(now - t)


# --- labels and selectors -----------------------------------------------------------------------

def format_labels(labels: Mapping[str, str] | None) -> str:
    """labels.FormatLabels: `k=v,k2=v2` sorted by key, `<none>` when empty."""
    if not labels:
        return NONE
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: the canonical selector string, `<none>` when empty or absent."""
    from gitkube.errors import SelectorError
    from gitkube.labels.selector import from_label_selector

    try:
        text = str(from_label_selector(selector))
    except SelectorError:
        return "<error>"
    return text or NONE


def label_header(key: str) -> str:
    """The `-L` column header: the part of the key after its last `/`, upper-cased."""
    return key.rsplit("/", 1)[-1].upper()


# --- pods ----------------------------------------------------------------------------------------

class PodSummary(NamedTuple):
    ready: str  # "1/2"
    status: str  # "Running", "CrashLoopBackOff", "Init:0/1", "Terminating", …
    restarts: str  # "3" or "3 (5m ago)"


def _is_sidecar(container: Mapping[str, Any] | None) -> bool:
    return bool(container) and container.get("restartPolicy") == "Always"


def _condition_true(status: Mapping[str, Any], ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True" for c in status.get("conditions") or ())


def _later(current: float | None, terminated: Mapping[str, Any] | None) -> float | None:
    """The later of `current` and a last termination's finishedAt."""
    t = parse_time((terminated or {}).get("finishedAt"))
    if t is None:
        return current
    return t if current is None or t > current else current


def _terminated_reason(term: Mapping[str, Any], prefix: str = "") -> str:
    if term.get("reason"):
        return prefix + term["reason"]
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def pod_summary(pod: Mapping[str, Any], now: float) -> PodSummary:
    """printPod: READY, STATUS and RESTARTS. A pod without status is `Pending`, READY `0/N`."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or ()}
    total = len(spec.get("containers") or ()) + sum(1 for c in init_specs.values() if _is_sidecar(c))
    ready = 0
    restarts = sidecar_restarts = 0
    last_restart: float | None = None
    last_sidecar_restart: float | None = None
    reason = status.get("reason") or status.get("phase") or "Pending"
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
           for c in status.get("conditions") or ()):
        reason = "SchedulingGated"

    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, cs in enumerate(init_statuses):
        state = cs.get("state") or {}
        restarts += cs.get("restartCount", 0)
        last_term = (cs.get("lastState") or {}).get("terminated")
        last_restart = _later(last_restart, last_term)
        sidecar = _is_sidecar(init_specs.get(cs.get("name")))
        if sidecar:
            sidecar_restarts += cs.get("restartCount", 0)
            last_sidecar_restart = _later(last_sidecar_restart, last_term)
        term = state.get("terminated")
        waiting = state.get("waiting") or {}
        if term is not None and term.get("exitCode", 0) == 0:
            continue
        if sidecar and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        if term is not None:
            reason = _terminated_reason(term, "Init:")
        elif waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            restarts += cs.get("restartCount", 0)
            last_restart = _later(last_restart, (cs.get("lastState") or {}).get("terminated"))
            waiting, term = state.get("waiting") or {}, state.get("terminated")
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif term is not None:
                reason = _terminated_reason(term)
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"

    shown = str(restarts)
    if restarts and last_restart is not None:
        shown = f"{restarts} ({human_duration(now - last_restart)} ago)"
    return PodSummary(f"{ready}/{total}", reason, shown)


def readiness_gates(pod: Mapping[str, Any]) -> str:
    """The wide READINESS GATES cell: `true/total`, `<none>` without gates."""
    gates = (pod.get("spec") or {}).get("readinessGates") or []
    if not gates:
        return NONE
    conditions = {c.get("type"): c.get("status") for c in (pod.get("status") or {}).get("conditions") or ()}
    true = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
    return f"{true}/{len(gates)}"


def containers_cells(containers: Iterable[Mapping[str, Any]] | None) -> tuple[str, str]:
    """layoutContainerCells: (names, images), comma-joined."""
    cs = list(containers or ())
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


# --- services, endpoints, ingresses --------------------------------------------------------------

def service_ports(ports: Iterable[Mapping[str, Any]] | None) -> str:
    """makePortString: `80/TCP`, `80:30123/TCP`, comma-joined; `<none>` without ports."""
    pieces = []
    for p in ports or ():
        proto = p.get("protocol") or "TCP"
        node_port = p.get("nodePort") or 0
        pieces.append(f"{p.get('port')}:{node_port}/{proto}" if node_port > 0 else f"{p.get('port')}/{proto}")
    return ",".join(pieces) or NONE


def load_balancer_ips(status: Mapping[str, Any] | None, wide: bool) -> str:
    """loadBalancerStatusStringer: ingress IPs/hostnames, cut to 16 characters unless wide."""
    ingress = ((status or {}).get("loadBalancer") or {}).get("ingress") or []
    text = ",".join(i.get("ip") or i.get("hostname") or "" for i in ingress if i.get("ip") or i.get("hostname"))
    if not wide and len(text) > 16:
        text = text[:13] + "..."
    return text


def service_cluster_ip(svc: Mapping[str, Any]) -> str:
    spec = svc.get("spec") or {}
    ips = spec.get("clusterIPs") or []
    return (ips[0] if ips else spec.get("clusterIP")) or NONE


def service_external_ip(svc: Mapping[str, Any], wide: bool = False) -> str:
    """getServiceExternalIP: `<none>`, `<pending>`, the LB ingress, the externalIPs or the externalName."""
    spec = svc.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    external = list(spec.get("externalIPs") or ())
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or NONE
    if kind == "LoadBalancer":
        lb = load_balancer_ips(svc.get("status"), wide)
        joined = ",".join(([lb] if lb else []) + external)
        return joined or "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def _host_port(ip: str, port: Any) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def endpoints_string(ep: Mapping[str, Any], port_names: set[str] | None = None, limit: int = 3) -> str:
    """formatEndpoints: up to three `ip:port`, then ` + N more...`; `<none>` when empty.
    `port_names` keeps only those ports (describe service shows each port's endpoints)."""
    subsets = ep.get("subsets") or []
    shown: list[str] = []
    count = 0
    for ss in subsets:
        addresses = [a.get("ip", "") for a in ss.get("addresses") or ()]
        targets = [addresses] if not ss.get("ports") else \
            [[_host_port(ip, p.get("port")) for ip in addresses] for p in ss["ports"]
             if port_names is None or p.get("name", "") in port_names]
        for group in targets:
            count += len(group)
            shown.extend(group[:limit - len(shown)])
    text = ",".join(shown)
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or NONE


def ingress_hosts(rules: Iterable[Mapping[str, Any]] | None, limit: int = 3) -> str:
    """formatHosts: up to three hosts then ` + N more...`; `*` when no rule names a host."""
    rules = list(rules or ())
    hosts: list[str] = []
    more = False
    for r in rules:
        more = more or len(hosts) == limit
        if not more and r.get("host"):
            hosts.append(r["host"])
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - limit} more..." if more else text
