"""One RFC 5322 message as the desk needs it (stdlib ``email``, ``policy.default``).

Kinds of mail: ``person`` (may open or reply to a ticket), ``auto`` (an
automatic message: Auto-Submitted, Precedence bulk/junk/list, a mailing list),
``ooo`` (an out-of-office or other auto-reply) and ``bounce`` (a delivery
status notification).  Only a person's mail opens or changes a ticket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from email import policy
from email.header import decode_header
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import getaddresses

from engine.mail import text as mailtext
from engine.mail import thread

MAX_ATTACHMENTS = 20
MAX_PARTS = 200  # parts walked in one message
MAX_SUBJECT_HEADER = 8_000  # characters of a raw Subject decoded (its 500 characters of text fit in far less)
MAX_ADDRESS_HEADER = 20_000  # characters of a raw From, To or Cc read for addresses
MAX_MIME_FIELD = 16_384  # bytes of a Content-Type or Content-Disposition field given to the parser
# The subject of an auto-reply: its form "Automatic reply: ..." (Outlook, Exchange, Foxmail), not
# a request about auto-replies ("Out of office assistant not working", "休假系统无法登录")
OOO_SUBJECT = re.compile(r"^\s*(?:automatic reply|auto[- ]?reply|autoreply|out of (?:the )?office"
                         r"(?:\s+(?:auto[- ]?reply|reply))?|自动回复|自動回覆|不在办公室|休假(?:自动回复)?)\s*[:：]",
                         re.IGNORECASE)
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
    unread: list[str] = field(default_factory=list)  # files past MAX_ATTACHMENTS (or MAX_PARTS): their names

    @property
    def ticket_keys(self) -> list[str]:
        """Keys this mail names: our Message-IDs first, then the subject tag."""
        found = thread.keys_in_ids(self.in_reply_to)
        tagged = thread.subject_key(self.subject)
        return list(dict.fromkeys(found + ([tagged] if tagged else [])))


def header_text(raw: Any) -> str:
    """A header value with RFC 2047 words decoded (GB2312 read as GB18030); also a
    compat32 ``Header`` (a value with raw 8-bit bytes)."""
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


def _raw(headers: Message, name: str) -> str:
    """A header as text with its encoded words kept (``""`` when absent): compat32
    gives a ``Header`` object, not text, for a value with raw 8-bit bytes, which is
    decoded instead."""
    value = headers.get(name)
    if value is None:
        return ""
    return value if isinstance(value, str) else header_text(value)


def _raw_all(headers: Message, name: str) -> list[str]:
    return [v if isinstance(v, str) else header_text(v) for v in headers.get_all(name) or []]


def sender_of(raw_from: str) -> tuple[str, str]:
    """(display name, address) of a From value: the address parsed from the value
    as written, before any encoded word is decoded (``=?utf-8?q?li.na=40example.com?=
    <attacker@evil.example>`` is attacker@evil.example, whose domain the MTA's
    DMARC check saw), then the name decoded.  A value naming no address, or more
    than one, has none: the mail is nobody's."""
    raw_from = raw_from[:MAX_ADDRESS_HEADER]
    try:  # comments nested deeper than a mail has them: no address to be read (the stdlib recurses)
        found = [] if _deep_comments(raw_from) else [(n, a.strip()) for n, a in getaddresses([raw_from])
                                                      if "@" in a]
    except RecursionError:
        found = []
    if len(found) != 1 or found[0][1].count("@") != 1:
        return header_text(raw_from), ""
    name, address = found[0]
    return header_text(name), address


def _deep_comments(value: str, limit: int = 32) -> bool:
    """Whether ``value`` nests (comments) more than ``limit`` deep: the stdlib's
    address parser recurses once a level, and past Python's limit its RecursionError
    also leaves half-closed generators behind, reported on stderr."""
    depth = 0
    escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "(":
            depth += 1
            if depth > limit:
                return True
        elif ch == ")" and depth:
            depth -= 1
    return False


def _filename(part: Message) -> str:
    """A part's file name from its headers as sent, in its charset as this desk reads
    it (GB2312 as GB18030: the stdlib's own GB2312 loses GBK-only characters like
    镕), RFC 2231 (``filename*=gb2312''...``) or RFC 2047 alike."""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        for name, value in part.raw_items():
            if name.lower() != header or not isinstance(value, str) or not value.isascii():
                continue  # raw 8-bit bytes: as the stdlib reads them (UTF-8)
            plain = Message()
            plain[name] = value
            found = plain.get_param(param, header=header)
            if isinstance(found, tuple):  # RFC 2231: (charset, language, the bytes as Latin-1)
                charset, _, text = found
                return mailtext.decode(text.encode("latin-1", "replace"), charset or None)
            if isinstance(found, str) and found:
                return header_text(found)
    return ""


def _body(msg: Message, unread: list[str] | None = None) -> tuple[str, list[Attachment]]:
    """The text (every inline text/plain part, in order: Apple Mail puts text after an
    inline image in a part of its own; else the first HTML part as text) and the
    files; the names of the files past the limits go to ``unread``."""
    plains: list[str] = []
    html: str | None = None
    attachments: list[Attachment] = []
    for n, part in enumerate(msg.walk()):
        if n > MAX_PARTS:
            if unread is not None:
                unread.append(f"parts after the first {MAX_PARTS}")
            break
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        try:
            disposition = (part.get_content_disposition() or "").lower()
            filename = part.get_filename()
        except (UnicodeError, LookupError, ValueError):  # a parameter in a charset that cannot be read
            disposition, filename = "attachment", None
        if ctype in ("message/delivery-status", "text/rfc822-headers"):
            continue
        if disposition == "attachment" or filename or not ctype.startswith("text/"):
            data = part.get_payload(decode=True) or b""
            if filename or data:
                name = _filename(part) or header_text(filename) if filename else ""
                if len(attachments) < MAX_ATTACHMENTS:
                    attachments.append(Attachment(name, ctype, data))
                elif unread is not None:
                    unread.append(name or ctype)
            continue
        data = part.get_payload(decode=True) or b""
        decoded = mailtext.decode(data, part.get_content_charset())
        if ctype == "text/plain":
            plains.append(decoded)
        elif ctype == "text/html" and html is None:
            html = decoded
    plain = "\n\n".join(p.strip("\r\n") for p in plains if p.strip()) if plains else None
    if plain:
        body = plain
    elif html is not None:
        body = mailtext.html_to_text(html)
    else:
        body = "".join(plains)
    body = body.replace("\r\n", "\n")[: mailtext.MAX_TEXT]
    return body, attachments


def _kind(msg: Message, raw_headers: Message, sender: str, subject: str) -> tuple[str, str, str | None]:
    ctype = msg.get_content_type()
    if ctype == "multipart/report" and (msg.get_param("report-type") or "").lower() == "delivery-status" \
            or BOUNCE_SENDER.match(sender) or ((_raw(raw_headers, "Return-Path") or "x").strip() == "<>"
                                               and ctype == "multipart/report"):
        return "bounce", "delivery status notification", _bounced(msg)
    auto = (_raw(raw_headers, "Auto-Submitted") or "no").strip().lower()
    precedence = _raw(raw_headers, "Precedence").strip().lower()
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
            return thread.ids(_raw(found, "Message-ID"))
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                return thread.ids(str(inner.get("Message-ID") or ""))
    return []


def headers_only(raw: bytes) -> bytes:
    """The header block of ``raw`` (up to the first empty line, looked for in its
    first 256 KB; none found: its first 64 KB)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = raw.find(sep, 0, 256 * 1024)
        if at >= 0:
            return raw[: at + len(sep)]
    return raw[: 64 * 1024]


_MIME_FIELD = re.compile(rb"(?im)^content-(?:type|disposition)[ \t]*:")


def bounded_mime_fields(raw: bytes) -> bytes:
    """``raw`` with every Content-Type and Content-Disposition field (its folded
    lines included) cut to MAX_MIME_FIELD bytes, at a parameter's end: the stdlib
    reads a field's parameters in time that grows with the square of their number
    (20,000 ``filename*N*`` continuations, 370 KB, took 12 s).  A field of a
    real mail is a few hundred bytes; the message is otherwise left as it is."""
    if len(raw) < MAX_MIME_FIELD:
        return raw
    out: list[bytes] = []
    pos = 0
    for found in _MIME_FIELD.finditer(raw):
        start = found.start()
        if start < pos:
            continue
        end = start
        while True:  # the field's lines: the first, then those that start with a space or a tab
            nl = raw.find(b"\n", end)
            if nl < 0:
                end = len(raw)
                break
            end = nl + 1
            if raw[end:end + 1] not in (b" ", b"\t"):
                break
        if end - start > MAX_MIME_FIELD:
            field_ = raw[start:start + MAX_MIME_FIELD]
            cut = field_.rfind(b";")
            out += [raw[pos:start], field_[:cut if cut > 0 else len(field_)].rstrip(), b"\r\n"]
            pos = end
    if not out:
        return raw
    out.append(raw[pos:])
    return b"".join(out)


MAX_NESTING = 64  # multipart and message/* parts inside each other (real mail: a few)
_NESTING_FIELD = re.compile(rb"(?im)^content-type[ \t]*:[ \t]*(?:multipart|message)/")
_MULTIPART_FIELD = re.compile(rb"(?i)content-type[ \t]*:[ \t]*multipart/")
_STRUCTURED_FIELD = re.compile(rb"(?im)^content-(?:type|disposition)[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)")
_BOUNDARY = re.compile(rb'(?i)boundary[ \t]*=[ \t]*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))')


def too_deep(raw: bytes) -> bool:
    """Whether the stdlib's parser would recurse past Python's limit on ``raw``:
    parts nested more than MAX_NESTING deep, or a Content-Type or
    Content-Disposition field with comments nested more than 32 deep.  Such a
    message used to be read until the RecursionError, which also leaves
    half-closed generators behind (reported as unraisable exceptions, on stderr
    or to a test runner): it is read by its headers alone without being parsed.

    The nesting is followed by the parts' boundaries: a multipart part's
    boundary opens a level, its closing delimiter ends it and every level opened
    inside it; a message/* part opens one that its enclosing boundary ends.  Real
    mail, which has a few multipart fields, is not scanned at all."""
    if len(_NESTING_FIELD.findall(raw)) > MAX_NESTING and _nesting(raw) > MAX_NESTING:
        return True
    return any(m.group(1).count(b"(") > 32 and _deep_comments(m.group(1).decode("latin-1"))
               for m in _STRUCTURED_FIELD.finditer(raw))


def _nesting(raw: bytes) -> int:
    """The deepest nesting of parts in ``raw``, as :func:`too_deep` follows it
    (one pass over the lines)."""
    levels: list[bytes | None] = []  # open boundaries, outermost first; None: a message/* part
    where: dict[bytes, int] = {}  # boundary -> the level it opened (the innermost, if reused)
    deepest = 0
    lines = raw.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith(b"--"):
            mark = line.rstrip()[2:]
            if mark in where:  # a delimiter: the parts inside this one end
                keep = where[mark] + 1
            elif mark.endswith(b"--") and mark[:-2] in where:  # the closing one: this part ends too
                keep = where[mark[:-2]]
            else:
                continue
            while len(levels) > keep:
                gone = levels.pop()
                if gone is not None and where.get(gone) == len(levels):
                    del where[gone]
            continue
        if not _NESTING_FIELD.match(line):
            continue
        field_ = [line]
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):  # its folded lines
            field_.append(lines[i])
            i += 1
        if _MULTIPART_FIELD.match(line):
            found = _BOUNDARY.search(b" ".join(field_))
            boundary = (found.group(1) or found.group(2)) if found else b""
            where[boundary] = len(levels)
            levels.append(boundary)
        else:
            levels.append(None)
        deepest = max(deepest, len(levels))
    return deepest


def _clean(text: str) -> str:
    """No NUL or other control characters but line breaks and tabs (PostgreSQL
    refuses NUL in text; the others only confuse)."""
    return "".join(c for c in text if c in "\n\t" or not (ord(c) < 32 or ord(c) == 127))


def parse(raw: bytes) -> Inbound:
    """The message in ``raw`` (the caller bounds its size).  A message the parser
    cannot take apart (structures nested thousands deep) is read by its headers
    alone, with no body: recorded, never an error that stops the others."""
    headers = BytesHeaderParser().parsebytes(raw)  # compat32: raw values, decoded here
    unreadable = False
    bounded = bounded_mime_fields(raw)
    try:
        if too_deep(bounded):  # never handed to the parser (see too_deep)
            unreadable = True
        else:
            msg: EmailMessage = BytesParser(policy=policy.default).parsebytes(bounded)  # type: ignore[assignment]
            unread: list[str] = []
            body, attachments = _body(msg, unread)
    except RecursionError:  # deeper than too_deep follows
        unreadable = True
    if unreadable:
        msg = BytesParser().parsebytes(headers_only(raw))  # type: ignore[assignment]  # compat32: no header grammar
        body, attachments, unread = "", [], []
    name, address = sender_of(_raw(headers, "From"))
    sender = address.lower()[:254]
    # the raw value bounded before it is decoded (decoding takes time that grows with the
    # square of its length; 500 characters of text are never more than a few KB encoded)
    raw_subject = headers.get("Subject")
    subject = header_text(raw_subject[:MAX_SUBJECT_HEADER] if isinstance(raw_subject, str) else raw_subject)[:500]
    try:
        rcpts = [a.strip().lower() for _, a in getaddresses(
            [v[:MAX_ADDRESS_HEADER] for v in _raw_all(headers, "To") + _raw_all(headers, "Cc")
             + _raw_all(headers, "Delivered-To") if not _deep_comments(v[:MAX_ADDRESS_HEADER])]) if "@" in a][:100]
    except RecursionError:
        rcpts = []
    mid = thread.MSGID.search(_raw(headers, "Message-ID"))
    try:
        kind, why, bounced = _kind(msg, headers, sender, subject)
    except RecursionError:
        unreadable, bounced = True, None
    if unreadable:  # opens nothing: what it says cannot be read
        kind, why = "auto", "a structure nested too deep to read"
    replied = thread.ids(_raw(headers, "In-Reply-To"), _raw(headers, "References"))
    if kind == "bounce":
        try:
            replied += _returned_ids(msg)
        except RecursionError:
            pass
    body = _clean(body)
    return Inbound(
        message_id=_clean(mid.group(0)) if mid else None, sender=_clean(sender), sender_name=_clean(name[:200]),
        recipients=[_clean(r) for r in dict.fromkeys(rcpts)], subject=_clean(subject), text=body.strip(),
        reply=mailtext.reply_part(body), kind=kind, why=why, bounced=bounced and _clean(bounced),
        in_reply_to=replied,
        attachments=attachments, unread=[_clean(u)[:100] for u in unread[:10]] + (
            [f"{len(unread) - 10} more"] if len(unread) > 10 else []))
