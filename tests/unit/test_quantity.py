"""Kubernetes quantities → Docker values, table-driven."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gitkube.runtime.quantity import (
    QuantityError,
    parse_quantity,
    to_bytes,
    to_cpu_shares,
    to_millicpu,
    to_nano_cpus,
)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("0", Decimal(0)),
        ("2", Decimal(2)),
        (2, Decimal(2)),
        (0.5, Decimal("0.5")),
        ("0.5", Decimal("0.5")),
        (".5", Decimal("0.5")),
        ("5.", Decimal(5)),
        ("+1", Decimal(1)),
        ("-1", Decimal(-1)),
        ("500m", Decimal("0.5")),
        ("100u", Decimal("0.0001")),
        ("7n", Decimal("7e-9")),
        ("1k", Decimal(1000)),
        ("1M", Decimal(10**6)),
        ("1G", Decimal(10**9)),
        ("1T", Decimal(10**12)),
        ("1P", Decimal(10**15)),
        ("1E", Decimal(10**18)),
        ("1Ki", Decimal(1024)),
        ("128Mi", Decimal(128 * 2**20)),
        ("1.5Gi", Decimal(3 * 2**29)),
        ("1Ti", Decimal(2**40)),
        ("1Pi", Decimal(2**50)),
        ("1Ei", Decimal(2**60)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("12e-3", Decimal("0.012")),
        ("1.5e+2", Decimal(150)),
        (" 64Mi ", Decimal(64 * 2**20)),
    ],
)
def test_parse(text: str | int | float, want: Decimal) -> None:
    assert parse_quantity(text) == want


@pytest.mark.parametrize("text", ["", "Mi", "1K", "1ki", "1MB", "1e", "1.2.3", "abc", "1 Mi", "--1", "1m5"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("128Mi", 134_217_728),
        ("1G", 1_000_000_000),
        ("1Gi", 1_073_741_824),
        ("64", 64),
        ("0.5", 1),  # fractional bytes round up, as Quantity.Value() does
        ("1500m", 2),
        ("1e6", 1_000_000),
    ],
)
def test_to_bytes(text: str, want: int) -> None:
    assert to_bytes(text) == want


@pytest.mark.parametrize(
    ("text", "milli", "nano", "shares"),
    [
        ("500m", 500, 500_000_000, 512),
        ("0.5", 500, 500_000_000, 512),
        (0.5, 500, 500_000_000, 512),
        ("2", 2000, 2_000_000_000, 2048),
        (2, 2000, 2_000_000_000, 2048),
        ("1", 1000, 1_000_000_000, 1024),
        ("100m", 100, 100_000_000, 102),
        ("1m", 1, 10_000_000, 2),  # below Docker's 0.01 CPU floor / the 2-share minimum
        ("1n", 1, 10_000_000, 2),  # rounds up to one millicore
        ("0", 0, 10_000_000, 2),
        ("250.5m", 251, 251_000_000, 257),
    ],
)
def test_cpu(text: str | float, milli: int, nano: int, shares: int) -> None:
    assert to_millicpu(text) == milli
    assert to_nano_cpus(text) == nano
    assert to_cpu_shares(text) == shares


@pytest.mark.parametrize("fn", [to_bytes, to_millicpu, to_nano_cpus])
def test_negative_rejected(fn) -> None:
    with pytest.raises(QuantityError):
        fn("-1")
