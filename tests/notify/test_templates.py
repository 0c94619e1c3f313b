"""Message templates: every template the shipped processes name exists in English
and Chinese, renders with a complete context and with one where everything is
missing, and escapes ticket data in HTML (also in the mail actually delivered).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from engine.notify.templates import Rendered, render

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "processes" / "templates"
LANGS = ("en", "zh")
CST = timezone(timedelta(hours=8))
XSS = "<script>alert(1)</script>"


def _templates_in(node: Any) -> Iterator[str]:
    """Every ``template:`` of a message, wherever it is declared (intake, actions,
    SLA thresholds, timers, reminders)."""
    if isinstance(node, dict):
        if isinstance(node.get("template"), str):
            yield node["template"]
        for value in node.values():
            yield from _templates_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from _templates_in(value)


def referenced() -> dict[str, set[str]]:
    """template name -> processes that use it."""
    out: dict[str, set[str]] = {}
    for path in sorted((REPO / "processes").glob("*.yaml")):
        for name in _templates_in(yaml.safe_load(path.read_text(encoding="utf-8"))):
            out.setdefault(name, set()).add(path.stem)
    return out


REFERENCED = sorted(referenced())

# What a message's ticket looks like (engine.desk.notifying.message_ticket): the public
# view, plus who is who, the group and the reason.
FULL_TICKET: dict[str, Any] = {
    "key": "INC-000042", "process": "incident", "process_title": "Incident",
    "title": "Claims system down for the Guangzhou branch",
    "description": "Nobody at the branch can open a claim since 09:00.",
    "state": "assigned", "state_label": "Assigned",
    "status_text": "A support team has taken charge of your ticket.",
    "priority": "P2", "priority_label": "P2 High", "service": "claims", "service_label": "Claims",
    "group_label": "Claims Application Support", "group": "claims_app_support",
    "created_at": "2026-03-02T09:00:00+08:00", "updated_at": "2026-03-02T09:30:00+08:00",
    "due": "2026-03-02T17:00:00+08:00", "workaround": "Use the paper form",
    "solution": "Restarted the claims application server", "service_restored": True,
    "fulfilment_note": "Laptop handed over at reception", "offering": "Laptop",
    "offering_label": "Standard laptop", "assignee": "liu.yang", "reporter": "li.na@example.com",
    "reason": "Waiting for the vendor", "manager": "huang.wei", "technical_lead": "sun.hao",
    "approver": "he.lin", "communications_owner": "xu.fang",
}
FULL = {"ticket": FULL_TICKET, "action": {"id": "assign", "label": "Assign"},
        "note": "Please call the branch manager first.",
        "event": {"kind": "breach", "name": "resolution", "at": "2026-03-02T17:00:00+08:00",
                  "due": "2026-03-02T17:00:00+08:00"},
        "recipient": "liu.yang@example.com",
        "status_url": "https://itsm.example.com/status/INC-000042?token=abcDEF123_-xyz"}


def _all_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _all_none(v) for k, v in value.items()}
    return None


NONE = {"ticket": _all_none(FULL_TICKET), "action": None, "note": None, "event": None,
        "recipient": None, "status_url": None}


def test_the_processes_name_templates():
    assert len(REFERENCED) >= 10, REFERENCED
    assert {"acknowledged", "assigned", "resolved", "sla_breach"} <= set(REFERENCED)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", REFERENCED)
def test_every_referenced_template_exists(name, lang):
    assert (TEMPLATES / lang / f"{name}.txt").is_file(), f"{lang}/{name}.txt missing"


def test_both_languages_have_the_same_templates():
    files = {lang: sorted(p.name for p in (TEMPLATES / lang).iterdir()) for lang in LANGS}
    assert files["en"] == files["zh"], files


def _check(r: Rendered, lang: str) -> None:
    assert isinstance(r, Rendered)
    assert r.subject.strip(), "empty subject"
    assert "\n" not in r.subject and "\r" not in r.subject
    assert r.text.strip(), "empty body"
    assert not r.text.startswith(r.subject), "the subject is repeated as the body's first line"
    assert "None" not in r.subject and "None" not in r.text, "'None' shown to a person"
    if r.html is not None:
        assert r.html.strip()
        assert "None" not in r.html, "'None' shown to a person"
    if lang == "zh":
        assert re.search(r"[\u4e00-\u9fff]", r.subject + r.text), "not Chinese"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", REFERENCED)
def test_renders_with_a_full_context(name, lang):
    r = render(REPO, name, lang, FULL)
    _check(r, lang)
    assert r.html is not None, f"{lang}/{name}.html missing"
    assert "INC-000042" in r.subject + r.text


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", REFERENCED)
def test_renders_with_everything_missing(name, lang):
    _check(render(REPO, name, lang, NONE), lang)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", REFERENCED)
def test_ticket_data_is_escaped_in_html(name, lang):
    ticket = {k: (XSS if isinstance(v, str) and k not in ("process", "state", "due", "created_at",
                                                         "updated_at") else v)
              for k, v in FULL_TICKET.items()}
    r = render(REPO, name, lang, dict(FULL, ticket=ticket, note=XSS))
    assert r.html is not None
    assert "<script" not in r.html.lower(), r.html
    assert XSS not in r.html
    if XSS in r.text:  # shown in the text part: then as an escaped string in the HTML
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.html


def test_html_links_only_follow_web_addresses():
    evil = dict(FULL, status_url='javascript:alert(1)//"><script>x</script>')
    for name in ("acknowledged", "resolved"):
        html = render(REPO, name, "en", evil).html or ""
        assert 'href="javascript:' not in html.lower()
        assert "<script" not in html.lower()


# --- through the mail server ---------------------------------------------------------------

def _at(minutes: int) -> str:
    return (datetime(2026, 3, 2, 9, 0, tzinfo=CST) + timedelta(minutes=minutes)).isoformat()


def test_xss_title_is_escaped_in_the_delivered_mail(itsm, org, notify_env, smtp_server):
    key = itsm.json("new", "incident", "--title", XSS, "--reporter", "li.na@example.com",
                    "--description", f"<img src=x onerror=alert(2)> {XSS}",
                    user=org.agent.id, now=_at(0))["key"]
    itsm.json("do", key, "assign", "--set", "group=desktop_support", user=org.agent.id, now=_at(5))
    itsm.json("do", key, "resolve", "--set", f"solution=<b>bold</b> {XSS}", "--set", "closure_code=solved",
              "--set", "service_restored=true", user=org.agent.id, now=_at(10))
    assert itsm.json("outbox", "deliver", now=_at(11))["sent"] == 5
    mails = smtp_server.mails
    assert len(mails) == 5
    for mail in mails:
        html = mail.html or ""
        assert html, mail.subject
        assert "<script" not in html.lower(), html
        assert "<img" not in html.lower() and "<b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, html
        assert XSS in mail.subject  # a subject is plain text: shown as typed
        assert XSS in mail.text


def test_a_title_with_line_breaks_cannot_inject_headers(itsm, org, notify_env, smtp_server):
    title = "Printer broken\r\nBcc: attacker@evil.example\r\n\r\nInjected body"
    itsm.json("new", "incident", "--title", title, "--reporter", "li.na@example.com",
              user=org.agent.id, now=_at(0))
    report = itsm.json("outbox", "deliver", now=_at(1))
    assert report["sent"] == 1, report
    (mail,) = smtp_server.mails
    assert mail.rcpt_tos == ["li.na@example.com"]
    assert mail.message["Bcc"] is None
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert mail.subject.startswith("[INC-000001] We have logged your ticket: Printer broken")
    assert mail.text.startswith("Hello,")  # the rest of the title did not become the body


@pytest.mark.parametrize(("title", "description", "lang"), [
    ("打印机卡纸", "", "zh"),
    ("Printer jam", "卡纸", "zh"),  # a Han character anywhere: the reporter writes Chinese
    ("\u3400 x", None, "zh"),  # CJK extension A
    ("Printer jam", "paper stuck", "en"),
    ("12345", "", None),  # no letters: the mailbox's or the desk's language decides
    (None, None, None),
])
def test_the_language_a_ticket_is_written_in(title: Any, description: Any, lang: str | None) -> None:
    from engine.desk.notifying import written_in

    assert written_in({"title": title, "description": description}) == lang
