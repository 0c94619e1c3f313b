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
