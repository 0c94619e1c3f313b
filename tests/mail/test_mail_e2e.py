"""Mail end to end: a real IMAP server (Dovecot) and a real SMTP server
(aiosmtpd) on the loopback interface, the desk in between.

- a mail opens an incident;
- the agent pends it with a question, the user gets it in their language, and
  the user's reply resumes it with the text;
- resolve, then a "still broken" reply reopens it;
- an out-of-office reply changes nothing; a bounce is recorded;
- a GBK-encoded mail with an attachment round-trips;
- killing ``itsm mail poll`` mid-batch loses and duplicates nothing.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from engine.api import Api
from _mailtest import Imap, Smtp, corpus

REPO = Path(__file__).resolve().parents[2]
DESK = "servicedesk@it.example.com"


@pytest.fixture(scope="module")
def desk_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('maildesk')}/itsm.db"
    os.environ.setdefault("ITSM_AUDIT_KEY", "test:dGhlIHRlc3RzJyBhdWRpdCBrZXksIDMyIGJ5dGVzISE")
    api = Api.open(str(REPO), url, "system")
    api.upgrade_db()
    api.add_user("wang.lei", None, "wang.lei@example.com", None, ["service_desk"], ["service_desk"], None)
    api.add_user("chen.jie", None, "chen.jie@example.com", None, [], ["desktop_support"], None, "zh")
    api.add_user("li.na", None, "li.na@example.com", None, [], [], None, "en")
    return url


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, imap_server: Imap, smtp_server: Smtp, desk_db: str) -> dict[str, str]:
    values = {"ITSM_SMTP_HOST": smtp_server.host, "ITSM_SMTP_PORT": str(smtp_server.port),
              "ITSM_SMTP_FROM": DESK, "ITSM_IMAP_HOST": imap_server.host,
              "ITSM_IMAP_PORT": str(imap_server.port), "ITSM_IMAP_TLS": "none",
              "ITSM_IMAP_USERNAME": imap_server.user, "ITSM_IMAP_PASSWORD": imap_server.password,
              "ITSM_IMAP_MAILBOX": "servicedesk", "ITSM_PORTAL_URL": "https://itsm.example.com",
              "ITSM_SECRET_KEY": "mail-test-secret"}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


def api(db: str, user: str = "wang.lei") -> Api:
    return Api.open(str(REPO), db, user)


def fill(name: str, sender: str, key: str = "", in_reply_to: str = "", msgid: str = "") -> bytes:
    msgid = msgid or f"{name}.{sender}.{time.monotonic_ns()}@example.com"
    return (corpus(name).replace(b"{FROM}", sender.encode()).replace(b"{KEY}", key.encode())
            .replace(b"{MSGID}", msgid.encode()).replace(b"{IN_REPLY_TO}", in_reply_to.encode()))


def plain(sender: str, subject: str, body: str, to: str = DESK, **headers: str) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = sender, to, subject
    m["Message-ID"] = f"<{time.monotonic_ns()}.{sender}>"
    for k, v in headers.items():
        m[k.replace("_", "-")] = v
    m.set_content(body)
    return bytes(m)


def poll(db: str) -> list[dict[str, Any]]:
    return api(db, "system").mail_poll()


def deliver(db: str) -> None:
    api(db, "system").deliver()


def latest_to(smtp: Smtp, address: str, key: str) -> EmailMessage:
    mails = [m for m in smtp.to(address) if key in str(m["Subject"])]
    assert mails, f"no mail to {address} about {key}: {[str(m['Subject']) for m in smtp.to(address)]}"
    return mails[-1]


def test_a_mail_opens_an_incident_and_is_acknowledged_with_threading_headers(
        env: dict[str, str], imap_server: Imap, smtp_server: Smtp, desk_db: str) -> None:
    imap_server.append(fill("forwarded.eml", "zhou.wei@example.com"))
    [result] = poll(desk_db)
    assert result["outcome"] == "opened", result
    ticket = api(desk_db).show(result["ticket"])
    assert ticket["reporter"] == "zhou.wei@example.com" and ticket["fields"].get("channel") == "email"
    assert ticket["title"] == "Fwd: Claims system error 500"
    assert imap_server.unseen() == 0
    deliver(desk_db)
    ack = latest_to(smtp_server, "zhou.wei@example.com", result["ticket"])
    assert str(ack["Subject"]).startswith(f"[{result['ticket']}]")
    assert str(ack["In-Reply-To"]) == f"<{result['ticket']}.itsm@it.example.com>"
    reply_to = str(ack["Reply-To"])  # signed: servicedesk+KEY-signature@it.example.com
    assert reply_to.startswith(f"servicedesk+{result['ticket']}-") and reply_to.endswith("@it.example.com")
    assert str(ack["Auto-Submitted"]) == "auto-generated"
    assert "We have logged your report" in ack.get_body(("plain",)).get_content()  # English, as the mail
    # a colleague answers from another client: no tag, no In-Reply-To, only the signed address
    imap_server.append(plain("zhou.wei.home@example.org", "Same here", "Also on my PC.", to=reply_to))
    forged = reply_to.replace(reply_to.split("-")[-1].split("@")[0], "aaaaaaaaaa")
    imap_server.append(plain("mallory@example.org", "Let me in", "x", to=forged))
    imap_server.append(plain("guesser@example.org", "Re: hi", "injected", to=DESK,
                             In_Reply_To=f"<{result['ticket']}.itsm@it.example.com>"))
    first, second, third = poll(desk_db)
    assert (first["outcome"], first["ticket"]) == ("commented", result["ticket"])
    assert second["outcome"] == "opened" and second["ticket"] != result["ticket"]
    assert (third["outcome"], third["ticket"]) == ("commented", result["ticket"])
    comments = {e["note"]: e["public"] for e in api(desk_db).history(result["ticket"]) if e["action"] == "comment"}
    assert comments == {"Also on my PC.": True, "injected": False}  # a guessable Message-ID is not trusted


def test_pend_question_reaches_the_user_in_their_language_and_the_reply_resumes(
        env: dict[str, str], imap_server: Imap, smtp_server: Smtp, desk_db: str) -> None:
    imap_server.append(plain("Li Na <li.na@example.com>", "VPN drops every ten minutes",
                             "Since this morning the VPN drops."))
    [opened] = poll(desk_db)
    key = opened["ticket"]
    agent = api(desk_db)
    agent.do(key, "assign", {"group": "desktop_support", "assignee": "chen.jie"})
    api(desk_db, "chen.jie").do(key, "start", {})
    api(desk_db, "chen.jie").do(key, "pend", {"reason": "Need your asset tag"})
    status = api(desk_db, "system").status(key, opened_token(key))
    assert any(u["note"] == "Need your asset tag" for u in status["updates"])  # the status page shows it
    deliver(desk_db)
    question = latest_to(smtp_server, "li.na@example.com", key)
    assert "Need your asset tag" in question.get_body(("plain",)).get_content()
    assert "We need something from you" in str(question["Subject"])  # li.na's language: en
    assigned = latest_to(smtp_server, "chen.jie@example.com", key)
    assert str(assigned["Subject"]).startswith(f"[{key}] 新分派工单")  # chen.jie's language: zh
    imap_server.append(fill("outlook_reply.eml", "li.na@example.com", key, str(question["Message-ID"])))
    [replied] = poll(desk_db)
    assert replied["outcome"] == "replied" and replied["ticket"] == key
    assert api(desk_db).show(key)["state"] == "in_progress"
    notes = [e["note"] for e in api(desk_db).history(key) if e["action"] == "comment"]
    assert notes == ["The asset tag is CN-4711, it is on the bottom of the laptop.\n\nRegards,\nLi Na"]


def opened_token(key: str) -> str:
    from engine.desk.notifying import token_for
    from engine.settings import Settings

    return token_for(Settings.load(REPO), key)


def test_a_still_broken_reply_reopens_and_automatic_mail_changes_nothing(
        env: dict[str, str], imap_server: Imap, smtp_server: Smtp, desk_db: str) -> None:
    imap_server.append(plain("li.na@example.com", "Cannot print", "The printer says offline."))
    [opened] = poll(desk_db)
    key = opened["ticket"]
    api(desk_db).do(key, "resolve", {"solution": "Restarted the spooler", "closure_code": "solved",
                                     "service_restored": "true"})
    deliver(desk_db)
    resolved = latest_to(smtp_server, "li.na@example.com", key)
    before = api(desk_db).show(key)
    imap_server.append(fill("ooo_outlook.eml", "li.na@example.com", key, str(resolved["Message-ID"])))
    imap_server.append(fill("bounce_dsn.eml", "li.na@example.com", key, str(resolved["Message-ID"])))
    imap_server.append(fill("bulk.eml", "news@vendor.example.com"))
    imap_server.append(plain(DESK, f"[{key}] loop", "our own mail back"))
    outcomes = [(r["kind"], r["outcome"], r["ticket"]) for r in poll(desk_db)]
    assert outcomes == [("ooo", "recorded", key), ("bounce", "recorded", key), ("auto", "recorded", None),
                        ("person", "dropped", None)]
    after = api(desk_db).show(key)
    assert after["state"] == before["state"] == "resolved"
    log = [e for e in api(desk_db).history(key) if e["action"] == "mail"]
    assert len(log) == 2 and all(not e["public"] for e in log)
    assert "li.na@example.com" in log[1]["note"]  # the bounce names the failed recipient
    imap_server.append(fill("foxmail_reply_gbk.eml", "li.na@example.com", key))  # the subject tag only
    [reply] = poll(desk_db)
    assert reply["outcome"] == "replied", reply
    reopened = api(desk_db).show(key)
    assert reopened["state"] == "in_progress" and reopened["fields"]["reopen_count"] == 1
    assert reopened["fields"]["reason"] == "还是不行，VPN 仍然每隔十分钟断线一次。张喆"


def test_a_gbk_mail_with_an_attachment_round_trips(env: dict[str, str], imap_server: Imap,
                                                    smtp_server: Smtp, desk_db: str) -> None:
    raw = fill("new_gbk_attachment.eml", "wang.zhe@example.com")  # to fuwutai@, the Chinese mailbox
    imap_server.append(raw)
    [opened] = poll(desk_db)
    key = opened["ticket"]
    ticket = api(desk_db).show(key)
    assert ticket["title"] == "打印机无法打印（喆）" and ticket["description"].startswith("打印机无法打印")
    [meta] = ticket["attachments"]
    assert meta["filename"] == "截图.png" and meta["content_type"] == "image/png"
    from engine.mail.parse import parse

    sent = parse(raw).attachments[0].data
    got_meta, data = api(desk_db).attachment(key, meta["id"])
    assert data == sent and got_meta["sha256"] == hashlib.sha256(sent).hexdigest()
    assert any(e["action"] == "attach" for e in api(desk_db).history(key))
    deliver(desk_db)
    ack = latest_to(smtp_server, "wang.zhe@example.com", key)
    assert str(ack["Subject"]).startswith(f"[{key}] 您的问题已受理")  # the mailbox fuwutai speaks zh


def test_killing_poll_mid_batch_loses_and_duplicates_nothing(
        env: dict[str, str], imap_server: Imap, desk_db: str, tmp_path: Path) -> None:
    subjects = [f"Batch mail {n}" for n in range(5)]
    for s in subjects:
        imap_server.append(plain(f"batch{s[-1]}@example.com", s, "please help"))
    itsm = [str(Path(sys.executable).parent / "itsm"), "--home", str(REPO), "--db", desk_db,
            "mail", "poll", "--json"]
    run_env = dict(os.environ, ITSM_TEST_MAIL_POLL_PAUSE="3")
    proc = subprocess.Popen(itsm, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    db_file = desk_db.removeprefix("sqlite:///")
    deadline = time.monotonic() + 60
    while handled(db_file, subjects) < 2:  # two committed: the poller sleeps before marking the 2nd
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert imap_server.unseen() == 4  # the second was committed but never marked
    again = subprocess.run(itsm, env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    import json

    outcomes = [r["outcome"] for r in json.loads(again.stdout)]
    assert outcomes == ["duplicate", "opened", "opened", "opened"]
    assert imap_server.unseen() == 0
    tickets = [t for t in api(desk_db).list() if t["title"] in subjects]
    assert sorted(t["title"] for t in tickets) == subjects  # each exactly once


def handled(db_file: str, subjects: list[str]) -> int:
    with sqlite3.connect(db_file) as conn:
        marks = ",".join("?" * len(subjects))
        return conn.execute(f"SELECT count(*) FROM mail_log WHERE subject IN ({marks})", subjects).fetchone()[0]


def test_poll_over_tls_checks_the_certificate(env: dict[str, str], imap_server: Imap, desk_db: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.errors import ItsmError

    monkeypatch.setenv("ITSM_IMAP_TLS", "ssl")
    monkeypatch.setenv("ITSM_IMAP_PORT", str(imap_server.tls_port))
    imap_server.append(plain("tls.user@example.com", "Over TLS", "hello"))
    with pytest.raises(ItsmError, match="CERTIFICATE_VERIFY_FAILED"):  # a certificate nobody vouches for
        poll(desk_db)
    assert imap_server.unseen() == 1
    monkeypatch.setenv("ITSM_IMAP_CA_FILE", imap_server.ca_file)
    [result] = poll(desk_db)
    assert result["outcome"] == "opened" and imap_server.unseen() == 0


def test_mail_over_the_size_limit_is_logged_with_its_own_header(
        env: dict[str, str], imap_server: Imap, desk_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A message over mail.max_message_bytes is not downloaded, only its header:
    the log says whose it was, and a second one of the same size is no duplicate
    of the first (each is known by its own Message-ID)."""
    monkeypatch.setenv("ITSM_MAIL_MAX_MESSAGE_BYTES", "3000")
    imap_server.append(plain("big.one@example.com", "Huge log A", "x" * 6000))
    imap_server.append(plain("big.two@example.com", "Huge log B", "x" * 6000))
    got = poll(desk_db)
    assert [(r["outcome"], r["from"], r["subject"]) for r in got] == [
        ("dropped", "big.one@example.com", "Huge log A"), ("dropped", "big.two@example.com", "Huge log B")]
    assert all("larger than 3000" in r["detail"] and r["message_id"] for r in got)
    assert got[0]["message_id"] != got[1]["message_id"]
    assert imap_server.unseen() == 0
    logged = {(r["from"], r["subject"], r["outcome"]) for r in api(desk_db).mail_log()}
    assert {("big.one@example.com", "Huge log A", "dropped"),
            ("big.two@example.com", "Huge log B", "dropped")} <= logged
    assert not [t for t in api(desk_db).list() if t["title"].startswith("Huge log")]
