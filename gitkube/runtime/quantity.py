"""Kubernetes resource quantities (`128Mi`, `1G`, `500m`, `0.5`, `1e3`) turned into what Docker takes.

Exact decimal arithmetic, because `0.1` CPU or `1.5Gi` must not pick up binary-float noise, and
rounding goes up as in Kubernetes (`Quantity.Value()` / `MilliValue()` round toward +infinity).
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "P": Decimal("1e15"), "E": Decimal("1e18"),
}
_QUANTITY = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE]?)")

# Docker refuses NanoCPUs below 0.01 CPU; Kubernetes clamps CFS quota to the same minimum (10m).
MIN_NANO_CPUS = 10_000_000


class QuantityError(ValueError):
    """The string is not a Kubernetes quantity."""


def parse_quantity(value: str | int | float) -> Decimal:
    """The exact value of a quantity (YAML may hand over `2` or `0.5` as numbers)."""
    text = str(value).strip()
    m = _QUANTITY.fullmatch(text)
    if m is None:
        raise QuantityError(f"invalid quantity {value!r}: want e.g. 128Mi, 1G, 500m, 0.5")
    number, suffix = m.groups()
    try:
        base = Decimal(number)
    except InvalidOperation as e:  # pragma: no cover - the regex only admits decimal numbers
        raise QuantityError(f"invalid quantity {value!r}") from e
    if suffix in _BINARY:
        return base * _BINARY[suffix]
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return base.scaleb(int(suffix[1:]))
    return base * _DECIMAL[suffix]


def _ceil(d: Decimal) -> int:
    return int(d.to_integral_value(rounding=ROUND_CEILING))


def to_bytes(value: str | int | float) -> int:
    """Memory quantity → bytes, fractions rounded up (`0.5` → 1)."""
    q = parse_quantity(value)
    if q < 0:
        raise QuantityError(f"memory quantity {value!r} is negative")
    return _ceil(q)


def to_millicpu(value: str | int | float) -> int:
    """CPU quantity → millicores, rounded up like Kubernetes' MilliValue (`1n` → 1)."""
    q = parse_quantity(value)
    if q < 0:
        raise QuantityError(f"cpu quantity {value!r} is negative")
    return _ceil(q * 1000)


def to_nano_cpus(value: str | int | float) -> int:
    """CPU limit → Docker NanoCpus, at millicore precision and at least Docker's minimum."""
    return max(to_millicpu(value) * 1_000_000, MIN_NANO_CPUS)


def to_cpu_shares(value: str | int | float) -> int:
    """CPU request → cgroup cpu.shares as the kubelet computes them (1 CPU = 1024, minimum 2)."""
    return max(to_millicpu(value) * 1024 // 1000, 2)
