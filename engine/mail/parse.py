"""One RFC 5322 message as the desk needs it (stdlib ``email``, ``policy.default``).

Kinds of mail: ``person`` (may open or reply to a ticket), ``auto`` (an
automatic message: Auto-Submitted, Precedence bulk/junk/list, a mailing list),
``ooo`` (an out-of-office or other auto-reply) and ``bounce`` (a delivery
status notification).  Only a person's mail opens or changes a ticket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import getaddresses, parseaddr

from engine.mail import text as mailtext
from engine.mail import thread

MAX_ATTACHMENTS = 20
MAX_PARTS = 200  # parts walked in one message
OOO_SUBJECT = re.compile(r"^\s*(?:automatic reply|auto[- ]?reply|out of (?:the )?office|autoreply|"
                         r"自动回复|自動回覆|休假|不在办公室)", re.IGNORECASE)
BOUNCE_SENDER = re.compile(r"^(?:mailer-daemon|postmaster)@", re.IGNORECASE)


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Inbound:
    message_id: str | None
    sender: str  # lower-case address
    sender_name: str
    recipients: list[str]
    subject: str
    text: str  # the body as text
    reply: str  # the body without what it quotes
    in_reply_to: list[str] = field(default_factory=list)  # ids of In-Reply-To and References
    attachments: list[Attachment] = field(default_factory=list)
    kind: str = "person"  # person | auto | ooo | bounce
    why: str = ""  # what made it not a person's mail
    bounced: str | None = None  # the failed recipient of a bounce

    @property
    def ticket_keys(self) -> list[str]:
        """Keys this mail names: our Message-IDs first, then the subject tag."""
        found = thread.keys_in_ids(self.in_reply_to)
        tagged = thread.subject_key(self.subject)
        return list(dict.fromkeys(found + ([tagged] if tagged else [])))


def header_text(raw: str | None) -> str:
    """A header value with RFC 2047 words decoded (GB2312 read as GB18030)."""
    if not raw:
        return ""
    parts = []
    try:
        chunks = decode_header(raw)
    except Exception:  # noqa: BLE001 - a malformed encoded word: the raw text
        return " ".join(raw.split())
    for value, charset in chunks:
        parts.append(mailtext.decode(value, charset) if isinstance(value, bytes) else value)
    return " ".join("".join(parts).split())


def _body(msg: Message) -> tuple[str, list[Attachment]]:
    plain: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    for n, part in enumerate(msg.walk()):
        if n > MAX_PARTS:
            break
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        filename = part.get_filename()
        if ctype in ("message/delivery-status", "text/rfc822-headers"):
            continue
        if disposition == "attachment" or filename or not ctype.startswith("text/"):
            data = part.get_payload(decode=True) or b""
            if len(attachments) < MAX_ATTACHMENTS and (filename or data):
                attachments.append(Attachment(header_text(filename) if filename else "", ctype, data))
            continue
        data = part.get_payload(decode=True) or b""
        decoded = mailtext.decode(data, part.get_content_charset())
        if ctype == "text/plain" and plain is None:
            plain = decoded
        elif ctype == "text/html" and html is None:
            html = decoded
    if plain is not None and plain.strip():
        body = plain
    elif html is not None:
        body = mailtext.html_to_text(html)
    else:
        body = plain or ""
    body = body.replace("\r\n", "\n")[: mailtext.MAX_TEXT]
    return body, attachments


def _kind(msg: Message, raw_headers: Message, sender: str, subject: str) -> tuple[str, str, str | None]:
    ctype = msg.get_content_type()
    if ctype == "multipart/report" and (msg.get_param("report-type") or "").lower() == "delivery-status" \
            or BOUNCE_SENDER.match(sender) or (raw_headers.get("Return-Path", "x").strip() == "<>"
                                               and ctype == "multipart/report"):
        return "bounce", "delivery status notification", _bounced(msg)
    auto = (raw_headers.get("Auto-Submitted") or "no").strip().lower()
    precedence = (raw_headers.get("Precedence") or "").strip().lower()
    if auto.startswith("auto-replied") or raw_headers.get("X-Autoreply") or \
            raw_headers.get("X-Autorespond") or OOO_SUBJECT.match(subject):
        return "ooo", f"auto-reply (Auto-Submitted: {auto})", None
    if auto != "no":
        return "auto", f"Auto-Submitted: {auto}", None
    if precedence in ("bulk", "junk", "list"):
        return "auto", f"Precedence: {precedence}", None
    if raw_headers.get("List-Id") or raw_headers.get("List-Unsubscribe"):
        return "auto", "mailing list", None
    if BOUNCE_SENDER.match(sender):
        return "bounce", "from a mailer daemon", None
    if not sender:
        return "auto", "no sender address", None
    return "person", "", None


def _bounced(msg: Message) -> str | None:
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            blocks = payload if isinstance(payload, list) else []
            for block in blocks:
                rcpt = block.get("Final-Recipient") or block.get("Original-Recipient")
                if rcpt:
                    return str(rcpt).split(";", 1)[-1].strip().lower()[:254]
    return None


def _returned_ids(msg: Message) -> list[str]:
    """The Message-ID of the message a bounce returns (its headers part)."""
    for n, part in enumerate(msg.walk()):
        if n > MAX_PARTS:
            break
        ctype = part.get_content_type()
        if ctype == "text/rfc822-headers":
            data = part.get_payload(decode=True) or b""
            found = BytesHeaderParser().parsebytes(data.lstrip())
            return thread.ids(found.get("Message-ID"))
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                return thread.ids(str(inner.get("Message-ID") or ""))
    return []


def _clean(text: str) -> str:
    """No NUL or other control characters but line breaks and tabs (PostgreSQL
    refuses NUL in text; the others only confuse)."""
    return "".join(c for c in text if c in "\n\t" or not (ord(c) < 32 or ord(c) == 127))


def parse(raw: bytes) -> Inbound:
    """The message in ``raw`` (the caller bounds its size)."""
    msg: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[assignment]
    headers = BytesHeaderParser().parsebytes(raw)  # compat32: raw values, decoded here
    name, address = parseaddr(header_text(headers.get("From")))
    sender = address.strip().lower()[:254]
    subject = header_text(headers.get("Subject"))[:500]
    rcpts = [a.lower() for _, a in getaddresses([header_text(h) for h in
                                                 (headers.get_all("To") or []) + (headers.get_all("Cc") or [])
                                                 + (headers.get_all("Delivered-To") or [])]) if a][:100]
    mid = thread.MSGID.search(headers.get("Message-ID") or "")
    body, attachments = _body(msg)
    kind, why, bounced = _kind(msg, headers, sender, subject)
    replied = thread.ids(headers.get("In-Reply-To"), headers.get("References"))
    if kind == "bounce":
        replied += _returned_ids(msg)
    body = _clean(body)
    return Inbound(
        message_id=_clean(mid.group(0)) if mid else None, sender=_clean(sender), sender_name=_clean(name[:200]),
        recipients=[_clean(r) for r in dict.fromkeys(rcpts)], subject=_clean(subject), text=body.strip(),
        reply=mailtext.reply_part(body), kind=kind, why=why, bounced=bounced and _clean(bounced),
        in_reply_to=replied,
        attachments=attachments)
