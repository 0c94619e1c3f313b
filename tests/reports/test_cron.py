"""The schedule matcher, report periods and which reports are due."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from engine.reports import cron

SH = ZoneInfo("Asia/Shanghai")


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.mark.parametrize("expr,field,values", [
    ("*/15 * * * *", "minutes", {0, 15, 30, 45}),
    ("10/20 * * * *", "minutes", {10, 30, 50}),
    ("5-20/5 * * * *", "minutes", {5, 10, 15, 20}),
    ("0 8,12-13 * * *", "hours", {8, 12, 13}),
    ("0 8 * * mon-fri", "weekdays", {1, 2, 3, 4, 5}),
    ("0 8 * * 7", "weekdays", {0}),
    ("0 8 * * 5-7", "weekdays", {5, 6, 0}),
    ("0 0 1 jan,JUL *", "days", {1}),
    ("0 0 1 jan,JUL *", "months", {1, 7}),
    ("0 0 * */3 *", "months", {1, 4, 7, 10}),
])
def test_fields(expr: str, field: str, values: set[int]) -> None:
    assert getattr(cron.parse(expr), field) == values


@pytest.mark.parametrize("expr,message", [
    ("0 8 * *", "five fields"),
    ("61 * * * *", "minute: 61 is outside 0-59"),
    ("0 24 * * *", "hour: 24 is outside 0-23"),
    ("*/0 * * * *", "step '0' must be a positive number"),
    ("0 8 * * fri-mon", "runs backwards"),
    ("0 8 * * funday", "day of week: 'funday' is not a number or a name"),
    ("0 8 0 * *", "day of month: 0 is outside 1-31"),
])
def test_errors_say_what_is_wrong(expr: str, message: str) -> None:
    with pytest.raises(cron.CronError, match=message):
        cron.parse(expr)


def test_day_fields_match_either_when_both_are_restricted() -> None:
    c = cron.parse("0 0 13 * fri")
    assert c.matches(t("2026-03-06 00:00"))  # a Friday
    assert c.matches(t("2026-03-13 00:00"))  # the 13th (also a Friday)
    assert c.matches(t("2026-04-13 00:00"))  # the 13th, a Monday
    assert not c.matches(t("2026-04-14 00:00"))
    only_weekday = cron.parse("0 0 * * fri")
    assert not only_weekday.matches(t("2026-04-13 00:00"))


def test_last_fire_and_due() -> None:
    weekly = "0 8 * * mon"
    assert cron.last_fire(weekly, t("2026-03-09 08:00"), SH) == t("2026-03-09 08:00")
    assert cron.last_fire(weekly, t("2026-03-09 07:59"), SH) == t("2026-03-02 08:00")
    # the zone of the schedule, whatever the zone of now
    utc_now = t("2026-03-09 08:30").astimezone(timezone.utc)
    assert cron.last_fire(weekly, utc_now, SH) == t("2026-03-09 08:00")
    assert cron.last_fire("*/20 * * * *", t("2026-03-09 08:59"), SH) == t("2026-03-09 08:40")
    assert cron.last_fire("0 0 30 2 *", t("2026-03-09 08:00"), SH) is None  # never
    assert cron.due(weekly, None, t("2026-03-09 08:00"), SH)
    assert cron.due(weekly, t("2026-03-02 08:05"), t("2026-03-09 08:00"), SH)
    assert not cron.due(weekly, t("2026-03-09 08:00"), t("2026-03-09 09:00"), SH)
    assert not cron.due("0 0 30 2 *", None, t("2026-03-09 08:00"), SH)


@pytest.mark.parametrize("period,now,start,end", [
    ("day", "2026-03-09 08:00", "2026-03-08 00:00", "2026-03-09 00:00"),
    ("week", "2026-03-09 08:00", "2026-03-02 00:00", "2026-03-09 00:00"),
    ("week", "2026-03-11 15:00", "2026-03-02 00:00", "2026-03-09 00:00"),
    ("month", "2026-03-01 09:00", "2026-02-01 00:00", "2026-03-01 00:00"),
    ("month", "2026-01-05 09:00", "2025-12-01 00:00", "2026-01-01 00:00"),
    ("quarter", "2026-04-01 09:00", "2026-01-01 00:00", "2026-04-01 00:00"),
    ("quarter", "2026-02-10 09:00", "2025-10-01 00:00", "2026-01-01 00:00"),
])
def test_period_bounds(period: str, now: str, start: str, end: str) -> None:
    assert cron.period_bounds(period, t(now), SH) == (t(start), t(end))


@pytest.mark.parametrize("period,start,end,prev_start", [
    ("week", "2026-03-02 00:00", "2026-03-09 00:00", "2026-02-23 00:00"),
    ("month", "2026-03-01 00:00", "2026-04-01 00:00", "2026-02-01 00:00"),  # 28 days before
    ("month", "2026-01-01 00:00", "2026-02-01 00:00", "2025-12-01 00:00"),
    ("quarter", "2026-01-01 00:00", "2026-04-01 00:00", "2025-10-01 00:00"),
    ("day", "2026-03-01 00:00", "2026-03-02 00:00", "2026-02-28 00:00"),
    ("week", "2026-03-02 00:00", "2026-03-04 12:00", "2026-02-27 12:00"),  # not a week: same span
    (None, "2026-03-02 00:00", "2026-03-09 00:00", "2026-02-23 00:00"),
])
def test_previous_period(period: str | None, start: str, end: str, prev_start: str) -> None:
    assert cron.previous_period(period, t(start), t(end), SH) == (t(prev_start), t(start))


def test_midnights_are_local() -> None:
    start, end = cron.period_bounds("day", t("2026-03-09 00:30"), SH)
    assert end - start == timedelta(days=1)
    assert start.astimezone(timezone.utc).isoformat() == "2026-03-07T16:00:00+00:00"


def runs(expr: str, period: str, now: datetime, count: int, tz: ZoneInfo = SH) -> list[tuple[datetime, ...]]:
    from itertools import islice

    return [tuple(r) for r in islice(cron.scheduled_runs(expr, period, now, tz), count)]


def test_a_weekday_report_reaches_back_to_the_previous_run() -> None:
    """Monday's run of a Monday-to-Friday daily report covers Friday to Monday
    00:00 (since the end of Friday's run's period), so Friday, Saturday and
    Sunday are reported too; newest first, each with the moment it answers."""
    assert runs("0 8 * * mon-fri", "day", t("2026-03-10 09:00"), 4) == [
        (t("2026-03-09 00:00"), t("2026-03-10 00:00"), t("2026-03-10 08:00")),  # Tuesday: Monday
        (t("2026-03-06 00:00"), t("2026-03-09 00:00"), t("2026-03-09 08:00")),  # Monday: Friday to Sunday
        (t("2026-03-05 00:00"), t("2026-03-06 00:00"), t("2026-03-06 08:00")),  # Friday: Thursday
        (t("2026-03-04 00:00"), t("2026-03-05 00:00"), t("2026-03-05 08:00")),
    ]
    # before Monday 08:00 the latest run is still Friday's
    assert runs("0 8 * * mon-fri", "day", t("2026-03-09 07:59"), 1) == [
        (t("2026-03-05 00:00"), t("2026-03-06 00:00"), t("2026-03-06 08:00"))]


@pytest.mark.parametrize("expr,period,first", [
    ("0 8 * * mon", "week", (t("2026-03-02 00:00"), t("2026-03-09 00:00"), t("2026-03-09 08:00"))),
    ("0 8 * * wed", "week", (t("2026-03-02 00:00"), t("2026-03-09 00:00"), t("2026-03-11 08:00"))),
    ("0 9 1 * *", "month", (t("2026-02-01 00:00"), t("2026-03-01 00:00"), t("2026-03-01 09:00"))),
    ("0 9 1 1,4,7,10 *", "quarter", (t("2025-10-01 00:00"), t("2026-01-01 00:00"), t("2026-01-01 09:00"))),
    # several moments a day answer one period: the first of them runs it
    ("*/20 * * * *", "day", (t("2026-03-11 00:00"), t("2026-03-12 00:00"), t("2026-03-12 00:00"))),
    ("0 8,17 * * *", "day", (t("2026-03-11 00:00"), t("2026-03-12 00:00"), t("2026-03-12 08:00"))),
    # a schedule sparser than its period: each run covers everything since the last
    ("0 8 * * mon", "day", (t("2026-03-02 00:00"), t("2026-03-09 00:00"), t("2026-03-09 08:00"))),
])
def test_runs_are_gapless_and_do_not_overlap(expr: str, period: str, first: tuple[datetime, ...]) -> None:
    found = runs(expr, period, t("2026-03-12 09:00"), 60)
    assert found[0] == first
    for newer, older in zip(found, found[1:]):
        assert older[1] == newer[0], (older, newer)  # each starts where the one before ended
        assert older[0] < older[1] and older[2] < newer[2]


def test_run_periods_follow_the_zones_daylight_saving() -> None:
    """Boundaries are local midnights: across a change of the clocks a Monday run
    of the weekday report covers 71 hours (spring) or 73 (autumn), the next one
    starts where it ended."""
    ny = ZoneInfo("America/New_York")
    utc = timezone.utc

    def local(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=ny)

    spring = runs("0 8 * * mon-fri", "day", local("2026-03-10 09:00"), 2, ny)
    assert [tuple(x.astimezone(utc).isoformat() for x in r[:2]) for r in spring] == [
        ("2026-03-09T04:00:00+00:00", "2026-03-10T04:00:00+00:00"),
        ("2026-03-06T05:00:00+00:00", "2026-03-09T04:00:00+00:00")]
    autumn = runs("0 8 * * mon-fri", "day", local("2026-11-02 08:00"), 1, ny)[0]
    assert autumn[1].astimezone(utc) - autumn[0].astimezone(utc) == timedelta(hours=73)
    assert autumn[2].astimezone(utc).isoformat() == "2026-11-02T13:00:00+00:00"  # 08:00 EST


def test_a_schedule_that_never_fires_has_no_runs() -> None:
    assert runs("0 0 30 2 *", "day", t("2026-03-09 08:00"), 3) == []
