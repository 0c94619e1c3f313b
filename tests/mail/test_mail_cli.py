"""``itsm mail receive``, ``itsm attach`` and people's language, on SQLite and
PostgreSQL: what a message does, once; the limits; messages in each
recipient's language."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from tests_conftest import downgraded

DESK = "servicedesk@it.example.com"


def mail(sender: str, subject: str, body: str, msgid: str, to: str = DESK, **headers: str) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Message-ID"] = sender, to, subject, f"<{msgid}>"
    for k, v in headers.items():
        m[k.replace("_", "-")] = v
    m.set_content(body)
    return bytes(m)


def receive(itsm: Any, raw: bytes, *args: str, expect: int = 0) -> Any:
    return itsm.json("mail", "receive", *args, input=raw, expect=expect)


def test_a_mail_opens_once_and_its_reply_is_a_public_comment(itsm: Any, org: Any) -> None:
    first = receive(itsm, mail("li.na@example.com", "Screen flickers", "Since the update.", "a1@x"))
    assert first["outcome"] == "opened"
    key = first["ticket"]
    assert receive(itsm, mail("li.na@example.com", "Screen flickers", "Since the update.", "a1@x")) \
        ["outcome"] == "duplicate"
    reply = receive(itsm, mail("li.na@example.com", f"Re: [{key}] We have logged your ticket",
                               "It also happens on the second screen.\n\n> quoted", "a2@x"))
    assert reply["outcome"] == "replied" and reply["ticket"] == key
    notes = [e for e in itsm.json("history", key, user=org.agent.id) if e["action"] == "comment"]
    assert [(n["note"], n["public"]) for n in notes] == [("It also happens on the second screen.", True)]
    other = receive(itsm, mail("mallory@example.com", f"Re: [{key}] x", "let me in", "a3@x"))
    assert other["outcome"] == "opened" and other["ticket"] != key  # a tag from a stranger is no reply
    tickets = itsm.json("list", user=org.agent.id)
    assert sorted(t["title"] for t in tickets) == ["Re: [" + key + "] x", "Screen flickers"]
    ooo = receive(itsm, mail("li.na@example.com", f"Automatic reply: [{key}] x", "away", "a4@x",
                             Auto_Submitted="auto-replied"))
    assert (ooo["outcome"], ooo["kind"], ooo["ticket"]) == ("recorded", "ooo", key)
    assert [e["public"] for e in itsm.json("history", key, user=org.agent.id) if e["action"] == "mail"] == [False]
    itsm("audit", "verify")  # the journal still derives every column (comment and mail events)


def test_the_mail_log_shows_display_times_and_speaks_the_readers_language(itsm: Any, org: Any) -> None:
    """``mail log``'s At column is the one display time (docs/agent-guide.md), and in Chinese
    its kinds, outcomes and details are Chinese; --json keeps the stored values."""
    now = "2026-12-08T02:30:57+08:00"
    itsm("mail", "receive", input=mail("a@example.org", "Printer jammed", "Tray 2.", "log1@x"), now=now)
    itsm("mail", "receive", input=mail("robot@example.org", "Nightly report", "ok", "log2@x",
                                       Auto_Submitted="auto-generated"), now=now)
    logged = itsm.json("mail", "log", user=org.agent.id)
    assert [(r["at"], r["kind"], r["outcome"], r["detail"]) for r in logged] == [
        (now, "auto", "recorded", "Auto-Submitted: auto-generated"),
        (now, "person", "opened", "new incident ticket from a@example.org")]

    key = logged[1]["ticket"]

    def cells(text: str, sender: str) -> list[str]:
        return re.split(r"\s{2,}", next(x for x in text.splitlines() if sender in x))

    en = itsm("mail", "log", user=org.agent.id).stdout
    assert cells(en, "a@example.org") == ["2026-12-08 02:30 +08:00", "a@example.org", "person", "opened", key,
                                          "Printer jammed", "new incident ticket from a@example.org"], en
    assert cells(en, "robot@") == ["2026-12-08 02:30 +08:00", "robot@example.org", "auto", "recorded",
                                   "Nightly report", "Auto-Submitted: auto-generated"], en

    zh = itsm("mail", "log", user=org.agent.id, lang="zh").stdout
    assert cells(zh, "a@example.org") == ["2026-12-08 02:30 +08:00", "a@example.org", "人工来信", "已新建", key,
                                          "Printer jammed", "由 a@example.org 新建的突发事件工单"], zh
    assert cells(zh, "robot@") == ["2026-12-08 02:30 +08:00", "robot@example.org", "自动邮件", "已记录",
                                   "Nightly report", "自动发送（Auto-Submitted: auto-generated）"], zh


def test_limits_and_loops(itsm: Any, org: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_MAIL_SENDER_LIMIT", "2")
    monkeypatch.setenv("ITSM_MAIL_MAX_MESSAGE_BYTES", "2000")
    got = [receive(itsm, mail("flood@example.com", f"n{i}", "x", f"f{i}@x"))["outcome"] for i in range(3)]
    assert got == ["opened", "opened", "dropped"]
    big = receive(itsm, mail("big@example.com", "big", "y" * 5000, "big@x"))
    assert big["outcome"] == "dropped" and "larger than 2000" in big["detail"]
    loop = receive(itsm, mail(DESK, "our own", "z", "own@x"))
    assert loop["outcome"] == "dropped" and "own" in loop["detail"]
    auto = receive(itsm, mail("robot@example.com", "Report", "z", "auto@x", Auto_Submitted="auto-generated"))
    assert auto["outcome"] == "recorded" and auto["ticket"] is None
    assert len(itsm.json("list", user=org.agent.id)) == 2
    logged = itsm.json("mail", "log", user=org.agent.id)
    assert [r["outcome"] for r in logged] == ["recorded", "dropped", "dropped", "dropped", "opened", "opened"]
    assert "Auto-Submitted: auto-generated" in itsm("mail", "log", user=org.agent.id).stdout
    # automatic mail counts too: a stranger's auto-replies threading into a ticket stop at the limit
    key = itsm.json("list", user=org.agent.id)[0]["key"]
    noted = [receive(itsm, mail("bot@example.net", "Automatic reply: away", "z", f"ooo{i}@x",
                                Auto_Submitted="auto-replied", In_Reply_To=f"<{key}.itsm@it.example.com>"))
             ["outcome"] for i in range(4)]
    assert noted == ["recorded", "recorded", "dropped", "dropped"]
    assert len([e for e in itsm.json("history", key, user=org.agent.id) if e["action"] == "mail"]) == 2


def test_attach_stores_journals_and_limits(itsm: Any, org: Any, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    key = receive(itsm, mail("li.na@example.com", "VPN", "drops", "v1@x"))["ticket"]
    log = tmp_path / "vpn.log"
    log.write_bytes(b"tunnel down\n" * 10)
    done = itsm.json("attach", key, log, user=org.agent.id)
    assert done["content_type"] == "text/plain" and done["size"] == 120
    shown = itsm.json("show", key, user=org.agent.id)
    assert [a["filename"] for a in shown["attachments"]] == ["vpn.log"]
    assert "vpn.log" in itsm("show", key, user=org.agent.id).stdout
    assert "Attachment: vpn.log (120 B)" in itsm("history", key, user=org.agent.id).stdout
    monkeypatch.setenv("ITSM_MAIL_ATTACHMENT_MAX_BYTES", "100")
    refused = itsm("attach", key, log, user=org.agent.id, expect=1)
    assert "over the limit of 100 bytes per file" in refused.stderr
    itsm("attach", key, log, user=org.other_user, expect=1)  # a stranger may not
    assert len(itsm.json("show", key, user=org.agent.id)["attachments"]) == 1
    itsm("audit", "verify")


def test_files_of_a_mail_count_as_changes_and_the_journal_verifies(itsm: Any, org: Any) -> None:
    """Each file a mail attaches is a journal event, so it is a change of the ticket
    (its version, which audit verify derives from the journal): a new mail with a
    file, then a reply with two (the reply resolving nothing: the ticket is new)."""
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Message-ID"] = "li.na@example.com", DESK, "Printer jams", "<pf1@x>"
    m.set_content("Photo attached.")
    m.add_attachment(b"jam", maintype="text", subtype="plain", filename="jam.txt")
    key = receive(itsm, bytes(m))["ticket"]
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Message-ID"] = "li.na@example.com", DESK, f"Re: [{key}] x", "<pf2@x>"
    m.set_content("Two more.")
    m.add_attachment(b"one", maintype="text", subtype="plain", filename="one.txt")
    m.add_attachment(b"two", maintype="text", subtype="plain", filename="two.txt")
    assert receive(itsm, bytes(m))["outcome"] == "replied"
    history = itsm.json("history", key, user=org.agent.id)
    assert [e["action"] for e in history] == ["create", "attach", "comment", "attach", "attach"]
    assert itsm.json("show", key, user=org.agent.id)["version"] == len(history)
    itsm("audit", "verify")


def test_attachments_in_a_folder(itsm: Any, org: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_ATTACHMENT_DIR", str(tmp_path / "files"))
    key = receive(itsm, mail("li.na@example.com", "Files", "f", "fd@x"))["ticket"]
    f = tmp_path / "a.bin"
    f.write_bytes(b"\x00\x01binary")
    done = itsm.json("attach", key, f, user=org.agent.id)
    stored = tmp_path / "files" / done["sha256"][:2] / done["sha256"]
    assert stored.read_bytes() == b"\x00\x01binary" and done["content_type"] == "application/octet-stream"


def test_each_message_in_its_recipients_language(itsm: Any, org: Any) -> None:
    itsm("user", "add", "lin.fang", "--email", "lin.fang@example.com", "--group", "desktop_support",
         "--lang", "zh", user=org.owner.id)
    key = receive(itsm, mail("li.na@example.com", "Mouse broken", "It does not move.", "l1@x"))["ticket"]
    itsm("do", key, "assign", "--set", "group=desktop_support", user=org.agent.id)
    zh = receive(itsm, mail("wang.zhe@example.com", "鼠标坏了", "鼠标不动了。", "l2@x"))["ticket"]
    rows = {(r["ticket"], r["recipient"], r["template"]): r["lang"] for r in itsm.json("outbox", "list")}
    assert rows[(key, "lin.fang@example.com", "assigned")] == "zh"
    assert rows[(key, "chen.jie@example.com", "assigned")] == "en"
    assert rows[(key, "li.na@example.com", "acknowledged")] == "en"
    assert rows[(zh, "wang.zhe@example.com", "acknowledged")] == "zh"  # written in Chinese


def test_migration_0008_goes_down_and_up_with_mail_and_files(itsm: Any, org: Any, tmp_path: Path) -> None:
    from engine.store import db

    key = receive(itsm, mail("li.na@example.com", "Before the downgrade", "x", "m1@x"))["ticket"]
    with downgraded(itsm.db, "0009"):
        pass
    out = itsm("db", "upgrade").stdout
    assert f"0009 -> {db.HEAD}" in out, out
    assert receive(itsm, mail("li.na@example.com", f"Re: [{key}] x", "after", "m2@x"))["outcome"] == "replied"
    f = tmp_path / "after.txt"
    f.write_text("after the upgrade\n", encoding="utf-8")
    assert itsm.json("attach", key, f, user=org.agent.id)["size"] == 18


def test_a_mail_with_nul_characters_and_broken_headers_opens_cleanly(itsm: Any, org: Any) -> None:
    raw = (b"From: =?utf-8?q?Bad=00Name?= <nul@example.com>\r\nTo: servicedesk@it.example.com\r\n"
           b"Subject: Broken \x00 printer =?x-unknown?B?////?=\r\nMessage-ID: <nul@x>\r\n"
           b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nText with \x00 NUL \xff\xfe bytes\r\n")
    done = receive(itsm, raw)
    assert done["outcome"] == "opened"
    shown = itsm.json("show", done["ticket"], user=org.agent.id)
    assert "\x00" not in shown["title"] + shown["description"] and shown["title"].startswith("Broken")


def test_two_pollers_taking_the_same_message_at_once(itsm: Any, org: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other poller logs the message between our look-up and our commit: the
    message-id's unique index refuses our row, the transaction rolls back, and the
    message is then seen as a duplicate: no second ticket, no database error."""
    from engine.store import mail as mailstore

    raw = mail("race@example.com", "Printer jams", "Tray 2.", "race1@x")
    assert receive(itsm, raw)["outcome"] == "opened"
    real = mailstore.MailQueries.mail_seen
    calls: list[str] = []

    def not_yet_committed(self: Any, message_id: str) -> Any:
        calls.append(message_id)
        return None if len(calls) == 1 else real(self, message_id)

    monkeypatch.setattr(mailstore.MailQueries, "mail_seen", not_yet_committed)
    again = receive(itsm, raw)
    assert again["outcome"] == "duplicate" and "already handled: opened" in again["detail"], again
    assert len(calls) == 2
    assert [t["title"] for t in itsm.json("list", user=org.agent.id) if t["title"] == "Printer jams"] == ["Printer jams"]


def test_mail_receive_defers_while_the_database_is_down(itsm_nodb: Any) -> None:
    """75 (EX_TEMPFAIL): Postfix's pipe keeps the mail and tries again; on 3 it
    would bounce it to the sender."""
    raw = mail("li.na@example.com", "Screen flickers", "Since the update.", "down@x")
    r = itsm_nodb("mail", "receive", db="postgresql+psycopg://nobody@127.0.0.1:1/none", input=raw, expect=75)
    assert r.stderr.startswith("itsm: ") and "127.0.0.1" in r.stderr
    err = itsm_nodb.json("mail", "receive", db="postgresql+psycopg://nobody@127.0.0.1:1/none", input=raw,
                         expect=75)
    assert err["exit_code"] == 75


def test_a_reply_piped_for_the_signed_reply_address_finds_its_mailbox(itsm: Any, org: Any,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Postfix's ${recipient} for a reply is the signed address servicedesk+KEY-sig@..."""
    monkeypatch.setenv("ITSM_SECRET_KEY", "mail-test-secret")
    from engine.mail import thread

    key = receive(itsm, mail("li.na@example.com", "Screen flickers", "Since the update.", "s1@x"))["ticket"]
    signed = thread.reply_address(DESK, key, "mail-test-secret")
    reply = receive(itsm, mail("li.na@example.com", "Re: screen", "Still flickers.", "s2@x", to=signed),
                    "--mailbox", signed)
    assert (reply["outcome"], reply["ticket"]) == ("replied", key)


def test_another_desks_message_ids_do_not_thread_here(itsm: Any, org: Any) -> None:
    """A supplier running itsm writes <INC-000001.itsm@vendor.example>: not our INC-000001."""
    key = receive(itsm, mail("li.na@example.com", "Screen flickers", "Since the update.", "v1@x"))["ticket"]
    foreign = receive(itsm, mail("someone@vendor.example", "Re: your case", "About our INC-000001.", "v2@x",
                                 In_Reply_To=f"<{key}.itsm@vendor.example>"))
    assert foreign["outcome"] == "opened" and foreign["ticket"] != key
    ours = receive(itsm, mail("li.na@example.com", "Re: flicker", "Still.", "v3@x",
                              In_Reply_To=f"<{key}.itsm@it.example.com>"))
    assert (ours["outcome"], ours["ticket"]) == ("replied", key)


def test_a_new_mails_refused_file_is_named_in_what_it_did(itsm: Any, org: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_MAIL_ATTACHMENT_MAX_BYTES", "1000")
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Message-ID"] = "li.na@example.com", DESK, "Crash log", "<big1@x>"
    m.set_content("The log is attached.")
    m.add_attachment(b"x" * 5000, maintype="text", subtype="plain", filename="big.log")
    opened = receive(itsm, bytes(m))
    assert opened["outcome"] == "opened"
    assert "not attached: big.log: 5000 bytes is over the limit of 1000 bytes" in opened["detail"]
    logged = itsm.json("mail", "log", user=org.agent.id)[0]
    assert "not attached: big.log" in logged["detail"]
