"""One poison message must never stop delivery (issue #20, item 3).

A title the e-mail library refuses as a header, a webhook gateway answering
garbage, a template that fails with a non-Jinja error or breaks its bounds:
each is that row's failed attempt, and the other rows of the same run are
delivered.  Retries are bounded with a capped backoff; a row that exhausts them
(also by killing its deliverer) ends ``failed``, is listed by ``itsm outbox list
--status failed`` and by ``itsm tick``, and ``itsm outbox retry`` brings it back.

Every step runs the real CLI against SQLite and PostgreSQL, with the real
servers of conftest.py (and a raw socket that answers garbage).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from engine.api import Api

REPO = Path(__file__).resolve().parents[2]
CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)
REPORTER = "li.na@example.com"
SMS_PHONE = "+86 138 0013 8000"
POISON = "Poison"  # titles starting with this word trip the poisoned templates


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def log(itsm: Any, org: Any, title: str, minutes: float = 0, **kw: Any) -> dict[str, Any]:
    return itsm.json("new", "incident", "--title", title, "--reporter", REPORTER,
                     user=org.agent.id, now=at(minutes), **kw)


def deliver(itsm: Any, minutes: float, **kw: Any) -> dict[str, Any]:
    return itsm.json("outbox", "deliver", now=at(minutes), **kw)


def rows(itsm: Any, status: str | None = None, **kw: Any) -> list[dict[str, Any]]:
    return itsm.json("outbox", "list", *(["--status", status] if status else []), **kw)


def poison(home: Path, template: str, snippet: str) -> str:
    """Put ``snippet`` at the top of en/TEMPLATE.txt, evaluated only for tickets
    whose title starts with POISON; returns the template's original text."""
    path = home / "processes" / "templates" / "en" / f"{template}.txt"
    original = path.read_text(encoding="utf-8")
    path.write_text('{% if (ticket.title or "").startswith("' + POISON + '") %}' + snippet
                    + "{% endif %}" + original, encoding="utf-8")
    return original


def subjects(smtp_server: Any) -> list[str]:
    return sorted(m.subject for m in smtp_server.mails)


# --- headers -----------------------------------------------------------------------------

# Characters str.splitlines() breaks on besides \r and \n: the e-mail library
# refuses each of them in a header value, so before the fix one such title made
# every `outbox deliver` exit 3 with the row stuck in 'sending'.
SEPARATORS = ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]


def test_line_separators_in_a_title_become_spaces_in_the_subject(itsm, org, notify_env, smtp_server):
    for i, sep in enumerate(SEPARATORS):
        log(itsm, org, f"Printer{sep}broken {i}", minutes=i)
    good = log(itsm, org, "Keyboard misses keys", minutes=10)["key"]
    report = deliver(itsm, 20)
    assert (report["sent"], report["retrying"], report["failed"]) == (len(SEPARATORS) + 1, 0, 0), report
    assert {r["status"] for r in rows(itsm)} == {"sent"}
    expected = [f"[INC-{i + 1:06d}] We have logged your ticket: Printer broken {i}"
                for i in range(len(SEPARATORS))]
    assert subjects(smtp_server) == sorted(expected + [f"[{good}] We have logged your ticket: "
                                                       "Keyboard misses keys"])
    for mail in smtp_server.mails:
        assert mail.rcpt_tos == [REPORTER]
        assert all(sep not in str(mail.message["Subject"]) for sep in SEPARATORS)


# --- a webhook gateway that does not speak HTTP -------------------------------------------------

class GarbageServer:
    """A raw TCP server on the loopback interface: reads what the client sends
    (up to a short pause), answers ``reply`` and closes the connection."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.connections = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="garbage-server", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/itsm/hook"

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            with conn:
                conn.settimeout(0.5)
                try:
                    while conn.recv(65536):
                        pass
                except (TimeoutError, OSError):
                    pass
                try:
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.sock.close()


GARBAGE = {
    "binary": b"\x00\xff\xfe\x07 not HTTP at all \x1b[31m\r\n\r\n",
    "bad-status": b"HTTP/1.1 2OO OK\r\n\r\n",
    "header-line-too-long": b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 70_000 + b"\r\n\r\n",
    "too-many-headers": b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n",
}


@pytest.fixture(params=sorted(GARBAGE), ids=sorted(GARBAGE))
def garbage_gateway(request: pytest.FixtureRequest, notify_env: dict[str, str],
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[GarbageServer]:
    server = GarbageServer(GARBAGE[request.param])
    monkeypatch.setenv("ITSM_WEBHOOK_URL", server.url)
    try:
        yield server
    finally:
        server.stop()


def _sms_repository(home: Path) -> Path:
    """The shipped processes plus an SMS to the group on assignment."""
    path = home / "processes" / "incident.yaml"
    text = path.read_text(encoding="utf-8")
    old = "    notify: [{to: group, template: assigned}]\n"
    assert text.count(old) == 1
    path.write_text(text.replace(old, "    notify: [{to: group, template: assigned}, "
                                      "{to: group, channel: sms, template: assigned}]\n"), encoding="utf-8")
    return home


def test_a_gateway_answering_garbage_fails_only_the_sms(itsm, org, smtp_server, garbage_gateway,
                                                        repo_copy):
    home = _sms_repository(repo_copy)
    itsm("user", "add", "song.jia", "--email", "song.jia@example.com", "--phone", SMS_PHONE,
         "--group", "desktop_support", home=home, user=org.owner.id)
    key = log(itsm, org, "Core switch flapping", home=home)["key"]
    itsm.json("do", key, "assign", "--set", "group=desktop_support", user=org.agent.id, now=at(5), home=home)
    log(itsm, org, "Access point down", minutes=5, home=home)  # an e-mail queued after the SMS
    queued = rows(itsm, home=home)
    (sms,) = [r for r in queued if r["channel"] == "sms"]
    assert sms["id"] < max(r["id"] for r in queued)

    report = deliver(itsm, 6, home=home)
    assert (report["sent"], report["retrying"], report["failed"]) == (len(queued) - 1, 1, 0), report
    assert garbage_gateway.connections == 1
    row = next(r for r in rows(itsm, home=home) if r["id"] == sms["id"])
    assert row["status"] == "pending" and row["attempts"] == 1, row
    assert row["last_error"].startswith("webhook ") and garbage_gateway.url in row["last_error"], row
    assert row["next_attempt_at"] == at(7)  # the normal backoff: 60 s
    assert len(smtp_server.mails) == len(queued) - 1
    assert {r["status"] for r in rows(itsm, home=home) if r["id"] != sms["id"]} == {"sent"}


# --- templates that fail or break their bounds ----------------------------------------------

POISONS = {
    # a TypeError, not a Jinja error: the ticket has no assignee yet
    "none-arithmetic": ("{{ ticket.assignee + 1 }}", "TypeError"),
    "division-by-zero": ("{{ 1 // (ticket.title|length - ticket.title|length) }}", "ZeroDivisionError"),
}


@pytest.mark.parametrize("snippet, error", POISONS.values(), ids=list(POISONS))
def test_a_failing_template_fails_only_its_row(itsm, org, notify_env, smtp_server, repo_copy, snippet, error):
    poison(repo_copy, "acknowledged", snippet)
    bad = log(itsm, org, f"{POISON} pill", home=repo_copy)["key"]
    good = log(itsm, org, "Monitor flickers", minutes=1, home=repo_copy)["key"]

    report = deliver(itsm, 2, home=repo_copy)
    assert (report["sent"], report["retrying"], report["failed"]) == (1, 1, 0), report
    poisoned, fine = rows(itsm, home=repo_copy)
    assert (poisoned["ticket"], poisoned["status"], poisoned["attempts"]) == (bad, "pending", 1), poisoned
    assert poisoned["last_error"].startswith("template en/acknowledged"), poisoned
    assert error in poisoned["last_error"], poisoned
    assert len(poisoned["last_error"]) <= 1000
    assert (fine["ticket"], fine["status"]) == (good, "sent")
    assert [m.subject for m in smtp_server.mails] == [f"[{good}] We have logged your ticket: Monitor flickers"]


# Templates that, unbounded, build gigabytes or run for hours: each run in a
# child process with a deadline, so that code without the bounds fails the test
# instead of hanging it (or sending a 100 MB e-mail to the test's mail server).
COSTLY = {
    "huge-output": ("{{ 'x' * 100000000 }}", "the result would have more than 1000000 items"),
    "nested-loops": ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                     "the template takes more than 100000 steps"),
    "loop-output": ("{% for i in range(100000) %}{{ ticket.title * 1000 }}{% endfor %}",
                    "the message would be longer than 1000000 characters"),
    "doubling-macro": ("{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% endif %}{% endmacro %}"
                       "{{ d(ticket.title, 64) }}", "the result would have more than 1000000 items"),
}


@pytest.mark.parametrize("snippet, error", COSTLY.values(), ids=list(COSTLY))
def test_a_template_breaking_its_bounds_fails_its_row_in_bounded_time(itsm, org, notify_env, smtp_server,
                                                                      repo_copy, db_url, snippet, error):
    poison(repo_copy, "acknowledged", snippet)
    bad = log(itsm, org, f"{POISON} loop", home=repo_copy)["key"]
    good = log(itsm, org, "Mouse wheel stuck", minutes=1, home=repo_copy)["key"]
    argv = [sys.executable, "-m", "cli", "--home", str(repo_copy), "--db", db_url, "--now", at(2),
            "outbox", "deliver", "--json"]
    try:
        done = subprocess.run(argv, cwd=str(REPO), env=dict(os.environ), capture_output=True, text=True,
                              timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("outbox deliver did not finish within 90 s: the template is unbounded")
    assert done.returncode == 0, done.stderr
    poisoned, fine = rows(itsm, home=repo_copy)
    assert (poisoned["ticket"], poisoned["status"], poisoned["attempts"]) == (bad, "pending", 1), poisoned
    assert poisoned["last_error"].startswith("template en/acknowledged: "), poisoned
    assert error in poisoned["last_error"], poisoned
    assert (fine["ticket"], fine["status"]) == (good, "sent")
    assert [m.subject for m in smtp_server.mails] == [f"[{good}] We have logged your ticket: Mouse wheel stuck"]


# --- bounded retries ----------------------------------------------------------------------------

def _claim_and_die(db_url: str, minutes: float) -> dict[str, Any]:
    """What a deliverer killed mid-send leaves behind: a claimed row ('sending',
    an attempt counted, a five-minute lease) that nobody finishes."""
    api = Api.open(home=str(REPO), db=db_url, now=at(minutes))
    try:
        t = api.now()
        with api.store.write() as repo:
            row = repo.claim_outbox(t, t + timedelta(minutes=5))
        assert row is not None
        return row
    finally:
        api.store.close()


def test_a_row_whose_deliverer_keeps_dying_ends_failed(itsm, org, notify_env, smtp_server, db_url):
    """A message that kills its deliverer (say, out of memory) is taken again
    when the lease expires; after max_attempts such attempts it is failed, not
    taken forever, and the other rows are delivered."""
    deadly = log(itsm, org, "Kills the deliverer")["key"]
    good = log(itsm, org, "Webcam upside down", minutes=1)["key"]
    claims = [_claim_and_die(db_url, m) for m in (10, 16, 22)]  # each after the last lease expired
    assert [c["attempts"] for c in claims] == [1, 2, 3]
    assert {c["id"] for c in claims} == {rows(itsm)[0]["id"]}

    report = deliver(itsm, 28)
    assert (report["sent"], report["failed"]) == (1, 1), report
    dead, fine = rows(itsm)
    assert (dead["ticket"], dead["status"], dead["attempts"]) == (deadly, "failed", 3), dead
    assert "did not finish" in dead["last_error"], dead
    assert (fine["ticket"], fine["status"]) == (good, "sent")
    assert [m.subject for m in smtp_server.mails] == [f"[{good}] We have logged your ticket: Webcam upside down"]


def test_backoff_is_capped_however_many_attempts(itsm, org, notify_env, smtp_server, db_url, monkeypatch):
    """60 s x 2^n overflows a timedelta after ~40 attempts; the wait between two
    attempts never exceeds a day."""
    monkeypatch.setenv("ITSM_NOTIFY_MAX_ATTEMPTS", "100")
    smtp_server.stop()
    log(itsm, org, "Projector fan loud")
    for n in range(60):  # sixty attempts whose deliverer died, one lease apart
        _claim_and_die(db_url, 6 * n)
    report = deliver(itsm, 6 * 60)
    assert report["retrying"] == 1, report
    assert "retry in 86400s" in report["messages"][0]["outcome"], report
    (row,) = rows(itsm)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("pending", 61, at(6 * 60 + 60 * 24))


@pytest.mark.parametrize("name, value", [("ITSM_NOTIFY_BACKOFF", "inf"), ("ITSM_NOTIFY_BACKOFF", "nan"),
                                         ("ITSM_NOTIFY_BACKOFF", "-5"), ("ITSM_NOTIFY_MAX_ATTEMPTS", "0")])
def test_unusable_retry_settings_are_refused(itsm, notify_env, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    error = itsm.json("outbox", "deliver", expect=2)
    assert error["error"] == "usage" and "settings" in error["message"], error


# --- failed rows: listed, shown by every tick, retried ------------------------------------------

def test_exhausted_row_is_failed_listed_shown_by_tick_and_retried(itsm, org, notify_env, smtp_server,
                                                                  repo_copy):
    original = poison(repo_copy, "acknowledged", "{{ ticket.assignee * 2 }}")
    bad = log(itsm, org, f"{POISON} again", home=repo_copy)["key"]
    log(itsm, org, "Docking station dead", minutes=1, home=repo_copy)

    # ITSM_NOTIFY_MAX_ATTEMPTS=3, backoff 60 s: attempts at 10, 11 and 13 minutes
    first = deliver(itsm, 10, home=repo_copy)
    assert (first["sent"], first["retrying"], first["failed"]) == (1, 1, 0), first
    assert deliver(itsm, 11, home=repo_copy)["retrying"] == 1
    last = deliver(itsm, 13, home=repo_copy)
    assert (last["sent"], last["retrying"], last["failed"]) == (0, 0, 1), last
    assert last["failed_total"] == 1
    assert "failed after 3 attempts" in last["messages"][0]["outcome"]

    (failed,) = rows(itsm, "failed", home=repo_copy)
    assert (failed["ticket"], failed["attempts"]) == (bad, 3)
    assert "TypeError" in failed["last_error"]
    table = itsm("outbox", "list", "--status", "failed", home=repo_copy).stdout
    assert bad in table and "failed" in table and "TypeError" in table
    assert deliver(itsm, 60 * 24, home=repo_copy)["messages"] == []  # failed rows wait for a human

    # every tick says so, even when it has nothing else to do
    summary = itsm.json("tick", now=at(60 * 24), home=repo_copy)
    assert [d for d in summary if d["kind"] == "outbox" and d["name"] == "failed"] == [
        {"key": "-", "kind": "outbox", "name": "failed", "due": None,
         "outcome": "1 message(s): itsm outbox list --status failed, itsm outbox retry"}]
    text = itsm("tick", now=at(60 * 24), home=repo_copy).stdout
    assert re.search(r"outbox +failed +1 message\(s\): itsm outbox list --status failed, itsm outbox retry",
                     text), text

    # the template is fixed; the operator retries
    (repo_copy / "processes" / "templates" / "en" / "acknowledged.txt").write_text(original, encoding="utf-8")
    assert "1 message(s) queued again" in itsm("outbox", "retry", now=at(60 * 25), home=repo_copy).stdout
    again = deliver(itsm, 60 * 25, home=repo_copy)
    assert (again["sent"], again["failed_total"]) == (1, 0), again
    assert f"[{bad}] We have logged your ticket: {POISON} again" in subjects(smtp_server)
    assert {r["status"] for r in rows(itsm, home=repo_copy)} == {"sent"}
    assert [d for d in itsm.json("tick", now=at(60 * 25), home=repo_copy) if d["name"] == "failed"] == []
