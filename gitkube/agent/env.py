"""A container's environment, as the kubelet builds it: Service variables first, then the
container's own `env` (which wins), with `valueFrom` references and `$(VAR)` expansion resolved.
"""

from __future__ import annotations

import base64
import re
from typing import Callable

_REF = re.compile(r"\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)|\$\$")

Lookup = Callable[[str, str, str], dict | None]  # (kind, namespace, name) -> object


def expand(text: str, env: dict[str, str]) -> str:
    """`$(VAR)` becomes its value when defined, `$$` becomes `$`, anything else stays as written."""
    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return _REF.sub(sub, text)


def field_ref(pod: dict, path: str) -> str:
    md, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    simple = {
        "metadata.name": md.get("name"), "metadata.namespace": md.get("namespace"), "metadata.uid": md.get("uid"),
        "spec.nodeName": spec.get("nodeName"), "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"), "status.hostIP": status.get("hostIP"),
    }
    if path in simple:
        return simple[path] or ""
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if m:
        return str((md.get(m.group(1)) or {}).get(m.group(2), ""))
    raise ValueError(f"unsupported fieldRef {path!r}")


def container_env(pod: dict, container: dict, service_env: dict[str, str], lookup: Lookup) -> dict[str, str]:
    """Raises ValueError naming the missing Secret/ConfigMap key (the kubelet's CreateContainerConfigError)."""
    ns = pod["metadata"].get("namespace", "default")
    env = dict(service_env)
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, ref_key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = source.get(ref_key)
            if not ref:
                continue
            obj = lookup(kind, ns, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ValueError(f'{kind.lower()} "{ref.get("name")}" not found')
            for k, v in _data(obj).items():
                env[prefix + k] = v
    for item in container.get("env") or []:
        name = item.get("name")
        if not name:
            continue
        if "value" in item:
            env[name] = expand(str(item["value"]), env)
            continue
        source = item.get("valueFrom") or {}
        if "fieldRef" in source:
            env[name] = field_ref(pod, source["fieldRef"].get("fieldPath", ""))
        elif "configMapKeyRef" in source or "secretKeyRef" in source:
            kind = "ConfigMap" if "configMapKeyRef" in source else "Secret"
            ref = source.get("configMapKeyRef") or source.get("secretKeyRef")
            obj = lookup(kind, ns, ref.get("name", ""))
            data = _data(obj) if obj else {}
            if ref.get("key") in data:
                env[name] = data[ref["key"]]
            elif not ref.get("optional"):
                raise ValueError(f'couldn\'t find key {ref.get("key")} in {kind} {ns}/{ref.get("name")}')
        elif "resourceFieldRef" in source:
            env[name] = ""
        else:
            env[name] = ""
    return env


def _data(obj: dict) -> dict[str, str]:
    if obj.get("kind") == "Secret":
        out = {k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("data") or {}).items()}
        out.update({k: str(v) for k, v in (obj.get("stringData") or {}).items()})
        return out
    return {k: str(v) for k, v in (obj.get("data") or {}).items()}
