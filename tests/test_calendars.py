"""Business-hours arithmetic: hand-computed cases, DST, properties, errors."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from engine.clock.calendars import Calendar, load_calendars
from engine.definitions.loader import load_file
from engine.model import CodeValue, Duration, FrozenMap, Label, Where
from engine.definitions.specs import build_table

SH = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")
NY = ZoneInfo("America/New_York")
SPLIT = ["09:00-12:00", "13:00-18:00"]
HOUR = 3600

HEAD_OFFICE: dict[str, Any] = {
    "label": {"en": "Head office", "zh": "总公司"},
    "timezone": "Asia/Shanghai",
    "hours": {"mon": SPLIT, "tue": SPLIT, "wed": SPLIT, "thu": SPLIT, "fri": SPLIT,
              "sat": [], "sun": []},
    "holidays": [
        {"from": "2026-01-01", "to": "2026-01-03", "label": {"en": "New Year"}},
        {"from": "2026-02-15", "to": "2026-02-23", "label": {"en": "Spring Festival"}},
        {"from": "2026-04-04", "to": "2026-04-06", "label": {"en": "Qingming"}},
        {"from": "2026-10-01", "to": "2026-10-07", "label": {"en": "National Day"}},
        {"date": "2027-01-01", "label": {"en": "New Year 2027"}},
    ],
    "workdays": [
        {"date": "2026-01-04", "label": {"en": "make-up"}},
        {"date": "2026-02-14", "label": {"en": "make-up"}},
        {"date": "2026-02-28", "label": {"en": "make-up"}},
        {"date": "2026-09-20", "label": {"en": "make-up"}},
        {"date": "2026-10-10", "label": {"en": "make-up"}},
    ],
}


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


def hours(*periods: str, days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")) -> dict[str, Any]:
    return {d: list(periods) if d in days else [] for d in
            ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture(scope="module")
def office() -> Calendar:
    return Calendar.from_dict("head_office", HEAD_OFFICE)


# -- hand-computed cases -------------------------------------------------------

def test_friday_afternoon_plus_four_hours_ends_monday_noon(office: Calendar) -> None:
    # Fri 17-18 is 1h, Mon 09-12 is 3h: the earliest instant is 12:00, not 13:00.
    due = office.add_working(sh(2026, 3, 6, 17), 4 * HOUR)
    assert due == sh(2026, 3, 9, 12)
    assert due.tzinfo is SH
    assert office.add(sh(2026, 3, 6, 17), Duration.parse("4h")) == sh(2026, 3, 9, 12)
    assert office.add(sh(2026, 3, 6, 17), Duration.parse("4 business hours")) == sh(2026, 3, 9, 12)
    assert office.add(sh(2026, 3, 6, 17), Duration.parse("PT4H")) == sh(2026, 3, 9, 12)
    assert not office.is_working(due)
    assert office.next_working(due) == sh(2026, 3, 9, 13)


def test_lunch_break_is_skipped(office: Calendar) -> None:
    assert office.add(sh(2026, 3, 10, 11, 45), Duration.parse("30m")) == sh(2026, 3, 10, 13, 15)
    assert office.working_seconds(sh(2026, 3, 10, 11, 45), sh(2026, 3, 10, 13, 15)) == 1800


def test_week_and_day_totals(office: Calendar) -> None:
    assert office.working_seconds(sh(2026, 3, 9), sh(2026, 3, 16)) == 40 * HOUR
    assert office.working_seconds(sh(2026, 3, 16), sh(2026, 3, 9)) == 0
    assert office.intervals(date(2026, 3, 9)) == [
        (sh(2026, 3, 9, 9), sh(2026, 3, 9, 12)), (sh(2026, 3, 9, 13), sh(2026, 3, 9, 18))]
    assert office.intervals(date(2026, 3, 7)) == []  # Saturday


def test_make_up_saturday_is_worked_and_holiday_skipped(office: Calendar) -> None:
    # Fri 2026-02-13 17:00 + 2h: 1h on Friday, 1h on make-up Saturday 2026-02-14.
    assert office.add_working(sh(2026, 2, 13, 17), 2 * HOUR) == sh(2026, 2, 14, 10)
    assert office.is_working(sh(2026, 2, 14, 9))
    # Sat 14th 17:00 + 2h: 1h that day, then Spring Festival 15th..23rd, Tue 24th 10:00.
    assert office.add_working(sh(2026, 2, 14, 17), 2 * HOUR) == sh(2026, 2, 24, 10)
    assert office.working_seconds(sh(2026, 2, 14), sh(2026, 3, 1)) == (8 + 4 * 8 + 8) * HOUR
    assert not office.is_working(sh(2026, 2, 16, 10))
    assert office.next_working(sh(2026, 2, 16, 10)) == sh(2026, 2, 24, 9)
    # An ordinary Saturday stays closed.
    assert office.next_working(sh(2026, 3, 7, 10)) == sh(2026, 3, 9, 9)


@pytest.mark.parametrize("closure", [("2026-01-01", "2026-01-20"), ("2025-12-20", "2026-02-01"),
                                     ("2026-01-05", "2026-01-05")])
def test_the_standard_day_is_the_weekly_hours_whatever_the_holidays(office: Calendar,
                                                                    closure: tuple[str, str]) -> None:
    """"1 business day" of an SLA target is the longest day of the weekly hours (8 h
    here). A closure over the fortnight it used to be read from made it 24 hours,
    and every such target of the year three times as long."""
    closed = dict(HEAD_OFFICE, holidays=[{"from": closure[0], "to": closure[1], "label": {"en": "Closed"}}],
                  workdays=[])
    assert Calendar.from_dict("head_office", closed).standard_day_seconds == 8 * HOUR
    assert office.standard_day_seconds == 8 * HOUR
    night = Calendar.from_dict("night", {"timezone": "Asia/Shanghai", "hours": hours("22:00-24:00", "00:00-06:00")})
    assert night.standard_day_seconds == 8 * HOUR  # (the week's longest day: two spans of one date)


def test_business_days(office: Calendar) -> None:
    three = Duration.parse("3 business days")
    assert office.add(sh(2026, 3, 6, 17), three) == sh(2026, 3, 11, 17)
    one = Duration.parse("1 business day")
    assert office.add(sh(2026, 3, 6, 17), one) == sh(2026, 3, 9, 17)
    # Outside hours: first to the next opening (Mon 09:00), then one day on.
    assert office.add(sh(2026, 3, 6, 20), one) == sh(2026, 3, 10, 9)
    assert office.add(sh(2026, 3, 6, 18), one) == sh(2026, 3, 10, 9)
    # The make-up Sunday 2026-09-20 counts; National Day is skipped.
    assert office.add(sh(2026, 9, 18, 17), three) == sh(2026, 9, 22, 17)
    assert office.add(sh(2026, 9, 30, 10), one) == sh(2026, 10, 8, 10)
    # Days first, then hours as working time: Wed 17:00 + 1h crosses the evening.
    mixed = Duration(HOUR, business=True, business_days=2, text="2 business days 1 business hour")
    assert office.add(sh(2026, 3, 9, 17, 30), mixed) == sh(2026, 3, 12, 9, 30)


def test_business_day_landing_in_a_break_or_after_a_short_day() -> None:
    cal = Calendar.from_dict("shifts", {"timezone": "Asia/Shanghai", "hours": {
        "mon": ["09:00-18:00"], "tue": SPLIT, "wed": ["09:00-18:00"], "thu": ["09:00-18:00"],
        "fri": ["09:00-15:00"], "sat": [], "sun": []}})
    one = Duration.parse("1 business day")
    assert cal.add(sh(2026, 3, 9, 12, 30), one) == sh(2026, 3, 10, 13)  # Tue lunch
    assert cal.add(sh(2026, 3, 12, 16), one) == sh(2026, 3, 16, 9)  # Fri closes at 15:00


def test_year_boundary(office: Calendar) -> None:
    # Thu 2026-12-31 17:00 + 2h: 1h, then the declared 2027-01-01 holiday and the weekend.
    assert office.add_working(sh(2026, 12, 31, 17), 2 * HOUR) == sh(2027, 1, 4, 10)
    assert office.working_seconds(sh(2026, 12, 31, 17), sh(2027, 1, 4, 10)) == 2 * HOUR
    undeclared = Calendar.from_dict("x", {**HEAD_OFFICE, "holidays": []})
    assert undeclared.add_working(sh(2026, 12, 31, 17), 2 * HOUR) == sh(2027, 1, 1, 10)


def test_other_time_zone_input_and_output(office: Calendar) -> None:
    start = datetime(2026, 3, 6, 9, tzinfo=timezone.utc)  # Fri 17:00 in Shanghai
    due = office.add_working(start, 4 * HOUR)
    assert due == sh(2026, 3, 9, 12) and due.tzinfo is SH
    assert office.is_working(datetime(2026, 3, 9, 1, tzinfo=timezone.utc))


def test_always_calendar() -> None:
    cal = Calendar.always_open("Asia/Shanghai")
    assert cal.always and cal.tz.key == "Asia/Shanghai"
    assert cal.add(sh(2026, 3, 6, 17), Duration.parse("4h")) == sh(2026, 3, 6, 21)
    assert cal.add(sh(2026, 3, 6, 17), Duration.parse("2 business days")) == sh(2026, 3, 8, 17)
    assert cal.is_working(sh(2026, 2, 17, 3))
    assert cal.intervals(date(2026, 3, 6)) == [(sh(2026, 3, 6), sh(2026, 3, 7))]


def test_adding_zero_returns_the_start(office: Calendar) -> None:
    assert office.add_working(sh(2026, 3, 7, 10), 0) == sh(2026, 3, 7, 10)


# -- daylight saving -----------------------------------------------------------

def test_london_weekdays_across_both_changes() -> None:
    cal = Calendar.from_dict("london", {"timezone": "Europe/London", "hours": hours("09:00-17:00")})
    fri, mon = date(2026, 3, 27), date(2026, 3, 30)  # clocks go forward Sun 29th
    assert cal.intervals(fri) == [(datetime(2026, 3, 27, 9, tzinfo=LONDON),
                                   datetime(2026, 3, 27, 17, tzinfo=LONDON))]
    assert cal.intervals(mon)[0][0] == datetime(2026, 3, 30, 8, tzinfo=timezone.utc)
    start = datetime(2026, 3, 27, 16, tzinfo=LONDON)
    assert cal.add_working(start, 2 * HOUR) == datetime(2026, 3, 30, 10, tzinfo=LONDON)
    assert cal.working_seconds(datetime(2026, 3, 27, 9, tzinfo=LONDON),
                               datetime(2026, 3, 30, 17, tzinfo=LONDON)) == 16 * HOUR
    start = datetime(2026, 10, 23, 16, tzinfo=LONDON)  # clocks go back Sun 25th
    assert cal.add_working(start, 2 * HOUR) == datetime(2026, 10, 26, 10, tzinfo=LONDON)
    assert cal.intervals(date(2026, 10, 26))[0][0] == datetime(2026, 10, 26, 9, tzinfo=timezone.utc)


def test_london_sunday_periods_count_real_time() -> None:
    cal = Calendar.from_dict("london", {"timezone": "Europe/London", "hours": {
        **hours(), "sun": ["00:30-02:30", "09:00-17:00"]}})
    spring, autumn = date(2026, 3, 29), date(2026, 10, 25)
    def total(day: date) -> float:
        return sum((b - a).total_seconds() for a, b in
                   ((x.astimezone(timezone.utc), y.astimezone(timezone.utc))
                    for x, y in cal.intervals(day)))
    # 00:30-02:30 loses the skipped hour in spring and gains the repeated one in autumn.
    assert total(spring) == (1 + 8) * HOUR
    assert total(autumn) == (3 + 8) * HOUR
    assert cal.working_seconds(datetime(2026, 3, 29, tzinfo=LONDON),
                               datetime(2026, 3, 30, tzinfo=LONDON)) == 9 * HOUR
    assert cal.add_working(datetime(2026, 3, 29, tzinfo=LONDON), 0.5 * HOUR) == \
        datetime(2026, 3, 29, 1, tzinfo=timezone.utc)  # 02:00 BST, the jump itself
    assert cal.add_working(datetime(2026, 3, 29, tzinfo=LONDON), 0.75 * HOUR) == \
        datetime(2026, 3, 29, 2, 15, tzinfo=LONDON)


def test_period_starting_in_the_skipped_hour_starts_at_the_jump() -> None:
    cal = Calendar.from_dict("night", {"timezone": "Europe/London",
                                       "hours": {**hours(), "sun": ["01:30-03:00"]}})
    [(a, b)] = cal.intervals(date(2026, 3, 29))
    assert a == datetime(2026, 3, 29, 1, tzinfo=timezone.utc)
    assert b == datetime(2026, 3, 29, 2, tzinfo=timezone.utc)
    assert cal.intervals(date(2026, 3, 22))[0][1] - cal.intervals(date(2026, 3, 22))[0][0] \
        == timedelta(hours=1, minutes=30)


def test_round_the_clock_new_york_days_are_23_and_25_hours() -> None:
    cal = Calendar.from_dict("ny", {"timezone": "America/New_York", "always": True})
    def day(d: date) -> float:
        nxt = d + timedelta(days=1)
        return cal.working_seconds(datetime(d.year, d.month, d.day, tzinfo=NY),
                                   datetime(nxt.year, nxt.month, nxt.day, tzinfo=NY))
    assert day(date(2026, 3, 8)) == 23 * HOUR
    assert day(date(2026, 11, 1)) == 25 * HOUR
    assert day(date(2026, 3, 9)) == 24 * HOUR
    start = datetime(2026, 3, 7, 12, tzinfo=NY)
    assert cal.add_working(start, 24 * HOUR) == datetime(2026, 3, 8, 13, tzinfo=NY)
    [(a, b)] = cal.intervals(date(2026, 3, 8))
    assert (b.astimezone(timezone.utc) - a.astimezone(timezone.utc)) == timedelta(hours=23)
    # The same calendar with explicit 00:00-24:00 hours gives the same answer.
    explicit = Calendar.from_dict("ny2", {"timezone": "America/New_York",
                                          "hours": hours("00:00-24:00", days=tuple(
                                              ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]))})
    assert explicit.working_seconds(datetime(2026, 3, 8, tzinfo=NY),
                                    datetime(2026, 3, 9, tzinfo=NY)) == 23 * HOUR
    assert explicit.add_working(start, 24 * HOUR) == datetime(2026, 3, 8, 13, tzinfo=NY)


# -- properties ----------------------------------------------------------------

CALENDARS = [
    Calendar.from_dict("head_office", HEAD_OFFICE),
    Calendar.from_dict("london", {"timezone": "Europe/London", "hours": {
        **hours("09:00-17:00"), "sun": ["00:30-02:30"]}}),
    Calendar.from_dict("ny", {"timezone": "America/New_York", "hours": {
        **hours("08:00-12:00", "12:30-24:00"), "sun": ["00:00-03:30"]}}),
    Calendar.always_open("America/New_York"),
]
LOW, HIGH = datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2027, 12, 31, tzinfo=timezone.utc)
SPAN = int((HIGH - LOW).total_seconds())

calendars = st.sampled_from(CALENDARS)
instants = st.integers(0, SPAN).map(lambda s: LOW + timedelta(seconds=s))
work = st.integers(0, 200 * HOUR)
PROPS = settings(max_examples=200, deadline=None)


@PROPS
@given(calendars, instants, work)
def test_add_working_inverts_working_seconds(cal: Calendar, start: datetime, s: int) -> None:
    end = cal.add_working(start, s)
    assert cal.working_seconds(start, end) == s
    if s:  # the earliest such instant: one second less is not enough
        assert cal.working_seconds(start, end - timedelta(seconds=1)) < s


@PROPS
@given(calendars, instants, work, work)
def test_add_working_is_monotonic(cal: Calendar, start: datetime, s1: int, s2: int) -> None:
    lo, hi = sorted((s1, s2))
    assert cal.add_working(start, lo) <= cal.add_working(start, hi)


@PROPS
@given(calendars, instants, instants, instants)
def test_working_seconds_is_additive(cal: Calendar, p: datetime, q: datetime,
                                     r: datetime) -> None:
    a, b, c = sorted((p, q, r))
    assert cal.working_seconds(a, c) == cal.working_seconds(a, b) + cal.working_seconds(b, c)


@PROPS
@given(calendars, instants, instants, st.integers(1, 3000 * HOUR))
def test_timeline_agrees_with_walking_the_days(cal: Calendar, p: datetime, q: datetime, s: int) -> None:
    """working_seconds and add_working use binary searches over flattened spans
    (grown as later instants are asked for); walking day by day gives the same."""
    a, b = sorted((p, q))
    micros = lambda t: (t - LOW) // timedelta(microseconds=1) + int(LOW.timestamp()) * 10**6  # noqa: E731
    if not cal.always:
        assert cal.working_seconds(a, b) * 10**6 == cal._walked_seconds(micros(a), micros(b))
        walked = cal._walked_add(micros(a), s * 10**6)
        assert micros(cal.add_working(a, s)) == walked


@PROPS
@given(calendars, instants)
def test_next_working_is_working(cal: Calendar, t: datetime) -> None:
    nxt = cal.next_working(t)
    assert nxt >= t and cal.is_working(nxt)
    assert cal.working_seconds(t, nxt) == 0
    assert cal.is_working(t) == (nxt == t)


@PROPS
@given(instants, instants)
def test_always_counts_wall_seconds(a: datetime, b: datetime) -> None:
    a, b = sorted((a, b))
    cal = CALENDARS[-1]
    assert cal.working_seconds(a, b) == (b - a).total_seconds()


# -- loading and errors --------------------------------------------------------

def test_shipped_calendars_load() -> None:
    path = Path(__file__).resolve().parents[1] / "codes" / "calendars.yaml"
    cals = load_calendars(build_table(load_file(path)))
    head = cals["head_office"]
    assert head.tz == SH and not head.always
    assert head.is_working(sh(2026, 2, 14, 10)) and not head.is_working(sh(2026, 2, 17, 10))
    assert cals["round_the_clock"].always


def test_one_year_of_working_time() -> None:
    # 252 working days in the test calendar's 2026, 251 of them from Mon 5 January.
    # (Its speed is measured in bench/, not here.)
    cal = Calendar.from_dict("head_office", HEAD_OFFICE)  # fresh: nothing cached
    end = cal.add_working(sh(2026, 1, 5, 9), 250 * 8 * HOUR)
    assert end == sh(2026, 12, 30, 18)


def test_naive_datetimes_are_refused(office: Calendar) -> None:
    naive = datetime(2026, 3, 9, 10)
    for call in (lambda: office.is_working(naive), lambda: office.next_working(naive),
                 lambda: office.working_seconds(naive, sh(2026, 3, 10)),
                 lambda: office.add_working(naive, 60),
                 lambda: office.add(naive, Duration.parse("1 business day"))):
        with pytest.raises(ValueError, match="naive datetime"):
            call()


def test_calendar_without_working_time() -> None:
    with pytest.raises(ValueError, match="'closed' has no working time"):
        Calendar.from_dict("closed", {"timezone": "UTC", "hours": hours()})
    with pytest.raises(ValueError, match="has no working time"):
        Calendar.from_dict("closed", {"timezone": "UTC"})
    # Working time that runs out: one make-up day, then nothing for years.
    once = Calendar.from_dict("once", {"timezone": "UTC", "hours": hours("09:00-10:00", days=("sat",)),
                                       "holidays": [{"from": "2026-01-01", "to": "2030-12-31",
                                                     "label": {"en": "closed"}}]})
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for call in (lambda: once.add_working(start, 60), lambda: once.next_working(start),
                 lambda: once.add(start, Duration.parse("1 business day"))):
        with pytest.raises(ValueError, match="has no working time"):
            call()


def test_a_gap_longer_than_the_idle_limit_is_an_error_whatever_was_asked_before() -> None:
    """Binary search over flattened spans must not answer where walking the days
    gives up (more than MAX_IDLE_DAYS without working time), however wide an
    earlier question made the flattened range."""
    def closed() -> Calendar:
        return Calendar.from_dict("gap", {"timezone": "UTC", "hours": hours("09:00-17:00"), "holidays": [
            {"from": "2026-01-01", "to": "2029-06-01", "label": {"en": "closed"}}]})
    start = datetime(2026, 1, 2, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="has no working time"):
        closed().add_working(start, HOUR)
    asked = closed()
    with pytest.raises(ValueError, match="has no working time"):
        asked.working_seconds(datetime(2025, 12, 1, tzinfo=timezone.utc), datetime(2029, 7, 1, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="has no working time"):
        asked.add_working(start, HOUR)


@pytest.mark.parametrize("period, message", [
    ("9-17", "cannot read working period '9-17': write 'HH:MM-HH:MM'"),
    ("18:00-09:00", "ends before it starts"),
    ("09:00-09:00", "ends before it starts"),
    ("25:00-26:00", "is not a time of day"),
    ("09:00-24:30", "is not a time of day"),
])
def test_malformed_hours(period: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Calendar.from_dict("bad", {"timezone": "UTC", "hours": hours(period)})


@pytest.mark.parametrize("data, message", [
    ({"timezone": "UTC", "hours": hours("09:00-12:00", "11:00-13:00")}, "overlap at 11:00"),
    ({"timezone": "Mars/Olympus", "hours": hours("09:00-17:00")}, "unknown time zone"),
    ({"hours": hours("09:00-17:00")}, "needs a timezone"),
    ({"timezone": "UTC", "hours": {"monday": ["09:00-17:00"]}}, "unknown weekday 'monday'"),
    ({"timezone": "UTC", "hours": hours("09:00-17:00"),
      "holidays": [{"date": "2026-13-01", "label": {}}]}, "cannot read date '2026-13-01'"),
    ({"timezone": "UTC", "hours": hours("09:00-17:00"),
      "holidays": [{"from": "2026-02-02", "to": "2026-02-01", "label": {}}]}, "ends before"),
    ({"timezone": "UTC", "hours": hours("09:00-17:00"),
      "workdays": [{"date": "2026-02-01", "hours_as": "sun", "label": {}}]}, "which has none"),
    ({"timezone": "UTC", "always": True, "hours": hours("09:00-17:00")}, "remove hours"),
])
def test_malformed_calendars(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Calendar.from_dict("bad", data)


def test_touching_periods_are_joined_and_workday_hours_as() -> None:
    cal = Calendar.from_dict("c", {"timezone": "UTC", "hours": {
        **hours("13:00-18:00", "09:00-13:00"), "sat": ["10:00-12:00"]},
        "workdays": [{"date": "2026-03-08", "hours_as": "sat", "label": {}}],
        "holidays": [{"date": "2026-03-08", "label": {}}]})
    utc = timezone.utc
    assert cal.intervals(date(2026, 3, 9)) == [(datetime(2026, 3, 9, 9, tzinfo=utc),
                                                datetime(2026, 3, 9, 18, tzinfo=utc))]
    # A make-up day wins over a holiday on the same date and takes Saturday's hours.
    assert cal.intervals(date(2026, 3, 8)) == [(datetime(2026, 3, 8, 10, tzinfo=utc),
                                                datetime(2026, 3, 8, 12, tzinfo=utc))]


def test_from_value_says_where() -> None:
    value = CodeValue("bad", Label.plain("Bad"), attrs=FrozenMap(
        {"timezone": "UTC", "hours": FrozenMap({"mon": ("9-17",)})}),
        where=Where("codes/calendars.yaml", 12, 3))
    with pytest.raises(ValueError, match=r"^codes/calendars.yaml:12:3: calendar 'bad': mon: "):
        Calendar.from_value(value)


@PROPS
@given(calendars, st.integers(-10**15, 4 * 10**15))
def test_iso_seconds_is_local_isoformat(cal: Calendar, u: int) -> None:
    assert cal.iso_seconds(u) == cal.local(u).isoformat(timespec="seconds")
