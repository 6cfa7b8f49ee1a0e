"""CronJob schedules exactly as Kubernetes reads them (robfig/cron v3 `ParseStandard`).

croniter is laxer than robfig: it accepts 6 fields, day-of-week 7 and `5-1`. So we parse and
validate here with robfig's rules and error texts, then hand croniter an explicit expression
for the next-time arithmetic. The DOM/DOW rule is robfig's: if either field was written as
`*` or `?` (without a step > 1) both must match, otherwise either may match.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from croniter import CroniterBadDateError, croniter

_MONTHS = {n: i for i, n in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_DAYS = {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}


@dataclass(frozen=True, slots=True)
class _Bounds:
    lo: int
    hi: int
    names: dict[str, int] | None = None


_FIELDS = (  # minute, hour, day of month, month, day of week: robfig's bounds
    _Bounds(0, 59),
    _Bounds(0, 23),
    _Bounds(1, 31),
    _Bounds(1, 12, _MONTHS),
    _Bounds(0, 6, _DAYS),
)

_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_EVERY = "@every "
_MAX_YEARS = 5  # robfig gives up (zero time) when nothing matches within five years
_INT64_MAX = 2**63 - 1

# Go's strconv.Atoi accepts an optional sign.
_GO_INT = re.compile(r"[+-]?[0-9]+\Z")
_GO_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

# Kubernetes' validTimeZoneCharacters, applied to each '/'-separated part.
_TZ_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}\Z")


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A validated schedule: the five field sets (or a fixed interval for `@every`)."""

    source: str
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days_of_month: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    days_of_week: frozenset[int] = frozenset()
    dom_star: bool = False  # written as * or ? (robfig's starBit)
    dow_star: bool = False
    every: timedelta | None = None

    @property
    def day_or(self) -> bool:
        """robfig: a day matches on DOM *or* DOW unless either field was a wildcard."""
        return not (self.dom_star or self.dow_star)

    @property
    def croniter_expr(self) -> str:
        """The same schedule spelled for croniter, every set explicit so croniter cannot reinterpret it."""
        if self.every is not None:
            raise ValueError(f"{self.source!r} is a fixed interval, not a cron expression")
        minute, hour, _, month, _ = _FIELDS
        dom = "*" if self.dom_star else _join(self.days_of_month)
        dow = "*" if self.dow_star else _join(self.days_of_week)
        return (f"{_join(self.minutes, minute)} {_join(self.hours, hour)} {dom} "
                f"{_join(self.months, month)} {dow}")

    def next_after(self, dt: datetime) -> datetime | None:
        """The first activation strictly after `dt`, in `dt`'s time zone; None if it never fires.

        None is robfig's zero time: no match within five years (e.g. `59 23 31 2 *`). A wall-clock
        time that a DST jump skips does not fire that day (robfig); croniter would shift it instead.
        """
        if self.every is not None:  # elapsed time, not wall-clock time, as Go's t.Add
            start = dt.replace(microsecond=0)
            if start.tzinfo is None:
                return start + self.every
            return (start.astimezone(timezone.utc) + self.every).astimezone(start.tzinfo)
        sets = (self.minutes, self.hours, self.days_of_month, self.months, self.days_of_week)
        if not all(sets):  # robfig accepts an all-comma field such as "," which selects nothing
            return None
        it = croniter(self.croniter_expr, dt, day_or=self.day_or, max_years_between_matches=_MAX_YEARS)
        try:
            found = it.get_next(datetime)
            # croniter moves a local time that a DST jump skips; robfig skips it instead.
            while not (found.minute in self.minutes and found.hour in self.hours):
                if found.year - dt.year > _MAX_YEARS:
                    return None
                found = it.get_next(datetime)
        except CroniterBadDateError:
            return None
        return found


def _join(values: frozenset[int], full: _Bounds | None = None) -> str:
    """Explicit list; `*` only where a full set cannot change the meaning (not DOM/DOW)."""
    if full is not None and len(values) == full.hi - full.lo + 1:
        return "*"
    return ",".join(str(v) for v in sorted(values))


def parse_schedule(spec: str) -> CronSchedule:
    """Parse `spec` as Kubernetes does on create; ValueError carries robfig's or Kubernetes' message."""
    if not isinstance(spec, str):
        raise ValueError(f"schedule must be a string, got {type(spec).__name__}")
    if not spec:
        raise ValueError("empty spec string")
    if "TZ" in spec:  # Kubernetes rejects any TZ in the schedule on create, before robfig runs
        raise ValueError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    if spec.startswith("@"):
        return _parse_descriptor(spec)
    fields = spec.split()
    if len(fields) != 5:
        raise ValueError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    parsed = [_parse_field(f, b) for f, b in zip(fields, _FIELDS)]
    return CronSchedule(
        source=spec,
        minutes=parsed[0][0],
        hours=parsed[1][0],
        days_of_month=parsed[2][0],
        months=parsed[3][0],
        days_of_week=parsed[4][0],
        dom_star=parsed[2][1],
        dow_star=parsed[4][1],
    )


def _parse_descriptor(spec: str) -> CronSchedule:
    if spec in _DESCRIPTORS:
        return replace(parse_schedule(_DESCRIPTORS[spec]), source=spec)
    if spec.startswith(_EVERY):
        try:
            seconds = _go_duration_seconds(spec[len(_EVERY):])
        except ValueError as e:
            raise ValueError(f"failed to parse duration {spec}: {e}") from None
        # robfig's Every(): at least one second, truncated to whole seconds.
        return CronSchedule(source=spec, every=timedelta(seconds=max(1, int(seconds))))
    raise ValueError(f"unrecognized descriptor: {spec}")


def _parse_field(field: str, bounds: _Bounds) -> tuple[frozenset[int], bool]:
    """One field: comma-separated ranges (empty items are skipped, as Go's FieldsFunc does)."""
    values: set[int] = set()
    star = False
    for expr in (r for r in field.split(",") if r):
        vals, is_star = _parse_range(expr, bounds)
        values |= vals
        star = star or is_star
    return frozenset(values), star


def _parse_range(expr: str, b: _Bounds) -> tuple[set[int], bool]:
    """robfig getRange: `*`, `?`, `a`, `a-b`, each optionally `/step`; `a/n` means `a-max/n`."""
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    star = False
    if low_high[0] in ("*", "?"):  # robfig ignores anything after "*-"; so do we
        start, end, star = b.lo, b.hi, True
    else:
        start = _int_or_name(low_high[0], b.names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], b.names)
        else:
            raise ValueError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _go_uint(range_and_step[1])
        if len(low_high) == 1:
            end = b.hi
        if step > 1:
            star = False  # `*/2` is not a wildcard for the DOM/DOW rule
    else:
        raise ValueError(f"too many slashes: {expr}")
    if start < b.lo:
        raise ValueError(f"beginning of range ({start}) below minimum ({b.lo}): {expr}")
    if end > b.hi:
        raise ValueError(f"end of range ({end}) above maximum ({b.hi}): {expr}")
    if start > end:
        raise ValueError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ValueError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def _int_or_name(s: str, names: dict[str, int] | None) -> int:
    if names and s.lower() in names:
        return names[s.lower()]
    return _go_uint(s)


def _go_uint(s: str) -> int:
    """robfig mustParseInt: strconv.Atoi, then reject negatives."""
    if not _GO_INT.match(s):
        raise ValueError(f'failed to parse int from {s}: strconv.Atoi: parsing "{s}": invalid syntax')
    n = int(s)
    if abs(n) > _INT64_MAX:
        raise ValueError(f'failed to parse int from {s}: strconv.Atoi: parsing "{s}": value out of range')
    if n < 0:
        raise ValueError(f"negative number ({n}) not allowed: {s}")
    return n


def _go_duration_seconds(s: str) -> float:
    """Go's time.ParseDuration (`1h30m`, `1.5s`, `-5m`, `0`), in seconds."""
    text = s
    sign = 1.0
    if text[:1] in ("+", "-"):
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if text == "0":
        return 0.0
    if not text:
        raise ValueError(f'time: invalid duration "{s}"')
    total = 0.0
    pos = 0
    while pos < len(text):
        m = _GO_DURATION_PART.match(text, pos)
        if not m or m.group(1) in ("", "."):
            if re.match(r"[0-9.]+\Z", text[pos:]):
                raise ValueError(f'time: missing unit in duration "{s}"')
            raise ValueError(f'time: invalid duration "{s}"')
        total += float(m.group(1)) * _GO_UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def load_time_zone(name: str) -> zoneinfo.ZoneInfo:
    """CronJob `timeZone`: an explicit IANA name that loads; never `Local`. ValueError otherwise."""
    if not isinstance(name, str) or not name:
        raise ValueError("timeZone must be nil or non-empty string")
    for part in name.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART.match(part):
            raise ValueError(f"unknown time zone {name}")
    if name.lower() == "local":
        raise ValueError("timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name}") from None
