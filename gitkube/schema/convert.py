"""Identify an object's kind and bring tutorial-era apiVersions up to the served one.

Current clusters reject `apps/v1beta2`, `extensions/v1beta1`, `batch/v1beta1`… outright. gitkube
accepts them with a warning and converts the object the way the API server's conversion did, so
old manifests keep working while the user is told what to change.
"""

from __future__ import annotations

import copy
from typing import Any

from gitkube.errors import Severity
from gitkube.kinds import BY_KIND, DEPRECATED_API_VERSIONS, supported_api_versions
from gitkube.schema.problems import FieldProblem

# Old API versions that defaulted spec.selector from the template labels (apps/v1beta2 did not).
_SELECTOR_DEFAULTING = {"extensions/v1beta1", "apps/v1beta1"}
_WORKLOADS = {"Deployment", "ReplicaSet", "DaemonSet"}


def convert(obj: dict) -> tuple[dict, list[FieldProblem]]:
    """(object at its current apiVersion, problems). Never mutates `obj`.

    A current object comes back as is; a deprecated one as a converted copy plus a
    `deprecated-api-version` warning; an unknown kind or apiVersion as `obj` plus an error.
    """
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    target = DEPRECATED_API_VERSIONS.get((api_version, kind)) if isinstance(kind, str) else None
    if target is not None:
        return _upgrade(obj, target)
    info = BY_KIND.get(kind) if isinstance(kind, str) else None
    if info is None:
        return obj, [FieldProblem(("kind",), "unknown-kind",
                                  f"no matches for kind {_quote(kind)} in version {_quote(api_version)}",
                                  hint=f"supported: {supported_api_versions()}", at_key=False)]
    if api_version != info.api_version:
        return obj, [FieldProblem(("apiVersion",), "unknown-api-version",
                                  f"no matches for kind {_quote(kind)} in version {_quote(api_version)}",
                                  hint=f"use apiVersion: {info.api_version}", at_key=False)]
    return obj, []


def _upgrade(obj: dict, target: str) -> tuple[dict, list[FieldProblem]]:
    old, kind = obj["apiVersion"], obj["kind"]
    new = copy.deepcopy(obj)
    new["apiVersion"] = target
    message = f"{old} {kind} is no longer served by Kubernetes; converted to {target}"
    if kind == "Ingress":
        _upgrade_ingress(new)
    elif kind in _WORKLOADS and old in _SELECTOR_DEFAULTING and _default_selector(new):
        message += "; spec.selector defaulted to the template labels as the old API did"
    return new, [FieldProblem(("apiVersion",), "deprecated-api-version", message,
                              hint=f"use apiVersion: {target}", severity=Severity.WARNING, at_key=False)]


def _default_selector(obj: dict) -> bool:
    """Set spec.selector.matchLabels from the template labels when missing; True if it did."""
    spec = obj.get("spec")
    if not isinstance(spec, dict) or spec.get("selector") is not None:
        return False
    labels = _get(spec, "template", "metadata", "labels")
    if not isinstance(labels, dict) or not labels:
        return False
    spec["selector"] = {"matchLabels": dict(labels)}
    return True


def _upgrade_ingress(obj: dict) -> None:
    """extensions/networking v1beta1 -> networking.k8s.io/v1, in place on a copy."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if "backend" in spec and "defaultBackend" not in spec:
        spec["defaultBackend"] = _upgrade_backend(spec.pop("backend"))
    for rule in _list(spec.get("rules")):
        for path in _list(_get(rule, "http", "paths")):
            if not isinstance(path, dict):
                continue
            if "backend" in path:
                path["backend"] = _upgrade_backend(path["backend"])
            path.setdefault("pathType", "ImplementationSpecific")


def _upgrade_backend(backend: Any) -> Any:
    """{serviceName, servicePort} -> {service: {name, port: {number | name}}}; anything else kept."""
    if not isinstance(backend, dict) or ("serviceName" not in backend and "servicePort" not in backend):
        return backend
    rest = {k: v for k, v in backend.items() if k not in ("serviceName", "servicePort")}
    service: dict[str, Any] = {}
    if "serviceName" in backend:
        service["name"] = backend["serviceName"]
    if "servicePort" in backend:
        port = backend["servicePort"]
        service["port"] = {"number": port} if isinstance(port, int) and not isinstance(port, bool) else {"name": port}
    return {"service": service, **rest}


def _get(node: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _quote(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)
