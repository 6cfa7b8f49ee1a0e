"""The essence of an object: what the user declares, with everything the server adds taken out.

Two objects with equal essences need no apply. Defaults are applied on both sides so that writing
`replicas: 1` or leaving it out makes no difference; server-set metadata, status and gitkube's own
annotations are stripped; values gitkube allocates (a Service's clusterIP, nodePorts) are carried
over from the live object when the manifest leaves them out, as a server-side apply would keep them.
"""

from __future__ import annotations

import base64
GITKUBE_PREFIX = "gitkube.io/"
SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
                   "deletionGracePeriodSeconds", "managedFields", "selfLink", "finalizers")


def essence(obj: dict) -> dict:
    """Defaults applied, server-owned parts removed. Pure: the input is not modified."""
    from gitkube.schema.defaults import apply_defaults

    out = apply_defaults(obj)
    out.pop("status", None)
    md = dict(out.get("metadata") or {})
    for key in SERVER_METADATA:
        md.pop(key, None)
    for key in ("labels", "annotations"):
        values = md.get(key)
        if values:
            kept = {k: v for k, v in values.items() if not (key == "annotations" and k.startswith(GITKUBE_PREFIX))}
            if kept:
                md[key] = kept
            else:
                md.pop(key)
        else:
            md.pop(key, None)
    if not md.get("ownerReferences"):
        md.pop("ownerReferences", None)
    out["metadata"] = md
    if out.get("kind") == "Secret":
        _fold_string_data(out)
    return out


def same_as_written(desired: dict, live: dict) -> bool:
    """Fast path: `live` is exactly `desired` as apply wrote it (plus server metadata, gitkube's
    annotations and status). Then the essences are equal too, and computing them can be skipped;
    only when this says no do we compare with defaults applied."""
    for key, value in desired.items():
        if key != "metadata" and live.get(key) != value:
            return False
    for key in live:
        if key not in desired and key not in ("metadata", "status"):
            return False
    dmd, lmd = desired.get("metadata") or {}, live.get("metadata") or {}
    for key, value in dmd.items():
        if key == "annotations":
            continue
        if lmd.get(key) != value:
            return False
    for key in lmd:
        if key not in dmd and key not in SERVER_METADATA and key != "annotations":
            return False
    live_ann = {k: v for k, v in (lmd.get("annotations") or {}).items() if not k.startswith(GITKUBE_PREFIX)}
    want_ann = {k: v for k, v in (dmd.get("annotations") or {}).items() if not k.startswith(GITKUBE_PREFIX)}
    return live_ann == want_ann


def _fold_string_data(secret: dict) -> None:
    """stringData is write-only: the API server merges it into base64 `data`, and so do we."""
    string_data = secret.pop("stringData", None)
    if not string_data:
        return
    data = dict(secret.get("data") or {})
    for k, v in string_data.items():
        data[k] = base64.b64encode(str(v).encode()).decode()
    secret["data"] = data


def carry_allocated(desired: dict, live: dict | None) -> dict:
    """Desired object with gitkube-allocated values copied from `live` where the manifest is silent:
    a Pod's node binding (the scheduler's), a Service's clusterIP and nodePorts."""
    if not live:
        return desired
    if desired.get("kind") == "Pod":
        node = (live.get("spec") or {}).get("nodeName")
        if node and not (desired.get("spec") or {}).get("nodeName"):
            return {**desired, "spec": {**(desired.get("spec") or {}), "nodeName": node}}
        return desired
    if desired.get("kind") != "Service":
        return desired
    dspec, lspec = desired.get("spec") or {}, live.get("spec") or {}
    spec = dict(dspec)
    changed = False
    for field in ("clusterIP", "clusterIPs"):
        if not spec.get(field) and lspec.get(field) and dspec.get("type") != "ExternalName":
            spec[field] = lspec[field]
            changed = True
    dports, lports = dspec.get("ports") or [], lspec.get("ports") or []
    if dports and lports and spec.get("type") in ("NodePort", "LoadBalancer"):
        by_key = {(p.get("port"), p.get("protocol", "TCP")): p for p in lports if isinstance(p, dict)}
        ports = []
        for p in dports:
            lp = by_key.get((p.get("port"), p.get("protocol", "TCP"))) if isinstance(p, dict) else None
            if isinstance(p, dict) and not p.get("nodePort") and lp and lp.get("nodePort"):
                p = {**p, "nodePort": lp["nodePort"]}
                changed = True
            ports.append(p)
        spec["ports"] = ports
    return {**desired, "spec": spec} if changed else desired


def object_key(obj: dict) -> tuple[str, str, str]:
    md = obj.get("metadata") or {}
    return (obj.get("kind", ""), md.get("namespace", "") or "", md.get("name", ""))
