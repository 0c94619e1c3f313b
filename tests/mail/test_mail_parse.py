"""Parsing real-world message shapes (tests/mail/corpus): Outlook and Foxmail
replies, a forwarded mail, multipart/alternative, HTML only, GBK bodies and
RFC 2047 subjects, an out-of-office reply, a bounce, a newsletter."""

from __future__ import annotations

import pytest

from engine.mail import text as mailtext
from engine.mail import thread
from engine.mail.parse import parse
from _mailtest import corpus

OURS = "<itsm-outbox-3@it.example.com>"


def load(name: str, key: str = "INC-000007", sender: str = "li.na@example.com") -> bytes:
    return (corpus(name).replace(b"{FROM}", sender.encode()).replace(b"{KEY}", key.encode())
            .replace(b"{MSGID}", f"{name}@example.com".encode()).replace(b"{IN_REPLY_TO}", OURS.encode()))


def test_an_outlook_reply_keeps_what_was_written_and_threads_by_our_message_id() -> None:
    mail = parse(load("outlook_reply.eml"))
    assert mail.kind == "person" and mail.sender == "li.na@example.com"
    assert mail.in_reply_to == [OURS] and thread.outbox_ids(mail.in_reply_to) == [3]
    assert mail.reply == "The asset tag is CN-4711, it is on the bottom of the laptop.\n\nRegards,\nLi Na"
    assert "Need your asset tag" in mail.text  # the whole text is kept; only the reply drops the quote


def test_a_foxmail_reply_in_gbk_labelled_gb2312_decodes_and_finds_the_subject_tag() -> None:
    mail = parse(load("foxmail_reply_gbk.eml"))
    assert mail.subject.startswith("回复：") and "[INC-000007]" in mail.subject
    assert mail.ticket_keys == ["INC-000007"] and mail.in_reply_to == []
    assert mail.reply == "还是不行，VPN 仍然每隔十分钟断线一次。张喆"  # 喆 is GBK, not GB2312
    assert mail.sender_name == "张喆"


def test_a_new_gbk_mail_with_an_encoded_attachment_name() -> None:
    mail = parse(load("new_gbk_attachment.eml"))
    assert mail.subject == "打印机无法打印（喆）" and mail.kind == "person"
    assert mail.text.startswith("打印机无法打印")
    [part] = mail.attachments
    assert part.filename == "截图.png" and part.data.startswith(b"\x89PNG")


def test_html_only_mail_becomes_text_without_scripts_or_styles() -> None:
    mail = parse(load("html_only.eml"))
    assert "Outlook keeps asking for my password every hour." in mail.text
    assert "- Windows 11" in mail.text and "Thanks & regards" in mail.text
    assert "alert" not in mail.text and "color" not in mail.text


def test_a_forwarded_mail_keeps_the_forwarded_part_in_its_text() -> None:
    mail = parse(load("forwarded.eml"))
    assert mail.kind == "person" and "Internal Server Error (500)" in mail.text
    assert mail.reply == "Please look at this, the whole claims team sees it."


@pytest.mark.parametrize("name, kind", [("ooo_outlook.eml", "ooo"), ("bounce_dsn.eml", "bounce"),
                                        ("bulk.eml", "auto")])
def test_automatic_mail_is_told_apart(name: str, kind: str) -> None:
    assert parse(load(name)).kind == kind


def test_a_bounce_names_the_failed_recipient_and_the_message_it_returns() -> None:
    mail = parse(load("bounce_dsn.eml", sender="gone@example.com"))
    assert mail.bounced == "gone@example.com" and mail.in_reply_to == [OURS]


def test_outgoing_threading_helpers() -> None:
    assert thread.tagged("【INC-000001】问题已解决", "INC-000001") == "[INC-000001] 问题已解决"
    assert thread.tagged("[INC-000001] Resolved", "INC-000001") == "[INC-000001] Resolved"
    assert thread.keys_in_ids([thread.root_id("INC-000042", "it.example.com")]) == ["INC-000042"]
    assert thread.subject_key("Re: 【INC-000009】 x") == "INC-000009"


def test_charsets_and_quotes() -> None:
    assert mailtext.decode("喆".encode("gbk"), "gb2312") == "喆"
    assert mailtext.decode(b"caf\xc3\xa9", "x-no-such-charset") == "café"
    assert mailtext.reply_part("Yes.\n\n在 2026年3月3日 09:00，IT服务台 写道：\n> old") == "Yes."
    assert mailtext.reply_part("Fixed?\nOn Tue, 3 Mar 2026 at 09:00, Desk <d@x> wrote:\n> old") == "Fixed?"


from hypothesis import given, settings, strategies as st  # noqa: E402

PIECES = [b"From: a@b.c\r\n", b"Subject: =?gb2312?B?u9i4tA==?=\r\n", b"Content-Type: multipart/mixed; boundary=x\r\n",
          b"--x\r\n", b"Content-Type: text/html; charset=gbk\r\n", b"Content-Transfer-Encoding: base64\r\n",
          b"\r\n", b"<p>hi</p><blockquote>q", b"=?utf-8?q?=E4?=", b"\xff\xfe\x00", b"--x--\r\n",
          b"Content-Disposition: attachment; filename*=utf-8''%E6%88%AA.png\r\n", b"Auto-Submitted: no\r\n",
          b"Message-ID: <\xff@b>\r\n", b"References: <\xe4@x>\r\n", b"Auto-Submitted: n\xf6\r\n",
          b"Content-Type: text/plain; charset=idna\r\n", b"From: =?utf-8?q?a=40b.c?= <x@y.z>\r\n",
          b"<a ", b"<!--", b"<script>"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=40)), max_size=30))
def test_any_bytes_parse_without_an_exception(parts: list[bytes]) -> None:
    mail = parse(b"".join(parts))
    assert mail.kind in ("person", "auto", "ooo", "bounce")
    assert len(mail.subject) <= 500 and len(mail.attachments) <= 20 and isinstance(mail.reply, str)
    assert "\x00" not in mail.text + mail.subject + mail.sender + (mail.message_id or "")
