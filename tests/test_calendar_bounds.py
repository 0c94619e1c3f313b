"""Calendar arithmetic is bounded (issue #20, item 4): a 99,999,999,999-minute SLA
target ran 49 s of day-by-day walking while holding the SQLite write lock, then
failed with an OverflowError (exit 3).

- One step of arithmetic ends at most MAX_REACH_DAYS after its start; beyond, and
  past the year 9999, it raises CalendarError (an ItsmError: a refusal, exit 1) after
  a bounded walk.
- Calendar.problems says where an entry goes wrong (what invalid-calendar reports).
- duration-too-long's worst case is sound: when lint accepts a duration in a
  calendar, the run-time arithmetic from any start ends within the bound it gave
  (a property test over random weekly patterns, holidays and durations).
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from engine.clock.calendars import MAX_REACH_DAYS, Calendar, CalendarError
from engine.errors import ExitCode, ItsmError
from engine.lint.rules.duration_too_long import LIMIT_DAYS, reach_days
from engine.model import Duration
from engine.clock.sla import target_seconds

UTC = timezone.utc
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OFFICE: dict[str, Any] = {"timezone": "Asia/Shanghai", "hours": {
    d: (["09:00-12:00", "13:00-18:00"] if d not in ("sat", "sun") else []) for d in WEEKDAYS},
    "holidays": [{"from": "2026-10-01", "to": "2026-10-07", "label": {}}]}
START = datetime(2026, 3, 2, 9, tzinfo=UTC)


def timed(call: Any) -> float:
    started = time.perf_counter()
    with pytest.raises(CalendarError, match="would end more than 3660 days later"):
        call()
    return time.perf_counter() - started


@pytest.mark.parametrize("data", [OFFICE, {"timezone": "UTC", "always": True},
                                  {"timezone": "UTC", "hours": {d: (["00:00-00:01"] if d == "sun" else [])
                                                                for d in WEEKDAYS}}],
                         ids=["office", "24x7", "one-minute-a-week"])
@pytest.mark.parametrize("duration", ["99999999999m", "999999999 business days",
                                      "99999999999999999999 business hours"])
def test_arithmetic_beyond_the_reach_is_refused_quickly(data: dict[str, Any], duration: str) -> None:
    cal = Calendar.from_dict("c", data)
    d = Duration.parse(duration)
    assert timed(lambda: cal.add(START, d)) < 2
    if not d.business_days:
        assert timed(lambda: cal.add_working(START, d.seconds)) < 2
        assert timed(lambda: cal.add_working_micros(cal.micros(START), d.seconds * 10**6)) < 2


def test_what_ends_within_the_reach_is_counted() -> None:
    cal = Calendar.from_dict("c", OFFICE)
    end = cal.add(START, Duration.parse("2000 business days"))  # about eight years
    assert 7 * 365 < (end - START).days < MAX_REACH_DAYS
    assert 7 * 365 < (cal.add_working(START, 8 * 3600 * 2000) - START).days < MAX_REACH_DAYS


def test_a_calendar_error_is_a_refusal_not_an_internal_error() -> None:
    cal = Calendar.from_dict("c", OFFICE)
    with pytest.raises(CalendarError) as info:
        cal.add(START, Duration.parse("99999999999m"))
    assert isinstance(info.value, ItsmError) and isinstance(info.value, ValueError)
    assert info.value.exit_code == ExitCode.REFUSED
    assert "calendar 'c'" in info.value.message


@pytest.mark.parametrize("call", [
    lambda cal: cal.add(datetime(9999, 12, 20, tzinfo=UTC), Duration.parse("30 business days")),
    lambda cal: cal.add_working(datetime(9999, 12, 30, tzinfo=UTC), 400 * 3600),
    lambda cal: cal.working_seconds(datetime(9999, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)),
], ids=["add", "add_working", "working_seconds"])
def test_the_end_of_time_is_a_calendar_error(call: Any) -> None:
    with pytest.raises(CalendarError):
        call(Calendar.from_dict("c", OFFICE))


def test_holiday_dates_are_bounded() -> None:
    data = {**OFFICE, "holidays": [{"from": "0001-01-01", "to": "9999-12-31", "label": {}}]}
    started = time.perf_counter()
    with pytest.raises(ValueError, match="more than 100,000 holiday dates"):
        Calendar.from_dict("c", data)
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize("data, problems", [
    ({**OFFICE, "timezone": "Asia/Shangai"}, [("timezone",)]),
    ({**OFFICE, "holidays": [{"date": "2026-02-30"}, {"from": "2026-02-03", "to": "2026-02-01"}],
      "workdays": [{"date": "2026-02-07", "hours_as": "sun"}]},
     [("holidays", 0, "date"), ("holidays", 1, "to"), ("workdays", 0, "hours_as")]),
    ({**OFFICE, "hours": {**OFFICE["hours"], "mon": ["13:00-18:00", "09:00-14:00"], "tue": ["18:00-09:00"]}},
     [("hours", "mon", 0), ("hours", "tue", 0)]),  # the later period overlaps the earlier
    ({**OFFICE, "hours": {d: [] for d in WEEKDAYS}}, [("hours",)]),
    ({**OFFICE, "holidays": [{"from": "2026-01-01", "to": "2026-12-31"},
                             {"from": "2027-01-01", "to": "2029-12-31"}]}, [("holidays", 0)]),
    ({**OFFICE, "holidays": [{"date": "2026-02-14"}], "workdays": [{"date": "2026-02-14"}]}, []),
], ids=["zone", "dates", "periods", "no-hours", "idle-years", "make-up-on-holiday"])
def test_problems_say_where(data: dict[str, Any], problems: list[tuple[Any, ...]]) -> None:
    assert [path for path, _ in Calendar.problems("c", data)] == problems


# -- lint's worst case against the arithmetic -----------------------------------------------

PERIODS = st.sampled_from(["09:00-18:00", "00:00-00:30", "22:00-24:00", "00:00-24:00", "12:00-12:01"])
WEEK = st.fixed_dictionaries({d: st.lists(PERIODS, max_size=1) for d in WEEKDAYS}).filter(
    lambda w: any(w.values()))
HOLIDAYS = st.lists(st.tuples(st.integers(0, 3 * 366), st.integers(0, 400)), max_size=6)
DURATIONS = st.one_of(
    st.integers(1, 5000).map(lambda n: f"{n} business hours"),
    st.integers(1, 600).map(lambda n: f"{n} business days"),
    st.tuples(st.integers(1, 50), st.integers(1, 30)).map(lambda t: f"{t[0]} business days {t[1]} business hours"),
)


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(week=WEEK, holidays=HOLIDAYS, duration=DURATIONS, working=st.booleans(),
       starts=st.lists(st.integers(-400, 4 * 366), min_size=1, max_size=4),
       zone=st.sampled_from(["UTC", "Europe/London", "Asia/Shanghai"]))
def test_what_lint_accepts_ends_within_the_bound_it_gave(
        week: dict[str, list[str]], holidays: list[tuple[int, int]], duration: str, working: bool,
        starts: list[int], zone: str) -> None:
    first = date(2026, 1, 1)
    data = {"timezone": zone, "hours": week, "holidays": [
        {"from": (first + timedelta(days=a)).isoformat(),
         "to": (first + timedelta(days=a + n)).isoformat()} for a, n in holidays]}
    if Calendar.problems("c", data):
        return  # invalid-calendar's finding (e.g. closed for more than three years)
    cal = Calendar.from_dict("c", data)
    d = Duration.parse(duration)
    bound = reach_days(cal, d, working)
    if bound is None or bound > LIMIT_DAYS:
        return  # duration-too-long's finding
    fresh = Calendar.from_dict("c", data)  # nothing cached by lint's own arithmetic
    for offset in starts:
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=offset, hours=offset % 24)
        if working:
            u = fresh.micros(start)
            end = fresh.local(fresh.add_working_micros(u, round(target_seconds(d, fresh) * 10**6)))
        else:
            end = fresh.add(start, d)
        assert (end - start).total_seconds() / 86400 <= bound + 1 / 24, (start, end, bound)
