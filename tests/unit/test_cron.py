"""CronJob schedules: Kubernetes' (robfig ParseStandard) acceptance, errors, and next times."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitkube.schema.cron import load_time_zone, parse_schedule

VALID = [
    pytest.param("*/15 * * * *", {"minutes": {0, 15, 30, 45}}, id="a step over a star is accepted"),
    pytest.param("0 9 * * 1-5", {"hours": {9}, "days_of_week": {1, 2, 3, 4, 5}}, id="a weekday range is accepted"),
    pytest.param("0 0 1 jan,JUL *", {"months": {1, 7}}, id="month names are case-insensitive"),
    pytest.param("0 0 * * Sun,sat", {"days_of_week": {0, 6}}, id="day names are case-insensitive"),
    pytest.param("5/20 * * * *", {"minutes": {5, 25, 45}}, id="a/n means a to the field maximum every n"),
    pytest.param("10-20/5 * * * *", {"minutes": {10, 15, 20}}, id="a stepped range is accepted"),
    pytest.param("*/61 * * * *", {"minutes": {0}}, id="a step larger than the range keeps only the start"),
    pytest.param("0 0 ? * *", {"days_of_month": set(range(1, 32))}, id="a question mark means any"),
    pytest.param("0 0 1,,15 * *", {"days_of_month": {1, 15}}, id="empty list items are skipped as robfig does"),
    pytest.param("  0   0  *  *  *  ", {"hours": {0}}, id="extra whitespace between fields is ignored"),
    pytest.param("@yearly", {"months": {1}, "days_of_month": {1}}, id="the yearly descriptor is accepted"),
    pytest.param("@annually", {"months": {1}, "days_of_month": {1}}, id="the annually descriptor is accepted"),
    pytest.param("@monthly", {"days_of_month": {1}}, id="the monthly descriptor is accepted"),
    pytest.param("@weekly", {"days_of_week": {0}}, id="the weekly descriptor is accepted"),
    pytest.param("@daily", {"hours": {0}, "minutes": {0}}, id="the daily descriptor is accepted"),
    pytest.param("@midnight", {"hours": {0}, "minutes": {0}}, id="the midnight descriptor is accepted"),
    pytest.param("@hourly", {"minutes": {0}, "hours": set(range(24))}, id="the hourly descriptor is accepted"),
    pytest.param("@every 5m", {"every": timedelta(minutes=5)}, id="every with a Go duration is accepted"),
    pytest.param("@every 1h30m", {"every": timedelta(minutes=90)}, id="every with a compound duration is accepted"),
    pytest.param("@every 1.5s", {"every": timedelta(seconds=1)}, id="every truncates to whole seconds"),
    pytest.param("@every 300ms", {"every": timedelta(seconds=1)}, id="every is at least one second"),
]


@pytest.mark.parametrize("spec, fields", VALID)
def test_valid_schedules_parse(spec: str, fields: dict) -> None:
    schedule = parse_schedule(spec)
    for name, expected in fields.items():
        assert getattr(schedule, name) == expected


INVALID = [
    pytest.param("", "empty spec string", id="an empty schedule is rejected"),
    pytest.param("* * * * * *", "expected exactly 5 fields, found 6", id="six fields are rejected"),
    pytest.param("* * * *", "expected exactly 5 fields, found 4", id="four fields are rejected"),
    pytest.param("* * * * 7", "end of range (7) above maximum (6): 7", id="day-of-week 7 is rejected"),
    pytest.param("TZ=UTC 0 * * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                 id="a TZ prefix is rejected in favour of timeZone"),
    pytest.param("CRON_TZ=Europe/Berlin 0 * * * *", "cannot use TZ or CRON_TZ in schedule",
                 id="a CRON_TZ prefix is rejected"),
    pytest.param("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1",
                 id="a reversed range is rejected"),
    pytest.param("60 * * * *", "end of range (60) above maximum (59): 60", id="minute 60 is rejected"),
    pytest.param("* 24 * * *", "above maximum (23)", id="hour 24 is rejected"),
    pytest.param("* * 0 * *", "beginning of range (0) below minimum (1): 0", id="day-of-month 0 is rejected"),
    pytest.param("* * * 13 *", "above maximum (12)", id="month 13 is rejected"),
    pytest.param("* * * january *", 'failed to parse int from january', id="full month names are rejected"),
    pytest.param("* * * * monday", 'failed to parse int from monday', id="full day names are rejected"),
    pytest.param("*/0 * * * *", "step of range should be a positive number: */0", id="a zero step is rejected"),
    pytest.param("1-2-3 * * * *", "too many hyphens: 1-2-3", id="two hyphens are rejected"),
    pytest.param("*/2/3 * * * *", "too many slashes: */2/3", id="two slashes are rejected"),
    pytest.param("*/-1 * * * *", "negative number (-1) not allowed", id="a negative step is rejected"),
    pytest.param("L * * * *", "failed to parse int from L", id="croniter extensions such as L are rejected"),
    pytest.param("@every 5", 'missing unit in duration "5"', id="every without a unit is rejected"),
    pytest.param("@every five minutes", "failed to parse duration", id="every with words is rejected"),
    pytest.param("@reboot", "unrecognized descriptor: @reboot", id="unknown descriptors are rejected"),
    pytest.param("@Daily", "unrecognized descriptor: @Daily", id="descriptors are case-sensitive"),
]


@pytest.mark.parametrize("spec, message", INVALID)
def test_invalid_schedules_raise_with_robfigs_message(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        parse_schedule(spec)


UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")

NEXT = [
    pytest.param("*/15 * * * *", datetime(2024, 1, 1, 10, 7, 30), datetime(2024, 1, 1, 10, 15),
                 id="the next quarter hour follows"),
    pytest.param("0 * * * *", datetime(2024, 1, 1, 10, 0), datetime(2024, 1, 1, 11, 0),
                 id="a time that matches exactly is not returned: next is strictly after"),
    pytest.param("0 0 13 * 5", datetime(2024, 1, 1), datetime(2024, 1, 5),
                 id="restricted day-of-month and day-of-week match on either: a Friday first"),
    pytest.param("0 0 13 * 5", datetime(2024, 1, 12, 0, 0), datetime(2024, 1, 13),
                 id="restricted day-of-month and day-of-week match on either: the 13th, a Saturday"),
    pytest.param("0 0 * * 5", datetime(2024, 1, 1), datetime(2024, 1, 5),
                 id="a star day-of-month leaves only the day-of-week"),
    pytest.param("0 0 13 * *", datetime(2024, 1, 1), datetime(2024, 1, 13),
                 id="a star day-of-week leaves only the day-of-month"),
    pytest.param("0 0 ? * mon", datetime(2024, 1, 1), datetime(2024, 1, 8),
                 id="a question mark day-of-month is a wildcard for the AND rule"),
    pytest.param("0 0 */1 * mon", datetime(2024, 1, 1), datetime(2024, 1, 8),
                 id="a star with step 1 is still a wildcard for the AND rule"),
    pytest.param("0 0 */2 * mon", datetime(2024, 1, 1), datetime(2024, 1, 3),
                 id="a star with step 2 is not a wildcard, so the OR rule applies"),
    pytest.param("0 0 1-31 * mon", datetime(2024, 1, 1), datetime(2024, 1, 2),
                 id="an explicit full day-of-month range is not a wildcard and matches every day"),
    pytest.param("5/20 * * * *", datetime(2024, 1, 1, 10, 6), datetime(2024, 1, 1, 10, 25),
                 id="a/n fires at a plus multiples of n"),
    pytest.param("@weekly", datetime(2024, 1, 1), datetime(2024, 1, 7), id="weekly fires on Sunday midnight"),
    pytest.param("@yearly", datetime(2024, 6, 1), datetime(2025, 1, 1), id="yearly fires on New Year"),
    pytest.param("0 0 29 2 *", datetime(2024, 3, 1), datetime(2028, 2, 29),
                 id="the 29th of February waits for a leap year"),
    pytest.param("@every 90m", datetime(2024, 1, 1, 10, 0, 30, 500000), datetime(2024, 1, 1, 11, 30, 30),
                 id="every adds its interval to the given time truncated to the second"),
    pytest.param("0 12 * * *", datetime(2024, 3, 30, 12, 0, tzinfo=BERLIN), datetime(2024, 3, 31, 12, 0, tzinfo=BERLIN),
                 id="an aware time is answered in its own zone across a DST change"),
    pytest.param("30 2 * * *", datetime(2024, 3, 30, 12, 0, tzinfo=BERLIN), datetime(2024, 4, 1, 2, 30, tzinfo=BERLIN),
                 id="a local time skipped by the DST jump does not fire that day"),
    pytest.param("@every 1h", datetime(2024, 3, 31, 1, 30, tzinfo=BERLIN), datetime(2024, 3, 31, 3, 30, tzinfo=BERLIN),
                 id="every counts elapsed time across a DST jump"),
]


@pytest.mark.parametrize("spec, after, expected", NEXT)
def test_next_after(spec: str, after: datetime, expected: datetime) -> None:
    assert parse_schedule(spec).next_after(after) == expected


@pytest.mark.parametrize("spec", [
    pytest.param("59 23 31 2 *", id="the 31st of February is valid but never fires"),
    pytest.param(", * * * *", id="an all-comma field is valid but selects nothing"),
])
def test_schedules_that_never_fire_have_no_next_time(spec: str) -> None:
    assert parse_schedule(spec).next_after(datetime(2024, 1, 1, tzinfo=UTC)) is None


def test_croniter_expression_keeps_day_fields_explicit() -> None:
    schedule = parse_schedule("0 0 1-31 * mon")
    assert schedule.croniter_expr == "0 0 " + ",".join(map(str, range(1, 32))) + " * 1"
    assert schedule.day_or is True
    assert parse_schedule("0 9 * * 1-5").day_or is False


TIME_ZONES = [
    pytest.param("Europe/Berlin", "", id="an IANA zone loads"),
    pytest.param("UTC", "", id="UTC loads"),
    pytest.param("Local", "timeZone must be an explicit time zone", id="Local is rejected"),
    pytest.param("", "timeZone must be nil or non-empty string", id="an empty zone is rejected"),
    pytest.param("Mars/Olympus_Mons", "unknown time zone Mars/Olympus_Mons", id="an unknown zone is rejected"),
    pytest.param("../etc/passwd", "unknown time zone", id="a path escape is rejected"),
    pytest.param("America", "unknown time zone America", id="a zone directory is rejected"),
    pytest.param("Europe/Berlin ", "unknown time zone", id="a trailing space is rejected"),
]


@pytest.mark.parametrize("name, error", TIME_ZONES)
def test_time_zones(name: str, error: str) -> None:
    if error:
        with pytest.raises(ValueError, match=error):
            load_time_zone(name)
    else:
        assert load_time_zone(name).key == name


# --- property: next_after agrees with the parsed fields and robfig's day rule ------------------

def _field(lo: int, hi: int) -> st.SearchStrategy[str]:
    value = st.integers(lo, hi)
    single = value.map(str)
    span = st.tuples(value, value).map(sorted).map(lambda ab: f"{ab[0]}-{ab[1]}")
    step = st.integers(1, hi - lo + 2)
    stepped = st.one_of(
        step.map(lambda n: f"*/{n}"),
        st.tuples(span, step).map(lambda t: f"{t[0]}/{t[1]}"),
        st.tuples(single, step).map(lambda t: f"{t[0]}/{t[1]}"),
    )
    item = st.one_of(st.just("*"), st.just("?"), single, span, stepped)
    return st.lists(item, min_size=1, max_size=3).map(",".join)


SPECS = st.tuples(_field(0, 59), _field(0, 23), _field(1, 31), _field(1, 12), _field(0, 6)).map(" ".join)
STARTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1))


def _day_matches(schedule, day: date) -> bool:
    dom = day.day in schedule.days_of_month
    dow = (day.isoweekday() % 7) in schedule.days_of_week
    both_or_either = (dom or dow) if schedule.day_or else (dom and dow)
    return day.month in schedule.months and both_or_either


def _first_on(schedule, day: date, after: datetime) -> datetime | None:
    for hour in sorted(schedule.hours):
        for minute in sorted(schedule.minutes):
            candidate = datetime.combine(day, time(hour, minute))
            if candidate > after:
                return candidate
    return None


@settings(max_examples=300, deadline=None)
@given(SPECS, STARTS)
def test_next_after_is_the_first_matching_minute(spec: str, start: datetime) -> None:
    """Checked by brute force over days, independently of croniter."""
    schedule = parse_schedule(spec)
    found = schedule.next_after(start)
    day = start.date()
    limit = found.date() if found else start.date() + timedelta(days=4 * 365)
    while day < limit:
        if _day_matches(schedule, day):
            assert _first_on(schedule, day, start) is None, f"{spec!r} skipped {day}"
        day += timedelta(days=1)
    if found is not None:
        assert found > start and found.second == 0 and found.microsecond == 0
        assert _day_matches(schedule, found.date())
        assert found == _first_on(schedule, found.date(), start)
