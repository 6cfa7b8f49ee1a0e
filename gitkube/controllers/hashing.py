"""The pod-template hash: a short, stable name for "this version of the template".

A Deployment names its ReplicaSets `<deployment>-<hash>` and labels their pods
`pod-template-hash=<hash>`; a DaemonSet labels its pods `controller-revision-hash=<hash>`.
Like upstream's `controller.ComputeHash`, the hash is FNV-1a (32 bit) over the template (plus a
collision count), printed as a decimal number and safe-encoded (`rand.SafeEncodeString`) into the
alphabet without vowels and look-alike digits, so it is at most 10 characters and never spells
a word.

The template is hashed with Kubernetes' defaults filled in and the hash labels removed: a manifest
that spells a default and one that leaves it out are the same version, and so is a ReplicaSet's
template (which carries `pod-template-hash`) and the Deployment template it was made from.
"""

from __future__ import annotations

import json

from gitkube.schema.defaults import apply_defaults

POD_TEMPLATE_HASH = "pod-template-hash"  # apps/v1 DefaultDeploymentUniqueLabelKey
CONTROLLER_REVISION_HASH = "controller-revision-hash"  # apps/v1 DefaultDaemonSetUniqueLabelKey
HASH_LABELS = (POD_TEMPLATE_HASH, CONTROLLER_REVISION_HASH)

SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery util/rand: no vowels, no 0/1/3

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv32a(data: bytes) -> int:
    h = _FNV_OFFSET
    for b in data:
        h = ((h ^ b) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each byte mapped into SAFE_ALPHABET."""
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in text.encode())


def canonical_template(template: dict | None) -> dict:
    """The pod template with defaults applied and the controllers' hash labels removed."""
    holder = apply_defaults({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {},
                             "spec": {"template": template or {}}})
    out = holder["spec"]["template"]
    md = out.get("metadata")
    if isinstance(md, dict):
        labels = {k: v for k, v in (md.get("labels") or {}).items() if k not in HASH_LABELS}
        md = {k: v for k, v in md.items() if k != "labels" and v not in (None, {}, [])}
        if labels:
            md["labels"] = labels
        if md:
            out["metadata"] = md
        else:
            out.pop("metadata", None)
    return out


def template_key(template: dict | None) -> str:
    """Canonical JSON of `canonical_template`: equal keys mean the same version of the template."""
    return json.dumps(canonical_template(template), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def same_template(a: dict | None, b: dict | None) -> bool:
    """EqualIgnoreHash: the templates are equal once defaulted and without the hash labels."""
    return template_key(a) == template_key(b)


def template_hash(template: dict | None, collision_count: int = 0) -> str:
    """The hash label value / name suffix for this template (and collision count)."""
    data = template_key(template)
    if collision_count:
        data += f"#{collision_count}"
    return safe_encode(str(fnv32a(data.encode())))
