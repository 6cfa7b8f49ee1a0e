"""What a pod learns about Services: the Kubernetes service environment variables of its containers
(`envvars.FromServices`, computed when a container starts) and the DNS settings of its sandbox
(cluster DNS on the node's bridge gateway, the namespace search path, `ndots:5`).
"""

from __future__ import annotations

from typing import Iterable

from gitkube.runtime.pods import DnsConfig

DOMAIN = "cluster.local"
MASTER_SERVICES = ("kubernetes",)  # always injected from the default namespace, if it exists
MAX_NAMESERVERS = 3
MAX_SEARCHES = 6


def _env_name(name: str) -> str:
    """Upper case, `-` → `_`; nothing else (the current kubelet, see K8S-SEMANTICS 8.4)."""
    return name.upper().replace("-", "_")


def _ip_set(svc: dict) -> bool:
    ip = (svc.get("spec") or {}).get("clusterIP")
    if not ip or ip == "None":
        return False
    for c in (svc.get("status") or {}).get("conditions") or []:  # rejected by the allocator
        if c.get("type") == "Allocated" and c.get("status") == "False":
            return False
    return True


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def service_variables(svc: dict) -> list[tuple[str, str]]:
    """The variables of one Service, in the kubelet's order (FromServices + makeLinkVariables)."""
    spec = svc.get("spec") or {}
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    if not _ip_set(svc) or not ports:
        return []
    prefix = _env_name(svc["metadata"]["name"])
    ip = spec["clusterIP"]
    out = [(f"{prefix}_SERVICE_HOST", ip), (f"{prefix}_SERVICE_PORT", str(ports[0].get("port")))]
    for p in ports:
        if p.get("name"):
            out.append((f"{prefix}_SERVICE_PORT_{_env_name(p['name'])}", str(p.get("port"))))
    for i, p in enumerate(ports):
        proto = str(p.get("protocol") or "TCP")
        url = f"{proto.lower()}://{_host_port(ip, p.get('port'))}"
        if i == 0:
            out.append((f"{prefix}_PORT", url))
        port_prefix = f"{prefix}_PORT_{p.get('port')}_{proto.upper()}"
        out += [(port_prefix, url), (f"{port_prefix}_PROTO", proto.lower()),
                (f"{port_prefix}_PORT", str(p.get("port"))), (f"{port_prefix}_ADDR", ip)]
    return out


def service_env(services: Iterable[dict], namespace: str, enable_service_links: bool = True) -> dict[str, str]:
    """getServiceEnvVarMap: the pod's namespace's Services (when links are enabled) plus the
    `kubernetes` Service of `default`; a same-named Service of the pod's namespace wins."""
    chosen: dict[str, dict] = {}
    for svc in services:
        if not _ip_set(svc):
            continue
        md = svc["metadata"]
        ns, name = md.get("namespace") or "default", md["name"]
        if ns == "default" and name in MASTER_SERVICES:
            chosen.setdefault(name, svc)
        elif ns == namespace and enable_service_links:
            chosen[name] = svc
    env: dict[str, str] = {}
    for name in sorted(chosen):
        env.update(service_variables(chosen[name]))
    return env


def env_for_pod(pod: dict, list_services) -> dict[str, str]:
    """Service variables for a container of `pod` starting now; `list_services(namespace)` reads
    the Services of one namespace from the Store."""
    ns = pod["metadata"].get("namespace") or "default"
    links = (pod.get("spec") or {}).get("enableServiceLinks", True) is not False
    services = list(list_services(ns)) if links else []
    if ns != "default":
        services += [s for s in list_services("default") if s["metadata"]["name"] in MASTER_SERVICES]
    return service_env(services, ns, links)


def dns_config(pod: dict, nameserver: str | None, domain: str = DOMAIN) -> DnsConfig | None:
    """The sandbox's resolver settings by dnsPolicy (ClusterFirst by default) and dnsConfig.
    None keeps Docker's default (the node's resolv.conf)."""
    spec = pod.get("spec") or {}
    ns = pod["metadata"].get("namespace") or "default"
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "ClusterFirst" and spec.get("hostNetwork"):
        policy = "Default"
    if policy == "ClusterFirstWithHostNet":
        policy = "ClusterFirst"
    servers: list[str] = []
    searches: list[str] = []
    options: dict[str, str | None] = {}
    if policy == "ClusterFirst" and nameserver:
        servers = [nameserver]
        searches = [f"{ns}.svc.{domain}", f"svc.{domain}", domain]
        options = {"ndots": "5"}
    custom = spec.get("dnsConfig") or {}
    for s in custom.get("nameservers") or []:
        if s not in servers:
            servers.append(str(s))
    for s in custom.get("searches") or []:
        if s not in searches:
            searches.append(str(s))
    for o in custom.get("options") or []:
        if o.get("name"):
            options[o["name"]] = o.get("value")
    if not (servers or searches or options):
        return None
    opts = tuple(k if v in (None, "") else f"{k}:{v}" for k, v in options.items())
    return DnsConfig(tuple(servers[:MAX_NAMESERVERS]), tuple(searches[:MAX_SEARCHES]), opts)


def pod_dns(pod: dict, node: object) -> DnsConfig | None:
    """dns_config with the cluster nameserver of `node` (its bridge gateway), unless the node's DNS
    answerer is known not to run there (then pods keep the node's resolvers)."""
    from gitkube.proxy import facts

    nameserver = None
    if not facts.dns_problem(getattr(node, "url", "")):
        found = facts.bridge(node)
        nameserver = found.gateway if found else None
    return dns_config(pod, nameserver)
