"""Delivering the outbox to real servers on the loopback interface: an SMTP server
(aiosmtpd) for e-mail and an HTTP receiver for the SMS/IM webhook.

Every step runs the real CLI against SQLite and PostgreSQL.  What a mail server
or gateway received is compared with the outbox rows: recipients, subjects,
languages, Message-IDs, idempotency keys and signatures; failures keep rows
visible and retried; nothing marked sent is ever sent again, even when the
delivering process is killed mid-batch.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from engine.notify.deliver import SENDERS

REPO = Path(__file__).resolve().parents[2]
CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)  # a Monday morning
REPORTER = "li.na@example.com"
DESKTOP = ["chen.jie@example.com", "gao.yan@example.com", "ma.li@example.com"]  # desktop_support
# what the notify_env fixture (conftest.py) configures
SENDER = "IT Service Desk <itsm@example.com>"
MAIL_DOMAIN = "example.com"
PORTAL = "https://itsm.example.com/portal"
WEBHOOK_SECRET = "test-webhook-secret-7f3a"


def wait_until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def at(minutes: float) -> str:
    """--now, ``minutes`` after T0."""
    return (T0 + timedelta(minutes=minutes)).isoformat()


def log(itsm: Any, org: Any, title: str, minutes: float = 0, **kw: Any) -> dict[str, Any]:
    args: list[Any] = ["new", "incident", "--title", title, "--reporter", REPORTER]
    for k, v in kw.items():
        args += [f"--{k}", v]
    return itsm.json(*args, user=org.agent.id, now=at(minutes))


def assign(itsm: Any, org: Any, key: str, minutes: float, group: str = "desktop_support", **kw: Any) -> Any:
    return itsm.json("do", key, "assign", "--set", f"group={group}", user=org.agent.id,
                     now=at(minutes), **kw)


def resolve(itsm: Any, org: Any, key: str, minutes: float, solution: str, **kw: Any) -> Any:
    return itsm.json("do", key, "resolve", "--set", f"solution={solution}", "--set", "closure_code=solved",
                     "--set", "service_restored=true", user=org.agent.id, now=at(minutes), **kw)


def deliver(itsm: Any, minutes: float, **kw: Any) -> dict[str, Any]:
    report = itsm.json("outbox", "deliver", now=at(minutes), **kw)
    assert set(report) >= {"sent", "retrying", "failed", "messages"}, report
    return report


def rows(itsm: Any, status: str | None = None, **kw: Any) -> list[dict[str, Any]]:
    args = ["outbox", "list"] + (["--status", status] if status else [])
    return itsm.json(*args, **kw)


def mid(row_id: int) -> str:
    return f"<itsm-outbox-{row_id}@{MAIL_DOMAIN}>"


def row_for(outbox: list[dict[str, Any]], recipient: str, template: str) -> dict[str, Any]:
    found = [r for r in outbox if r["recipient"] == recipient and r["template"] == template]
    assert len(found) == 1, (recipient, template, outbox)
    return found[0]


# --- e-mail ------------------------------------------------------------------------------

def test_lifecycle_messages_arrive_with_recipients_subjects_and_ids(itsm, org, notify_env, smtp_server,
                                                                    monkeypatch):
    """Log, assign to a group, resolve: the acknowledgement goes to the reporter,
    the assignment to every group member, the resolution (asking to confirm or
    reopen) to the reporter; each with its row's Message-ID, text and HTML."""
    assert (notify_env["ITSM_SMTP_FROM"], notify_env["ITSM_PORTAL_URL"]) == (SENDER, PORTAL)
    assert notify_env["ITSM_WEBHOOK_SECRET"] == WEBHOOK_SECRET
    monkeypatch.setenv("ITSM_SECRET_KEY", "deployment-secret-for-status-tokens")
    ticket = log(itsm, org, "VPN drops every ten minutes")
    key, token = ticket["key"], ticket["status_token"]
    assign(itsm, org, key, 5)
    resolve(itsm, org, key, 60, "Replaced the VPN client profile")

    queued = rows(itsm)
    assert [(r["recipient"], r["template"], r["status"]) for r in queued] == (
        [(REPORTER, "acknowledged", "pending")]
        + [(a, "assigned", "pending") for a in DESKTOP]
        + [(REPORTER, "resolved", "pending")]), queued
    assert smtp_server.mails == []  # nothing is sent by the actions themselves

    report = deliver(itsm, 61)
    assert (report["sent"], report["retrying"], report["failed"]) == (5, 0, 0), report

    mails = smtp_server.mails
    assert len(mails) == 5
    by_id = smtp_server.by_message_id()
    outbox = rows(itsm)
    assert {r["status"] for r in outbox} == {"sent"}
    assert all(r["attempts"] == 1 and r["sent_at"] and r["last_error"] is None for r in outbox), outbox
    for r in outbox:  # each row arrived once, to its recipient only, under its own Message-ID
        got = by_id.get(mid(r["id"]))
        assert got is not None and len(got) == 1, (r, list(by_id))
        mail = got[0]
        assert mail.rcpt_tos == [r["recipient"]], (r, mail.rcpt_tos)
        assert mail.message["To"] == r["recipient"]
        assert mail.message["From"] == SENDER
        assert mail.message["X-Itsm-Ticket"] == key
        assert mail.message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in mail.message.iter_parts()] == ["text/plain", "text/html"]
        assert mail.text.strip() and mail.html and mail.html.strip()
        assert mail.message["Date"]

    ack = by_id[mid(row_for(outbox, REPORTER, "acknowledged")["id"])][0]
    assert ack.subject == f"[{key}] We have logged your ticket: VPN drops every ten minutes"
    assert ack.text.startswith("Hello,")  # the subject line is not repeated in the body
    link = f"{PORTAL}/status/{key}?token={token}"
    assert link in ack.text
    assert f'href="{link}"' in ack.html

    for address in DESKTOP:
        mail = by_id[mid(row_for(outbox, address, "assigned")["id"])][0]
        assert mail.subject == f"[{key}] Assigned (P4): VPN drops every ten minutes"
        assert "Desktop Support" in mail.text
        assert token not in mail.message.as_string()
        assert "token=" not in mail.text and "token=" not in (mail.html or "")

    resolved = by_id[mid(row_for(outbox, REPORTER, "resolved")["id"])][0]
    assert resolved.subject == f"[{key}] Resolved, please confirm: VPN drops every ten minutes"
    assert "Replaced the VPN client profile" in resolved.text
    assert "confirm" in resolved.text and "reopen" in resolved.text
    assert link in resolved.text, resolved.text  # derived token: the reporter's link works
    assert f'href="{link}"' in resolved.html
    assert "Replaced the VPN client profile" in resolved.html


def test_without_secret_key_only_the_acknowledgement_carries_the_token(itsm, org, notify_env,
                                                                       smtp_server):
    ticket = log(itsm, org, "Printer jams")
    key, token = ticket["key"], ticket["status_token"]
    resolve(itsm, org, key, 30, "Cleared the paper path")
    assert deliver(itsm, 31)["sent"] == 2
    ack, res = (smtp_server.to(REPORTER)[0], smtp_server.to(REPORTER)[1])
    assert ack.subject.startswith(f"[{key}] We have logged your ticket")
    assert f"{PORTAL}/status/{key}?token={token}" in ack.text
    assert res.subject.startswith(f"[{key}] Resolved, please confirm")
    assert f"{PORTAL}/status/{key}" in res.text
    assert token not in res.message.as_string()
    assert "personal link from our first e-mail" in res.text


def test_chinese_messages(itsm, org, notify_env, smtp_server):
    """--lang zh at the action: Chinese subject and body, whatever language the
    deliverer runs in."""
    ticket = itsm.json("new", "incident", "--title", "无法登录理赔系统", "--reporter", REPORTER,
                       user=org.agent.id, now=at(0), lang="zh")
    key = ticket["key"]
    itsm.json("do", key, "assign", "--set", "group=desktop_support", user=org.agent.id, now=at(5),
              lang="zh")
    assert {r["lang"] for r in rows(itsm)} == {"zh"}
    assert deliver(itsm, 6)["sent"] == 4  # delivered by a process running in English

    ack = smtp_server.to(REPORTER)[0]
    assert ack.subject == f"[{key}] 您的问题已受理：无法登录理赔系统"  # the template's 【KEY】 is the subject tag
    assert "您好" in ack.text and "IT服务台" in ack.text
    assert "We have logged" not in ack.text
    assert ack.html and re.search(r"[\u4e00-\u9fff]", ack.html)
    assert ack.message.get_content_charset() is None  # multipart; the parts carry utf-8
    for part in ack.message.iter_parts():
        assert part.get_content_charset() == "utf-8"
    for address in DESKTOP:
        mail = smtp_server.to(address)[0]
        assert re.search(r"[\u4e00-\u9fff]", mail.subject), mail.subject
        assert key in mail.subject
        assert "桌面运维组" in mail.text  # the group's Chinese label


def test_deliver_twice_sends_nothing_the_second_time(itsm, org, notify_env, smtp_server):
    log(itsm, org, "Outlook crashes")
    log(itsm, org, "Teams has no sound", minutes=1)
    first = deliver(itsm, 2)
    assert first["sent"] == 2 and len(first["messages"]) == 2
    second = deliver(itsm, 2)
    assert (second["sent"], second["retrying"], second["failed"], second["messages"]) == (0, 0, 0, [])
    third = deliver(itsm, 60 * 24)  # a day later: still nothing
    assert third["messages"] == []
    assert len(smtp_server.mails) == 2
    assert Counter(m.message_id for m in smtp_server.mails) == Counter({mid(1): 1, mid(2): 1})


def test_server_down_keeps_rows_pending_then_delivers_each_once(itsm, org, notify_env, smtp_server):
    smtp_server.stop()
    for i in range(3):
        log(itsm, org, f"Laptop {i} will not boot", minutes=i)
    before = rows(itsm)
    assert len(before) == 3

    report = deliver(itsm, 10)
    assert (report["sent"], report["retrying"], report["failed"]) == (0, 3, 0), report
    assert all("retry in 60s" in m["outcome"] for m in report["messages"]), report
    after = rows(itsm)
    assert [r["id"] for r in after] == [r["id"] for r in before]  # no row lost
    for r in after:
        assert r["status"] == "pending" and r["attempts"] == 1, r
        assert r["last_error"] and "SMTP" in r["last_error"] and str(smtp_server.port) in r["last_error"], r
        assert r["sent_at"] is None
        assert r["next_attempt_at"] == at(11), r  # backoff 60 s after the failed attempt

    early = deliver(itsm, 10.5)  # before the backoff is over: not tried again
    assert early["messages"] == []
    assert [r["attempts"] for r in rows(itsm)] == [1, 1, 1]

    smtp_server.start()
    report = deliver(itsm, 12)
    assert report["sent"] == 3, report
    counts = Counter(m.message_id for m in smtp_server.mails)
    assert counts == Counter({mid(r["id"]): 1 for r in before}), counts
    final = rows(itsm)
    assert all(r["status"] == "sent" and r["attempts"] == 2 and r["last_error"] is None for r in final), final
    assert deliver(itsm, 20)["messages"] == []
    assert len(smtp_server.mails) == 3


def test_failed_after_max_attempts_then_retry_delivers(itsm, org, notify_env, smtp_server):
    smtp_server.stop()
    log(itsm, org, "Disk full", minutes=0)
    log(itsm, org, "Mouse broken", minutes=1)

    # attempts at 10, 11 (after 60 s), 13 (after 120 s); ITSM_NOTIFY_MAX_ATTEMPTS=3
    assert deliver(itsm, 10)["retrying"] == 2
    assert deliver(itsm, 11)["retrying"] == 2
    last = deliver(itsm, 13)
    assert (last["sent"], last["retrying"], last["failed"]) == (0, 0, 2), last
    assert all("failed after 3 attempts" in m["outcome"] for m in last["messages"]), last
    failed = rows(itsm, "failed")
    assert len(failed) == 2
    assert all(r["attempts"] == 3 and "SMTP" in (r["last_error"] or "") for r in failed), failed
    assert rows(itsm, "pending") == []
    assert deliver(itsm, 60 * 24)["messages"] == []  # failed rows wait for a human

    smtp_server.start()
    one = itsm("outbox", "retry", failed[0]["id"], now=at(60 * 24 * 2))
    assert "1 message(s) queued again" in one.stdout
    assert [r["id"] for r in rows(itsm, "pending")] == [failed[0]["id"]]
    assert [r["attempts"] for r in rows(itsm, "pending")] == [0]
    # queued again as of the retry's "now"
    assert deliver(itsm, 60 * 24 * 2)["sent"] == 1

    rest = itsm("outbox", "retry", now=at(60 * 24 * 2))
    assert "1 message(s) queued again" in rest.stdout
    assert deliver(itsm, 60 * 24 * 2)["sent"] == 1
    assert Counter(m.message_id for m in smtp_server.mails) == Counter({mid(r["id"]): 1 for r in failed})
    assert {r["status"] for r in rows(itsm)} == {"sent"}
    assert "0 message(s) queued again" in itsm("outbox", "retry").stdout


# --- the webhook channel (SMS / IM gateways) --------------------------------------------------

SMS_PHONE = "+86 138 0013 8000"


def _sms_repository(repo_copy: Path) -> Path:
    """The shipped processes plus an SMS to the group on assignment."""
    path = repo_copy / "processes" / "incident.yaml"
    text = path.read_text(encoding="utf-8")
    old = "    notify: [{to: group, template: assigned}]\n"
    assert text.count(old) == 1
    path.write_text(text.replace(old, "    notify: [{to: group, template: assigned}, "
                                      "{to: group, channel: sms, template: assigned}]\n"),
                    encoding="utf-8")
    return repo_copy


def test_sms_goes_to_the_webhook_signed_with_idempotency_key(itsm, org, notify_env, smtp_server,
                                                             webhook_server, repo_copy):
    home = _sms_repository(repo_copy)
    itsm("user", "add", "song.jia", "--email", "song.jia@example.com", "--phone", SMS_PHONE,
         "--group", "desktop_support", home=home, user=org.owner.id)
    ticket = itsm.json("new", "incident", "--title", "Core switch flapping", "--reporter", REPORTER,
                       user=org.agent.id, now=at(0), home=home)
    key = ticket["key"]
    itsm.json("do", key, "assign", "--set", "group=desktop_support", user=org.agent.id, now=at(5),
              home=home)
    queued = rows(itsm, home=home)
    sms = [r for r in queued if r["channel"] == "sms"]
    # only the member with a phone number gets the SMS
    assert [(r["recipient"], r["template"]) for r in sms] == [(SMS_PHONE, "assigned")], queued
    report = deliver(itsm, 6, home=home)
    assert report["sent"] == len(queued) == 1 + 4 + 1, report

    assert len(webhook_server.received) == 1
    hook = webhook_server.received[0]
    assert hook.method == "POST"
    assert hook.path == "/itsm/hook"
    assert hook.header("Content-Type") == "application/json; charset=utf-8"
    ident = f"itsm-outbox-{sms[0]['id']}"
    assert hook.header("Idempotency-Key") == ident
    expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hook.header("X-Itsm-Signature") == expected  # HMAC over the exact bytes received
    body = hook.json()
    assert body["id"] == ident
    assert body["channel"] == "sms"
    assert body["to"] == SMS_PHONE
    assert body["ticket"] == key
    assert body["template"] == "assigned"
    assert body["lang"] == "en"
    assert body["subject"] == f"[{key}] Assigned (P4): Core switch flapping"
    assert "Core switch flapping" in body["text"]
    # the e-mails of the same action went by SMTP, the SMS did not
    assert sorted(a for m in smtp_server.mails for a in m.rcpt_tos) == sorted(
        [REPORTER, *DESKTOP, "song.jia@example.com"])
    assert all(SMS_PHONE not in m.rcpt_tos for m in smtp_server.mails)
    assert deliver(itsm, 7, home=home)["messages"] == []
    assert len(webhook_server.received) == 1


def test_sms_with_chinese_text_is_signed_over_its_utf8_body(itsm, org, notify_env, webhook_server,
                                                            repo_copy):
    home = _sms_repository(repo_copy)
    itsm("user", "add", "song.jia", "--email", "song.jia@example.com", "--phone", SMS_PHONE,
         "--group", "desktop_support", home=home, user=org.owner.id)
    key = itsm.json("new", "incident", "--title", "核心交换机故障", "--reporter", REPORTER,
                    user=org.agent.id, now=at(0), home=home, lang="zh")["key"]
    itsm.json("do", key, "assign", "--set", "group=desktop_support", user=org.agent.id, now=at(5),
              home=home, lang="zh")
    deliver(itsm, 6, home=home)
    hook = webhook_server.received[0]
    body = hook.json()
    assert body["lang"] == "zh" and "核心交换机故障" in body["subject"]
    assert "核心交换机故障".encode("utf-8") in hook.body  # sent as UTF-8, not \u escapes
    assert hook.header("X-Itsm-Signature") == "sha256=" + hmac.new(
        WEBHOOK_SECRET.encode(), hook.body, hashlib.sha256).hexdigest()


def test_webhook_500_is_retried_with_the_same_idempotency_key(itsm, org, notify_env, webhook_server,
                                                              repo_copy):
    webhook_server.fail_first = 2
    home = _sms_repository(repo_copy)
    itsm("user", "add", "song.jia", "--email", "song.jia@example.com", "--phone", SMS_PHONE,
         "--group", "desktop_support", home=home, user=org.owner.id)
    key = itsm.json("new", "incident", "--title", "Router down", "--reporter", REPORTER,
                    user=org.agent.id, now=at(0), home=home)["key"]
    itsm.json("do", key, "assign", "--set", "group=desktop_support", user=org.agent.id, now=at(5),
              home=home)
    sms_id = next(r["id"] for r in rows(itsm, home=home) if r["channel"] == "sms")

    deliver(itsm, 6, home=home)
    row = next(r for r in rows(itsm, home=home) if r["id"] == sms_id)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert "HTTP 500" in row["last_error"]
    deliver(itsm, 7, home=home)  # 60 s later
    row = next(r for r in rows(itsm, home=home) if r["id"] == sms_id)
    assert row["status"] == "pending" and row["attempts"] == 2, row
    deliver(itsm, 9, home=home)  # 120 s later
    row = next(r for r in rows(itsm, home=home) if r["id"] == sms_id)
    assert row["status"] == "sent" and row["attempts"] == 3 and row["last_error"] is None, row

    hooks = webhook_server.received
    assert [h.status for h in hooks] == [500, 500, 200]
    assert {h.header("Idempotency-Key") for h in hooks} == {f"itsm-outbox-{sms_id}"}
    assert len({h.body for h in hooks}) == 1  # the same message each time
    assert deliver(itsm, 60, home=home)["messages"] == []
    assert len(webhook_server.received) == 3


def test_webhook_without_secret_has_no_signature(itsm, org, notify_env, webhook_server, repo_copy,
                                                 monkeypatch):
    monkeypatch.delenv("ITSM_WEBHOOK_SECRET")
    home = _sms_repository(repo_copy)
    itsm("user", "add", "song.jia", "--email", "song.jia@example.com", "--phone", SMS_PHONE,
         "--group", "desktop_support", home=home, user=org.owner.id)
    key = itsm.json("new", "incident", "--title", "Router down", "--reporter", REPORTER,
                    user=org.agent.id, now=at(0), home=home)["key"]
    itsm.json("do", key, "assign", "--set", "group=desktop_support", user=org.agent.id, now=at(5),
              home=home)
    deliver(itsm, 6, home=home)
    hook = webhook_server.received[0]
    assert hook.header("X-Itsm-Signature") is None
    assert hook.header("Idempotency-Key") and hook.header("Idempotency-Key").startswith("itsm-outbox-")


# --- a deliverer killed mid-batch ------------------------------------------------------------

def test_killed_deliverer_loses_nothing_and_resends_only_unfinished_rows(itsm, org, notify_env,
                                                                          smtp_server, db_url):
    """SIGKILL ``itsm outbox deliver`` while the (slow) mail server is taking a
    batch, then deliver again after the lease: every row ends sent; a Message-ID
    may arrive twice only for a row that was claimed but not yet marked sent at
    the kill (the documented at-least-once), never for a row already sent."""
    n = 8
    for i in range(n):
        log(itsm, org, f"Kiosk {i} frozen", minutes=i)
    queued = rows(itsm)
    assert len(queued) == n

    smtp_server.handler.delay = 0.4  # the server answers DATA slowly
    argv = [sys.executable, "-m", "cli", "--home", str(REPO), "--db", db_url, "--now", at(30),
            "outbox", "deliver"]
    proc = subprocess.Popen(argv, cwd=str(REPO), env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert wait_until(lambda: len(smtp_server.mails) >= 3, timeout=60), (
            "the deliverer sent fewer than 3 messages in 60 s", proc.poll())
        assert proc.poll() is None, "the deliverer finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == -signal.SIGKILL

    time.sleep(0.6)  # let an in-flight DATA finish on the server side
    smtp_server.handler.delay = 0.0
    before_kill = Counter(m.message_id for m in smtp_server.mails)
    at_kill = {r["id"]: r["status"] for r in rows(itsm)}
    assert len(at_kill) == n  # no row lost
    sent_at_kill = {i for i, s in at_kill.items() if s == "sent"}
    claimed_at_kill = {i for i, s in at_kill.items() if s == "sending"}
    assert sent_at_kill, at_kill
    assert len(sent_at_kill) < n, "killed after the batch: the test proves nothing"
    assert set(at_kill.values()) <= {"sent", "sending", "pending"}, at_kill
    assert len(claimed_at_kill) <= SENDERS, at_kill  # one batch at a time
    for i in sent_at_kill:  # marked sent only after the server accepted it
        assert before_kill[mid(i)] == 1, (i, before_kill)

    # within the lease a claimed row is left alone; after it, it is taken again
    report = deliver(itsm, 31)
    assert all(m["id"] not in claimed_at_kill | sent_at_kill for m in report["messages"]), report
    report = deliver(itsm, 40)  # the five-minute lease is over
    assert {r["status"] for r in rows(itsm)} == {"sent"}, rows(itsm)

    total = Counter(m.message_id for m in smtp_server.mails)
    assert set(total) == {mid(i) for i in at_kill}, total  # every row arrived
    after_kill = total - before_kill
    for i in sent_at_kill:
        assert after_kill[mid(i)] == 0, f"row {i} was marked sent before the kill but sent again"
    duplicates = {m for m, c in total.items() if c > 1}
    assert duplicates <= {mid(i) for i in claimed_at_kill}, (duplicates, at_kill)
    assert all(c <= 2 for c in total.values()), total
    assert deliver(itsm, 60)["messages"] == []


def test_sms_to_the_reporter_goes_to_the_reporters_phone(itsm, org, notify_env, webhook_server,
                                                         repo_copy):
    """End users are known by e-mail and the ticket's reporter_phone: an SMS to
    the reporter (guideline 4, "notify by e-mail/mobile") goes to that number."""
    path = repo_copy / "processes" / "incident.yaml"
    text = path.read_text(encoding="utf-8")
    old = "    notify: [{to: reporter, template: resolved}]\n"
    assert text.count(old) == 1
    path.write_text(text.replace(old, "    notify: [{to: reporter, template: resolved}, "
                                      "{to: reporter, channel: sms, template: resolved}]\n"),
                    encoding="utf-8")
    phone = "+86 139 0000 0042"
    key = itsm.json("new", "incident", "--title", "Cannot print", "--reporter", REPORTER,
                    "--set", f"reporter_phone={phone}", user=org.agent.id, now=at(0), home=repo_copy)["key"]
    resolve(itsm, org, key, 30, "Reinstalled the driver", home=repo_copy)
    sms = [r for r in rows(itsm, home=repo_copy) if r["channel"] == "sms"]
    assert [(r["recipient"], r["template"]) for r in sms] == [(phone, "resolved")], rows(itsm, home=repo_copy)
    deliver(itsm, 31, home=repo_copy)
    assert [h.json()["to"] for h in webhook_server.accepted] == [phone]


def test_two_deliverers_at_once_send_each_row_once(itsm, org, notify_env, smtp_server, db_url):
    """Two ``itsm outbox deliver`` processes started together (cron on two
    machines): each row is claimed by one of them only."""
    n = 10
    for i in range(n):
        log(itsm, org, f"Scanner {i} offline", minutes=i)
    smtp_server.handler.delay = 0.1
    argv = [sys.executable, "-m", "cli", "--home", str(REPO), "--db", db_url, "--now", at(30),
            "outbox", "deliver", "--json"]
    procs = [subprocess.Popen(argv, cwd=str(REPO), env=dict(os.environ), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=120)
            outputs.append((p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
    assert all(rc == 0 for rc, _, _ in outputs), outputs
    reports = [json.loads(out) for _, out, _ in outputs]
    assert sum(r["sent"] for r in reports) == n, reports
    ids = [m["id"] for r in reports for m in r["messages"]]
    assert sorted(ids) == sorted(set(ids)), reports  # no row handled by both
    assert Counter(m.message_id for m in smtp_server.mails) == Counter(
        {mid(r["id"]): 1 for r in rows(itsm)})
    assert {r["status"] for r in rows(itsm)} == {"sent"}


def test_tick_queues_timer_messages_and_delivers_them(itsm, org, notify_env, smtp_server):
    """`itsm tick` sends what the timers queue (here the response SLA breach, to
    the incident managers) and whatever else is pending."""
    key = log(itsm, org, "Badge reader dead")["key"]
    response_due = itsm.json("show", key, user=org.agent.id, now=at(1))["sla"]["response"]["due"]
    late = (datetime.fromisoformat(response_due) + timedelta(minutes=1)).isoformat()
    done = itsm.json("tick", now=late)
    assert any(d["key"] == key and d["kind"] == "breach" and d["name"] == "response" for d in done), done
    assert any(d["kind"] == "outbox" for d in done), done
    outbox = rows(itsm)
    assert {r["status"] for r in outbox} == {"sent"}, outbox
    breach = [r for r in outbox if r["template"] == "sla_breach"]
    assert [r["recipient"] for r in breach] == [f"{org.incident_manager.id}@example.com"], outbox
    # (the incident manager also receives the scheduled KPI reports a tick mails)
    (mail,) = [m for m in smtp_server.to(f"{org.incident_manager.id}@example.com")
               if m.message_id == mid(breach[0]["id"])]
    assert key in mail.subject
    assert len(smtp_server.to(REPORTER)) == 1  # the acknowledgement, once
    sent = len(smtp_server.mails)
    ticket_mails = [m for m in smtp_server.mails if key in m.subject]
    assert len(ticket_mails) == 2  # the acknowledgement and the breach; the rest are KPI reports
    assert itsm.json("tick", now=late) == []  # nothing twice
    assert len(smtp_server.mails) == sent


def test_refused_recipients_fail_alone_and_do_not_hold_the_others(itsm, org, notify_env, smtp_server):
    """550 user unknown (a mistyped or spam sender's address) is that message's
    failure, not the server's: the breaker stays closed and everyone else's mail goes."""
    async def handle_RCPT(server, session, envelope, address, options):  # noqa: N802 - aiosmtpd's hook
        if address.startswith("nosuch"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp_server.handler.handle_RCPT = handle_RCPT
    for i in range(4):
        itsm.json("new", "incident", "--title", f"Spam {i}", "--reporter", f"nosuch{i}@example.com",
                  user=org.agent.id, now=at(i / 10))
    for i in range(6):
        log(itsm, org, f"Printer {i} jams", minutes=1 + i / 10)
    report = deliver(itsm, 2)
    assert (report["sent"], report["retrying"], report.get("held", 0)) == (6, 4, 0), report
    assert not report.get("broken"), report
    assert len(smtp_server.to(REPORTER)) == 6
    refused = [r for r in rows(itsm) if r["recipient"].startswith("nosuch")]
    assert all(r["status"] == "pending" and "SMTP refused nosuch" in r["last_error"] for r in refused), refused
