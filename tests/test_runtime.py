"""The runtime without the CLI or a database: who may act (engine.runtime.actions)
and the SLA clocks computed from a ticket's transitions (engine.clock.sla).

Expected due dates are hand-computed from codes/sla.yaml (silver: P2 response 30
business minutes, resolution 1 business day; bronze: P2 1 business hour / 2
business days; a business day is 8 working hours at head office) and
codes/calendars.yaml (head office 09:00-12:00 and 13:00-18:00, 2026 PRC holidays
and make-up working days).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from engine.clock import sla
from engine.errors import ActionRefused
from engine.model import Definitions, ProcessSpec
from engine.runtime.actions import SYSTEM, Actor, available, perform, roles_held
from engine.runtime.ticket import CORE_COLUMNS, Ticket
from engine.workspace import load_definitions
from engine.definitions.home import bundled_home

CST = timezone(timedelta(hours=8))
HOUR = 3600


def t(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CST)


@pytest.fixture(scope="module")
def defs() -> Definitions:
    return load_definitions(bundled_home(), use_cache=False)


@pytest.fixture(scope="module")
def incident(defs: Definitions) -> ProcessSpec:
    return defs.processes["incident"]


@pytest.fixture(scope="module")
def major(defs: Definitions) -> ProcessSpec:
    return defs.processes["major_incident"]


AGENT = Actor("wang.lei", "wang.lei@example.com", "Wang Lei", frozenset({"service_desk"}),
              frozenset({"service_desk"}))
MANAGER = Actor("zhou.qing", "zhou.qing@example.com", "Zhou Qing", frozenset({"incident_manager"}))
CHEN = Actor("chen.jie", "chen.jie@example.com", "Chen Jie", groups=frozenset({"desktop_support"}))
GAO = Actor("gao.yan", "gao.yan@example.com", "Gao Yan", groups=frozenset({"desktop_support"}))
SUN = Actor("sun.hao", "sun.hao@example.com", "Sun Hao", groups=frozenset({"network_ops"}))
REPORTER = Actor("li.na@example.com", "li.na@example.com", "li.na@example.com")


class Lookup:
    people = {"wang.lei", "zhou.qing", "chen.jie", "gao.yan", "sun.hao", "huang.wei", "xu.fang"}

    def person_id(self, ident: str) -> str | None:
        return ident if ident in self.people else None

    def ticket_exists(self, key: str) -> bool:
        return key == "MI-000001"


def make(defs: Definitions, spec: ProcessSpec, state: str | None = None, **values: Any) -> Ticket:
    state = state or spec.initial.id
    base: dict[str, Any] = dict.fromkeys(CORE_COLUMNS)
    base.update(values)
    status = spec.states[state].status
    return Ticket(key="INC-000001", process=spec.id, state=state, values=base,
                  definition_version="test", created_at=t("2026-03-02 09:00"),
                  updated_at=t("2026-03-02 09:00"), state_entered_at=t("2026-03-02 09:00"), version=1,
                  status=status, status_category=defs.category_of(status))


def do(defs: Definitions, spec: ProcessSpec, ticket: Ticket, action: str, actor: Actor,
       note: str | None = None, now: str = "2026-03-02 10:00", **inputs: Any) -> Any:
    def sla_for(target: str, values: Any) -> dict[str, Any]:
        moves = [sla.Transition(ticket.created_at, None, spec.initial.id, "create")]
        if ticket.state != spec.initial.id:
            moves.append(sla.Transition(ticket.created_at, spec.initial.id, ticket.state, "earlier"))
        moves.append(sla.Transition(t(now), ticket.state, target, action))
        return sla.compute(spec, defs, moves, values, t(now))

    return perform(defs, spec, ticket, action, actor, {k: str(v) for k, v in inputs.items()}, note,
                   t(now), Lookup(), sla_for)


# --- roles -----------------------------------------------------------------------------

def test_group_member_acts_for_an_unassigned_group(defs: Definitions, incident: ProcessSpec) -> None:
    values = {"group": "desktop_support", "assignee": None, "reporter": "li.na@example.com"}
    assert {"group_member", "assignee"} <= roles_held(incident, values, CHEN)
    assert "group_member" not in roles_held(incident, values, SUN)
    assert "assignee" not in roles_held(incident, values, SUN)
    values["assignee"] = "gao.yan"
    held = roles_held(incident, values, CHEN)
    assert "group_member" in held and "assignee" not in held
    assert "assignee" in roles_held(incident, values, GAO)


def test_static_roles_reporter_and_system(defs: Definitions, incident: ProcessSpec) -> None:
    values = {"reporter": "li.na@example.com"}
    assert roles_held(incident, values, AGENT) == {"service_desk"}
    assert "reporter" in roles_held(incident, values, REPORTER)
    assert "reporter" not in roles_held(incident, values, AGENT)
    assert "system" in roles_held(incident, values, SYSTEM)


def test_user_fields_are_dynamic_roles(defs: Definitions, major: ProcessSpec) -> None:
    values = {"manager": "huang.wei", "technical_lead": "sun.hao", "communications_owner": "xu.fang"}
    assert "technical_lead" in roles_held(major, values, SUN)
    assert "communications_owner" not in roles_held(major, values, SUN)
    xu = Actor("xu.fang", "xu.fang@example.com", groups=frozenset({"major_incident_team"}))
    assert "communications_owner" in roles_held(major, values, xu)
    ticket = make(defs, major, "accepted", **values)
    assert [a.id for a in available(major, ticket, xu)] == ["post_update"]
    assert {a.id for a in available(major, ticket, SUN)} == {"mitigate", "resolve"}


def test_start_by_a_group_member_takes_the_ticket(defs: Definitions, incident: ProcessSpec) -> None:
    ticket = make(defs, incident, "assigned", group="desktop_support", urgency="medium", impact="low",
                  priority="P4", reporter="li.na@example.com")
    out = do(defs, incident, ticket, "start", CHEN)
    assert out.to_state == "in_progress" and out.role in ("assignee", "group_member")
    assert out.values["assignee"] == "chen.jie"
    assert out.changes["assignee"] == [None, "chen.jie"]
    assert ticket.values["assignee"] is None  # perform never changes the ticket itself
    with pytest.raises(ActionRefused) as exc:
        do(defs, incident, ticket, "start", SUN)
    assert exc.value.allowed_roles == ["assignee", "group_member"]


def test_refusals_say_what_is_available(defs: Definitions, incident: ProcessSpec) -> None:
    ticket = make(defs, incident, "new", reporter="li.na@example.com")
    with pytest.raises(ActionRefused) as exc:
        do(defs, incident, ticket, "confirm", AGENT)
    assert exc.value.available == ["assign", "resolve", "cancel", "declare_major", "raise_problem", "update"]
    assert "available now" in exc.value.message
    with pytest.raises(ActionRefused) as exc:
        do(defs, incident, ticket, "resolve", AGENT)
    assert exc.value.missing == ["solution", "closure_code", "service_restored"]


# --- priority --------------------------------------------------------------------------------

def test_priority_follows_the_matrix(defs: Definitions, incident: ProcessSpec) -> None:
    ticket = make(defs, incident, "new", urgency="medium", impact="medium", priority="P3")
    out = do(defs, incident, ticket, "update", AGENT, urgency="high")
    assert out.values["priority"] == "P2" and out.changes["priority"] == ["P3", "P2"]
    assert out.priority_overridden is False
    out = do(defs, incident, ticket, "update", AGENT, urgency="low", impact="low")
    assert out.values["priority"] == "P4"
    for impact in ("high", "medium", "low"):
        for urgency in ("high", "medium", "low"):
            assert defs.priority_for(impact, urgency) in ("P1", "P2", "P3", "P4")
    assert defs.priority_for("high", "high") == "P1" and defs.priority_for("low", "low") == "P4"


def test_priority_override_needs_the_role_and_a_reason(defs: Definitions, incident: ProcessSpec) -> None:
    ticket = make(defs, incident, "new", urgency="low", impact="low", priority="P4")
    with pytest.raises(ActionRefused) as exc:
        do(defs, incident, ticket, "update", AGENT, note="VIP", priority="P1")
    assert exc.value.allowed_roles == ["incident_manager"]
    with pytest.raises(ActionRefused):
        do(defs, incident, ticket, "update", MANAGER, priority="P1")
    out = do(defs, incident, ticket, "update", MANAGER, note="Board meeting at 10", priority="P1")
    assert out.values["priority"] == "P1" and out.priority_overridden is True

    overridden = make(defs, incident, "new", urgency="low", impact="low", priority="P1")
    overridden.priority_overridden = True
    out = do(defs, incident, overridden, "update", AGENT, urgency="medium")
    assert out.values["priority"] == "P1"  # the matrix no longer decides


# --- fields asked each time ---------------------------------------------------------------

def test_reason_is_asked_each_time(defs: Definitions, incident: ProcessSpec) -> None:
    ticket = make(defs, incident, "in_progress", group="desktop_support", assignee="chen.jie",
                  reason="Waiting for the vendor (an earlier pend)")
    with pytest.raises(ActionRefused) as exc:
        do(defs, incident, ticket, "pend", CHEN)
    assert exc.value.missing == ["reason"]
    out = do(defs, incident, ticket, "pend", CHEN, reason="Waiting for the user")
    assert out.to_state == "pending" and out.values["reason"] == "Waiting for the user"


def test_guard_and_close_criteria(defs: Definitions, incident: ProcessSpec) -> None:
    ticket = make(defs, incident, "in_progress", group="network_ops", assignee="sun.hao", service="network",
                  urgency="medium", impact="low", priority="P4", reporter="li.na@example.com")
    with pytest.raises(ActionRefused) as exc:
        do(defs, incident, ticket, "resolve", SUN, solution="x", closure_code="withdrawn",
           service_restored="true")
    assert "closure code" in exc.value.message
    out = do(defs, incident, ticket, "resolve", SUN, solution="Replaced the switch", closure_code="solved",
             service_restored="false")
    assert out.to_state == "resolved" and out.values["service_restored"] is False
    assert out.sla["resolution"]["met"] is True

    resolved = make(defs, incident, "resolved", **out.values)
    with pytest.raises(ActionRefused) as exc:
        do(defs, incident, resolved, "confirm", REPORTER, now="2026-03-02 11:00")
    assert "The service is restored" in exc.value.message
    assert "closure code is set" not in exc.value.message
    ok = dict(out.values, service_restored=True)
    out = do(defs, incident, make(defs, incident, "resolved", **ok), "confirm", REPORTER,
             now="2026-03-02 11:00")
    assert out.to_state == "closed" and out.values["user_confirmed"] is True


# --- SLA clocks ----------------------------------------------------------------------------------

def clocks(defs: Definitions, spec: ProcessSpec, moves: list[tuple[str, str | None, str, str]],
           now: str, **values: Any) -> dict[str, Any]:
    transitions = [sla.Transition(t(at), frm, to, action) for at, frm, to, action in moves]
    return sla.compute(spec, defs, transitions, values, t(now))


def created(at: str, state: str = "new") -> tuple[str, None, str, str]:
    return (at, None, state, "create")


@pytest.mark.parametrize("service, opened, response_due, resolution_due", [
    # silver, P2; Qingming (Sat 4 - Mon 6 April) follows the Friday
    ("desktop", "2026-04-03 17:00", "2026-04-03 17:30", "2026-04-07 17:00"),
    # bronze, P2: 1 business hour ends at the close of Friday; 2 business days = 16 h
    ("printing", "2026-04-03 17:00", "2026-04-03 18:00", "2026-04-08 17:00"),
    # an ordinary weekend
    ("desktop", "2026-03-06 17:00", "2026-03-06 17:30", "2026-03-09 17:00"),
    # Sunday 20 September is a make-up working day (National Day)
    ("desktop", "2026-09-18 17:00", "2026-09-18 17:30", "2026-09-20 17:00"),
    # opened after hours: the clock starts Monday 09:00
    ("desktop", "2026-03-06 20:00", "2026-03-09 09:30", "2026-03-09 18:00"),
])
def test_p2_on_a_business_hours_service_opened_friday_evening(
        defs: Definitions, incident: ProcessSpec, service: str, opened: str, response_due: str,
        resolution_due: str) -> None:
    c = clocks(defs, incident, [created(opened)], opened, service=service, priority="P2")
    assert c["response"]["due"] == t(response_due).isoformat()
    assert c["resolution"]["due"] == t(resolution_due).isoformat()
    assert c["resolution"]["elapsed_seconds"] == 0 and c["resolution"]["breached"] is False
    policy = {"desktop": "silver", "printing": "bronze"}[service]
    assert c["resolution"]["policy"] == policy and c["resolution"]["calendar"] == "head_office"


def test_a_priority_change_mid_flight_moves_the_due_date(defs: Definitions, incident: ProcessSpec) -> None:
    moves = [created("2026-03-02 09:00")]
    p3 = clocks(defs, incident, moves, "2026-03-02 11:00", service="desktop", priority="P3")
    assert p3["resolution"]["due"] == t("2026-03-04 18:00").isoformat()  # 3 x 8 working hours
    assert p3["resolution"]["elapsed_seconds"] == 2 * HOUR
    p2 = clocks(defs, incident, moves, "2026-03-02 11:00", service="desktop", priority="P2")
    assert p2["resolution"]["elapsed_seconds"] == 2 * HOUR  # the time already counted is kept
    assert p2["resolution"]["due"] == t("2026-03-02 18:00").isoformat()  # 8 h: 09-12, 13-18
    p1 = clocks(defs, incident, moves, "2026-03-02 11:00", service="desktop", priority="P1")
    assert p1["resolution"]["due"] == t("2026-03-02 14:00").isoformat()  # 4 h
    late = clocks(defs, incident, moves, "2026-03-02 15:00", service="desktop", priority="P1")
    assert late["resolution"]["breached"] is True and late["resolution"]["due"] == t("2026-03-02 14:00").isoformat()
    # another service, another policy: gold counts round the clock
    gold = clocks(defs, incident, moves, "2026-03-02 11:00", service="claims", priority="P2")
    assert gold["resolution"]["due"] == t("2026-03-02 17:00").isoformat()


def test_pending_does_not_count(defs: Definitions, incident: ProcessSpec) -> None:
    moves = [created("2026-03-02 09:00"),
             ("2026-03-02 09:10", "new", "assigned", "assign"),
             ("2026-03-02 09:30", "assigned", "in_progress", "start"),
             ("2026-03-02 10:00", "in_progress", "pending", "pend")]
    during = clocks(defs, incident, moves, "2026-03-02 15:00", service="desktop", priority="P3")
    res = during["resolution"]
    assert res["paused"] is True and res["state"] == "paused"
    assert res["elapsed_seconds"] == HOUR
    assert during["response"]["met"] is True and during["response"]["elapsed_seconds"] == 30 * 60
    moves.append(("2026-03-03 10:00", "pending", "in_progress", "resume"))
    after = clocks(defs, incident, moves, "2026-03-03 11:00", service="desktop", priority="P3")
    res = after["resolution"]
    assert res["paused"] is False and res["elapsed_seconds"] == 2 * HOUR
    # 22 working hours remain from Tuesday 11:00: 11-12, 13-18, Wed 8, Thu 8 -> Thursday 18:00
    assert res["due"] == t("2026-03-05 18:00").isoformat()


def test_reopen_resumes_the_resolution_clock(defs: Definitions, incident: ProcessSpec) -> None:
    moves = [created("2026-03-02 09:00"), ("2026-03-02 10:00", "new", "resolved", "resolve")]
    c = clocks(defs, incident, moves, "2026-03-02 14:00", service="desktop", priority="P3")
    assert c["resolution"]["met"] is True and c["resolution"]["elapsed_seconds"] == HOUR
    assert c["resolution"]["state"] == "stopped"
    moves.append(("2026-03-02 14:00", "resolved", "in_progress", "reopen"))
    c = clocks(defs, incident, moves, "2026-03-02 15:00", service="desktop", priority="P3")
    assert c["resolution"]["met"] is None and c["resolution"]["state"] == "running"
    assert c["resolution"]["elapsed_seconds"] == 2 * HOUR  # the first hour is kept
    moves.append(("2026-03-02 16:00", "in_progress", "resolved", "resolve"))
    c = clocks(defs, incident, moves, "2026-03-03 09:00", service="desktop", priority="P3")
    assert c["resolution"]["elapsed_seconds"] == 3 * HOUR and c["resolution"]["met"] is True


def test_round_the_clock_counts_nights_and_weekends(defs: Definitions, incident: ProcessSpec) -> None:
    c = clocks(defs, incident, [created("2026-03-07 22:00")], "2026-03-08 01:00", service="claims",
               priority="P1")
    assert c["resolution"]["elapsed_seconds"] == 3 * HOUR
    assert c["resolution"]["due"] == t("2026-03-08 02:00").isoformat()
    assert c["response"]["breached"] is True and c["response"]["met"] is None


def test_the_first_api_freezes_what_it_loaded_once(tmp_path: Any) -> None:
    """Api.open takes the loaded modules and definitions out of the cyclic
    collector's scans (gc.freeze), once per process: a later open must not
    freeze again (that would keep whatever garbage is around for good)."""
    import gc

    from engine.api import Api

    Api.open(home=str(bundled_home()), db=f"sqlite:///{tmp_path}/a.db", user="system")
    frozen = gc.get_freeze_count()
    assert frozen > 0
    garbage = [[] for _ in range(1000)]  # objects a second freeze would take along
    Api.open(home=str(bundled_home()), db=f"sqlite:///{tmp_path}/b.db", user="system")
    assert gc.get_freeze_count() == frozen
    del garbage


@pytest.mark.parametrize("kind,raw,said", [
    ("int", True, "invalid value true for n: expected a whole number, not true or false"),
    ("int", 3.7, "invalid value 3.7 for n: expected a whole number, not a number with a fraction"),
    ("int", float("inf"), "invalid value Infinity for n: expected a whole number"),
    ("number", False, "invalid value false for n: expected a number, not true or false"),
])
def test_a_typed_value_is_not_turned_into_another_number(kind: str, raw: Any, said: str) -> None:
    """JSON's true is not 1, nor 3.7 a 3: a malformed request (exit 2, HTTP 400)."""
    from engine.errors import UsageError
    from engine.model import FieldSpec, Label
    from engine.runtime.fields import coerce

    fs = FieldSpec("n", kind, Label("N", "N"))
    defs = load_definitions(bundled_home())
    with pytest.raises(UsageError) as caught:
        coerce(defs, fs, raw, lookup=None)  # type: ignore[arg-type]
    assert caught.value.message == said and caught.value.exit_code == 2
    assert coerce(defs, fs, 12.0, lookup=None) == 12 and coerce(defs, fs, " 12 ", lookup=None) == 12  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["nan", "inf", "-Infinity", float("nan"), float("inf")])
def test_a_number_field_refuses_what_is_not_a_finite_number(raw: Any) -> None:
    from engine.model import FieldSpec, Label
    from engine.runtime.fields import coerce

    fs = FieldSpec("score", "number", Label("Score", "得分"))
    with pytest.raises(ActionRefused, match="expected a finite number"):
        coerce(load_definitions(bundled_home()), fs, raw, lookup=None)  # type: ignore[arg-type]
    assert coerce(load_definitions(bundled_home()), fs, " 2.5 ", lookup=None) == 2.5  # type: ignore[arg-type]


# --- now in expressions: the desk's local time ----------------------------------------

def test_guards_read_now_in_the_desks_time_zone(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``now.hour`` in a guard is the desk's local hour (ITSM_TZ, else the head office's
    zone, Asia/Shanghai here), the same however the time was given: the wall clock
    is UTC and --now keeps its own offset. It used to be 01:30 for 09:30 in Shanghai
    given in UTC, so an office-hours guard judged by the offset the time was written with."""
    import shutil

    from click.testing import CliRunner

    import cli

    home = tmp_path / "home"
    for sub in ("processes", "codes", "reports"):
        shutil.copytree(bundled_home() / sub, home / sub)
    path = home / "processes" / "incident.yaml"
    text = path.read_text(encoding="utf-8")
    old = "    roles: [service_desk, incident_manager, assignee, group_member]\n    accepts: [title,"
    assert old in text
    path.write_text(text.replace(old, old.replace("\n    accepts:", "\n    when: \"now.hour >= 9 and "
                                                  "now.hour < 18\"\n    accepts:")),
                    encoding="utf-8")
    monkeypatch.delenv("ITSM_TZ", raising=False)
    db = f"sqlite:///{tmp_path}/itsm.db"

    def itsm(now: str, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli.main, ["--home", str(home), "--db", db, "--as", "wang.lei",
                                               "--now", now, *args])
        return result.exit_code, result.stdout + result.stderr

    code, out = itsm("2026-03-02T09:00:00+08:00", "user", "add", "wang.lei", "--email", "wang.lei@example.com",
                     "--role", "service_desk", "--group", "service_desk")
    assert code == 0, out
    code, out = itsm("2026-03-02T09:00:00+08:00", "new", "incident", "--title", "Mail down", "--reporter",
                     "li.na@example.com", "--service", "email")
    assert code == 0, out
    for now in ("2026-03-02T01:30:00+00:00", "2026-03-02T09:30:00+08:00", "2026-03-02T02:30:00+01:00"):
        code, out = itsm(now, "do", "INC-000001", "update", "--set", f"title=Mail down {now}")
        assert code == 0, out  # Monday 09:30 in Shanghai
    code, out = itsm("2026-03-02T10:30:00+00:00", "do", "INC-000001", "update", "--set", "title=late")
    assert code == 1 and "not allowed now" in out, out  # 18:30 in Shanghai
