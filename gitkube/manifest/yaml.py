"""The YAML reader gitkube uses: ruamel's safe loader with the C parser when available.

Kubernetes reads YAML into JSON, so timestamps stay strings here (a `date: 2024-01-01` label value
is the string "2024-01-01", not a date object).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.nodes import ScalarNode
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
