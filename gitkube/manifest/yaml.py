"""The YAML reader gitkube uses: ruamel's safe loader with the C parser when available.

Kubernetes reads YAML into JSON, so timestamps stay strings here (a `date: 2024-01-01` label value
is the string "2024-01-01", not a date object).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.nodes import MappingNode, ScalarNode
from ruamel.yaml.resolver import VersionedResolver

_CACHE_LIMIT = 200_000


class CachingResolver(VersionedResolver):
    """The tag of a plain scalar depends only on its text; manifests repeat the same texts
    (`name`, `TCP`, `8080`) thousands of times, so remember them instead of re-running regexes."""

    _plain: dict[str, object] = {}

    def resolve(self, kind, value, implicit):  # type: ignore[override]
        if kind is ScalarNode and implicit[0]:
            tag = self._plain.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(self._plain) < _CACHE_LIMIT:
                    self._plain[value] = tag
            return tag
        return super().resolve(kind, value, implicit)


class JsonLikeConstructor(SafeConstructor):
    """Safe constructor whose values are always JSON-compatible."""

    def construct_yaml_timestamp(self, node, values=None):  # type: ignore[override]
        return self.construct_scalar(node)


JsonLikeConstructor.add_constructor("tag:yaml.org,2002:timestamp", JsonLikeConstructor.construct_yaml_timestamp)


@lru_cache(maxsize=1)
def fast_yaml() -> YAML:
    y = YAML(typ="safe")  # picks the C parser when ruamel.yaml.clib is installed
    y.Constructor = JsonLikeConstructor
    y.Resolver = CachingResolver
    return y


def position_error(exc: BaseException) -> tuple[int, int, str]:
    """(line, column, message) of a parser error; 1-based; (0, 0, …) when it carries no mark."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        message = f"{problem} ({context})" if context else str(problem)
    else:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if mark is None:
        return 0, 0, message
    return mark.line + 1, mark.column + 1, message


def drop_nulls(value: Any) -> Any:
    """Kubernetes reads `field: null` (and an empty `field:`) as an absent field."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


MERGE_TAG = "tag:yaml.org,2002:merge"
_SCALAR_CACHE_LIMIT = 200_000
_scalars: dict[tuple[str, str], Any] = {}


class NeedsCarefulLoad(Exception):
    """The document uses something the lean builder leaves to ruamel (merge keys, duplicate keys)."""


def load_documents(text: str) -> list[Any]:
    """All documents of `text`, built from the C-composed node tree by a lean builder: manifests
    repeat the same scalars thousands of times, so their Python values are cached by (tag, text).
    Raises NeedsCarefulLoad (or a YAML error) when the caller must take the position-tracking path."""
    y = fast_yaml()
    constructor = y.constructor
    out: list[Any] = []
    try:
        for node in y.compose_all(text):
            if node is None or (type(node) is ScalarNode and node.ctag.trval == "tag:yaml.org,2002:null"):
                out.append(None)
            else:
                out.append(_build(node, constructor))
    except RecursionError as exc:
        raise NeedsCarefulLoad("recursive alias") from exc
    finally:
        constructor.constructed_objects.clear()
    return out


def _scalar(node: ScalarNode, constructor: Any) -> Any:
    key = (node.ctag.trval, node.value)
    value = _scalars.get(key, _scalars)
    if value is _scalars:
        value = constructor.construct_object(node, deep=True)
        if len(_scalars) < _SCALAR_CACHE_LIMIT and len(node.value) < 256:
            _scalars[key] = value
    return value


def _build(node: Any, constructor: Any) -> Any:
    kind = type(node)
    if kind is ScalarNode:
        return _scalar(node, constructor)
    if kind is MappingNode:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if type(key_node) is not ScalarNode or key_node.ctag.trval == MERGE_TAG:
                raise NeedsCarefulLoad("complex or merge key")
            key = json_key(_scalar(key_node, constructor))
            if key in out:
                raise NeedsCarefulLoad("duplicate key")
            out[key] = _build(value_node, constructor)
        return out
    return [_build(item, constructor) for item in node.value]


def json_key(key: Any) -> str:
    """Keys as a YAML-to-JSON conversion writes them: `true` → "true", `1` → "1"."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return {True: "true", False: "false", None: "null"}[key]
    return str(key)
