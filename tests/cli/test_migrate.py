"""Changing a definition never strands open tickets (design 5.5): ``itsm lint --db``
finds them, ``itsm migrate`` moves them with an explicit state map, journaled."""

from __future__ import annotations

import re
from pathlib import Path

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: several test folders have a conftest module
    from conftest import Itsm, Org


def _rename_pending(home: Path) -> None:
    """A new version of the incident process: state 'pending' becomes 'on_hold'."""
    path = home / "processes" / "incident.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("version: 2\n", "version: 3\n", 1)
    text = text.replace("  pending: {status: pending, owner: assignee}", "  on_hold: {status: pending, owner: assignee}")
    text = text.replace("    to: pending\n", "    to: on_hold\n").replace("    from: pending\n", "    from: on_hold\n")
    text = text.replace("from: [new, assigned, in_progress, pending]", "from: [new, assigned, in_progress, on_hold]")
    text = text.replace("stop: {states: [in_progress, pending, resolved", "stop: {states: [in_progress, on_hold, resolved")
    text = text.replace("replies: {pending: resume", "replies: {on_hold: resume")
    assert "pending:" not in text.split("states:")[1].split("actions:")[0]
    path.write_text(text, encoding="utf-8")


def _pending_incident(itsm: Itsm, org: Org, home: Path) -> str:
    kw = {"home": home}
    key = itsm.json("new", "incident", "--title", "Scanner offline", "--reporter", org.reporter,
                    user=org.agent.id, now="2026-03-02T09:00:00+08:00", **kw)["key"]
    itsm("do", key, "assign", "--set", "group=desktop_support", "--set", f"assignee={org.desktop.id}",
         user=org.agent.id, now="2026-03-02T09:05:00+08:00", **kw)
    itsm("do", key, "start", user=org.desktop.id, now="2026-03-02T09:10:00+08:00", **kw)
    itsm("do", key, "pend", "--set", "reason=Waiting for the vendor", user=org.desktop.id,
         now="2026-03-02T09:20:00+08:00", **kw)
    return key


def test_lint_db_finds_stranded_tickets_and_migrate_moves_them(itsm: Itsm, org: Org, repo_copy: Path) -> None:
    key = _pending_incident(itsm, org, repo_copy)
    old_version = itsm.json("show", key, home=repo_copy)["definition_version"]
    assert itsm("lint", "--db", home=repo_copy).stdout == ""  # nothing stranded yet

    _rename_pending(repo_copy)
    assert itsm("lint", str(repo_copy), home=repo_copy).stdout == ""  # the new version is clean
    out = itsm("lint", "--db", home=repo_copy, expect=1).stdout
    assert "[D001 stranded-ticket]" in out and key in out and "'pending'" in out
    assert "itsm migrate incident --map pending=NEW_STATE" in out
    # the stranded ticket cannot act until it is moved
    refused = itsm("do", key, "resume", user=org.desktop.id, now="2026-03-02T10:00:00+08:00",
                   home=repo_copy, expect=1)
    assert "itsm migrate" in refused.stderr

    # dry run: says what would move, changes nothing
    plan = itsm.json("migrate", "incident", "--map", "pending=on_hold", home=repo_copy)
    assert plan["moves"] == [{"key": key, "from": "pending", "to": "on_hold"}] and "applied" not in plan
    assert itsm.json("show", key, home=repo_copy)["state"] == "pending"
    # only the process owner may apply
    refused = itsm("migrate", "incident", "--map", "pending=on_hold", "--apply", user=org.agent.id,
                   now="2026-03-02T10:00:00+08:00", home=repo_copy, expect=1)
    assert "process_owner" in refused.stderr
    assert itsm.json("show", key, home=repo_copy)["state"] == "pending"
    # a map onto a state the process does not have is a usage error
    itsm("migrate", "incident", "--map", "pending=nowhere", user=org.owner.id, home=repo_copy, expect=2)

    done = itsm.json("migrate", "incident", "--map", "pending=on_hold", "--apply", user=org.owner.id,
                     now="2026-03-02T10:00:00+08:00", home=repo_copy)
    assert done["applied"] is True
    ticket = itsm.json("show", key, home=repo_copy)
    assert (ticket["state"], ticket["status"], ticket["category"]) == ("on_hold", "pending", "pending")
    assert ticket["definition_version"] != old_version
    event = itsm.json("history", key, home=repo_copy)[-1]
    assert (event["action"], event["actor"], event["from"], event["to"]) == (
        "migrate", org.owner.id, "pending", "on_hold")
    assert event["definition_version"] == ticket["definition_version"]

    # nothing stranded any more; the ticket works under the new version; the journal is intact
    assert itsm("lint", "--db", home=repo_copy).stdout == ""
    itsm("do", key, "resume", user=org.desktop.id, now="2026-03-02T10:30:00+08:00", home=repo_copy)
    assert itsm.json("show", key, home=repo_copy)["state"] == "in_progress"
    itsm("audit", "verify", home=repo_copy)


def test_migrate_reports_unmapped_tickets(itsm: Itsm, org: Org, repo_copy: Path) -> None:
    key = _pending_incident(itsm, org, repo_copy)
    _rename_pending(repo_copy)
    result = itsm("migrate", "incident", home=repo_copy, expect=1)
    assert f"{key}: state 'pending' no longer exists and is not mapped" in result.stdout


def test_open_tickets_follow_a_new_version_on_their_next_action(itsm: Itsm, org: Org, repo_copy: Path) -> None:
    """A change that keeps the ticket's state needs no migration: the next action
    runs under (and records) the new version."""
    key = _pending_incident(itsm, org, repo_copy)
    before = itsm.json("show", key, home=repo_copy)["definition_version"]
    path = repo_copy / "processes" / "incident.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("version: 2\n", "version: 3\n", 1), encoding="utf-8")
    plan = itsm.json("migrate", "incident", home=repo_copy)
    assert plan["moves"] == [] and [t["key"] for t in plan["older_version"]] == [key]
    itsm("do", key, "resume", user=org.desktop.id, now="2026-03-02T10:30:00+08:00", home=repo_copy)
    after = itsm.json("show", key, home=repo_copy)["definition_version"]
    assert after != before
    assert itsm.json("history", key, home=repo_copy)[-1]["definition_version"] == after


def test_migrate_and_report_show_progress_on_a_terminal_only(itsm: Itsm, org: Org, repo_copy: Path,
                                                            monkeypatch: Any) -> None:
    """``migrate --apply`` and ``report`` count on stderr when it is a terminal (as
    batch, tick and reindex do) and stay quiet otherwise; stdout is the same."""
    import commands.progress as progress_mod

    keys = [_pending_incident(itsm, org, repo_copy) for _ in range(2)]
    _rename_pending(repo_copy)
    weekly = ("report", "weekly", "--from", "2026-03-02", "--to", "2026-03-09", "--format", "csv")
    plain = progress_mod.Progress.__init__

    def terminal(self: Any, label: str, stream: Any = None, force: bool | None = None) -> None:
        plain(self, label, stream, True)  # as if stderr were a terminal

    monkeypatch.setattr(progress_mod.Progress, "__init__", terminal)
    moved = itsm("migrate", "incident", "--map", "pending=on_hold", "--apply", user=org.owner.id,
                 now="2026-03-02T10:00:00+08:00", home=repo_copy)
    assert "migrate: 2/2" in moved.stderr and "migrate: " not in moved.stdout
    assert [line.split(":")[0] for line in moved.stdout.splitlines()[:2]] == keys
    monkeypatch.setattr(progress_mod.Progress, "__init__", plain)
    quiet = itsm(*weekly, home=repo_copy)
    assert quiet.stderr == ""
    monkeypatch.setattr(progress_mod.Progress, "__init__", terminal)
    counted = itsm(*weekly, home=repo_copy)
    assert re.search(r"report weekly: (\d+)/\1 ", counted.stderr), counted.stderr  # every KPI
    assert counted.stdout == quiet.stdout


def test_tick_says_once_that_a_stranded_ticket_waits_for_migrate(itsm: Itsm, org: Org, repo_copy: Path) -> None:
    """Its due work is dropped (it was due at every tick: many stranded tickets filled
    the tick), and written again when ``itsm migrate`` moves it."""
    key = _pending_incident(itsm, org, repo_copy)
    _rename_pending(repo_copy)

    def said(now: str) -> list[str]:
        return [r["outcome"] for r in itsm.json("tick", now=now, home=repo_copy) if r["key"] == key]

    assert said("2026-03-02T10:00:00+08:00") == [
        "skipped: in state 'pending', which process 'incident' no longer has; its timers wait for 'itsm migrate'"]
    assert said("2026-03-02T10:01:00+08:00") == []
    itsm("migrate", "incident", "--map", "pending=on_hold", "--apply", user=org.owner.id,
         now="2026-03-02T10:05:00+08:00", home=repo_copy)
    assert itsm.json("show", key, home=repo_copy)["state"] == "on_hold"
    assert said("2026-03-02T10:06:00+08:00") == []
