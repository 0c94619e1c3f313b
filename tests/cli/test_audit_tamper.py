"""Issue #19: a journal that even the database administrator cannot rewrite
unnoticed, on SQLite and PostgreSQL.

Three tickets are worked through the CLI and sealed into the desk-wide log
(some tests also sign a checkpoint into a witness file); then the database is
changed behind the engine's back (tests/cli/_journal_attack.py) in each way
the issue lists.  ``itsm audit verify`` must exit 1 and name the ticket and
the event.  Past a checkpoint the same holds for an intruder who holds the
HMAC key (and rebuilds every chain with it) but not the signing key.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from _desk import Desk
from _journal_attack import database, rebuild, rechain_unkeyed

from engine.api import Api

INTACT = "journal intact"
# the tests' HMAC key (tests/conftest.py sets ITSM_AUDIT_KEY to it)
KEY_ID, SECRET = "test", base64.urlsafe_b64decode("dGhlIHRlc3RzJyBhdWRpdCBrZXksIDMyIGJ5dGVzISE=")


def verify(itsm: Any, *args: str, expect: int = 1) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    text = itsm("audit", "verify", *args, expect=expect).stdout
    data = json.loads(itsm("audit", "verify", *args, "--json", expect=expect).stdout)
    for p in data["problems"]:  # every problem is a line of the text, with ticket and event
        line = (p["ticket"] or "journal") + (f" #{p['seq']}" if p["seq"] else "") + f": {p['kind']}: {p['message']}"
        assert line in text, (line, text)
    if expect == 0:
        assert text.strip().endswith(INTACT), text
    return text, data["problems"], data


def named(problems: list[dict[str, Any]], key: str, seq: int | None, *kinds: str) -> list[dict[str, Any]]:
    """The problems naming ticket ``key`` and event ``seq`` (of the given kinds)."""
    found = [p for p in problems if p["ticket"] == key and p["seq"] == seq and (not kinds or p["kind"] in kinds)]
    assert found, f"nothing names {key} #{seq} {kinds or ''}:\n" + "\n".join(map(str, problems))
    return found


@pytest.fixture
def keys(tmp_path: Path, itsm_nodb: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A signing key pair and a witness file, configured as the checkpointing host has them."""
    folder = tmp_path / "keys"
    itsm_nodb("audit", "keygen", "--dir", folder)
    out = {"signing": folder / "audit-signing.pem", "public": folder / "audit-signing.pub.pem",
           "hmac": folder / "audit.key", "witness": tmp_path / "witness" / "checkpoints.jsonl"}
    monkeypatch.setenv("ITSM_AUDIT_SIGNING_KEY", str(out["signing"]))
    monkeypatch.setenv("ITSM_AUDIT_WITNESS", str(out["witness"]))
    return out


@pytest.fixture
def worked(desk: Desk, db_url: str) -> dict[str, Any]:
    """Three tickets worked through several actions, interleaved, then sealed."""
    o = desk.org
    agent, worker = o.agent.id, o.desktop.id
    a = desk.new("incident", agent, "2026-03-02 09:00", title="Outlook crashes", reporter=o.reporter,
                 service="desktop")["key"]                                                      # A1
    b = desk.new("incident", agent, "2026-03-02 09:01", title="VPN drops", reporter=o.other_user)["key"]  # B1
    desk.do(a, "assign", agent, "2026-03-02 09:05", group="desktop_support", assignee=worker)  # A2
    desk.do(b, "assign", agent, "2026-03-02 09:06", group="network_ops")                      # B2
    desk.do(a, "start", worker, "2026-03-02 09:30")                                           # A3
    desk.itsm("comment", a, "Asked for a screenshot", user=worker, now="2026-03-02T09:40:00+08:00")  # A4
    desk.do(a, "resolve", worker, "2026-03-02 11:00", solution="Repaired the Office install",
            closure_code="solved", service_restored=True)                                     # A5
    c = desk.new("service_request", agent, "2026-03-02 11:10", title="New monitor", reporter=o.reporter)["key"]
    desk.do(b, "start", o.network.id, "2026-03-02 11:30")                                     # B3
    desk.do(a, "confirm", o.reporter, "2026-03-02 12:00")                                     # A6
    desk.itsm("comment", c, "Which model?", user=agent, now="2026-03-02T12:10:00+08:00")      # C2
    desk.itsm("comment", b, "Carrier ticket 4711", user=o.network.id, now="2026-03-02T12:20:00+08:00")  # B4
    desk.itsm("comment", b, "Carrier replied", user=o.network.id, now="2026-03-02T12:30:00+08:00")    # B5
    desk.itsm("comment", a, "Thanks!", user=agent, now="2026-03-02T12:40:00+08:00")          # A7
    sealed = Api.open(db=db_url).audit_seal()
    assert sealed["stopped"] is None and sealed["sealed"] == sealed["count"] == 7 + 5 + 2
    return {"a": a, "b": b, "c": c, "db": db_url}


def checkpoint(itsm: Any) -> None:
    itsm("audit", "checkpoint")


# -- intact ------------------------------------------------------------------------------------
def test_an_untouched_sealed_journal_verifies(itsm, worked, keys):
    checkpoint(itsm)
    _, problems, data = verify(itsm, expect=0)
    assert (data["sealed"], data["unsealed"], data["checkpoints"], data["last_checkpoint"]) == (14, 0, 1, 14)
    _, _, data = verify(itsm, "--checkpoints", str(keys["witness"]), "--public-key", str(keys["public"]), expect=0)
    assert data["checkpoint_source"] == str(keys["witness"])
    line = json.loads(keys["witness"].read_text().splitlines()[0])
    assert line["count"] == 14 and line["reason"] == "manual" and len(line["leaves"]) == 14
    assert line["leaves"][0][1:3] == [worked["a"], 1]


# -- a DBA without the key ----------------------------------------------------------------------------
@pytest.mark.parametrize("column,value,seq", [
    ("title", "Nothing to see", 1), ("assignee", "gao.yan", 2), ("priority", "P1", 1),
    ("reporter", "someone@example.com", 1), ("solution", "Blamed the user", 5), ("state", "in_progress", 6),
])
def test_a_column_edit_is_caught(itsm, worked, column, value, seq):
    key = worked["a"]
    with database(worked["db"]) as db:
        if column == "solution":
            fields = dict(db.ticket(key)["fields"], solution=value)
            db.update_ticket(key, fields=fields)
        else:
            db.update_ticket(key, **{column: value})
    _, problems, _ = verify(itsm)
    (p,) = named(problems, key, seq, "column", "state")
    assert repr(value) in p["message"] or value in p["message"], p
    assert {p["ticket"] for p in problems} == {key}


def test_a_priority_override_is_journaled_and_checked(itsm, desk, db_url):
    o = desk.org
    key = desk.new("incident", o.incident_manager.id, "2026-03-02 09:00", title="Board laptop",
                   reporter=o.reporter, urgency="low", impact="low", priority="P1", note="the board meets at 10")["key"]
    assert desk.history(key)[0]["changes"]["priority_overridden"] == [False, True]
    other = desk.new("incident", o.agent.id, "2026-03-02 09:05", title="Mouse", reporter=o.reporter)["key"]
    verify(itsm, expect=0)
    with database(db_url) as db:
        db.update_ticket(key, priority_overridden=False)
        db.update_ticket(other, priority_overridden=True)  # the matrix would no longer set its priority
    _, problems, _ = verify(itsm)
    assert {(p["ticket"], p["seq"]) for p in problems} == {(key, 1), (other, None)}
    assert all("priority_overridden" in p["message"] for p in problems)


def test_an_edited_event_is_caught(itsm, worked):
    key = worked["a"]
    with database(worked["db"]) as db:
        db.update_event(key, 4, note="Nothing was asked")
    _, problems, _ = verify(itsm)
    named(problems, key, 4, "altered")


@pytest.mark.parametrize("value", [["group", "network_ops"], "group=network_ops"])
def test_changes_or_fields_of_another_json_shape_are_findings_not_a_crash(itsm, worked, value):
    """JSON where an object belongs (the replay read it as one: an internal error, exit 3)."""
    a, b = worked["a"], worked["b"]
    with database(worked["db"]) as db:
        db.update_event(a, 2, changes=value)
        db.update_ticket(b, fields=[value])
    _, problems, _ = verify(itsm)
    named(problems, a, 2, "altered")
    assert any(p["ticket"] == b and p["kind"] == "column" for p in problems), problems


def test_an_edited_event_with_its_chain_recomputed_without_the_key_is_caught(itsm, worked):
    key = worked["a"]
    with database(worked["db"]) as db:
        db.update_event(key, 2, changes={"group": [None, "network_ops"]})
        rechain_unkeyed(db, key, 2)  # every link holds again under plain SHA-256
    _, problems, _ = verify(itsm)
    named(problems, key, 2, "altered")
    assert not [p for p in problems if p["kind"] == "chain"]  # the links hold: the key is what tells


def test_a_deleted_middle_event_is_caught(itsm, worked):
    key = worked["b"]
    with database(worked["db"]) as db:
        db.delete_events(key, [3])
    _, problems, _ = verify(itsm)
    named(problems, key, 3, "deleted")


def test_a_truncated_tail_with_the_version_lowered_is_caught(itsm, worked):
    """The newest events go, and the row is made to match the shortened journal
    (version, update time): only the desk-wide log still knows them."""
    key = worked["b"]
    with database(worked["db"]) as db:
        db.delete_events(key, [4, 5])
        db.update_ticket(key, version=3, updated_at=db.event(key, 3)["effective_at"])
    _, problems, _ = verify(itsm)
    found = named(problems, key, 5, "deleted")
    assert "desk log" in found[0]["message"]
    assert not [p for p in problems if p["kind"] == "column"], problems  # the row was made consistent


def test_cutting_off_the_newest_sealed_events_is_caught(itsm, worked, keys):
    """The newest event of the whole desk log goes, and its head is set back to
    the entry before (its values are in that row): the head's keyed seal does
    not hold; the checkpoint names the event."""
    import sqlalchemy as sa

    key = worked["a"]
    checkpoint(itsm)
    with database(worked["db"]) as db:
        j, state = db.t["journal"], db.t["audit_state"]
        db.delete_events(key, [7])
        db.update_ticket(key, version=6, updated_at=db.event(key, 6)["effective_at"])
        last = db.conn.execute(sa.select(j).where(j.c.desk_seq == 13)).mappings().one()
        db.conn.execute(state.update().values(count=13, desk_hash=last["desk_hash"], head_ref=f"{worked['b']}#5"))
    _, problems, _ = verify(itsm)
    assert any(p["kind"] == "desk" and "not one itsm sealed" in p["message"] for p in problems), problems
    named(problems, key, 7, "deleted")  # by the checkpoint (the database's copy)


def test_a_deleted_ticket_is_caught(itsm, worked):
    key = worked["c"]
    with database(worked["db"]) as db:
        db.delete_ticket(key)
    _, problems, _ = verify(itsm)
    named(problems, key, 1, "deleted")
    named(problems, key, 2, "deleted")
    named(problems, key, None, "deleted")  # the gap in the key sequence


def test_two_tickets_journals_swapped_are_caught(itsm, worked):
    a, b = worked["a"], worked["b"]
    with database(worked["db"]) as db:
        db.swap_journals(a, b)
    _, problems, _ = verify(itsm)
    for key, other in ((a, b), (b, a)):
        (p,) = named(problems, key, 1, "moved")
        assert other in p["message"]


def test_a_reordered_pair_of_events_is_caught(itsm, worked):
    key = worked["a"]
    with database(worked["db"]) as db:
        db.swap_seqs(key, 3, 4)
    _, problems, _ = verify(itsm)
    assert "recorded as event 4" in named(problems, key, 3, "reordered")[0]["message"]
    assert "recorded as event 3" in named(problems, key, 4, "reordered")[0]["message"]


@pytest.mark.parametrize("keyed", [True, False], ids=["with-a-key-id", "as-an-unkeyed-event"])
def test_an_inserted_event_is_caught(itsm, worked, keyed):
    """An event slipped into the middle of a journal, its chain recomputed
    without the key (so every link holds)."""
    key = worked["a"]
    with database(worked["db"]) as db:
        db.insert_event(key, 4, action="comment", note="The user agreed to a reinstall",
                        from_state=None, to_state=None, changes={}, key_id=KEY_ID if keyed else None)
        rechain_unkeyed(db, key, 4)
    _, problems, _ = verify(itsm)
    named(problems, key, 4, "altered" if keyed else "unkeyed")


def test_unsealed_events_are_reported_and_sealed_by_tick(itsm, worked):
    key = worked["a"]
    itsm("comment", key, "One more", user="wang.lei", now="2026-03-02T13:00:00+08:00")
    _, _, data = verify(itsm, expect=0)
    assert data["unsealed"] == 1
    itsm("tick", now="2026-03-02T13:01:00+08:00")
    _, _, data = verify(itsm, expect=0)
    assert (data["unsealed"], data["sealed"]) == (0, 15)


# -- past a checkpoint: an intruder with the HMAC key but not the signing key -------------------------
def tamper_with_key(kind: str, w: dict[str, Any]) -> tuple[str, int]:
    """Tamper, then rebuild every chain and the desk log with the HMAC key; the
    ticket and event the checkpoint must name."""
    a, b, c = w["a"], w["b"], w["c"]
    with database(w["db"]) as db:
        if kind == "edited event":
            db.update_event(a, 5, changes={"solution": [None, "Blamed the user"], "closure_code": [None, "solved"],
                                           "service_restored": [None, True]})
            db.update_ticket(a, fields=dict(db.ticket(a)["fields"], solution="Blamed the user"))
            named_ = (a, 5)
        elif kind == "deleted middle event":
            db.delete_events(a, [4])
            named_ = (a, 4)
        elif kind == "truncated tail":
            db.delete_events(b, [4, 5])
            db.update_ticket(b, updated_at=db.event(b, 3)["effective_at"])
            named_ = (b, 4)
        elif kind == "deleted ticket":
            db.delete_ticket(c)
            named_ = (c, 1)
        elif kind == "swapped journals":
            db.swap_journals(a, b)
            named_ = (a, 1)
        elif kind == "reordered events":
            db.swap_seqs(a, 3, 4)
            named_ = (a, 3)
        elif kind == "column edit":  # the key does not help here: the replay needs none
            db.update_ticket(a, title="Nothing to see")
            named_ = (a, 1)
        else:  # an inserted event
            db.insert_event(a, 4, action="comment", note="The user agreed to a reinstall", from_state=None,
                            to_state=None, changes={})
            named_ = (a, 4)
        rebuild(db, SECRET, KEY_ID)
    return named_


KEY_HOLDER_CASES = ["column edit", "edited event", "deleted middle event", "truncated tail", "deleted ticket",
                    "swapped journals", "reordered events", "inserted event"]


@pytest.mark.parametrize("kind", KEY_HOLDER_CASES)
def test_past_a_checkpoint_the_hmac_key_holder_is_caught(itsm, worked, keys, kind):
    checkpoint(itsm)
    key, seq = tamper_with_key(kind, worked)
    witness = ["--checkpoints", str(keys["witness"]), "--public-key", str(keys["public"])]
    # without the checkpoints every chain holds: that is what the key allows (a replay
    # may still find a column its journal no longer explains, and a ticket key missing)
    with database(worked["db"]) as db:
        db.conn.execute(db.t["audit_checkpoints"].delete())
    problems = Api.open(db=worked["db"]).audit_verify()["problems"]
    assert not [p for p in problems if p["kind"] not in ("column", "state", "deleted") or
                p["kind"] == "deleted" and p["seq"] is not None], problems
    # the witness file (outside the database) holds the signed leaves
    _, problems, _ = verify(itsm, *witness)
    if kind == "column edit":
        named(problems, key, seq, "column")
        return
    named(problems, key, seq, "altered", "deleted", "moved")
    assert any(p["kind"] == "checkpoint" for p in problems)


def test_a_forged_checkpoint_is_refused(itsm, worked, keys):
    checkpoint(itsm)
    lines = keys["witness"].read_text().splitlines()
    forged = json.loads(lines[0])
    forged["leaves"][0][3] = "0" * 16
    keys["witness"].write_text(json.dumps(forged) + "\n")
    _, problems, _ = verify(itsm, "--checkpoints", str(keys["witness"]))
    assert [p["kind"] for p in problems] == ["checkpoint"] and "leaves were changed" in problems[0]["message"]
    forged["leaves_digest"] = __import__("engine.desk.checkpoints", fromlist=["x"]).leaves_digest(forged["leaves"])
    keys["witness"].write_text(json.dumps(forged) + "\n")
    _, problems, _ = verify(itsm, "--checkpoints", str(keys["witness"]))
    assert [p["kind"] for p in problems] == ["checkpoint"] and "signature" in problems[0]["message"]


# -- the links table ---------------------------------------------------------------------------
def test_links_changed_behind_the_journal_are_caught(itsm, desk, db_url):
    """Guards (``not links.part_of``) and cascades read the links table: a link
    deleted, added or moved by hand differs from the ``link`` changes journaled."""
    o = desk.org
    inc = desk.new("incident", o.agent.id, "2026-03-04 10:00", reporter=o.reporter, title="Claims portal down",
                   service="email", urgency="medium", impact="medium")["key"]
    mi = desk.do(inc, "declare_major", o.incident_manager.id, "2026-03-04 10:05", reason="Everyone")["opened"]
    other = desk.new("incident", o.agent.id, "2026-03-04 10:10", reporter=o.reporter, title="Mouse")["key"]
    seq = next(e["seq"] for e in desk.history(inc) if (e["changes"] or {}).get("link"))
    with database(db_url) as db:
        assert db.links(inc) == [("part_of", mi)]
    verify(itsm, expect=0)

    with database(db_url) as db:  # deleted: the incident would no longer follow its major incident
        db.delete_links(inc, "part_of")
    _, problems, _ = verify(itsm)
    (p,) = named(problems, inc, seq, "link")
    assert mi in p["message"] and "part_of" in p["message"]
    assert [x["kind"] for x in problems] == ["link"]
    zh = itsm("--lang", "zh", "audit", "verify", expect=1).stdout
    assert f"{inc} #{seq}：关联：日志中它以 'part_of' 关联到 {mi}（事件 {seq}），关联表中没有" in zh, zh

    with database(db_url) as db:  # moved to another ticket, and one added that was never made
        db.insert_link(inc, "part_of", other)
        db.insert_link(other, "caused_by", inc)
    _, problems, _ = verify(itsm)
    assert {(x["ticket"], x["seq"], x["kind"]) for x in problems} == {(inc, seq, "link"), (inc, None, "link"),
                                                                      (other, None, "link")}
    assert any(other in x["message"] and x["seq"] is None for x in problems if x["ticket"] == inc)

    with database(db_url) as db:  # put back as it was: intact again
        db.delete_links(inc, "part_of")
        db.delete_links(other, "caused_by")
        db.insert_link(inc, "part_of", mi)
    verify(itsm, expect=0)


@pytest.mark.parametrize("table, column, value", [
    ("journal", "changes", "{not json"), ("journal", "effective_at", "garbage"), ("journal", "seq", "x"),
    ("journal", "desk_seq", "z"), ("tickets", "fields", 5), ("tickets", "sla", "[1"),
    ("tickets", "created_at", "nope"), ("tickets", "version", "v")])
def test_a_value_its_column_cannot_hold_is_a_finding_not_a_crash(itsm, worked, table, column, value):
    """SQLite keeps any value in any column: one written by hand that the column's type
    cannot read was an internal error (exit 3); now it is named (exit 1).  PostgreSQL's
    typed columns refuse most of them; what it takes is a finding too."""
    import sqlalchemy as sa

    key = worked["a"]
    where = "ticket_id = :t AND seq = 2" if table == "journal" else "id = :t"
    try:
        with database(worked["db"]) as db:
            db.conn.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE {where}"),
                            {"v": value, "t": db.ticket_id(key)})
    except sa.exc.DBAPIError:
        assert not worked["db"].startswith("sqlite")  # PostgreSQL refused it: nothing to find
        return
    _, problems, _ = verify(itsm)
    mine = [p for p in problems if p["ticket"] == key and p["kind"] in ("altered", "column")]
    assert mine, problems
    if worked["db"].startswith("sqlite"):
        assert any("written by hand" in p["message"] and repr(str(value)) in p["message"] for p in mine), mine


def test_tick_seals_an_unsealed_event_holding_what_its_column_cannot(itsm, worked, desk):
    """One such event stopped the tick's seal step (an internal error), and with it
    the deliveries after it, at every tick: it is sealed as stored, and verify names it."""
    import sqlalchemy as sa

    key = worked["a"]
    desk.itsm("comment", key, "Checked again", user=desk.org.agent.id, now="2026-03-02T13:00:00+08:00")
    try:
        with database(worked["db"]) as db:
            seq = db.events(key)[-1]["seq"]  # the note's event, not sealed yet
            done = db.conn.execute(sa.text("UPDATE journal SET effective_at = 'garbage' WHERE ticket_id = :t "
                                           "AND seq = :s AND desk_seq IS NULL"), {"t": db.ticket_id(key), "s": seq})
            assert done.rowcount == 1
    except sa.exc.DBAPIError:
        assert not worked["db"].startswith("sqlite")  # PostgreSQL refused it
        return
    report = itsm.json("tick", now="2026-03-02T13:05:00+08:00")
    assert any(r["kind"] == "audit" and r["name"] == "seal" for r in report), report
    _, problems, _ = verify(itsm)
    assert any("effective_at = 'garbage'" in p["message"] for p in named(problems, key, seq, "altered"))
