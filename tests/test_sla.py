"""SLA clocks computed from a ticket's transitions (design 5.3), without a database.

Each test builds the transitions a journal would hold and calls
``engine.clock.sla.compute`` with the bundled definitions, at a fixed "now".  Every
expected value is computed by hand in the comments.

The calendars (``codes/calendars.yaml``):
* head_office: Asia/Shanghai, Monday to Friday 09:00-12:00 and 13:00-18:00, i.e.
  8 working hours a day (so "1 business day" of an SLA target is 8 working hours);
  2026 PRC holidays (e.g. Spring Festival 02-15..02-23, Qingming 04-04..04-06,
  Labour Day 05-01..05-05) and make-up working Saturdays 02-14, 02-28 and 05-09.
* round_the_clock: 24x7.

The policies (``codes/sla.yaml``), by the service's ``sla_policy``
(``codes/services.yaml``):
* silver (``desktop``: head_office): P1 15 business minutes / 4 business hours,
  P2 30 business minutes / 1 business day, P3 2 business hours / 3 business days;
  warning at 75%.
* gold (``claims``: round_the_clock): P2 30m / 8h, P3 2h / 2d; warning at 50%.

2026-03-02 and 2026-03-09 are Mondays; 2026-03-06, 2026-04-03 and 2026-02-13 are
Fridays; 2026-02-14 is a Saturday.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from engine.clock import sla
from engine.model import Definitions, ProcessSpec
from engine.clock.sla import Transition
from engine.workspace import load_definitions
from engine.definitions.home import bundled_home

CST = timezone(timedelta(hours=8))
MINUTE, HOUR = 60, 3600
SILVER_P2 = {"service": "desktop", "priority": "P2"}  # silver policy, head_office calendar
GOLD_P2 = {"service": "claims", "priority": "P2"}  # gold policy, 24x7


def t(text: str) -> datetime:
    """'2026-03-06 17:00' -> that instant at +08:00."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CST)


def iso(text: str) -> str:
    return t(text).isoformat()


@pytest.fixture(scope="module")
def defs() -> Definitions:
    return load_definitions(bundled_home())


@pytest.fixture(scope="module")
def incident(defs: Definitions) -> ProcessSpec:
    return defs.processes["incident"]


def clocks(defs: Definitions, spec: ProcessSpec, transitions: list[Transition],
           values: dict[str, Any], now: str) -> dict[str, Any]:
    return sla.compute(spec, defs, transitions, values, t(now))


def opened(at: str) -> list[Transition]:
    return [Transition(t(at), None, "new", "create")]


def worked(*steps: tuple[str, str, str, str]) -> list[Transition]:
    """(time, from, to, action) steps after a creation in `new`."""
    return [Transition(t(at), frm, to, action) for at, frm, to, action in steps]


# The working day of 2026-03-02: logged 09:00, assigned 09:10, started 09:30 (the
# response clock stops), on hold 10:00-14:00 (the resolution clock pauses).
MONDAY_WITH_HOLD = opened("2026-03-02 09:00") + worked(
    ("2026-03-02 09:10", "new", "assigned", "assign"),
    ("2026-03-02 09:30", "assigned", "in_progress", "start"),
    ("2026-03-02 10:00", "in_progress", "pending", "pend"),
    ("2026-03-02 14:00", "pending", "in_progress", "resume"),
)


# -- targets and due dates in the business calendar ------------------------------------

def test_p2_opened_friday_evening_is_due_monday(defs: Definitions, incident: ProcessSpec) -> None:
    c = clocks(defs, incident, opened("2026-03-06 17:00"), SILVER_P2, "2026-03-06 17:00")
    resp, res = c["response"], c["resolution"]
    assert (resp["policy"], resp["calendar"]) == ("silver", "head_office")
    # response: 30 business minutes from Friday 17:00, inside Friday's 13:00-18:00 period
    assert resp["target_seconds"] == 30 * MINUTE
    assert resp["due"] == iso("2026-03-06 17:30")
    # resolution: 1 business day = 8 working hours. Friday 17:00-18:00 is 1 h; the
    # weekend does not count; Monday 09:00-12:00 makes 4 h, 13:00-17:00 makes 8 h.
    assert res["target_seconds"] == 8 * HOUR
    assert res["due"] == iso("2026-03-09 17:00")
    # 75% warning = 6 working hours: Friday 1 h + Monday 3 h + 13:00-15:00
    assert res["warning_at"] == iso("2026-03-09 15:00")
    for rec in (resp, res):
        assert rec["state"] == "running" and rec["started_at"] == iso("2026-03-06 17:00")
        assert rec["elapsed_seconds"] == 0 and rec["remaining_seconds"] == rec["target_seconds"]
        assert (rec["paused"], rec["breached"], rec["met"]) == (False, False, None)


def test_weekend_does_not_count_in_elapsed_time(defs: Definitions, incident: ProcessSpec) -> None:
    # still running on Monday 10:00: Friday 17:00-18:00 + Monday 09:00-10:00 = 2 h
    res = clocks(defs, incident, opened("2026-03-06 17:00"), SILVER_P2, "2026-03-09 10:00")["resolution"]
    assert res["elapsed_seconds"] == 2 * HOUR
    assert res["remaining_seconds"] == 6 * HOUR
    assert res["due"] == iso("2026-03-09 17:00")  # unchanged by computing it later


@pytest.mark.parametrize("opened_at, response_due, resolution_due", [
    # Qingming: Saturday 04-04 to Monday 04-06 are holidays, Tuesday 04-07 is the next
    # working day. Friday 17:00: response 17:30 the same day; resolution 1 h on Friday,
    # then Tuesday 09:00-12:00 (4 h) and 13:00-17:00 (8 h).
    ("2026-04-03 17:00", "2026-04-03 17:30", "2026-04-07 17:00"),
    # Friday 17:45: 15 response minutes left on Friday, the other 15 on Tuesday 09:00-09:15;
    # resolution 15 min on Friday, Tuesday 09:00-12:00 (3 h 15), 13:00-17:45 (8 h).
    ("2026-04-03 17:45", "2026-04-07 09:15", "2026-04-07 17:45"),
    # Labour Day: 05-01 (Friday) to 05-05 (Tuesday). Thursday 04-30 17:00: 1 h, then
    # Wednesday 05-06 09:00-12:00 and 13:00-17:00.
    ("2026-04-30 17:00", "2026-04-30 17:30", "2026-05-06 17:00"),
])
def test_holidays_are_skipped(defs: Definitions, incident: ProcessSpec, opened_at: str,
                              response_due: str, resolution_due: str) -> None:
    c = clocks(defs, incident, opened(opened_at), SILVER_P2, opened_at)
    assert c["response"]["due"] == iso(response_due)
    assert c["resolution"]["due"] == iso(resolution_due)


def test_holiday_time_is_not_elapsed(defs: Definitions, incident: ProcessSpec) -> None:
    # opened Friday 04-03 17:00, looked at on Tuesday 04-07 09:30: Friday 1 h + Tuesday 30 min
    res = clocks(defs, incident, opened("2026-04-03 17:00"), SILVER_P2, "2026-04-07 09:30")["resolution"]
    assert res["elapsed_seconds"] == HOUR + 30 * MINUTE
    assert res["breached"] is False


@pytest.mark.parametrize("opened_at, resolution_due", [
    # Saturday 02-14 is a make-up working day (Spring Festival): Friday 1 h, then
    # Saturday 09:00-12:00 and 13:00-17:00 (worked with Monday's hours).
    ("2026-02-13 17:00", "2026-02-14 17:00"),
    ("2026-02-27 17:00", "2026-02-28 17:00"),  # make-up Saturday 02-28
    ("2026-05-08 17:00", "2026-05-09 17:00"),  # make-up Saturday 05-09 (Labour Day)
    # an ordinary Saturday is not worked: Friday 03-13 17:00 -> Monday 03-16 17:00
    ("2026-03-13 17:00", "2026-03-16 17:00"),
    # opened on the make-up Saturday 02-14 at 17:00: 1 h that day, then the Spring
    # Festival (Sunday 02-15 to Monday 02-23); Tuesday 02-24 09:00-12:00, 13:00-17:00
    ("2026-02-14 17:00", "2026-02-24 17:00"),
])
def test_make_up_working_saturdays_count(defs: Definitions, incident: ProcessSpec, opened_at: str,
                                         resolution_due: str) -> None:
    res = clocks(defs, incident, opened(opened_at), SILVER_P2, opened_at)["resolution"]
    assert res["due"] == iso(resolution_due)


def test_make_up_saturday_time_is_elapsed(defs: Definitions, incident: ProcessSpec) -> None:
    # Friday 02-13 17:00-18:00 (1 h) + Saturday 02-14 09:00-12:00 (3 h) + 13:00-14:00 (1 h)
    res = clocks(defs, incident, opened("2026-02-13 17:00"), SILVER_P2, "2026-02-14 14:00")["resolution"]
    assert res["elapsed_seconds"] == 5 * HOUR


# -- pause, priority change, reopen ------------------------------------------------------

def test_time_pending_does_not_count(defs: Definitions, incident: ProcessSpec) -> None:
    # on hold since 10:00; at 12:30 only 09:00-10:00 counted
    res = clocks(defs, incident, MONDAY_WITH_HOLD[:4], SILVER_P2, "2026-03-02 12:30")["resolution"]
    assert res["state"] == "paused" and res["paused"] is True
    assert res["elapsed_seconds"] == HOUR
    assert (res["breached"], res["met"]) == (False, None)

    c = clocks(defs, incident, MONDAY_WITH_HOLD, SILVER_P2, "2026-03-02 15:00")
    res = c["resolution"]
    # 09:00-10:00 and 14:00-15:00; the four hours on hold (lunch included) do not count
    assert res["state"] == "running" and res["paused"] is False
    assert res["elapsed_seconds"] == 2 * HOUR
    assert res["remaining_seconds"] == 6 * HOUR
    # 6 h left from 15:00: 15:00-18:00, then Tuesday 09:00-12:00 (the earliest instant)
    assert res["due"] == iso("2026-03-03 12:00")
    # the response clock stopped at `start`, 30 minutes after logging: at its due
    # instant, so breached (a clock is breached at its due instant, not a moment after)
    resp = c["response"]
    assert resp["state"] == "stopped" and resp["stopped_at"] == iso("2026-03-02 09:30")
    assert resp["due"] == iso("2026-03-02 09:30")
    assert resp["elapsed_seconds"] == 30 * MINUTE and resp["met"] is False and resp["breached"] is True


def test_overnight_hold_does_not_count(defs: Definitions, incident: ProcessSpec) -> None:
    trs = opened("2026-03-02 09:00") + worked(
        ("2026-03-02 09:30", "new", "assigned", "assign"),
        ("2026-03-02 09:40", "assigned", "in_progress", "start"),
        ("2026-03-02 17:00", "in_progress", "pending", "pend"),
        ("2026-03-03 11:00", "pending", "in_progress", "resume"),
    )
    # Monday 09:00-12:00, 13:00-17:00 (7 h) + Tuesday 11:00-11:30
    res = clocks(defs, incident, trs, SILVER_P2, "2026-03-03 11:30")["resolution"]
    assert res["elapsed_seconds"] == 7 * HOUR + 30 * MINUTE


def test_priority_change_moves_the_due_date_not_the_elapsed_time(defs: Definitions,
                                                                 incident: ProcessSpec) -> None:
    p2 = clocks(defs, incident, MONDAY_WITH_HOLD, SILVER_P2, "2026-03-02 15:00")["resolution"]
    p3 = clocks(defs, incident, MONDAY_WITH_HOLD, dict(SILVER_P2, priority="P3"),
                "2026-03-02 15:00")["resolution"]
    p1 = clocks(defs, incident, MONDAY_WITH_HOLD, dict(SILVER_P2, priority="P1"),
                "2026-03-02 15:00")["resolution"]
    assert p2["elapsed_seconds"] == p3["elapsed_seconds"] == p1["elapsed_seconds"] == 2 * HOUR
    assert (p1["target_seconds"], p2["target_seconds"], p3["target_seconds"]) == (4 * HOUR, 8 * HOUR, 24 * HOUR)
    assert p2["due"] == iso("2026-03-03 12:00")
    # P3: 3 business days = 24 h, 22 h left at Monday 15:00: Monday 3 h (19 left),
    # Tuesday 8 h (11), Wednesday 8 h (3), Thursday 09:00-12:00
    assert p3["due"] == iso("2026-03-05 12:00")
    # P1: 4 business hours, 2 h left at 15:00
    assert p1["due"] == iso("2026-03-02 17:00")


def test_priority_raised_after_the_fact_breaches(defs: Definitions, incident: ProcessSpec) -> None:
    # raised to P1 (4 business hours) while it has been running 4 h 30 at 17:30:
    # 09:00-10:00 + 14:00-17:30. The target was reached at 17:00, which is the due date.
    res = clocks(defs, incident, MONDAY_WITH_HOLD, dict(SILVER_P2, priority="P1"),
                 "2026-03-02 17:30")["resolution"]
    assert res["elapsed_seconds"] == 4 * HOUR + 30 * MINUTE
    assert res["breached"] is True and res["met"] is None
    assert res["remaining_seconds"] == -30 * MINUTE
    assert res["due"] == iso("2026-03-02 17:00")


def test_service_change_changes_policy_and_calendar(defs: Definitions, incident: ProcessSpec) -> None:
    # the same history on the gold claims service (24x7, P2 8 h): 1 h + 1 h elapsed as well
    # (09:00-10:00, 14:00-15:00 are the same on both calendars); 6 h left -> 21:00
    res = clocks(defs, incident, MONDAY_WITH_HOLD, GOLD_P2, "2026-03-02 15:00")["resolution"]
    assert (res["policy"], res["calendar"]) == ("gold", "round_the_clock")
    assert res["elapsed_seconds"] == 2 * HOUR
    assert res["due"] == iso("2026-03-02 21:00")


REOPENED = opened("2026-03-02 09:00") + worked(
    ("2026-03-02 09:10", "new", "assigned", "assign"),
    ("2026-03-02 09:20", "assigned", "in_progress", "start"),
    ("2026-03-02 11:00", "in_progress", "resolved", "resolve"),
    ("2026-03-03 10:00", "resolved", "in_progress", "reopen"),
)


def test_reopen_resumes_the_resolution_clock(defs: Definitions, incident: ProcessSpec) -> None:
    c = clocks(defs, incident, REOPENED[:4], SILVER_P2, "2026-03-02 11:00")
    res = c["resolution"]
    assert res["state"] == "stopped" and res["stopped_at"] == iso("2026-03-02 11:00")
    assert res["elapsed_seconds"] == 2 * HOUR and res["met"] is True

    # reopened Tuesday 10:00, looked at 11:00: 2 h kept + 1 h; the resolved time
    # (Monday 11:00 to Tuesday 10:00) does not count
    c = clocks(defs, incident, REOPENED, SILVER_P2, "2026-03-03 11:00")
    res = c["resolution"]
    assert res["state"] == "running" and res["stopped_at"] is None
    assert res["elapsed_seconds"] == 3 * HOUR
    assert res["met"] is None and res["breached"] is False
    assert res["started_at"] == iso("2026-03-02 09:00")
    # 5 h left from Tuesday 11:00: 11:00-12:00, 13:00-17:00
    assert res["due"] == iso("2026-03-03 17:00")

    # resolved again at 15:00: 2 h + 10:00-12:00 + 13:00-15:00 = 6 h, met
    again = REOPENED + worked(("2026-03-03 15:00", "in_progress", "resolved", "resolve"))
    res = clocks(defs, incident, again, SILVER_P2, "2026-03-04 09:00")["resolution"]
    assert res["state"] == "stopped" and res["elapsed_seconds"] == 6 * HOUR and res["met"] is True


def test_reopen_can_breach(defs: Definitions, incident: ProcessSpec) -> None:
    # reopened with 2 h used; resolved again Wednesday 10:00: Tuesday 10:00-12:00,
    # 13:00-18:00 (7 h) + Wednesday 09:00-10:00 (1 h) = 8 h more, 10 h in all > 8 h
    trs = REOPENED + worked(("2026-03-04 10:00", "in_progress", "resolved", "resolve"))
    res = clocks(defs, incident, trs, SILVER_P2, "2026-03-04 10:00")["resolution"]
    assert res["elapsed_seconds"] == 10 * HOUR
    assert res["met"] is False and res["breached"] is True
    # the 8 h were reached 6 h after the reopen: Tuesday 10:00-12:00, 13:00-17:00
    assert res["due"] == iso("2026-03-03 17:00")


def test_response_clock_stops_at_start_and_does_not_restart_on_reopen(
        defs: Definitions, incident: ProcessSpec) -> None:
    for trs, now in ((REOPENED[:3], "2026-03-02 09:20"), (REOPENED, "2026-03-03 11:00"),
                     (REOPENED, "2026-03-05 11:00")):
        resp = clocks(defs, incident, trs, SILVER_P2, now)["response"]
        assert resp["state"] == "stopped", (now, resp)
        assert resp["stopped_at"] == iso("2026-03-02 09:20")
        assert resp["elapsed_seconds"] == 20 * MINUTE
        assert resp["met"] is True and resp["breached"] is False


def test_response_clock_does_not_restart_on_reassignment(defs: Definitions,
                                                         incident: ProcessSpec) -> None:
    """Design 4.2: `start` stops the response clock. Escalating a ticket already in
    progress to another group (assign: in_progress -> assigned) is not a new
    response: the response result recorded at the first `start` stands."""
    trs = opened("2026-03-02 09:00") + worked(
        ("2026-03-02 09:10", "new", "assigned", "assign"),
        ("2026-03-02 09:20", "assigned", "in_progress", "start"),
        ("2026-03-02 10:00", "in_progress", "assigned", "assign"),  # escalated to another group
        ("2026-03-02 11:00", "assigned", "in_progress", "start"),
    )
    for upto, now in ((4, "2026-03-02 10:30"), (5, "2026-03-02 11:30")):
        resp = clocks(defs, incident, trs[:upto], SILVER_P2, now)["response"]
        assert resp["state"] == "stopped", (now, resp)
        assert resp["elapsed_seconds"] == 20 * MINUTE, (now, resp)
        assert resp["met"] is True and resp["breached"] is False, (now, resp)


# -- met and breached ---------------------------------------------------------------------

@pytest.mark.parametrize("resolved_at, elapsed, met", [
    # logged Monday 09:00 and resolved straight from `new` (first contact);
    # 8 working hours end at Monday 18:00
    ("2026-03-02 17:59", 8 * HOUR - MINUTE, True),
    # at the due instant (18:00, closing time): breached, like a tick at 18:00 says
    ("2026-03-02 18:00", 8 * HOUR, False),
    ("2026-03-03 09:01", 8 * HOUR + MINUTE, False),  # the night does not count, the minute does
    ("2026-03-03 12:30", 11 * HOUR, False),  # Tuesday 09:00-12:00 + nothing at lunch
])
def test_met_is_recorded_at_resolve(defs: Definitions, incident: ProcessSpec, resolved_at: str,
                                    elapsed: int, met: bool) -> None:
    trs = opened("2026-03-02 09:00") + worked((resolved_at, "new", "resolved", "resolve"))
    # looked at days later: a stopped clock does not move
    res = clocks(defs, incident, trs, SILVER_P2, "2026-03-10 09:00")["resolution"]
    assert res["state"] == "stopped" and res["stopped_at"] == iso(resolved_at)
    assert res["elapsed_seconds"] == elapsed
    assert res["met"] is met and res["breached"] is (not met)
    assert res["paused"] is False
    if not met:
        assert res["due"] == iso("2026-03-02 18:00")  # when it breached


def test_met_is_none_before_the_clock_stops(defs: Definitions, incident: ProcessSpec) -> None:
    res = clocks(defs, incident, opened("2026-03-02 09:00"), SILVER_P2, "2026-03-02 17:00")["resolution"]
    assert res["met"] is None and res["breached"] is False


def test_breached_while_running(defs: Definitions, incident: ProcessSpec) -> None:
    # a minute before the target it is not breached ...
    res = clocks(defs, incident, opened("2026-03-02 09:00"), SILVER_P2, "2026-03-02 17:59")["resolution"]
    assert res["elapsed_seconds"] == 8 * HOUR - MINUTE and res["breached"] is False
    # ... at the due instant (Monday 18:00) it is: a clock is breached at its due instant
    res = clocks(defs, incident, opened("2026-03-02 09:00"), SILVER_P2, "2026-03-02 18:00")["resolution"]
    assert res["elapsed_seconds"] == 8 * HOUR and res["breached"] is True
    assert res["due"] == iso("2026-03-02 18:00")
    # one working minute later (18:00 to 09:00 is not working time)
    res = clocks(defs, incident, opened("2026-03-02 09:00"), SILVER_P2, "2026-03-03 09:01")["resolution"]
    assert res["state"] == "running"
    assert res["elapsed_seconds"] == 8 * HOUR + MINUTE
    assert res["remaining_seconds"] == -MINUTE
    assert res["breached"] is True and res["met"] is None
    assert res["due"] == iso("2026-03-02 18:00")
    # Tuesday 10:00: Monday 8 h + Tuesday 1 h
    res = clocks(defs, incident, opened("2026-03-02 09:00"), SILVER_P2, "2026-03-03 10:00")["resolution"]
    assert res["elapsed_seconds"] == 9 * HOUR and res["breached"] is True


def test_paused_breached_clock_stays_breached(defs: Definitions, incident: ProcessSpec) -> None:
    trs = opened("2026-03-02 09:00") + worked(
        ("2026-03-02 09:10", "new", "assigned", "assign"),
        ("2026-03-02 09:20", "assigned", "in_progress", "start"),
        ("2026-03-03 10:00", "in_progress", "pending", "pend"),
    )
    # 9 h when put on hold, nothing more counts while on hold
    res = clocks(defs, incident, trs, SILVER_P2, "2026-03-05 10:00")["resolution"]
    assert res["paused"] is True and res["elapsed_seconds"] == 9 * HOUR
    assert res["breached"] is True and res["met"] is None


# -- breached at the due instant, wherever it falls (issue #20, item 1) --------------------

# Tuesday 2026-03-24: a P2 on desktop logged 09:00, assigned 09:05, started 09:10.
# Resolution: 8 working hours, 09:00-12:00 + 13:00-18:00: due at closing time, 18:00.
TUESDAY_P2 = [Transition(t("2026-03-24 09:00"), None, "new", "create")] + worked(
    ("2026-03-24 09:05", "new", "assigned", "assign"),
    ("2026-03-24 09:10", "assigned", "in_progress", "start"),
)


def test_a_target_that_runs_out_at_closing_time_is_breached(defs: Definitions,
                                                             incident: ProcessSpec) -> None:
    # after closing the counted time stays at the target (8 h) until the next
    # opening; the clock reached its target at 18:00, so it is breached from then on
    for now in ("2026-03-24 18:00", "2026-03-24 18:30", "2026-03-24 18:45", "2026-03-25 08:59"):
        res = clocks(defs, incident, TUESDAY_P2, SILVER_P2, now)["resolution"]
        assert res["state"] == "running", now
        assert (res["elapsed_seconds"], res["remaining_seconds"]) == (8 * HOUR, 0), now
        assert res["due"] == iso("2026-03-24 18:00"), now
        assert (res["breached"], res["met"]) == (True, None), now
    # resolved at 19:00 (still 8 h counted): recorded as missed, not met
    resolved = TUESDAY_P2 + worked(("2026-03-24 19:00", "in_progress", "resolved", "resolve"))
    res = clocks(defs, incident, resolved, SILVER_P2, "2026-03-24 19:05")["resolution"]
    assert (res["state"], res["elapsed_seconds"], res["due"]) == ("stopped", 8 * HOUR, iso("2026-03-24 18:00"))
    assert (res["met"], res["breached"]) == (False, True)
    # resolved a minute before closing: met
    early = TUESDAY_P2 + worked(("2026-03-24 17:59", "in_progress", "resolved", "resolve"))
    res = clocks(defs, incident, early, SILVER_P2, "2026-03-24 19:05")["resolution"]
    assert (res["met"], res["breached"], res["remaining_seconds"]) == (True, False, MINUTE)


def test_breached_is_due_at_or_before_now_at_every_minute(defs: Definitions,
                                                          incident: ProcessSpec) -> None:
    """One definition: a running clock is breached exactly when its due instant is at
    or before now (what `itsm tick` and `itsm list --breached` test), and a clock
    stopped at or after its due instant has missed its target; likewise a clock has
    warned exactly when its warning instant is at or before now."""
    start = t("2026-03-24 16:00")
    for minute in range(0, 18 * 60, 5):  # Tuesday 16:00 to Wednesday 10:00
        now = start + timedelta(minutes=minute)
        res = sla.compute(incident, defs, TUESDAY_P2, SILVER_P2, now)["resolution"]
        assert res["breached"] is (datetime.fromisoformat(res["due"]) <= now), (now, res)
        assert res["warned"] is (datetime.fromisoformat(res["warning_at"]) <= now), (now, res)
        stopped = TUESDAY_P2 + [Transition(now, "in_progress", "resolved", "resolve")]
        res = sla.compute(incident, defs, stopped, SILVER_P2, now + timedelta(days=1))["resolution"]
        assert res["met"] is (now < datetime.fromisoformat(res["due"])), (now, res)
        assert res["breached"] is (not res["met"]), (now, res)


def test_warned_says_whether_the_warning_instant_has_passed(defs: Definitions,
                                                            incident: ProcessSpec) -> None:
    # the warning at 75% (6 h) falls at 16:00; on hold from 17:00, the warning
    # instant stays 16:00 and has passed ...
    held = TUESDAY_P2 + worked(("2026-03-24 17:00", "in_progress", "pending", "pend"))
    res = clocks(defs, incident, held, SILVER_P2, "2026-03-26 10:00")["resolution"]
    assert (res["paused"], res["warned"], res["breached"]) == (True, True, False)
    assert res["warning_at"] == iso("2026-03-24 16:00")
    # ... on hold from 15:00 it has not: the warning instant shown is where it would
    # fall if the clock ran again now (Thursday 10:00 + 1 h)
    held = TUESDAY_P2 + worked(("2026-03-24 15:00", "in_progress", "pending", "pend"))
    res = clocks(defs, incident, held, SILVER_P2, "2026-03-26 10:00")["resolution"]
    assert (res["paused"], res["warned"], res["breached"]) == (True, False, False)
    assert res["warning_at"] == iso("2026-03-26 11:00")
    # resolved after the warning: it warned, and met its target
    done = TUESDAY_P2 + worked(("2026-03-24 17:00", "in_progress", "resolved", "resolve"))
    res = clocks(defs, incident, done, SILVER_P2, "2026-03-26 10:00")["resolution"]
    assert (res["warned"], res["met"], res["warning_at"]) == (True, True, iso("2026-03-24 16:00"))
    # just started: neither warned nor breached
    assert {k: (r["warned"], r["breached"]) for k, r in clocks(
        defs, incident, TUESDAY_P2[:1], SILVER_P2, "2026-03-24 09:00").items()} == {
        "response": (False, False), "resolution": (False, False)}


def test_a_zero_target_is_breached_as_the_clock_starts(defs: Definitions, incident: ProcessSpec) -> None:
    clock = next(c for c in incident.clocks if c.id == "resolution")
    cal = sla.calendar_for_policy(defs, sla.policy_for(defs, "desktop"))
    categories = {"new": "new", "assigned": "active", "in_progress": "active"}
    res = sla.compute_clock(clock, TUESDAY_P2, 0, cal, 50, t("2026-03-24 09:00"), categories)
    assert (res["breached"], res["warned"]) == (True, True)
    assert res["due"] == res["warning_at"] == res["started_at"] == iso("2026-03-24 09:00")


# -- 24x7 ---------------------------------------------------------------------------------

def test_gold_counts_nights_and_weekends(defs: Definitions, incident: ProcessSpec) -> None:
    c = clocks(defs, incident, opened("2026-03-06 20:00"), GOLD_P2, "2026-03-06 20:00")
    assert (c["resolution"]["policy"], c["resolution"]["calendar"]) == ("gold", "round_the_clock")
    # Friday 20:00: response 30 minutes, resolution 8 wall-clock hours through the night
    assert c["response"]["due"] == iso("2026-03-06 20:30")
    assert c["resolution"]["due"] == iso("2026-03-07 04:00")
    assert c["resolution"]["warning_at"] == iso("2026-03-07 00:00")  # gold warns at 50%
    # Sunday 20:00: the whole weekend, 48 h, counted
    res = clocks(defs, incident, opened("2026-03-06 20:00"), GOLD_P2, "2026-03-08 20:00")["resolution"]
    assert res["elapsed_seconds"] == 48 * HOUR
    assert res["breached"] is True and res["due"] == iso("2026-03-07 04:00")


def test_gold_days_are_24_hours_and_holidays_count(defs: Definitions, incident: ProcessSpec) -> None:
    # P3 on gold: 2d = 48 h; opened on Friday 04-03 17:00 before Qingming
    res = clocks(defs, incident, opened("2026-04-03 17:00"), dict(GOLD_P2, priority="P3"),
                 "2026-04-03 17:00")["resolution"]
    assert res["target_seconds"] == 48 * HOUR
    assert res["due"] == iso("2026-04-05 17:00")
