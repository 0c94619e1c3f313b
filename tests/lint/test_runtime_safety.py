"""Lint-clean means runtime-safe (issue #20, item 4): each of these definitions passed
``itsm lint`` and then made every ``itsm new incident`` fail with exit 3 (or spend
most of a minute in calendar arithmetic first).

Each case breaks a copy of the shipped repository in one place. Lint must report it
with the rule, file, line and column expected; ``itsm new incident`` on the same
copy must refuse (exit 1, naming the same place), never fail with an internal error.
The lint-clean variants (a make-up working day on a holiday: the make-up day wins)
must log the incident and tick.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from engine.lint import lint_paths

REPO = Path(__file__).resolve().parents[2]
CAL = "codes/calendars.yaml"
SLA = "codes/sla.yaml"
WEEKDAY = '["09:00-12:00", "13:00-18:00"]'  # head_office, the first calendar, Monday first
NEW_YEAR = '{from: "2026-01-01", to: "2026-01-03"'
MAKE_UP = '{date: "2026-01-04",'

# id: (file, [(old, new), ...], rule, the text whose first occurrence the finding is at)
CASES: dict[str, tuple[str, list[tuple[str, str]], str, str]] = {
    "reversed_holiday_range": (CAL, [(NEW_YEAR, '{from: "2026-01-03", to: "2026-01-01"')],
                               "C003", '"2026-01-01"'),
    "impossible_holiday_date": (CAL, [(NEW_YEAR, '{date: "2026-02-30"')], "C003", '"2026-02-30"'),
    "impossible_holiday_from": (CAL, [(NEW_YEAR, '{from: "2026-02-30", to: "2026-03-03"')],
                                "C003", '"2026-02-30"'),
    "impossible_holiday_to": (CAL, [(NEW_YEAR, '{from: "2026-01-01", to: "2026-02-30"')],
                              "C003", '"2026-02-30"'),
    "impossible_make_up_date": (CAL, [(MAKE_UP, '{date: "2026-02-30",')], "C003", '"2026-02-30"'),
    "unknown_time_zone": (CAL, [("timezone: Asia/Shanghai", "timezone: Asia/Shangai")],
                          "C003", "Asia/Shangai"),
    "no_working_days": (CAL, [(WEEKDAY, "[]")] * 5, "C003", "hours:"),
    "reversed_working_hours": (CAL, [(WEEKDAY, '["18:00-09:00"]')], "C003", '"18:00-09:00"'),
    "empty_working_period": (CAL, [(WEEKDAY, '["09:00-09:00"]')], "C003", '"09:00-09:00"'),
    "overlapping_working_hours": (CAL, [(WEEKDAY, '["09:00-12:00", "11:00-18:00"]')],
                                  "C003", '"11:00-18:00"'),
    "make_up_day_with_closed_weekday_hours": (CAL, [(MAKE_UP, '{date: "2026-01-04", hours_as: sat,')],
                                              "C003", "sat,"),
    "holidays_close_it_for_years": (CAL, [(NEW_YEAR, '{from: "2026-01-01", to: "2030-01-03"')],
                                    "C003", '{from: "2026-01-01", to: "2030-01-03"'),
    "holidays_of_three_centuries": (CAL, [(NEW_YEAR, '{from: "1900-01-01", to: "2200-01-01"')],
                                    "C003", '{from: "1900-01-01", to: "2200-01-01"'),
    "huge_sla_target": (SLA, [("resolution: 4 business hours", "resolution: 99999999999m")],
                        "T007", "99999999999m"),
    "sla_target_of_years": (SLA, [("resolution: 4 business hours", "resolution: 1900 business days")],
                            "T007", "1900 business days"),
    "huge_timer": ("processes/incident.yaml",
                   [("after: 3 business days", "after: 999999999 business days")],
                   "T007", "999999999 business days"),
    "huge_criteria_window": ("processes/major_incident.yaml",
                             [("window: 30m", "window: 99999999999999999999 days")],
                             "T007", "99999999999999999999 days"),
    "guard_with_1e999": ("processes/major_incident.yaml",
                         [('"(affected_users or 0) >= 100"', '"(affected_users or 0) >= 1e999"')],
                         "E001", "1e999"),
    # a set: value the runtime refuses made the action (here: the breach escalation) fail every
    # time; a default of the wrong type was stored as written (review finding)
    "set_value_of_the_wrong_type": ("processes/incident.yaml",
                                    [("set: {escalated: true}", "set: {escalated: true, affected_users: many}")],
                                    "S003", "many"),
    "default_of_the_wrong_type": ("processes/incident.yaml",
                                  [("  channel: phone\n", "  channel: phone\n  regulatory_impact: maybe\n")],
                                  "S003", "maybe"),
}
CLEAN = {
    "make_up_day_on_a_holiday": (CAL, [(MAKE_UP, '{date: "2026-01-02",')]),
    # 2026-10-10 is a make-up working day, 2029-10-12 a Friday: 1097 days without working time
    "closed_for_three_years": (CAL, [(NEW_YEAR, '{from: "2026-10-11", to: "2029-10-11"')]),
}


def at(text: str, needle: str) -> tuple[int, int]:
    index = text.index(needle)
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def broken_copy(tmp_path: Path, rel: str, edits: list[tuple[str, str]]) -> tuple[Path, str]:
    home = tmp_path / "home"
    for sub in ("processes", "codes", "reports"):
        shutil.copytree(REPO / sub, home / sub)
    text = (home / rel).read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    (home / rel).write_text(text, encoding="utf-8")
    return home, text


def itsm(home: Path, db: str, *args: str) -> tuple[int, str]:
    argv = ["--home", str(home), "--db", db, "--as", "wang.lei", "--now", "2026-03-02T10:00:00+08:00",
            *args]
    result = CliRunner().invoke(cli.main, argv)
    out = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"itsm {' '.join(args)} raised {result.exception!r}\n{out}"
    assert "Traceback" not in out and "internal error" not in out, out
    return result.exit_code, out


def new_incident(home: Path, tmp_path: Path) -> tuple[int, str, float]:
    db = f"sqlite:///{tmp_path}/itsm.db"
    itsm(home, db, "user", "add", "wang.lei", "--email", "wang.lei@example.com",
         "--role", "service_desk", "--group", "service_desk")
    started = time.perf_counter()
    code, out = itsm(home, db, "new", "incident", "--title", "Mail down", "--reporter",
                     "li.na@example.com", "--urgency", "high", "--impact", "high",
                     "--service", "email", "--set", "affected_users=120")
    return code, out, time.perf_counter() - started


@pytest.mark.parametrize("name", sorted(CASES))
def test_lint_refuses_what_the_runtime_cannot_run(name: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    rel, edits, rule, needle = CASES[name]
    home, text = broken_copy(tmp_path, rel, edits)
    monkeypatch.chdir(home)
    findings = lint_paths([home]).findings
    got = [(f.rule, f.file, f.line, f.column) for f in findings]
    assert got == [(rule, rel, *at(text, needle))], "\n".join(
        f"{f.file}:{f.line}:{f.column} {f.rule} {f.message}" for f in findings)

    code, out, seconds = new_incident(home, tmp_path)
    line, column = at(text, needle)
    assert code == 1, out
    assert f"{rel}:{line}:{column}" in out and f"[{rule} " in out, out
    assert seconds < 10, f"refusing took {seconds:.1f} s"


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_lint_clean_calendar_variants_run(name: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    rel, edits = CLEAN[name]
    home, _ = broken_copy(tmp_path, rel, edits)
    monkeypatch.chdir(home)
    assert lint_paths([home]).findings == []
    code, out, _ = new_incident(home, tmp_path)
    assert code == 0, out
    db = f"sqlite:///{tmp_path}/itsm.db"
    for now in ("2026-03-02T18:00:00+08:00", "2026-12-31T18:00:00+08:00", "2029-12-31T18:00:00+08:00"):
        code, out = itsm(home, db, "--now", now, "tick")
        assert code == 0, out


# --- item 5: a breach of the size bounds is a refusal, never a MemoryError ---------------------

def _limited() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))  # a missing bound: MemoryError


def test_expressions_building_gigabytes_are_refused_by_the_action(tmp_path: Path) -> None:
    """The issue's two expressions (a guard, a ``set:`` value) pass lint (they read the
    ticket, so they are not constant) and allocated 5-10 GB when the action ran. Run
    through the installed ``itsm`` in a process limited to 2 GiB: each action is
    refused (exit 1) at once, and the ticket can still be worked."""
    import subprocess
    import sys

    home, _ = broken_copy(tmp_path, "processes/incident.yaml", [
        ('when: "not links.part_of"', "when: \"not links.part_of and (title|wordwrap(2, wrapstring='y' * 100000)) != ''\""),
        ('assignee: "{{ assignee if group == ticket.group else none }}"',
         "assignee: \"{{ (title|list|join('b' * 100000))[:0] or none }}\"")])
    monkeypatch = pytest.MonkeyPatch()
    with monkeypatch.context() as m:
        m.chdir(home)
        assert lint_paths([home]).findings == []
    script = Path(sys.executable).parent / "itsm"
    db = f"sqlite:///{tmp_path}/itsm.db"

    def run(*args: str) -> tuple[int, str, float]:
        started = time.perf_counter()
        proc = subprocess.run([str(script), "--home", str(home), "--db", db, "--as", "wang.lei", *args],
                              capture_output=True, text=True, timeout=120, preexec_fn=_limited)
        out = proc.stdout + proc.stderr
        assert "Traceback" not in out and "MemoryError" not in out and "internal error" not in out, out
        return proc.returncode, out, time.perf_counter() - started

    assert run("user", "add", "wang.lei", "--email", "wang.lei@example.com", "--role", "service_desk",
               "--group", "service_desk")[0] == 0
    code, out, _ = run("new", "incident", "--title", "Printer on floor 3 jams", "--reporter",
                       "li.na@example.com", "--urgency", "low", "--impact", "low", "--service", "email")
    assert code == 0, out
    key = re.search(r"INC-\d+", out).group(0)  # type: ignore[union-attr]
    for action in (["declare_major", "--set", "reason=x"], ["assign", "--set", "group=service_desk"]):
        code, out, seconds = run("do", key, *action)
        assert code == 1 and "not allowed in expressions" in out and "more than 100000 items" in out, out
        assert seconds < 30, seconds
    assert run("do", key, "cancel", "--set", "closure_code=duplicate", "--set", "reason=dup")[0] == 0


def test_a_set_value_of_the_wrong_kind_is_a_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by tests/lint/test_lint_clean_runs.py: a set value that is a list went into
    the assignee column as it was (a driver error, exit 3). Set values are now checked
    like the values given to an action."""
    home, _ = broken_copy(tmp_path, "processes/incident.yaml", [
        ('set: {assignee: "{{ assignee or actor }}"}', 'set: {assignee: "{{ [title] * 3 }}"}')])
    monkeypatch.chdir(home)
    assert lint_paths([home]).findings == []
    code, out, _ = new_incident(home, tmp_path)
    assert code == 0, out
    key = re.search(r"INC-\d+", out).group(0)  # type: ignore[union-attr]
    db = f"sqlite:///{tmp_path}/itsm.db"
    assert itsm(home, db, "do", key, "assign", "--set", "group=service_desk")[0] == 0
    code, out = itsm(home, db, "do", key, "start")
    assert code == 1 and "the value for assignee is a list" in out, out
