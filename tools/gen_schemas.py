"""Generate gitkube's compact structural schemas for the 14 supported kinds.

Why: the OpenAPI-derived schemas in `kubernetes_validate` are ~1.5 MB of mostly prose for
700 definitions. gitkube needs only the field names, types, enums and required lists of the
definitions reachable from its kinds, in a dialect fastjsonschema understands (draft-07), and a
pre-compiled fast-path validator so that no CLI run pays the compilation cost.

Outputs (commit both after re-running):
  gitkube/schema/data/definitions.json  {"kinds": {Kind: schema}, "definitions": {name: schema}}
  gitkube/schema/_fast_validators.py     fastjsonschema code validating {Kind: object}

Re-run (needs the `bench` extra, i.e. kubernetes-validate, installed):
  python3 tools/gen_schemas.py [--k8s-version 1.33.0]

Transformations, all checked by assertions below:
  - 2020-12 `$defs` and `/api/_definitions.json#/$defs/X` refs become draft-07 `#/definitions/X`,
    with the `io.k8s.api.` / `io.k8s.apimachinery.pkg.` prefixes dropped from names;
  - only structural keywords are kept (type, properties, additionalProperties, required, items,
    enum, $ref); descriptions, formats and x-kubernetes-* extensions are dropped;
  - a `oneOf` of bare types (IntOrString, Quantity) becomes one type union, because with the
    nullable types of the source a `null` would match both branches and fail `oneOf`;
  - every object with properties must already say `additionalProperties: false` (strict).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gitkube.kinds import KINDS, KindInfo  # noqa: E402

OUT_DIR = ROOT / "gitkube" / "schema" / "data"
FAST_MODULE = ROOT / "gitkube" / "schema" / "_fast_validators.py"
KEEP = {"type", "properties", "additionalProperties", "required", "items", "enum", "$ref", "oneOf"}
NAME_PREFIXES = ("io.k8s.api.", "io.k8s.apimachinery.pkg.")
REF_PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")
DRAFT7 = "http://json-schema.org/draft-07/schema#"

Schema = dict[str, Any]


def source_dir(k8s_version: str) -> Path:
    import kubernetes_validate

    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    return base / f"v{k8s_version}-local-strict"


def kind_file(info: KindInfo) -> str:
    """`job-batch-v1.json`, `ingress-networking-v1.json`, `pod-v1.json`."""
    group = info.group.split(".")[0]
    parts = [info.kind.lower(), group, info.version] if group else [info.kind.lower(), info.version]
    return "-".join(parts) + ".json"


def short_name(name: str) -> str:
    for prefix in NAME_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def source_ref_name(ref: str) -> str:
    for prefix in REF_PREFIXES:
        if ref.startswith(prefix):
            return ref[len(prefix):]
    raise ValueError(f"unexpected $ref {ref!r}")


def clean(node: Schema) -> Schema:
    """Keep the structural keywords of one schema node, recursively."""
    out: Schema = {}
    for key, value in node.items():
        if key not in KEEP:
            continue
        if key == "$ref":
            out[key] = "#/definitions/" + short_name(source_ref_name(value))
        elif key == "properties":
            out[key] = {name: clean(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = clean(value)
        elif key == "oneOf":
            out.update(merge_type_union(value))
        else:
            out[key] = value
    if "$ref" in out and len(out) > 1:
        raise ValueError(f"$ref with structural siblings: {out}")
    return out


def merge_type_union(branches: list[Schema]) -> Schema:
    """oneOf [{type: [string, null]}, {type: [integer, null]}] -> {type: [string, integer, null]}."""
    types: list[str] = []
    for branch in branches:
        if set(branch) != {"type"}:
            raise ValueError(f"oneOf branch is not a bare type: {branch}")
        for t in [branch["type"]] if isinstance(branch["type"], str) else branch["type"]:
            if t not in types:
                types.append(t)
    types.sort(key=lambda t: t == "null")
    return {"type": types}


def refs_in(node: Any) -> set[str]:
    if isinstance(node, dict):
        found, children = ({node["$ref"]} if isinstance(node.get("$ref"), str) else set()), node.values()
    elif isinstance(node, list):
        found, children = set(), node
    else:
        return set()
    for child in children:
        found |= refs_in(child)
    return found


def reachable(roots: list[Schema], source_defs: dict[str, Schema]) -> dict[str, Schema]:
    """Cleaned definitions reachable from the kind roots, keyed by short name."""
    by_short = {short_name(name): name for name in source_defs}
    if len(by_short) != len(source_defs):
        raise ValueError("short definition names collide")
    out: dict[str, Schema] = {}
    todo = [ref for root in roots for ref in refs_in(root)]
    while todo:
        name = todo.pop().removeprefix("#/definitions/")
        if name in out:
            continue
        out[name] = clean(source_defs[by_short[name]])
        todo.extend(refs_in(out[name]))
    return dict(sorted(out.items()))


def assert_strict(node: Any, where: str) -> None:
    if isinstance(node, dict):
        if "properties" in node and node.get("additionalProperties") is not False:
            raise ValueError(f"{where}: object with properties is not strict")
        for key, value in node.items():
            assert_strict(value, f"{where}/{key}")


def build(k8s_version: str) -> Schema:
    src = source_dir(k8s_version)
    source_defs = json.loads((src / "_definitions.json").read_text())["$defs"]
    kinds = {info.kind: clean(json.loads((src / kind_file(info)).read_text())) for info in KINDS}
    bundle = {"kinds": kinds, "definitions": reachable(list(kinds.values()), source_defs)}
    assert_strict(bundle, "")
    return bundle


def fast_code(bundle: Schema) -> str:
    """One fastjsonschema module for all kinds; validates {Kind: object} so definitions are shared."""
    import fastjsonschema

    schema = {
        "$schema": DRAFT7,
        "definitions": bundle["definitions"],
        "type": "object",
        "properties": bundle["kinds"],
    }
    header = f'"""Generated by tools/gen_schemas.py from the Kubernetes OpenAPI schemas; do not edit."""\n'
    code = fastjsonschema.compile_to_code(schema, use_default=False, use_formats=False,
                                          detailed_exceptions=False)
    return header + "# fmt: off\n# ruff: noqa\n" + code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k8s-version", default="1.33.0")
    args = parser.parse_args()
    text = json.dumps(build(args.k8s_version), separators=(",", ":"), sort_keys=True)
    bundle = json.loads(text)  # generate the code from exactly what is committed, key order included
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "definitions.json").write_text(text + "\n")
    FAST_MODULE.write_text(fast_code(bundle))
    print(f"{len(bundle['kinds'])} kinds, {len(bundle['definitions'])} definitions -> {OUT_DIR}")


if __name__ == "__main__":
    main()
