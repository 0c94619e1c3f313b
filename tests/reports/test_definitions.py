"""Report definitions: the shipped ones are valid, broken ones are refused at the
right line, the KPI registry, schema and docs agree; schedules and recipients."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from _dataset import REPO, at

from engine.api import Api
from engine.errors import DefinitionError, NotFound
from engine.reports import due_reports, load_report, recipients, report_names
from engine.reports.definition import CATCH_UP, MAX_CATCH_UP, report_schedule
from engine.reports.catalogue import section
from engine.reports.kpis import KPIS, formula
from engine.reports.schedule import mail_rows, run_record

SHIPPED = ["daily", "major_incidents", "monthly", "weekly"]
GOOD = """\
# yaml-language-server: $schema=../engine/schemas/report.schema.json
schema: itsm/report@1
report: mine
version: 1
title: {en: Mine, zh: 我的}
owner: process_owner
schedule: "0 8 * * mon"
period: week
kpis:
  - kpi: volume
    params: {group_by: service}
"""


def test_the_shipped_reports_are_valid(tmp_path: Path) -> None:
    assert report_names(REPO) == SHIPPED
    defs = Api.open(home=str(REPO), db=f"sqlite:///{tmp_path}/x.db").defs
    for name in SHIPPED:
        spec = load_report(REPO, name, defs)
        text = (REPO / "reports" / f"{name}.yaml").read_text(encoding="utf-8")
        assert text.startswith("# yaml-language-server: $schema=../engine/schemas/report.schema.json\n")
        assert spec.title.en and spec.title.zh and spec.recipients and spec.kpis
        assert all(u.title.zh != u.title.en for u in spec.kpis)
    assert {u.kpi for n in SHIPPED for u in load_report(REPO, n).kpis} == set(KPIS)


def write(tmp_path: Path, text: str, name: str = "mine") -> Path:
    (tmp_path / "reports").mkdir(exist_ok=True)
    (tmp_path / "reports" / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


BROKEN = [
    (("period: week", "period: fortnight"), 8, 9, "'fortnight' is not one of: day, week, month, quarter"),
    (("owner: process_owner", "ownr: process_owner"), 6, 1, "unknown key 'ownr'; did you mean 'owner'?"),
    (("- kpi: volume", "- kpi: volumes"), 10, 10, "'volumes' is not one of"),
    (("{group_by: service}", "{group_by: service, buckets: [1d]}"), 11, 33,
     "KPI 'volume' has no parameter 'buckets'; it takes: group_by, filters"),
    (("{group_by: service}", "{group_by: Team}"), 11, 24, "'Team' is not valid"),
    (('"0 8 * * mon"', '"0 8 * * monday"'), 7, 11, "day of week: 'monday' is not a number or a name"),
    (("report: mine", "report: yours"), 3, 9, "the report id 'yours' must equal the file name 'mine'"),
    # missed runs made up at once: at least the latest, at most MAX_CATCH_UP (the work of one tick)
    (("period: week", "period: week\ncatch_up: 0"), 9, 11, "0 is less than the minimum, 1"),
    (("period: week", "period: week\ncatch_up: 101"), 9, 11, "101 is more than the maximum, 100"),
    (("period: week", "period: week\ncatch_up: seven"), 9, 11, "expected integer, got a string"),
    (("period: week", "period: week\ncatch_up: true"), 9, 11, "expected integer, got a boolean"),
]


@pytest.mark.parametrize("change,line,column,message", BROKEN)
def test_broken_definitions_are_refused_where_they_are_wrong(
        tmp_path: Path, change: tuple[str, str], line: int, column: int, message: str) -> None:
    home = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(DefinitionError) as exc:
        load_report(home, "mine")
    assert (exc.value.line, exc.value.column) == (line, column), exc.value
    assert message in exc.value.message


@pytest.mark.parametrize("change,line,column,message", BROKEN)
def test_the_schedule_look_of_every_tick_refuses_a_broken_schedule_as_loading_does(
        tmp_path: Path, change: tuple[str, str], line: int, column: int, message: str) -> None:
    """Every tick looks at every report's schedule without checking the rest of
    its file (the desk's definitions, reports included, are linted when loaded;
    a due report is loaded in full when it runs)."""
    home = write(tmp_path, GOOD.replace(*change))
    if "period" in change[0] or "mon" in change[0]:
        with pytest.raises(DefinitionError) as exc:
            report_schedule(home, "mine")
        assert (exc.value.line, exc.value.column) == (line, column) and message in exc.value.message
    else:
        assert report_schedule(home, "mine") == ("0 8 * * mon", "week", None, CATCH_UP)


def test_a_report_says_how_many_missed_runs_it_makes_up(tmp_path: Path) -> None:
    """``catch_up`` (default CATCH_UP), read by the tick's look and by loading
    alike; the schema's bound is the engine's."""
    home = write(tmp_path, GOOD.replace("period: week", "period: week\ncatch_up: 3"))
    assert load_report(home, "mine").catch_up == 3
    assert report_schedule(home, "mine").catch_up == 3
    assert load_report(write(tmp_path, GOOD), "mine").catch_up == CATCH_UP == 7
    whole = load_report(write(tmp_path, GOOD.replace("period: week", "period: week\ncatch_up: 7.0")), "mine")
    assert type(whole.catch_up) is int and whole.catch_up == 7  # the schema's integer takes 7.0
    # the tick's look reads it without the schema: a broken key elsewhere is left to loading
    home = write(tmp_path, GOOD.replace("period: week", "period: week\ncatch_up: 3").replace("owner:", "ownr:"))
    assert report_schedule(home, "mine").catch_up == 3
    with pytest.raises(DefinitionError):
        load_report(home, "mine")
    schema = json.loads((REPO / "engine" / "schemas" / "report.schema.json").read_text(encoding="utf-8"))
    assert (schema["properties"]["catch_up"]["minimum"], schema["properties"]["catch_up"]["maximum"]) \
        == (1, MAX_CATCH_UP)


def test_a_dimension_must_be_one_of_the_processes_in_scope(tmp_path: Path) -> None:
    """group_by and filters name a ticket dimension or an enumerable field of the
    processes the KPI looks at (issue #24 item 2; lint R005 says the same)."""
    defs = Api.open(home=str(REPO), db=f"sqlite:///{tmp_path}/x.db").defs
    for group_by, fine in (("closure_code", True), ("regulatory_impact", True), ("team", False),
                           ("solution", False), ("offering", False)):
        text = GOOD.replace("{group_by: service}", f"{{group_by: {group_by}, filters: {{process: incident}}}}")
        home = write(tmp_path, text)
        if fine:
            assert load_report(home, "mine", defs).kpis[0].params["group_by"] == group_by
            continue
        with pytest.raises(DefinitionError) as exc:
            load_report(home, "mine", defs)
        assert (exc.value.line, exc.value.column) == (11, 24), exc.value
    home = write(tmp_path, GOOD.replace("{group_by: service}", "{filters: {colour: red}}"))
    with pytest.raises(DefinitionError, match="'colour' is neither a ticket dimension"):
        load_report(home, "mine", defs)


def test_business_age_buckets_and_twice_used_kpis_are_refused(tmp_path: Path) -> None:
    home = write(tmp_path, GOOD.replace("- kpi: volume\n    params: {group_by: service}",
                                        "- kpi: backlog_age\n    params: {buckets: [3 business days]}"))
    with pytest.raises(DefinitionError, match="wall time"):
        load_report(home, "mine")
    home = write(tmp_path, GOOD + "  - kpi: volume\n")
    with pytest.raises(DefinitionError, match="KPI id 'volume' is used twice"):
        load_report(home, "mine")
    with pytest.raises(NotFound, match="no report 'nope'.*known: mine"):
        load_report(home, "nope")


def test_registry_schema_and_docs_agree() -> None:
    schema = json.loads((REPO / "engine" / "schemas" / "report.schema.json").read_text())
    assert schema["$defs"]["kpi"]["properties"]["kpi"]["enum"] == list(KPIS)
    params = set(schema["$defs"]["kpi"]["properties"]["params"]["properties"])
    docs = (REPO / "docs" / "reports.md").read_text(encoding="utf-8")
    assert section() in docs, "regenerate: python -m engine.reports.catalogue docs/reports.md"
    for kid, kpi in KPIS.items():
        assert set(kpi.PARAMS) <= params, kid
        assert formula(kpi) and "=" in formula(kpi), f"{kid}: the docstring is the formula"
        assert kpi.TITLE.zh != kpi.TITLE.en and kpi.SUMMARY.zh != kpi.SUMMARY.en


def test_due_reports_cover_since_the_previous_run(db_url: str) -> None:
    api = Api.open(home=str(REPO), db=db_url, now=at("2026-03-09 08:00"))  # a Monday
    due = {d.name: (d.start.isoformat(), d.end.isoformat(), d.scheduled.isoformat()) for d in due_reports(api)}
    assert due == {
        # Monday to Friday: Monday's run covers Friday to Sunday (since Friday's run's period ended)
        "daily": (at("2026-03-06 00:00"), at("2026-03-09 00:00"), at("2026-03-09 08:00")),
        "weekly": (at("2026-03-02 00:00"), at("2026-03-09 00:00"), at("2026-03-09 08:00")),
        "monthly": (at("2026-02-01 00:00"), at("2026-03-01 00:00"), at("2026-03-01 09:00")),
        # scheduled 08:30: at 08:00 its last run is still last Monday's
        "major_incidents": (at("2026-02-23 00:00"), at("2026-03-02 00:00"), at("2026-03-02 08:30")),
    }
    ran = {("weekly", "2026-03-02T00:00:00+08:00")}
    rest = due_reports(api, lambda name, start, end: (name, start.isoformat()) in ran)
    assert sorted(d.name for d in rest) == ["daily", "major_incidents", "monthly"]


def test_missed_runs_start_where_the_last_recorded_run_ended(db_url: str) -> None:
    """After a run, each later run of the schedule is due, oldest first, the first
    from the end of the last recorded run (even one the schedule would not draw:
    the definition changed since); beyond ``catch_up`` one skipped span covers the
    rest of the gap."""
    from datetime import datetime

    api = Api.open(home=str(REPO), db=db_url, now=at("2026-03-10 08:00"))  # a Tuesday
    last = {"daily": datetime.fromisoformat(at("2026-03-04 12:00")),
            "weekly": datetime.fromisoformat(at("2026-03-09 00:00"))}

    def periods(**kw: Any) -> list[tuple[str, str, int]]:
        return [(d.start.isoformat(), d.end.isoformat(), d.skipped)
                for d in due_reports(api, last_end=lambda name, now: last.get(name), **kw) if d.name == "daily"]

    assert periods() == [(at("2026-03-04 12:00"), at("2026-03-05 00:00"), 0),
                         (at("2026-03-05 00:00"), at("2026-03-06 00:00"), 0),
                         (at("2026-03-06 00:00"), at("2026-03-09 00:00"), 0),
                         (at("2026-03-09 00:00"), at("2026-03-10 00:00"), 0)]
    assert periods(catch_up=2) == [(at("2026-03-04 12:00"), at("2026-03-06 00:00"), 2),
                                   (at("2026-03-06 00:00"), at("2026-03-09 00:00"), 0),
                                   (at("2026-03-09 00:00"), at("2026-03-10 00:00"), 0)]
    assert not [d for d in due_reports(api, last_end=lambda name, now: last.get(name)) if d.name == "weekly"]


def test_recipients_and_outbox_rows(itsm: Any, org: Any, db_url: str) -> None:
    api = Api.open(home=str(REPO), db=db_url, now=at("2026-03-09 08:00"))
    weekly = load_report(REPO, "weekly")
    assert recipients(api, weekly) == [org.owner.email, org.incident_manager.email]
    daily = load_report(REPO, "daily")  # the desk's mailbox, then the incident managers
    assert recipients(api, daily) == ["servicedesk@it.example.com", org.incident_manager.email]
    due = [d for d in due_reports(api) if d.name == "weekly"][0]
    rows = mail_rows(api, "weekly", due.start, due.end)
    assert [r["recipient"] for r in rows] == [org.owner.email, org.incident_manager.email]
    event = rows[0]["payload"]["event"]
    assert event["title"] == "Weekly service management report" and event["start"] == at("2026-03-02 00:00")
    assert event["html"].startswith("<!DOCTYPE html>") and event["csv"].startswith("kpi,table,row")
    assert rows[0]["payload"]["note"].startswith("# Weekly service management report")
    assert run_record(due, api.now(), len(rows))["period_end"] == due.end


def test_loading_a_definition_needs_neither_the_store_nor_jinja2() -> None:
    """So that lint can check reports without importing SQLAlchemy (design section 2)."""
    import subprocess
    import sys

    probe = ("import sys; from pathlib import Path; from engine.reports import load_report; "
             f"load_report(Path({str(REPO)!r}), 'weekly'); "
             "print(sorted({'sqlalchemy', 'jinja2'} & {m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
