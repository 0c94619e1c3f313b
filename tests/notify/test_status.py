"""The end user's status query: ``itsm status KEY --token T``.

The token is printed once by ``itsm new`` and mailed once to the reporter; the
database keeps only its SHA-256 (and the acknowledgement's outbox row keeps the
token until it is sent).  The view shows the ticket in plain words and public
updates, never internal notes, internal fields or who is working on it.  A wrong
token and an unknown key are indistinguishable.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)
REPORTER = "li.na@example.com"

# distinctive strings that must never reach the end user
INTAKE_NOTE = "INTAKE-NOTE-caller-sounded-drunk-5c1"
INTERNAL_COMMENT = "INTERNAL-COMMENT-blame-the-vendor-9d2"
# the reason of pend is the desk's question to the user (issue #21): shown as its note
REASON = "REASON-FIELD-waiting-for-budget-approval-3e7"
PUBLIC_COMMENT = "PUBLIC-COMMENT-we-ordered-a-new-token-8a4"
SOLUTION = "SOLUTION-replaced-the-hardware-token-6f0"

DUAL_MODE = True  # direct and remote mode (tests/conftest.py)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def engine_for(db_url: str) -> sa.Engine:
    url = sa.make_url(db_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def table_rows(db_url: str, name: str, **where: Any) -> list[dict[str, Any]]:
    """Rows of a table as the database holds them, read behind the engine's back."""
    engine = engine_for(db_url)
    try:
        table = sa.Table(name, sa.MetaData(), autoload_with=engine)
        stmt = sa.select(table).where(*(table.c[k] == v for k, v in where.items()))
        with engine.connect() as conn:
            out = []
            for row in conn.execute(stmt.order_by(*table.primary_key.columns)).mappings():
                d = dict(row)
                for k, v in d.items():
                    if isinstance(v, str) and v[:1] in "{[":
                        try:
                            d[k] = json.loads(v)
                        except ValueError:
                            pass
                out.append(d)
            return out
    finally:
        engine.dispose()


def flat(row: Any) -> str:
    """Every value of a row (JSON included) as one string, to search for a secret."""
    return json.dumps(row, default=str, ensure_ascii=False)


def new_incident(itsm: Any, org: Any, minutes: float = 0, **kw: Any) -> dict[str, Any]:
    args: list[Any] = ["new", "incident", "--title", kw.pop("title", "Hardware token broken"),
                       "--reporter", REPORTER]
    for k, v in kw.items():
        args += [f"--{k}", v]
    return itsm.json(*args, user=org.agent.id, now=at(minutes))


def worked_ticket(itsm: Any, org: Any) -> tuple[str, str]:
    """A ticket with every kind of internal and public information on it."""
    t = new_incident(itsm, org, note=INTAKE_NOTE, description="My token shows no digits")
    key, token = t["key"], t["status_token"]
    itsm.json("do", key, "assign", "--set", "group=desktop_support", "--set", f"assignee={org.desktop.id}",
              user=org.agent.id, now=at(5))
    itsm.json("do", key, "start", user=org.desktop.id, now=at(10))
    itsm.json("comment", key, INTERNAL_COMMENT, user=org.desktop.id, now=at(11))
    itsm.json("do", key, "pend", "--set", f"reason={REASON}", user=org.desktop.id, now=at(12))
    itsm.json("comment", key, PUBLIC_COMMENT, "--public", user=org.desktop.id, now=at(13))
    itsm.json("do", key, "resume", user=org.desktop.id, now=at(60))
    return key, token


def status(itsm: Any, key: str, token: str, minutes: float = 120, **kw: Any) -> tuple[str, Any]:
    text = itsm("status", key, "--token", token, now=at(minutes), **kw).stdout
    data = itsm.json("status", key, "--token", token, now=at(minutes), **kw)
    return text, data


def assert_nothing_internal(org: Any, *outputs: str) -> None:
    for out in outputs:
        for secret in (INTAKE_NOTE, INTERNAL_COMMENT):
            assert secret not in out, (secret, out)
        for who in (org.desktop.id, org.desktop.email, org.agent.id, org.agent.email):
            assert who not in out, (who, out)


# --- the token --------------------------------------------------------------------------

def test_new_returns_a_token_and_the_database_keeps_only_its_hash(itsm, org, db_url):
    t = new_incident(itsm, org)
    token = t["status_token"]
    assert isinstance(token, str) and len(token) >= 16, t
    assert re.fullmatch(r"[A-Za-z0-9_\-]+", token), token  # safe in a URL
    other = new_incident(itsm, org, minutes=1)["status_token"]
    assert other != token

    (row,) = table_rows(db_url, "tickets", key=t["key"])
    assert re.fullmatch(r"[0-9a-f]{64}", row["token_hash"]), row["token_hash"]
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert row["token_hash"] != token
    assert token not in flat(row)  # not in any column, JSON fields included
    for name in ("journal", "due_work", "fired"):
        assert token not in flat(table_rows(db_url, name)), name

    text = itsm("new", "incident", "--title", "Printer offline", "--reporter", REPORTER,
                user=org.agent.id, now=at(2)).stdout
    assert re.search(r"[A-Za-z0-9_\-]{16,}\s*$", text), text  # printed for the agent on the phone


def test_the_acknowledgement_row_holds_the_token_only_until_sent(itsm, org, db_url, notify_env,
                                                                 smtp_server):
    t = new_incident(itsm, org)
    key, token = t["key"], t["status_token"]
    itsm.json("do", key, "assign", "--set", "group=desktop_support", user=org.agent.id, now=at(5))
    queued = table_rows(db_url, "outbox")
    ack = [r for r in queued if r["template"] == "acknowledged"]
    others = [r for r in queued if r["template"] != "acknowledged"]
    assert len(ack) == 1 and ack[0]["recipient"] == REPORTER
    assert ack[0]["payload"]["token"] == token
    assert others and all(token not in flat(r) for r in others), others  # not to the group

    smtp_server.stop()  # a failed attempt keeps it: the message still has to carry it
    assert itsm.json("outbox", "deliver", now=at(6))["retrying"] == len(queued)
    (ack_row,) = table_rows(db_url, "outbox", id=ack[0]["id"])
    assert ack_row["payload"]["token"] == token

    smtp_server.start()
    assert itsm.json("outbox", "deliver", now=at(10))["sent"] == len(queued)
    after = table_rows(db_url, "outbox")
    assert {r["status"] for r in after} == {"sent"}
    assert token not in flat(after), after  # gone from the database once mailed
    assert "token" not in after[0]["payload"]
    (mail,) = smtp_server.to(REPORTER)
    assert token in mail.text
    # the status query still works: the hash is kept
    assert status(itsm, key, token)[1]["key"] == key


def test_with_a_secret_key_the_resolution_row_to_the_reporter_carries_the_token(
        itsm, org, db_url, notify_env, smtp_server, monkeypatch):
    monkeypatch.setenv("ITSM_SECRET_KEY", "a-long-deployment-secret")
    t = new_incident(itsm, org)
    key, token = t["key"], t["status_token"]
    itsm.json("do", key, "assign", "--set", "group=desktop_support", user=org.agent.id, now=at(5))
    itsm.json("do", key, "resolve", "--set", f"solution={SOLUTION}", "--set", "closure_code=solved",
              "--set", "service_restored=true", user=org.agent.id, now=at(30))
    rows = table_rows(db_url, "outbox")
    to_reporter = [r for r in rows if r["recipient"] == REPORTER]
    assert sorted(r["template"] for r in to_reporter) == ["acknowledged", "resolved"]
    assert all(r["payload"].get("token") == token for r in to_reporter), to_reporter
    assert all(token not in flat(r) for r in rows if r["recipient"] != REPORTER)
    (row,) = table_rows(db_url, "tickets", key=key)
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    itsm.json("outbox", "deliver", now=at(31))
    assert token not in flat(table_rows(db_url, "outbox"))
    resolved = [m for m in smtp_server.to(REPORTER) if "Resolved" in m.subject]
    assert len(resolved) == 1 and f"?token={token}" in resolved[0].text
    assert status(itsm, key, token, minutes=40)[1]["state"] == "resolved"


# --- what the end user sees ----------------------------------------------------------------

def test_status_shows_plain_words_and_public_updates_only(itsm, org):
    key, token = worked_ticket(itsm, org)
    text, data = status(itsm, key, token)

    assert data["key"] == key and data["title"] == "Hardware token broken"
    assert data["state"] == "in_progress"
    assert data["status_text"] == "We are working on it."
    assert "We are working on it." in text
    assert data["priority"] == "P4" and data["priority_label"]
    assert data["priority_label"] in text
    assert data["group_label"] == "Desktop Support" and "Desktop Support" in text
    assert data["due"].endswith("+08:00")  # ISO 8601 with the desk's offset; the text shows the same time
    assert data["due"][:16].replace("T", " ") + " +08:00" in text
    assert datetime.fromisoformat(data["due"]) > T0
    notes = [u["note"] for u in data["updates"]]
    assert PUBLIC_COMMENT in notes and PUBLIC_COMMENT in text
    assert [u["note"] for u in data["updates"] if u["action"] == "pend"] == [REASON] and REASON in text
    assert [u["action"] for u in data["updates"]][0] == "create"
    assert "resume" not in data["can"] and "reopen" not in data["can"]

    assert_nothing_internal(org, text, json.dumps(data, ensure_ascii=False))
    assert "assignee" not in data and "reporter" not in data
    assert all("reason" not in u["changes"] and "assignee" not in u["changes"] for u in data["updates"])


def test_status_after_resolution_shows_the_solution_and_what_the_user_can_do(itsm, org):
    key, token = worked_ticket(itsm, org)
    itsm.json("do", key, "resolve", "--set", f"solution={SOLUTION}", "--set", "closure_code=solved",
              "--set", "service_restored=true", user=org.desktop.id, now=at(90))
    text, data = status(itsm, key, token)
    assert data["state"] == "resolved"
    assert data["solution"] == SOLUTION and SOLUTION in text
    assert data["status_text"].startswith("We believe this is fixed")
    assert any(u["action"] == "resolve" and u["changes"].get("solution") == SOLUTION for u in data["updates"])
    assert set(data["can"]) == {"confirm", "reopen"}
    assert data["due"] is None  # the resolution clock has stopped
    assert_nothing_internal(org, text, json.dumps(data, ensure_ascii=False))
    assert all("closure_code" not in u["changes"] for u in data["updates"])  # an internal field


def test_status_in_chinese(itsm, org):
    key, token = worked_ticket(itsm, org)
    text, data = status(itsm, key, token, lang="zh")
    assert data["status_text"] == "我们正在处理。" and "我们正在处理。" in text
    assert data["group_label"] == "桌面运维组"
    assert_nothing_internal(org, text, json.dumps(data, ensure_ascii=False))


# --- refusals ----------------------------------------------------------------------------------

def test_wrong_token_and_unknown_key_get_the_same_answer(itsm, org):
    key, token = worked_ticket(itsm, org)
    other = new_incident(itsm, org, minutes=70, title="Second ticket")
    attempts = [(key, "not-the-token"), (key, token[:-1]), (key, token.upper() if token.upper() != token else token + "x"),
                (key, other["status_token"]),  # another ticket's token
                ("INC-999999", token), ("INC-999999", "whatever"), ("NOPE", token), (key, "")]
    results = [itsm("status", k, "--token", t, now=at(120), expect=4) for k, t in attempts]
    assert {r.exit_code for r in results} == {4}
    assert len({r.stderr_bytes for r in results}) == 1, [r.stderr for r in results]
    assert all(r.stdout == "" for r in results)
    assert all(key not in r.stderr and token not in r.stderr for r in results)
    as_json = [itsm("status", k, "--token", t, "--json", now=at(120), expect=4) for k, t in attempts]
    assert len({r.stderr_bytes for r in as_json}) == 1, [r.stderr for r in as_json]
    assert json.loads(as_json[0].stderr)
    # the right pair still works, key in any case
    assert itsm.json("status", key.lower(), "--token", token, now=at(120))["key"] == key


@pytest.mark.direct_only("spies on hmac.compare_digest in this process, which the server's API-key check also calls")
def test_tokens_are_compared_in_constant_time(itsm, org, monkeypatch):
    from engine.desk import notifying

    source = inspect.getsource(notifying.ticket_by_token)
    assert "hmac.compare_digest(" in source, source

    key, token = worked_ticket(itsm, org)
    calls: list[tuple[str, str]] = []
    real = notifying.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(notifying.hmac, "compare_digest", spy)
    itsm("status", key, "--token", token, now=at(120))
    itsm("status", key, "--token", "wrong", now=at(120), expect=4)
    itsm("status", "INC-424242", "--token", token, now=at(120), expect=4)
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert len(calls) == 3, calls
    assert calls[0] == (digest, digest)
    assert calls[1] == (digest, hashlib.sha256(b"wrong").hexdigest())
    # an unknown key still costs one comparison of two 64-character digests
    assert len(calls[2][0]) == 64 and calls[2][1] == digest


@pytest.mark.parametrize("bad", ["", "   "])
def test_status_needs_a_token(itsm, org, bad):
    key = new_incident(itsm, org)["key"]
    r = itsm("status", key, "--token", bad, now=at(1), expect=4)
    assert "no ticket with that key and token" in r.stderr
