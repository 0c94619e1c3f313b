"""Files attached to a ticket: from mail (engine.desk.mailgate), the portal, the
JSON API and ``itsm attach``.

Each file is stored with its SHA-256, under the size limits of settings
(``[mail] attachment_max_bytes`` per file, ``ticket_attachments_max_bytes`` per
ticket), with its content type sniffed from its bytes (never taken from the
sender), in the database or, when ``attachment_dir`` is set, in a file named by
its SHA-256 there.  Each is journaled (an ``attach`` event whose changes name
the file, its size and hash, so the keyed journal covers it) and listed in
``show``, ``history`` and the status page; it is downloaded by those who may
read the ticket (the status token's holder sees the public ones).
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.desk import permissions
from engine.desk.context import Desk
from engine.desk.writes import check_forward, event
from engine.errors import ActionRefused, NotFound, UsageError
from engine.i18n import N_, message
from engine.runtime.actions import Actor
from engine.runtime.ticket import Ticket

MAGIC = (  # (prefix, type): the types a file's first bytes prove
    (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"), (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"), (b"\x1f\x8b", "application/gzip"),
    (b"BM", "image/bmp"), (b"RIFF", "application/octet-stream"),
    (b"\xd0\xcf\x11\xe0", "application/vnd.ms-office"), (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
)
ZIP_KINDS = {".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation"}
MAX_NAME = 200


def sniff(data: bytes, filename: str = "") -> str:
    """The content type the bytes show; text only when they read as text.
    HTML and SVG are served as text/plain (never rendered)."""
    for prefix, kind in MAGIC:
        if data.startswith(prefix):
            if kind == "application/zip":
                return ZIP_KINDS.get(os.path.splitext(filename.lower())[1], kind)
            if prefix == b"RIFF" and data[8:12] == b"WEBP":
                return "image/webp"
            return kind
    head = data[:4096]
    if b"\x00" not in head:
        for charset in ("utf-8", "gb18030"):
            try:
                head.decode(charset)
            except UnicodeDecodeError as exc:
                if exc.start >= len(head) - 4:  # a character cut at 4096 bytes
                    return "text/plain"
                continue
            return "text/plain"
    return "application/octet-stream"


def clean_name(name: str | None) -> str:
    """A file name safe to store and to offer: no folders, no control
    characters, no leading dots, at most MAX_NAME characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")
    base = " ".join(base.split()).lstrip(".").strip()
    if len(base) > MAX_NAME:
        stem, ext = os.path.splitext(base)
        base = stem[: MAX_NAME - len(ext[:20])] + ext[:20]
    return base or "attachment"


def store(desk: Desk, repo: Any, ticket: Ticket, filename: str | None, data: bytes, actor: Actor,
          source: str, public: bool, now: datetime) -> dict[str, Any]:
    """Attach ``data`` to the locked ``ticket`` in the caller's transaction:
    the row, its bytes and the journal event (the ticket's change counter counts
    it, as every event).  ActionRefused over a limit."""
    limits = desk.settings.mail
    name = clean_name(filename)
    if not data:
        raise UsageError(N_("{name}: the file is empty"), values={"name": name})
    if len(data) > limits.attachment_max_bytes:
        raise ActionRefused(N_("{name}: {count} bytes is over the limit of {attachment_max_bytes} bytes per "
                               "file"),
                            values={"name": name, "count": len(data), "attachment_max_bytes": limits.attachment_max_bytes})
    if repo.mail.attachment_bytes(ticket.id) + len(data) > limits.ticket_attachments_max_bytes:
        raise ActionRefused(N_("{name}: {key}'s attachments would be over the limit of "
                               "{ticket_attachments_max_bytes} bytes per ticket"),
                            values={"name": name, "key": ticket.key, "ticket_attachments_max_bytes": limits.ticket_attachments_max_bytes})
    digest = hashlib.sha256(data).hexdigest()
    kind = sniff(data, name)
    path = None
    if limits.attachment_dir:
        folder = Path(limits.attachment_dir) / digest[:2]
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / digest
        if not target.exists():  # content-addressed: the same file is written once
            tmp = folder / f".{digest}.{os.getpid()}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, target)
        path = f"{digest[:2]}/{digest}"
    meta = {"filename": name, "content_type": kind, "size": len(data), "sha256": digest}
    aid = repo.mail.add_attachment(dict(meta, ticket_id=ticket.id, data=None if path else data, path=path,
                                        source=source, public=public, created_by=actor.id, created_at=now))
    role = "reporter" if actor.is_(ticket.values.get("reporter")) else None
    repo.update_ticket(ticket.id, ticket.version, {"updated_at": now})  # one change per event
    ticket.version += 1
    ev = repo.append_event(ticket.id, event("attach", actor, role, None, None,
                                            {"attachment": dict(meta, id=aid)}, None,
                                            ticket.definition_version, now, public),
                           key=ticket.key, process=ticket.process)
    repo.mail.set_attachment_event(aid, ev["seq"])
    return dict(meta, id=aid, seq=ev["seq"], public=public, source=source)


def attach(desk: Desk, key: str, filename: str, data: bytes, public: bool,
           actor_id: str | None) -> dict[str, Any]:
    """``itsm attach KEY FILE``: staff and the reporter may attach."""
    now = desk.now()
    with desk.store.write() as repo:
        actor = desk.actor(repo, actor_id)
        ticket = Ticket.from_row(repo.get_ticket(key.upper(), lock=True))
        now = check_forward(desk, ticket, now)
        if not (actor.roles or actor.groups or actor.system or actor.is_(ticket.values.get("reporter"))):
            raise ActionRefused(N_("{id} may not attach files to {key}: only the reporter and service-desk "
                                   "staff may"), allowed_roles=["reporter"], values={"id": actor.id, "key": ticket.key})
        if not public:  # an internal file, as an internal note: for those who may read it back
            permissions.require(desk.defs, actor, "internal_notes",
                                message(N_("attach an internal file to {key}"), key=ticket.key))
        out = store(desk, repo, ticket, filename, data, actor, "cli", public, now)
    return dict(out, ticket=ticket.key)


def listing(repo: Any, ticket_id: int, public_only: bool, iso: Any) -> list[dict[str, Any]]:
    return [{"id": a["id"], "filename": a["filename"], "content_type": a["content_type"],
             "size": a["size"], "sha256": a["sha256"], "public": a["public"], "source": a["source"],
             "by": a["created_by"] if not public_only else None, "at": iso(a["created_at"])}
            for a in repo.mail.attachments_of(ticket_id) if a["public"] or not public_only]


def content(desk: Desk, repo: Any, ticket_id: int, attachment_id: int, public_only: bool
            ) -> tuple[dict[str, Any], bytes]:
    """One attachment's row and bytes (checked against its SHA-256)."""
    # an id no database column holds (a URL's number past 64 bits) is no attachment, not an error
    row = repo.mail.attachment(ticket_id, attachment_id) if 0 < attachment_id < 2 ** 63 else None
    if row is None or (public_only and not row["public"]):
        raise NotFound(N_("no attachment {attachment_id} on this ticket"),
                       values={"attachment_id": attachment_id})
    data = row["data"]
    if data is None:
        folder = desk.settings.mail.attachment_dir
        if not folder:
            raise NotFound(N_("attachment {attachment_id} is in a folder, and none is configured ([mail] "
                              "attachment_dir)"), values={"attachment_id": attachment_id})
        try:
            data = (Path(folder) / row["path"]).read_bytes()
        except OSError as exc:
            raise NotFound(N_("attachment {attachment_id}: {exc}"),
                           values={"attachment_id": attachment_id, "exc": exc}) from None
    data = bytes(data)
    if hashlib.sha256(data).hexdigest() != row["sha256"]:
        raise NotFound(N_("attachment {attachment_id} does not match its SHA-256: it was changed"),
                       values={"attachment_id": attachment_id})
    row.pop("data", None)
    return row, data


def download(desk: Desk, key: str, attachment_id: int, actor_id: str | None) -> tuple[dict[str, Any], bytes]:
    """For staff (and the reporter) who may read the ticket."""
    with desk.store.read() as repo:
        actor = desk.actor(repo, actor_id)
        row = repo.get_ticket(key.upper())
        reporter = actor.is_(row.get("reporter"))
        if not (actor.roles or actor.groups or actor.system or reporter):
            raise NotFound(N_("no attachment {attachment_id} on {key}"),
                           values={"attachment_id": attachment_id, "key": key})
        # internal files, as internal notes, for those holding the internal_notes permission
        return content(desk, repo, row["id"], attachment_id,
                       public_only=not permissions.holds(desk.defs, actor, "internal_notes"))
