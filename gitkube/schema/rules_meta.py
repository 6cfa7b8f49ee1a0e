"""Object metadata rules: names, namespace, labels, annotations, gitkube's reserved prefix.

Label-map and annotation checks are also used for pod-template and job-template metadata.
"""

from __future__ import annotations

from gitkube.kinds import BY_KIND
from gitkube.labels.validation import NAME_RULES, dns1123_label, dns1123_subdomain, label_key, label_value
from gitkube.schema.problems import Path
from gitkube.schema.rules_base import Problems, as_dict, invalid, unsupported

RESERVED_DOMAIN = "gitkube.io"
PRUNE_LABEL = "gitkube.io/prune"  # the one reserved label users may set: opt an object out of prune
PRUNE_DISABLED = "disabled"


def check_metadata(obj: dict) -> Problems:
    kind = obj.get("kind")
    info = BY_KIND.get(kind) if isinstance(kind, str) else None
    name_rule = NAME_RULES[info.name_rule] if info else dns1123_subdomain
    meta = as_dict(obj.get("metadata"))
    name, generate_name = meta.get("name"), meta.get("generateName")
    if isinstance(generate_name, str) and generate_name:
        if errs := name_rule(_mask_trailing_dash(generate_name)):
            yield invalid(("metadata", "generateName"), "invalid-generate-name", generate_name, "; ".join(errs))
    if isinstance(name, str) and name and (errs := name_rule(name)):
        yield invalid(("metadata", "name"), "invalid-name", name, "; ".join(errs))
    namespace = meta.get("namespace")
    if isinstance(namespace, str) and namespace:
        if errs := dns1123_label(namespace):
            yield invalid(("metadata", "namespace"), "invalid-namespace", namespace, "; ".join(errs))
    yield from check_template_metadata(meta, ("metadata",))


def check_template_metadata(meta: dict, path: Path) -> Problems:
    """Labels and annotations of an object or of a template inside it."""
    yield from check_labels(as_dict(meta.get("labels")), (*path, "labels"), user_labels=True)
    yield from check_annotations(as_dict(meta.get("annotations")), (*path, "annotations"))


def check_labels(labels: dict, path: Path, *, user_labels: bool = False) -> Problems:
    """Keys and values of a label map; `user_labels` also enforces gitkube's reserved prefix.

    Selectors reuse this without the prefix rule: selecting on a gitkube label is harmless.
    """
    for key, value in labels.items():
        if not isinstance(key, str):
            continue
        if errs := label_key(key):
            yield invalid((*path, key), "invalid-label-key", key, "; ".join(errs), at_key=True)
        elif user_labels:
            yield from _check_reserved(key, value, (*path, key))
        if isinstance(value, str) and (errs := label_value(value)):
            yield invalid((*path, key), "invalid-label-value", value, "; ".join(errs))


def _check_reserved(key: str, value: object, path: Path) -> Problems:
    prefix = key.partition("/")[0] if "/" in key else ""
    if prefix != RESERVED_DOMAIN and not prefix.endswith("." + RESERVED_DOMAIN):
        return
    if key != PRUNE_LABEL:
        yield invalid(path, "reserved-label-prefix", key,
                      f"the {RESERVED_DOMAIN}/ label prefix is reserved for gitkube",
                      f"only {PRUNE_LABEL}: {PRUNE_DISABLED} may be set; annotations are not restricted",
                      at_key=True)
    elif value != PRUNE_DISABLED:
        yield unsupported(path, "invalid-prune-label", value, [PRUNE_DISABLED],
                          "any other value would leave the object prunable")


def check_annotations(annotations: dict, path: Path) -> Problems:
    """Annotation keys are qualified names; upstream lower-cases them before checking."""
    for key in annotations:
        if isinstance(key, str) and (errs := label_key(key.lower())):
            yield invalid((*path, key), "invalid-annotation-key", key, "; ".join(errs), at_key=True)


def _mask_trailing_dash(name: str) -> str:
    """apimachinery maskTrailingDash, quirk included: a generateName may end in '-'."""
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name
