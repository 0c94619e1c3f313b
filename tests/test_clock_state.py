"""Incremental clocks equal the replay of the journal (issue #25, item 1).

The ticket row keeps its clocks' runs and its timers' starts
(engine.desk.clockstate); an action continues them instead of replaying the
journal.  The replay stays the definition.  Two properties, on every shipped
process:

- the fold: random journals (state changes, stays, comments, changes of
  priority and service, times on calendar edges) -- after each event the state
  continued event by event, stored as JSON and read back, equals the replay of
  the whole journal, and every SLA record an action computes from it equals
  engine.clock.sla.compute over the journal;
- the desk: random action sequences through the real action path on SQLite --
  after each step ``itsm audit verify`` finds the stored clock state (and the
  SLA record) equal to the replay, and an action reads no journal;
- the tick: the SLA records ``itsm tick`` computes from the stored state at any
  later time equal the replay's, and a ticket without a stored state (replayed)
  is ticked exactly as its twin with one.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from engine.api import Api
from engine.clock import sla as slamod
from engine.workspace import load_definitions
from engine.desk import clockstate
from engine.desk.audit import verify
from engine.errors import ItsmError
from engine.runtime import timers
from engine.runtime.ticket import Ticket
from tests_conftest import require_postgres, reset_postgres

REPO = Path(__file__).resolve().parent.parent
DEFS = load_definitions(REPO)
PROCESSES = sorted(DEFS.processes)
CST = timezone(timedelta(hours=8))
START = datetime(2026, 3, 6, 17, 59, 30, tzinfo=CST)  # a Friday, half a minute before closing
# steps that land on and around working-day edges, weekends and long gaps
DELTAS = [0, 30, 60, 59 * 60, 3600, 9 * 3600 - 30, 9 * 3600, 15 * 3600, 86400, 2 * 86400, 7 * 86400]


class _Desk:
    """What engine.desk.clockstate reads of the desk: the definitions."""

    defs = DEFS


class _Repo:
    def __init__(self) -> None:
        self.journal: list[dict[str, Any]] = []
        self.reads = 0

    def events(self, _ticket_id: int) -> list[dict[str, Any]]:
        self.reads += 1
        return list(self.journal)


def _codes(table: str) -> list[str]:
    t = DEFS.codes.get(table)
    return sorted(t.values) if t else []


@st.composite
def journals(draw: Any) -> tuple[str, list[tuple[str, Any, int, dict[str, Any]]]]:
    """A process and steps: (kind, action, seconds later, fields the action changes)."""
    process = draw(st.sampled_from(PROCESSES))
    spec = DEFS.processes[process]
    actions = sorted(spec.actions)
    steps = []
    for _ in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(["action", "action", "action", "comment"]))
        delta = draw(st.sampled_from(DELTAS)) + draw(st.sampled_from([0, 0, 1, 7]))
        change: dict[str, Any] = {}
        if kind == "action" and draw(st.integers(0, 3)) == 0:  # the action changes the target
            change = {draw(st.sampled_from(["priority", "service"])): None}
        steps.append((kind, draw(st.sampled_from(actions)), delta, change))
    return process, steps


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(journals(), st.data())
def test_the_continued_state_equals_the_replay(case: Any, data: Any) -> None:
    process, steps = case
    spec = DEFS.processes[process]
    desk = _Desk()
    priorities, services = _codes("priority"), _codes("services")
    values: dict[str, Any] = {"priority": data.draw(st.sampled_from(priorities + [None])),
                              "service": data.draw(st.sampled_from(services + [None]))}
    now = START
    state_id = spec.initial.id
    repo = _Repo()
    create = {"seq": 1, "action": "create", "from_state": None, "to_state": state_id, "effective_at": now}
    repo.journal.append(create)
    sets = slamod.settings(spec, DEFS, values)
    stored = clockstate.replayed(desk, spec, [create], sets, 1).to_json()
    ticket = Ticket(key="T-1", process=process, state=state_id, values=values, definition_version="v",
                    created_at=now, updated_at=now, state_entered_at=now, id=1, version=1,
                    clock_state=stored)
    switchable = [c.id for c in spec.clocks if c.calendar != "service"]
    calendar_ids = sorted(slamod.calendars(DEFS))
    for kind, action, delta, change in steps:
        now = now + timedelta(seconds=delta)
        old = dict(values)
        for name in change:  # a new priority or service: a new target, so the action replays
            pool = priorities if name == "priority" else services
            values[name] = data.draw(st.sampled_from(pool + [None]))
        # a reassignment to a group on other hours: the action switches a clock's calendar
        switch: dict[str, str | None] = {}
        if kind == "action" and switchable and data.draw(st.integers(0, 2)) == 0:
            switch = {data.draw(st.sampled_from(switchable)): data.draw(st.sampled_from(calendar_ids + [None]))}
        before_in = clockstate.in_force(repo.journal)
        final_in = dict(before_in, **switch)
        changed = ({c: s.basis.key() for c, s in slamod.settings(spec, DEFS, old, before_in).items()}
                   != {c: s.basis.key() for c, s in slamod.settings(spec, DEFS, values, final_in).items()})
        sets = slamod.settings(spec, DEFS, values, final_in)
        before = repo.reads
        state, loaded = clockstate.load(desk, repo, spec, ticket, values, lambda _now_in: switch)
        assert {c: x.basis.key() for c, x in loaded.items()} == {c: x.basis.key() for c, x in sets.items()}
        replayed = clockstate.replayed(desk, spec, repo.journal, sets, ticket.version)
        assert state.to_json() == replayed.to_json()
        assert repo.reads == before + changed, "a current state is continued, not replayed"
        if kind == "comment":
            e = {"seq": ticket.version + 1, "action": "comment", "from_state": None, "to_state": None,
                 "effective_at": now}
            stored = clockstate.bumped(desk, ticket, e)
            assert stored is not None
        else:
            target = spec.actions[action].target or state_id
            moved = target != state_id
            # the SLA record of the action: the continued state, then its own move
            tr = slamod.Transition(now, state_id, target, action, switch or None)
            runs = slamod.fold(spec, DEFS, [tr], sets, state.copy().runs)
            # the clocks it stops keep the target they stop with (journaled, as the desk does)
            judged = slamod.judged_targets(state.runs, runs, sets) if moved else {}
            if judged:
                tr = slamod.Transition(now, state_id, target, action, switch or None, judged=judged)
                refolded = slamod.fold(spec, DEFS, [tr], sets, state.copy().runs)
                slamod.judge(runs, judged)  # what the desk does: the one fold's runs, judged
                assert {c: r.to_list() for c, r in runs.items()} == \
                    {c: r.to_list() for c, r in refolded.items()}
            history = clockstate.transitions(repo.journal) + [tr]
            assert slamod.records(spec, runs, sets, now) == slamod.compute(spec, DEFS, history, values, now)
            e = {"seq": ticket.version + 1, "action": action, "from_state": state_id,
                 "to_state": target if moved else None, "effective_at": now,
                 "changes": {slamod.SWITCH: {c: [before_in.get(c), v] for c, v in switch.items()},
                             **({slamod.JUDGED: judged} if judged else {})}}
            stored = clockstate.advanced(desk, spec, state, e, sets, clockstate.Continued(state, sets, tr, runs)
                                         if judged else None).to_json()
            if moved:
                state_id, ticket.state, ticket.state_entered_at = target, target, now
        repo.journal.append(e)
        ticket.version += 1
        ticket.clock_state = json.loads(json.dumps(stored))  # as the database gives it back
        sets = slamod.settings(spec, DEFS, values, clockstate.in_force(repo.journal))
        after = clockstate.current(desk, spec, ticket, sets)
        assert after is not None, "the state written with the event is current"
        assert after.to_json() == clockstate.replayed(desk, spec, repo.journal, sets, ticket.version).to_json()
        assert clockstate.timer_starts(spec, ticket, after) == {
            k: v.astimezone(timezone.utc) for k, v in timers.timer_starts(spec, ticket, repo.journal).items()}
        # what `itsm tick` computes from the stored state later on equals the replay then
        later = now + timedelta(seconds=data.draw(st.sampled_from(DELTAS)))
        assert slamod.records(spec, after.runs, sets, later) == slamod.compute(
            spec, DEFS, clockstate.transitions(repo.journal), values, later)


def test_a_state_for_another_version_definitions_or_target_is_not_continued() -> None:
    spec = DEFS.processes["incident"]
    desk = _Desk()
    now = START
    values = {"priority": "P2", "service": _codes("services")[0]}
    sets = slamod.settings(spec, DEFS, values)
    create = {"seq": 1, "action": "create", "from_state": None, "to_state": spec.initial.id, "effective_at": now}
    good = clockstate.replayed(desk, spec, [create], sets, 1).to_json()
    ticket = Ticket(key="T-1", process="incident", state=spec.initial.id, values=values,
                    definition_version="v", created_at=now, updated_at=now, state_entered_at=now,
                    id=1, version=1, clock_state=good)
    assert clockstate.current(desk, spec, ticket, sets) is not None
    for bad in (dict(good, v=2), dict(good, d="0" * 64), dict(good, f=99), {"c": "x"}, None, [1]):
        ticket.clock_state = bad
        assert clockstate.current(desk, spec, ticket, sets) is None
    ticket.clock_state = good
    other = slamod.settings(spec, DEFS, dict(values, priority="P4"))
    assert clockstate.current(desk, spec, ticket, other) is None  # a new target: replay


def test_a_state_of_the_earlier_format_is_replayed_not_reported() -> None:
    """Format 1 (runs without the target a stopped clock was judged against): not
    continued, and ``itsm audit verify`` has nothing to compare until the next action."""
    spec = DEFS.processes["incident"]
    values = {"priority": "P2", "service": _codes("services")[0]}
    sets = slamod.settings(spec, DEFS, values)
    create = {"seq": 1, "action": "create", "from_state": None, "to_state": spec.initial.id,
              "effective_at": START, "changes": {}}
    good = clockstate.replayed(_Desk(), spec, [create], sets, 1).to_json()
    old = dict(good, f=1, c={cid: [run[:8], base] for cid, (run, base) in good["c"].items()})
    assert clockstate.parse(old) is None and clockstate.parse(good) is not None
    row = {"clock_state": old, "version": 1}
    assert clockstate.verify(_Desk(), spec, row, values, [create]) is None
    assert clockstate.verify(_Desk(), spec, dict(row, clock_state=good), values, [create]) is True


def test_a_stopped_clock_keeps_the_target_it_stopped_with() -> None:
    """The replay: a stop journaled with its target is judged against it after the
    target changed (a raised priority)."""
    spec = DEFS.processes["incident"]
    p3 = {"priority": "P3", "service": "desktop"}
    p2 = dict(p3, priority="P2")
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)  # a Monday: head office hours from 09:00
    create = {"seq": 1, "action": "create", "from_state": None, "to_state": "new", "effective_at": t0,
              "changes": {}}
    assign = {"seq": 2, "action": "assign", "from_state": "new", "to_state": "assigned",
              "effective_at": t0 + timedelta(minutes=5), "changes": {}}
    start = {"seq": 3, "action": "start", "from_state": "assigned", "to_state": "in_progress",
             "effective_at": t0 + timedelta(hours=1), "changes": {slamod.JUDGED: {"response": 7200}}}
    journal = [create, assign, start]
    later = t0 + timedelta(hours=2)
    legacy = [create, assign, dict(start, changes={})]
    assert slamod.compute(spec, DEFS, slamod.moves(journal), p3, later)["response"]["met"] is True
    raised = slamod.compute(spec, DEFS, slamod.moves(journal), p2, later)["response"]
    assert (raised["met"], raised["breached"], raised["target_seconds"]) == (True, False, 7200)
    # an event of an earlier version journals no target: the current one judges it, as before
    assert slamod.compute(spec, DEFS, slamod.moves(legacy), p2, later)["response"]["met"] is False


# -- the desk: the real action path on SQLite -----------------------------------------------

TESTER = "clock.tester"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Api:
    """One desk per backend for the module (the JSON column and its round trip)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('clocks') / 'itsm.db'}"
    else:
        url = require_postgres()
        reset_postgres(url)
    a = Api.open(home=str(REPO), db=url, user=TESTER, now=START.isoformat())
    a.upgrade_db()
    roles = sorted({r for p in DEFS.processes.values() for r in p.roles})
    a.add_user(TESTER, "Clock Tester", "clock.tester@example.com", None, roles, _codes("groups"),
               "head_office")
    return a


def _value(spec: Any, name: str, draw: Any) -> Any:
    fs = spec.fields.get(name)
    if name == "group":
        return draw(st.sampled_from(_codes("groups")))
    if name in ("urgency", "impact"):
        return draw(st.sampled_from(_codes(name) or ["medium"]))
    if name == "service":
        return draw(st.sampled_from(_codes("services")))
    kind = fs.type if fs is not None else "text"
    if kind == "bool":
        return draw(st.booleans())
    if kind == "code":
        return draw(st.sampled_from(_codes(fs.codes) or ["x"])) if fs.codes else "solved"
    if kind == "user":
        return TESTER
    if kind == "date":
        return "2026-04-01"
    if kind in ("int", "integer", "number"):
        return draw(st.integers(0, 50))
    return draw(st.sampled_from(["done", "network restored", "VPN"]))


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_actions_keep_the_clock_state_the_journal_replays_to(api: Api, data: Any) -> None:
    process = data.draw(st.sampled_from(PROCESSES))
    spec = DEFS.processes[process]
    now = api.desk.fixed_now + timedelta(days=14)
    api.desk.fixed_now = now
    intake: dict[str, Any] = {"title": "Clock property", "reporter": "li.na@example.com",
                              "service": data.draw(st.sampled_from(_codes("services")))}
    for name in ("urgency", "impact"):
        if name in spec.fields or name in ("urgency", "impact"):
            intake[name] = data.draw(st.sampled_from(_codes(name) or ["medium"]))
    try:
        key = api.new_ticket(process, intake)["key"]
    except ItsmError:
        key = api.new_ticket(process, {"title": "Clock property", "reporter": "li.na@example.com"})["key"]
    for _ in range(data.draw(st.integers(1, 14))):
        now = now + timedelta(seconds=data.draw(st.sampled_from(DELTAS)))
        api.desk.fixed_now = now
        if data.draw(st.integers(0, 5)) == 0:
            api.comment(key, "an update")
            continue
        state = api.show(key)["state"]
        choices = sorted(a.id for a in spec.actions_from(state))
        if not choices:
            break
        action = spec.actions[data.draw(st.sampled_from(choices))]
        inputs = {f: _value(spec, f, data.draw) for f in action.requires}
        for f in action.accepts:
            if f in ("urgency", "impact", "service") and data.draw(st.booleans()):
                inputs[f] = _value(spec, f, data.draw)
        try:
            api.do(key, action.id, inputs, note="property")
        except ItsmError:
            continue  # refused: nothing written
        report = verify(api.desk)
        mine = [p for p in report["problems"] if p["ticket"] == key and p["kind"] == "column"]
        assert mine == [], mine
        with api.store.read() as repo:
            row = repo.get_ticket(key)
            assert clockstate.parse(row["clock_state"]).version == row["version"]


def _set_clock_state(api: Api, key: str, value: Any) -> None:
    import sqlalchemy as sa

    from engine.store.schema import tickets

    with api.store.write() as repo:
        repo.conn.execute(sa.update(tickets).where(tickets.c.key == key).values(clock_state=value))


def test_audit_verify_finds_a_stored_clock_state_the_journal_does_not_give(api: Api) -> None:
    api.desk.fixed_now = api.desk.fixed_now + timedelta(days=30)
    key = api.new_ticket("incident", {"title": "Tampered clocks", "reporter": "li.na@example.com"})["key"]
    api.do(key, "assign", {"group": _codes("groups")[0], "assignee": TESTER})
    with api.store.read() as repo:
        good = repo.get_ticket(key)["clock_state"]
    bad = json.loads(json.dumps(good))
    run = bad["c"]["resolution"][0]
    run[1] += 3_600_000_000  # an hour more counted than the journal gives
    _set_clock_state(api, key, bad)
    found = [p for p in verify(api.desk)["problems"] if p["ticket"] == key]
    assert [p["message"] for p in found] == [
        f"the stored clock state differs from the one its journal computes (event {good['v']})"]
    _set_clock_state(api, key, good)
    assert [p for p in verify(api.desk)["problems"] if p["ticket"] == key] == []


def test_a_ticket_without_a_clock_state_is_replayed_by_its_next_action(api: Api) -> None:
    """Tickets written before migration 0009 (NULL) get theirs on first touch."""
    api.desk.fixed_now = api.desk.fixed_now + timedelta(days=30)
    key = api.new_ticket("incident", {"title": "Old ticket", "reporter": "li.na@example.com"})["key"]
    api.do(key, "assign", {"group": _codes("groups")[0], "assignee": TESTER})
    _set_clock_state(api, key, None)
    assert [p for p in verify(api.desk)["problems"] if p["ticket"] == key] == []  # not a finding
    api.desk.fixed_now += timedelta(hours=3)
    assert api.do(key, "start", {})["state"] == "in_progress"
    with api.store.read() as repo:
        row = repo.get_ticket(key)
        spec = DEFS.processes["incident"]
        state = clockstate.parse(row["clock_state"])
        events = repo.events(row["id"])
        sets = slamod.settings(spec, DEFS, Ticket.from_row(row).values, clockstate.in_force(events))
        assert state is not None and state.version == row["version"]
        assert state.to_json() == clockstate.replayed(_Desk(), spec, events, sets, row["version"]).to_json()
    assert [p for p in verify(api.desk)["problems"] if p["ticket"] == key] == []


def test_a_tick_does_the_same_from_the_stored_state_and_from_the_replay(api: Api) -> None:
    """Two twin incidents, one without a stored clock state (as written before
    migration 0009): the tick replays that one's journal and fires the same
    effects, at the same due times, as it does from the other's stored state."""
    api.desk.fixed_now = api.desk.fixed_now + timedelta(days=30)
    keys = [api.new_ticket("incident", {"title": f"Twin {i}", "reporter": "li.na@example.com",
                                        "service": "desktop", "urgency": "high", "impact": "medium"})["key"]
            for i in range(2)]
    for key in keys:
        api.do(key, "assign", {"group": _codes("groups")[0], "assignee": TESTER})
    _set_clock_state(api, keys[1], None)
    api.desk.fixed_now += timedelta(days=5)  # both clocks warned and breached, reminders due
    done = api.tick()
    twins = [[(r["kind"], r["name"], r["due"], r["outcome"]) for r in done if r["key"] == key] for key in keys]
    assert twins[0] and twins[0] == twins[1], twins
    with api.store.read() as repo:  # and leaves the same due work
        due = [sorted(repo.conn.execute(_due_rows(repo.get_ticket(key)["id"])).all()) for key in keys]
    assert due[0] == due[1]
    assert [p for p in verify(api.desk)["problems"] if p["ticket"] in keys] == []


def _due_rows(ticket_id: int) -> Any:
    import sqlalchemy as sa

    from engine.store.schema import due_work

    return sa.select(due_work.c.kind, due_work.c.name, due_work.c.cycle, due_work.c.due_at).where(
        due_work.c.ticket_id == ticket_id)
