"""Service and Endpoints rules, and the cross-object checks between Services and their users.

Cross-object findings about things outside the manifest set (an Ingress naming a Service that may
exist in the cluster already) are warnings; a clash gitkube would certainly refuse is an error.
"""

from __future__ import annotations

import ipaddress

from gitkube.errors import Severity
from gitkube.labels.validation import dns1123_label, dns1123_subdomain, port_name, port_number
from gitkube.schema.problems import FieldProblem, Path
from gitkube.schema.rules_base import (
    Problems,
    as_dict,
    as_int,
    as_list,
    check_enum,
    duplicate,
    forbidden,
    invalid,
    not_found,
    required,
)
from gitkube.schema.rules_meta import check_labels
from gitkube.schema.rules_pod import PROTOCOLS

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")
TRAFFIC_POLICIES = ("Cluster", "Local")
NODE_PORT_RANGE = range(30000, 32768)  # kube-apiserver's default --service-node-port-range
CLIENT_IP_TIMEOUT_RANGE = range(1, 86401)
_LINK_LOCAL_MULTICAST_V4 = ipaddress.ip_network("224.0.0.0/24")


def check_service(obj: dict) -> Problems:
    spec = as_dict(obj.get("spec"))
    service_type = spec.get("type") or "ClusterIP"
    yield from check_enum(spec, "type", ("spec",), SERVICE_TYPES)
    yield from check_enum(spec, "sessionAffinity", ("spec",), ("None", "ClientIP"))
    yield from check_enum(spec, "externalTrafficPolicy", ("spec",), TRAFFIC_POLICIES)
    yield from check_enum(spec, "internalTrafficPolicy", ("spec",), TRAFFIC_POLICIES)
    yield from check_labels(as_dict(spec.get("selector")), ("spec", "selector"))
    ports = as_list(spec.get("ports"))
    names: set[str] = set()
    port_protocols: set[tuple[int, str]] = set()
    for i, port in enumerate(ports):
        if isinstance(port, dict):
            yield from _check_service_port(port, ("spec", "ports", i), service_type, len(ports) > 1, names,
                                           port_protocols)
    if service_type == "ExternalName":
        yield from _check_external_name(spec)
    timeout = as_int(as_dict(as_dict(spec.get("sessionAffinityConfig")).get("clientIP")).get("timeoutSeconds"))
    if timeout is not None and timeout not in CLIENT_IP_TIMEOUT_RANGE:
        yield invalid(("spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"), "invalid-session-timeout",
                      timeout, "must be greater than 0 and less than or equal to 86400")


def _check_service_port(port: dict, path: Path, service_type: str, several: bool, names: set[str],
                        port_protocols: set[tuple[int, str]]) -> Problems:
    name = port.get("name")
    if isinstance(name, str) and name:
        if errs := dns1123_label(name):
            yield invalid((*path, "name"), "invalid-port-name", name, "; ".join(errs))
        elif name in names:
            yield duplicate((*path, "name"), "duplicate-port-name", name)
        names.add(name)
    elif name in (None, "") and several:
        yield required((*path, "name"), "port-name-required", hint="every port needs a name when there are several")
    yield from check_enum(port, "protocol", path, PROTOCOLS)
    number = as_int(port.get("port"))
    if number is not None:
        yield from _check_port_number(number, (*path, "port"))
        protocol = port.get("protocol") or "TCP"
        if isinstance(protocol, str):
            if (number, protocol) in port_protocols:
                yield duplicate((*path, "port"), "duplicate-port", number, f"another port already uses {protocol}")
            port_protocols.add((number, protocol))
    target = port.get("targetPort")
    if isinstance(target, str) and target:
        if errs := port_name(target):
            yield invalid((*path, "targetPort"), "invalid-port-name", target, "; ".join(errs))
    elif target_number := as_int(target):  # 0 means "same as port"
        yield from _check_port_number(target_number, (*path, "targetPort"))
    node_port = as_int(port.get("nodePort"))
    if node_port:  # 0 means "allocate one"
        if service_type not in NODE_PORT_TYPES:
            yield forbidden((*path, "nodePort"), "nodeport-not-allowed",
                            f"may not be used when `type` is '{service_type}'")
        elif node_port not in NODE_PORT_RANGE:
            yield invalid((*path, "nodePort"), "nodeport-range", node_port,
                          "provided port is not in the valid range. The range of valid ports is 30000-32767")


def _check_port_number(number: int, path: Path) -> Problems:
    if errs := port_number(number):
        yield invalid(path, "invalid-port-number", number, "; ".join(errs))


def _check_external_name(spec: dict) -> Problems:
    external_name = spec.get("externalName")
    if external_name in (None, ""):
        yield required(("spec", "externalName"), "externalname-required",
                       hint="set the DNS name this Service is an alias for")
    elif isinstance(external_name, str) and (errs := dns1123_subdomain(external_name.removesuffix("."))):
        yield invalid(("spec", "externalName"), "invalid-external-name", external_name, "; ".join(errs))
    cluster_ip = spec.get("clusterIP")
    if cluster_ip not in (None, ""):
        yield forbidden(("spec", "clusterIP"), "clusterip-not-allowed", "may not be set for ExternalName services",
                        "an ExternalName Service has no cluster IP, and cannot be headless")


def check_endpoints(obj: dict) -> Problems:
    for i, subset in enumerate(as_list(obj.get("subsets"))):
        subset = as_dict(subset)
        for group in ("addresses", "notReadyAddresses"):
            for j, address in enumerate(as_list(subset.get(group))):
                ip = as_dict(address).get("ip")
                if isinstance(ip, str) and (reason := special_ip_reason(ip)):
                    yield invalid(("subsets", i, group, j, "ip"), "invalid-endpoint-ip", ip, reason)
        for j, port in enumerate(as_list(subset.get("ports"))):
            port = as_dict(port)
            name = port.get("name")
            if isinstance(name, str) and name and (errs := dns1123_label(name)):
                yield invalid(("subsets", i, "ports", j, "name"), "invalid-port-name", name, "; ".join(errs))
            yield from check_enum(port, "protocol", ("subsets", i, "ports", j), PROTOCOLS)
            if (number := as_int(port.get("port"))) is not None:
                yield from _check_port_number(number, ("subsets", i, "ports", j, "port"))


def special_ip_reason(text: str) -> str:
    """Why an endpoint IP cannot be used (ValidateNonSpecialIP), or "" if it can."""
    try:
        if "%" in text:  # Go's ParseIP has no zone syntax
            raise ValueError(text)
        ip = ipaddress.ip_address(text)
    except ValueError:
        return "must be a valid IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # Go treats ::ffff:a.b.c.d as the IPv4 address
    if ip.is_unspecified:
        return f"may not be unspecified ({text})"
    if ip.is_loopback:
        return "may not be in the loopback range (127.0.0.0/8, ::1/128)"
    if ip.is_link_local:
        return "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
    if ip in _LINK_LOCAL_MULTICAST_V4 or (ip.version == 6 and ip.packed[0] == 0xFF and ip.packed[1] & 0x0F == 2):
        return "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
    return ""


def check_services_cross(objs: list[dict]) -> list[tuple[int, FieldProblem]]:
    """Endpoints and Ingress backends against the Services in the set; nodePorts across Services."""
    services = {_key(o) for o in objs if isinstance(o, dict) and o.get("kind") == "Service"}
    out: list[tuple[int, FieldProblem]] = []
    node_ports: dict[int, str] = {}  # nodePort -> "namespace/name" of the first Service requesting it
    for i, obj in enumerate(objs):
        kind = obj.get("kind") if isinstance(obj, dict) else None
        if kind == "Endpoints" and _key(obj) not in services:
            out.append((i, not_found(("metadata", "name"), "endpoints-without-service", _key(obj)[1],
                                     "no Service with this name in this namespace; nothing will route here",
                                     Severity.WARNING)))
        elif kind == "Ingress":
            out.extend((i, p) for p in _check_ingress_backends(obj, services))
        elif kind == "Service":
            out.extend((i, p) for p in _check_node_ports(obj, node_ports))
    return out


def _check_ingress_backends(obj: dict, services: set[tuple[str, str]]) -> Problems:
    namespace = _key(obj)[0]
    spec = as_dict(obj.get("spec"))
    backends: list[tuple[Path, object]] = [(("spec", "defaultBackend"), spec.get("defaultBackend"))]
    for r, rule in enumerate(as_list(spec.get("rules"))):
        for p, http_path in enumerate(as_list(as_dict(as_dict(rule).get("http")).get("paths"))):
            backends.append((("spec", "rules", r, "http", "paths", p, "backend"), as_dict(http_path).get("backend")))
    for path, backend in backends:
        name = as_dict(as_dict(backend).get("service")).get("name")
        if isinstance(name, str) and (namespace, name) not in services:
            yield not_found((*path, "service", "name"), "ingress-unknown-service", name,
                            f"no Service {name!r} in namespace {namespace!r} among these manifests",
                            Severity.WARNING)


def _check_node_ports(obj: dict, seen: dict[int, str]) -> Problems:
    namespace, name = _key(obj)
    owner = f"{namespace}/{name}"
    for i, port in enumerate(as_list(as_dict(obj.get("spec")).get("ports"))):
        node_port = as_int(as_dict(port).get("nodePort"))
        if not node_port:
            continue
        first = seen.setdefault(node_port, owner)
        if first != owner:
            yield invalid(("spec", "ports", i, "nodePort"), "nodeport-conflict", node_port,
                          "provided port is already allocated", f"Service {first} requests it too")


def _key(obj: dict) -> tuple[str, str]:
    meta = as_dict(obj.get("metadata"))
    namespace = meta.get("namespace")
    name = meta.get("name")
    return (namespace if isinstance(namespace, str) and namespace else "default",
            name if isinstance(name, str) else "")
