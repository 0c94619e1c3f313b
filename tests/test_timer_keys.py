"""Cycle keys of timed effects (engine.runtime.timers): offset-free instants, and
rows fired by older versions read alike."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from engine.runtime import timers

CST = timezone(timedelta(hours=8))
JST = timezone(timedelta(hours=9))


def test_the_same_instant_in_two_zones_is_one_key() -> None:
    a = datetime(2026, 3, 2, 9, 0, 0, 900000, tzinfo=CST)
    assert timers.stamp(a) == timers.stamp(a.astimezone(JST)) == "2026-03-02T01:00:00Z"


def test_older_cycles_read_as_utc() -> None:
    assert timers.normal_cycle("2026-03-02T09:00:00+08:00") == "2026-03-02T01:00:00Z"
    assert timers.normal_cycle("2026-03-02T10:00:00+09:00#3") == "2026-03-02T01:00:00Z#3"
    assert timers.normal_cycle("") == ""
    assert timers.normal_cycle("not a time") == "not a time"
