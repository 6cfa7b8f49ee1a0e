"""Pod spec rules, shared by Pods and by the pod templates inside workloads.

Names that the runtime resolves later (volume mounts, named probe ports) are checked here so a
typo fails at validate time instead of as a stuck container on a Docker host.
"""

from __future__ import annotations

import re

from gitkube.labels.validation import dns1123_label, port_name, port_number
from gitkube.schema.problems import Path
from gitkube.schema.rules_base import (
    Problems,
    as_dict,
    as_int,
    as_list,
    check_enum,
    duplicate,
    forbidden,
    invalid,
    non_negative,
    not_found,
    quoted_list,
    required,
    unsupported,
)
from gitkube.schema.rules_meta import check_template_metadata

CONTAINER_GROUPS = ("initContainers", "containers")
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
PROBE_COUNTS = ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold")
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "Never", "IfNotPresent")
MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
PROTOCOLS = ("TCP", "UDP", "SCTP")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*\Z")  # apimachinery IsEnvVarName


def check_pod(obj: dict) -> Problems:
    spec = as_dict(obj.get("spec"))
    yield from check_enum(spec, "restartPolicy", ("spec",), RESTART_POLICIES)
    yield from check_pod_spec(spec, ("spec",))


def check_pod_template(template: dict, path: Path, restart_policies: tuple[str, ...]) -> Problems:
    """A workload's pod template; `restart_policies` are the values its controller can honour."""
    yield from check_template_metadata(as_dict(template.get("metadata")), (*path, "metadata"))
    spec = as_dict(template.get("spec"))
    yield from _check_restart_policy(spec, (*path, "spec", "restartPolicy"), restart_policies)
    yield from check_pod_spec(spec, (*path, "spec"))


def _check_restart_policy(spec: dict, path: Path, allowed: tuple[str, ...]) -> Problems:
    policy = spec.get("restartPolicy")
    if "Always" in allowed:
        hint = "this controller replaces pods that stop, so their containers must always restart"
    else:
        hint = "pods of a Job run to completion; the Pod default Always would never let them finish"
    if policy in (None, ""):
        if "Always" not in allowed:  # the Pod default would be Always, which this controller rejects
            yield required(path, "invalid-restart-policy", f"supported values: {quoted_list(allowed)}", hint)
    elif isinstance(policy, str) and policy not in allowed:
        yield unsupported(path, "invalid-restart-policy", policy, allowed, hint)


def check_pod_spec(spec: dict, path: Path) -> Problems:
    yield from check_enum(spec, "dnsPolicy", path, DNS_POLICIES)
    volumes = as_list(spec.get("volumes"))
    yield from _check_volumes(volumes, (*path, "volumes"))
    volume_names = {n for v in volumes if isinstance(n := as_dict(v).get("name"), str)}
    container_names: set[str] = set()
    port_names: set[str] = set()  # container port names are unique across the whole pod
    for group in CONTAINER_GROUPS:
        for i, container in enumerate(as_list(spec.get(group))):
            if isinstance(container, dict):
                yield from _check_container(container, (*path, group, i), volume_names, container_names,
                                            port_names)


def _check_volumes(volumes: list, path: Path) -> Problems:
    seen: set[str] = set()
    for i, volume in enumerate(volumes):
        name = as_dict(volume).get("name")
        if not isinstance(name, str):
            continue
        if errs := dns1123_label(name):
            yield invalid((*path, i, "name"), "invalid-volume-name", name, "; ".join(errs))
        elif name in seen:
            yield duplicate((*path, i, "name"), "duplicate-volume-name", name)
        seen.add(name)


def _check_container(container: dict, path: Path, volume_names: set[str], container_names: set[str],
                     pod_port_names: set[str]) -> Problems:
    name = container.get("name")
    if isinstance(name, str):
        if errs := dns1123_label(name):
            yield invalid((*path, "name"), "invalid-container-name", name, "; ".join(errs))
        elif name in container_names:
            yield duplicate((*path, "name"), "duplicate-container-name", name)
        container_names.add(name)
    yield from check_enum(container, "imagePullPolicy", path, PULL_POLICIES)
    yield from check_enum(container, "terminationMessagePolicy", path, MESSAGE_POLICIES)
    own_port_names: set[str] = set()
    for j, port in enumerate(as_list(container.get("ports"))):
        yield from _check_container_port(as_dict(port), (*path, "ports", j), own_port_names, pod_port_names)
    for j, env in enumerate(as_list(container.get("env"))):
        env_name = as_dict(env).get("name")
        if isinstance(env_name, str) and not _ENV_NAME.match(env_name):
            yield invalid((*path, "env", j, "name"), "invalid-env-name", env_name,
                          "a valid environment variable name must consist of alphabetic characters, digits, "
                          "'_', '-', or '.', and must not start with a digit")
    for j, mount in enumerate(as_list(container.get("volumeMounts"))):
        volume = as_dict(mount).get("name")
        if isinstance(volume, str) and volume not in volume_names:
            yield not_found((*path, "volumeMounts", j, "name"), "unknown-volume", volume,
                            "declare the volume under spec.volumes")
    for probe_kind in PROBES:
        probe = container.get(probe_kind)
        if isinstance(probe, dict):
            yield from _check_probe(probe, (*path, probe_kind), probe_kind, own_port_names)


def _check_container_port(port: dict, path: Path, own_names: set[str], pod_names: set[str]) -> Problems:
    name = port.get("name")
    if isinstance(name, str) and name:
        if errs := port_name(name):
            yield invalid((*path, "name"), "invalid-port-name", name, "; ".join(errs))
        elif name in pod_names:
            yield duplicate((*path, "name"), "duplicate-port-name", name)
        pod_names.add(name)
        own_names.add(name)
    yield from check_enum(port, "protocol", path, PROTOCOLS)
    yield from _check_port_number(port, "containerPort", path)
    if port.get("hostPort") != 0:  # 0 means "no host port"
        yield from _check_port_number(port, "hostPort", path)


def _check_port_number(parent: dict, key: str, path: Path) -> Problems:
    number = as_int(parent.get(key))
    if number is not None and (errs := port_number(number)):
        yield invalid((*path, key), "invalid-port-number", number, "; ".join(errs))


def _check_probe(probe: dict, path: Path, probe_kind: str, port_names: set[str]) -> Problems:
    handlers = [h for h in PROBE_HANDLERS if probe.get(h) is not None]
    if not handlers:
        yield required(path, "probe-handler-count", "must specify a handler type",
                       f"set exactly one of {', '.join(PROBE_HANDLERS)}")
    elif len(handlers) > 1:
        yield forbidden((*path, handlers[1]), "probe-handler-count", "may not specify more than 1 handler type")
    threshold = as_int(probe.get("successThreshold"))
    if probe_kind != "readinessProbe" and threshold is not None and threshold > 1:  # 0 is Go's unset → 1
        yield invalid((*path, "successThreshold"), "invalid-success-threshold", threshold, "must be 1",
                      "liveness and startup probes act on the first success")
    yield from non_negative(probe, path, PROBE_COUNTS)
    yield from check_enum(as_dict(probe.get("httpGet")), "scheme", (*path, "httpGet"), ("HTTP", "HTTPS"))
    for handler in ("httpGet", "tcpSocket"):
        action = as_dict(probe.get(handler))
        port = action.get("port")
        if isinstance(port, str):
            if errs := port_name(port):
                yield invalid((*path, handler, "port"), "invalid-port-name", port, "; ".join(errs))
            elif port not in port_names:
                yield not_found((*path, handler, "port"), "unknown-port-name", port,
                                "a named probe port must be declared in this container's ports")
        else:
            yield from _check_port_number(action, "port", (*path, handler))
    yield from _check_port_number(as_dict(probe.get("grpc")), "port", (*path, "grpc"))
