"""Issue #19: the journal's keys and checkpoints in operation, on SQLite and
PostgreSQL: an export verified offline with the public key only (and a
tampered one refused), re-keying a desk of the older unkeyed journal, rotating
the HMAC key, ``itsm tick`` signing checkpoints at its cadence, and the key
file made on the first write when nothing is configured.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from _journal_attack import database
from test_audit_tamper import keys, verify, worked  # noqa: F401 - fixtures

from engine.api import Api
from tests_conftest import downgraded


# -- export and offline verification --------------------------------------------------------------
@pytest.fixture
def exported(itsm, worked, keys, tmp_path) -> dict[str, Any]:  # noqa: F811
    itsm("audit", "checkpoint")
    itsm("comment", worked["a"], "After the checkpoint", user="wang.lei", now="2026-03-02T13:00:00+08:00")
    itsm("audit", "checkpoint")
    itsm("comment", worked["b"], "Sealed, not yet signed", user="sun.hao", now="2026-03-02T13:10:00+08:00")
    Api.open(db=worked["db"]).audit_seal()
    path = tmp_path / "journal.jsonl"
    out = itsm.json("audit", "export", str(path))
    assert out == {"path": str(path), "events": 16, "checkpoints": 2, "count": 16}
    return {"path": path, "public": keys["public"], **worked}


def offline(itsm_nodb: Any, exported: dict[str, Any], expect: int, *more: str) -> dict[str, Any]:
    return json.loads(itsm_nodb("audit", "verify", "--export", str(exported["path"]), "--public-key",
                                str(exported["public"]), *more, "--json", expect=expect).stdout)


def test_an_export_verifies_offline_with_the_public_key_only(itsm_nodb, exported, monkeypatch):
    monkeypatch.delenv("ITSM_AUDIT_KEY")  # no HMAC key, and no database named
    monkeypatch.delenv("ITSM_AUDIT_SIGNING_KEY")
    data = offline(itsm_nodb, exported, 0)
    assert (data["events"], data["tickets"], data["checkpoints"], data["last_checkpoint"], data["unproven"]) \
        == (16, 3, 2, 15, 1)
    text = itsm_nodb("audit", "verify", "--export", str(exported["path"]), "--public-key",
                     str(exported["public"])).stdout
    assert ("16 events of 3 tickets; 2 signed checkpoints, the last at #15; 1 event after it (not yet signed): "
            "journal intact") in text


def _edit(path: Path, change: Any) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(x for x in (change(json.loads(line), line) for line in lines) if x) + "\n",
                    encoding="utf-8")


def test_a_tampered_export_is_refused(itsm_nodb, exported):
    a, b = exported["a"], exported["b"]

    def note(row: dict[str, Any], line: str) -> str:
        e = row.get("event") or {}
        if e.get("ticket") == a and e.get("seq") == 4:
            e["note"] = "Nothing was asked"
            return json.dumps(row)
        return line

    _edit(exported["path"], note)
    data = offline(itsm_nodb, exported, 1)
    assert {(p["ticket"], p["seq"], p["kind"]) for p in data["problems"] if p["ticket"]} == {(a, 4, "altered")}

    def drop(row: dict[str, Any], line: str) -> str | None:
        e = row.get("event") or {}
        return None if e.get("ticket") == b and e.get("seq") == 3 else line

    _edit(exported["path"], drop)
    data = offline(itsm_nodb, exported, 1)
    assert (b, 3, "deleted") in {(p["ticket"], p["seq"], p["kind"]) for p in data["problems"]}


def test_lines_cut_from_an_export_are_one_gap_each_and_named_by_their_checkpoint(itsm_nodb, exported):
    """A line cut from the middle is one gap (the lines after it were reported as
    missing too, each); lines swapped are reordered; the newest signed events cut
    are named by the checkpoint that signed them, and nothing is 'unproven' then."""
    original = exported["path"].read_text(encoding="utf-8").splitlines()
    events = {json.loads(x)["desk_seq"]: json.loads(x)["event"] for x in original if '"event"' in x}

    def without(*places: int) -> None:
        exported["path"].write_text("\n".join(x for x in original if not any(
            x.startswith(f'{{"desk_seq":{n},') for n in places)) + "\n", encoding="utf-8")

    without(3)
    problems = offline(itsm_nodb, exported, 1)["problems"]
    gaps = [p["message"] for p in problems if "from the export" in p["message"]]
    assert gaps == ["desk log #3 missing from the export (the next line is #4)"], problems
    assert (events[3]["ticket"], events[3]["seq"], "deleted") in {(p["ticket"], p["seq"], p["kind"]) for p in problems}

    lines = list(original)
    lines[3], lines[4] = lines[4], lines[3]  # desk log #3 and #4
    exported["path"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = offline(itsm_nodb, exported, 1)["problems"]
    assert [p["message"] for p in problems if "from the export" in p["message"] or "in the export" in p["message"]] \
        == ["desk log #3 missing from the export (the next line is #4)", "desk log #3 comes after #4 in the export"]

    without(15, 16)  # the event the second checkpoint signed last, and the one after it
    data = offline(itsm_nodb, exported, 1)
    assert data["unproven"] == 0 and data["events"] == 14
    assert {(p["ticket"], p["seq"], p["kind"]) for p in data["problems"] if p["ticket"]} \
        == {(events[15]["ticket"], events[15]["seq"], "deleted")}


def test_lines_of_json_that_export_never_writes_are_altered_not_a_crash(itsm_nodb, exported):
    lines = exported["path"].read_text(encoding="utf-8").splitlines()
    header, rest = lines[0], lines[1:]
    for odd in ("[1]", "null", '"x"', '{"desk_seq": 1, "event": [1]}', '{"desk_seq": 1}'):
        exported["path"].write_text("\n".join([header, odd, *rest]) + "\n", encoding="utf-8")
        data = offline(itsm_nodb, exported, 1)
        assert {"ticket": None, "seq": None, "kind": "altered",
                "message": f"{exported['path']}:2: not an event of the journal"} in data["problems"], odd
    for odd in ("[1]", "null", '"x"', "3"):  # as the header: not an export at all
        exported["path"].write_text("\n".join([odd, *rest]) + "\n", encoding="utf-8")
        r = itsm_nodb("audit", "verify", "--export", str(exported["path"]), "--public-key",
                      str(exported["public"]), expect=2)
        assert "is not an itsm journal export" in r.stderr, (odd, r.stderr)


def test_an_export_with_a_forged_checkpoint_is_refused(itsm_nodb, exported):
    def forge(row: dict[str, Any], line: str) -> str:
        if "checkpoint" in row:
            row["checkpoint"]["count"] -= 1
            return json.dumps(row)
        return line

    _edit(exported["path"], forge)
    data = offline(itsm_nodb, exported, 1)
    assert data["checkpoints"] == 0
    assert [p["kind"] for p in data["problems"]] == ["checkpoint", "checkpoint", "checkpoint"]
    assert all("signature" in p["message"] for p in data["problems"][:2])
    assert data["problems"][2]["message"].endswith("no signed checkpoint to hold the 16 event(s) against: nothing "
                                                   "in the export is proven")


def test_the_newest_events_cut_from_an_export_show_against_its_header(itsm_nodb, exported):
    """The last event is sealed after the last checkpoint: no signature names it,
    but the header counted it."""
    lines = exported["path"].read_text(encoding="utf-8").splitlines()
    exported["path"].write_text("\n".join(x for x in lines if not x.startswith('{"desk_seq":16,')) + "\n",
                                encoding="utf-8")
    data = offline(itsm_nodb, exported, 1)
    assert (data["events"], data["unproven"]) == (15, 0)
    assert data["problems"] == [{"ticket": None, "seq": None, "kind": "deleted",
                                 "message": "the export's header counts 16 sealed events, the export holds 15"}]


def test_an_export_stripped_of_its_checkpoints_proves_nothing(itsm_nodb, exported):
    """Without its checkpoint lines an export is refused, not 'intact': by the
    header's count of them, and, with the header edited too, because nothing signed
    is left to hold the events against."""
    lines = exported["path"].read_text(encoding="utf-8").splitlines()
    kept = [x for x in lines if '"checkpoint"' not in x]
    exported["path"].write_text("\n".join(kept) + "\n", encoding="utf-8")
    data = offline(itsm_nodb, exported, 1)
    assert [p["message"] for p in data["problems"]] == [
        "the export's header counts 2 checkpoint(s), the export holds 0",
        f"{exported['path']}: no signed checkpoint to hold the 16 event(s) against: nothing in the export is proven"]
    header = json.loads(kept[0])
    header["checkpoints"] = 0
    exported["path"].write_text("\n".join([json.dumps(header), *kept[1:]]) + "\n", encoding="utf-8")
    data = offline(itsm_nodb, exported, 1)
    assert [p["kind"] for p in data["problems"]] == ["checkpoint"] and "nothing in the export is proven" in \
        data["problems"][0]["message"]
    text = itsm_nodb("audit", "verify", "--export", str(exported["path"]), "--public-key", str(exported["public"]),
                     expect=1).stdout
    assert "0 signed checkpoints, the last at #0; 16 events after it (not yet signed): 1 problem" in text


def test_an_export_from_before_the_header_counted_checkpoints_still_verifies(itsm_nodb, exported):
    lines = exported["path"].read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["checkpoints"] == 2
    del header["checkpoints"]
    exported["path"].write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n", encoding="utf-8")
    assert offline(itsm_nodb, exported, 0)["problems"] == []


def test_a_witness_file_that_lost_its_first_lines_is_refused(itsm, itsm_nodb, exported, keys):  # noqa: F811
    """A line cut from the middle of the witness file was reported (the next one
    follows a checkpoint it does not hold); its first lines only against the copies
    of the checkpoints that still hold them: the database's, an export's."""
    witness = keys["witness"]
    lines = witness.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["prev_count"] for x in lines] == [0, 14]
    offline(itsm_nodb, exported, 0, "--checkpoints", str(witness))
    witness.write_text(lines[1] + "\n", encoding="utf-8")
    expected = (f"{witness}:1: the first checkpoint of {witness} follows #14; {{}} holds signed checkpoint(s) up to "
                "#14 that it lacks: lines removed from its start (a witness file started later gets them from "
                "'itsm audit export')")
    data = offline(itsm_nodb, exported, 1, "--checkpoints", str(witness))
    assert [p["message"] for p in data["problems"]] == [expected.format("the export")]
    _, problems, _ = verify(itsm, "--checkpoints", str(witness), "--public-key", str(keys["public"]))
    assert [p["message"] for p in problems] == [expected.format("the database")]
    # a witness file started at the second checkpoint, given the first from an export: intact again
    witness.write_text("\n".join(lines) + "\n", encoding="utf-8")
    verify(itsm, "--checkpoints", str(witness), "--public-key", str(keys["public"]), expect=0)


# -- re-keying a desk of the older, unkeyed journal -----------------------------------------------------
def make_legacy(db_url: str) -> None:
    """The desk as the version before the keyed journal left it: schema 0005, every
    chain plain SHA-256 over the older canonical text."""
    from engine.journal import GENESIS, event_hash, hashed_fields

    with downgraded(db_url, "0005"):
        pass
    with database(db_url) as dbx:
        j = dbx.t["journal"]
        assert "key_id" not in j.c
        prev: dict[int, str] = {}
        for e in [dict(r) for r in dbx.conn.execute(sa.select(j).order_by(j.c.ticket_id, j.c.seq)).mappings()]:
            p = prev.get(e["ticket_id"], GENESIS)
            h = event_hash(p, hashed_fields(e))
            dbx.conn.execute(j.update().where(j.c.id == e["id"]).values(prev_hash=p, hash=h))
            prev[e["ticket_id"]] = h


def test_db_upgrade_rekeys_a_legacy_desk(itsm, worked, keys):  # noqa: F811
    make_legacy(worked["db"])
    out = itsm("db", "upgrade").stdout
    assert re.search(r"schema 0005 -> 00\d\d\n", out) and "journal re-keyed: 14 events of 3 tickets re-chained under key test" in out
    _, _, data = verify(itsm, expect=0)
    assert (data["sealed"], data["unsealed"], data["checkpoints"]) == (14, 0, 1)
    line = json.loads(keys["witness"].read_text().splitlines()[-1])
    assert line["reason"] == "rekey" and line["rekey"]["events"] == 14 and line["rekey"]["legacy_through"] == 14
    assert line["rekey"]["from_keys"] == ["(unkeyed)"] and line["signature"]
    with database(worked["db"]) as db:
        assert {e["key_id"] for e in db.events(worked["a"])} == {"test"}
    # and the re-keyed desk is protected like any other
    with database(worked["db"]) as db:
        db.update_event(worked["a"], 4, note="Nothing was asked")
    _, problems, _ = verify(itsm)
    assert ("altered", worked["a"], 4) in {(p["kind"], p["ticket"], p["seq"]) for p in problems}


def test_a_damaged_legacy_journal_is_not_rekeyed_silently(itsm, worked):
    make_legacy(worked["db"])
    with database(worked["db"]) as db:
        db.update_event(worked["b"], 2, note="rewritten before the upgrade")
    err = itsm("db", "upgrade").stderr
    assert "not re-keyed" in err and f"{worked['b']} #2: changed after it was recorded" in err
    _, problems, _ = verify(itsm)
    assert ("altered", worked["b"], 2) in {(p["kind"], p["ticket"], p["seq"]) for p in problems}
    assert {p["kind"] for p in problems} >= {"unkeyed"}
    refused = itsm("audit", "rekey", expect=1).stderr
    assert "--force" in refused
    data = itsm.json("audit", "rekey", "--force")
    assert data["rechained"] == 14 and data["problems"] and data["checkpoint"]["signed"] is False
    # forced: the damage is now under the key; the record of it is the rekey checkpoint
    with database(worked["db"]) as db:
        cp = db.conn.execute(sa.select(db.t["audit_checkpoints"])).mappings().one()
    assert json.loads(cp["line"])["rekey"]["problems"] == 1


# -- rotating the HMAC key -----------------------------------------------------------------------------------
def test_a_rotated_key_still_verifies_the_events_of_the_old_one(itsm, worked, keys, monkeypatch):  # noqa: F811
    """The desk moves from the tests' key to a key file: old events verify while
    the old key stays in the ring; re-keying lets the old key go."""
    a = worked["a"]
    key_file = keys["hmac"]
    old = "test " + __import__("base64").urlsafe_b64encode(b"the tests' audit key, 32 bytes!!").decode()
    key_file.write_text(key_file.read_text() + old + "\n")  # the file's key first, the tests' key after it
    monkeypatch.delenv("ITSM_AUDIT_KEY")
    monkeypatch.setenv("ITSM_AUDIT_KEY_FILE", str(key_file))
    itsm("audit", "checkpoint")
    new_id = itsm.json("audit", "keygen", "--rotate")["key_id"]
    itsm("comment", a, "Under the new key", user="wang.lei", now="2026-03-02T13:00:00+08:00")
    itsm("audit", "checkpoint")
    with database(worked["db"]) as db:
        assert [e["key_id"] for e in db.events(a)][-2:] == ["test", new_id]
    _, _, data = verify(itsm, expect=0)
    assert data["checkpoints"] == 2
    # without the old key, its events cannot be checked
    lines = key_file.read_text().splitlines()
    key_file.write_text("\n".join(x for x in lines if not x.startswith("test ")) + "\n")
    _, problems, _ = verify(itsm)
    assert ("key", a, 1) in {(p["kind"], p["ticket"], p["seq"]) for p in problems}
    # re-keyed under the current key, the old key can go; the checkpoints still hold
    key_file.write_text("\n".join(lines) + "\n")
    data = itsm.json("audit", "rekey")
    assert data["rechained"] == 15 and data["from_keys"] == ["test"]  # and the new event chained after them
    key_file.write_text("\n".join(x for x in lines if not x.startswith("test ")) + "\n")
    _, _, data = verify(itsm, expect=0)
    assert data["checkpoints"] == 3  # and the rekey's own


# -- itsm tick signs at its cadence ------------------------------------------------------------------------
def test_tick_makes_a_checkpoint_at_its_cadence(itsm, desk, keys, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ITSM_AUDIT_CHECKPOINT_EVERY", "1h")
    monkeypatch.setenv("ITSM_AUDIT_RECIPIENTS", "auditor@example.com")
    o = desk.org
    key = desk.new("incident", o.agent.id, "2026-03-02 09:00", title="Printer jam", reporter=o.reporter)["key"]

    def tick(at: str) -> list[str]:
        rows = itsm.json("tick", now=at)
        return [r["outcome"] for r in rows if r["kind"] == "audit"]

    assert tick("2026-03-02T09:01:00+08:00") == ["sealed 1 event(s), 1 in the desk log",
                                                 "checkpoint #1 signed (1 new event(s))"]
    assert tick("2026-03-02T09:11:00+08:00") == []
    desk.itsm("comment", key, "Paper tray replaced", user=o.agent.id, now="2026-03-02T09:20:00+08:00")
    assert tick("2026-03-02T09:30:00+08:00") == ["sealed 1 event(s), 2 in the desk log"]  # not due yet
    assert tick("2026-03-02T10:02:00+08:00") == ["checkpoint #2 signed (1 new event(s))"]
    assert tick("2026-03-02T12:00:00+08:00") == []  # due, but nothing new to sign
    lines = [json.loads(x) for x in keys["witness"].read_text().splitlines()]
    assert [(x["count"], x["prev_count"], x["reason"]) for x in lines] == [(1, 0, "cadence"), (2, 1, "cadence")]
    mails = [m for m in itsm.json("outbox", "list") if m["template"] == "audit_checkpoint"]
    assert [m["recipient"] for m in mails] == ["auditor@example.com"] * 2
    from engine.notify.templates import render

    with database(desk.itsm.db) as db:
        payload = db.conn.execute(sa.select(db.t["outbox"].c.payload)
                                  .where(db.t["outbox"].c.template == "audit_checkpoint")).scalars().first()
    body = render(Path(__file__).resolve().parents[2], "audit_checkpoint", "en",
                  {"event": payload["event"], "note": payload["note"]})
    assert "checkpoint #1" in body.subject and json.loads(body.text.strip().splitlines()[-1])["count"] == 1
    monkeypatch.delenv("ITSM_AUDIT_SIGNING_KEY")  # a cadence set, no key: said while there is something new
    desk.itsm("comment", key, "Toner too", user=o.agent.id, now="2026-03-02T13:00:00+08:00")
    assert tick("2026-03-02T14:00:00+08:00") == ["sealed 1 event(s), 3 in the desk log",
                                                 "skipped: no signing key configured ([audit] signing_key)"]
    monkeypatch.delenv("ITSM_AUDIT_CHECKPOINT_EVERY")  # no cadence, no key: tick seals and says no more
    desk.itsm("comment", key, "Done", user=o.agent.id, now="2026-03-02T14:10:00+08:00")
    assert tick("2026-03-02T15:30:00+08:00") == ["sealed 1 event(s), 4 in the desk log"]


def test_deleting_the_databases_checkpoints_neither_stops_nor_fools_the_next(itsm, worked, keys):  # noqa: F811
    itsm("audit", "checkpoint")
    with database(worked["db"]) as db:
        db.conn.execute(db.t["audit_checkpoints"].delete())
    itsm("comment", worked["a"], "After the checkpoint", user="wang.lei", now="2026-03-02T13:00:00+08:00")
    assert itsm.json("audit", "checkpoint")["leaves"] == 1  # its previous digest recomputed from the log
    _, _, data = verify(itsm, "--checkpoints", str(keys["witness"]), expect=0)
    assert (data["checkpoints"], data["last_checkpoint"]) == (2, 15)


# -- the key file of a desk that configured none ---------------------------------------------------------------
def test_the_first_write_makes_a_private_key_file_in_the_state_folder(itsm_nodb, repo_copy, tmp_path, monkeypatch):
    monkeypatch.delenv("ITSM_AUDIT_KEY")
    db = f"sqlite:///{tmp_path}/desk.db"
    run = lambda *a, **kw: itsm_nodb(*a, home=repo_copy, db=db, **kw)  # noqa: E731
    run("user", "add", "wang.lei", "--email", "wang.lei@example.com", "--role", "service_desk")
    key_file = repo_copy / ".itsm" / "audit.key"
    assert not key_file.exists()  # nothing written to the journal yet
    run("new", "incident", "--title", "Printer jam", "--reporter", "li.na@example.com", user="wang.lei")
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    kid = [x for x in key_file.read_text().splitlines() if not x.startswith("#")][0].split()[0]
    run("comment", "INC-000001", "A second process reads the same key", user="wang.lei")
    assert "journal intact" in run("audit", "verify").stdout
    with database(db) as d:
        assert {e["key_id"] for e in d.events("INC-000001")} == {kid}
    from engine.journal import create_key_file

    assert create_key_file(key_file) is False  # a second writer racing for it reads it instead
