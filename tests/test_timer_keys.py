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
    assert timers.normal_cycle("2026-03-02T01:00:00Z#3@2026-03-02T04:00:00Z") == "2026-03-02T01:00:00Z#3@2026-03-02T04:00:00Z"
    assert timers.normal_cycle("") == ""
    assert timers.normal_cycle("not a time") == "not a time"


def test_the_last_beat_of_a_repeating_timer() -> None:
    base = "2026-03-02T01:00:00Z"
    fired = timers.normal_keys({
        ("timer", "cadence", f"{base}#1@2026-03-02T02:00:00Z"),
        ("timer", "cadence", f"{base}#2@2026-03-02T03:00:00Z"),
        ("timer", "cadence", "2026-03-01T01:00:00Z#5@2026-03-01T06:00:00Z"),  # an earlier cycle
        ("timer", "other", f"{base}#9@2026-03-02T09:00:00Z"),
        ("remind", "cadence", base)})
    assert timers.last_beat(fired, "cadence", base) == (2, datetime(2026, 3, 2, 3, tzinfo=timezone.utc))
    assert timers.last_beat(fired, "cadence", "2026-03-03T01:00:00Z") == (0, None)
    # a row written before the due instant was part of the key: its number only
    old = timers.normal_keys({("timer", "cadence", "2026-03-02T09:00:00+08:00#4")})
    assert timers.last_beat(old, "cadence", base) == (4, None)


def test_a_late_tick_finds_the_last_beat_due_on_working_days() -> None:
    """The approval reminder (every business day, head-office hours): a tick on Friday
    09:30 that finds Monday's beat due goes on to Friday 09:00, three between."""
    from pathlib import Path

    from engine.runtime.ticket import Ticket
    from engine.workspace import load_definitions

    defs = load_definitions(Path(__file__).resolve().parents[1])
    spec = defs.processes["service_request"]
    monday = datetime(2026, 3, 9, 9, 0, tzinfo=CST)
    ticket = Ticket(key="SR-000001", process="service_request", state="awaiting_approval",
                    values={"priority": "P3"}, definition_version="v", created_at=monday,
                    updated_at=monday, state_entered_at=monday - timedelta(days=1))
    base = timers.stamp(monday - timedelta(days=1))
    item = timers.DueItem("timer", "approval_reminder", f"{base}#1@{timers.stamp(monday)}", monday)
    latest, between = timers.latest_repetition(defs, spec, ticket, item, datetime(2026, 3, 13, 9, 30, tzinfo=CST))
    assert latest.due_at == datetime(2026, 3, 13, 9, 0, tzinfo=CST) and between == 3
    assert latest.cycle == f"{base}#5@{timers.stamp(latest.due_at)}"
    # not yet past the next beat: the item itself
    assert timers.latest_repetition(defs, spec, ticket, item, monday + timedelta(hours=2)) == (item, 0)
