"""Mail to the desk: what one received message does (``itsm mail receive``,
``itsm mail poll``).  Parsing and threading are engine.mail's; this module
decides, in one transaction per message:

- a person's new mail opens a ticket of its mailbox's process
  (codes/mailboxes.yaml), the sender as reporter, its files attached;
- a reply (In-Reply-To/References naming our Message-IDs, or the subject tag
  ``[KEY]`` from the ticket's reporter) adds the text without its quoted part
  as a public comment, attaches its files and, when the process's ``replies:``
  names an action for the ticket's state, performs it as the reporter
  (pending -> resume, resolved -> reopen);
- automatic mail (Auto-Submitted, Precedence bulk/junk, lists), out-of-office
  replies and bounces are recorded in the mail log (and, when they answer a
  ticket's message, in its journal, not public) and change nothing;
- mail from the desk's own addresses is dropped, and so is mail over the size
  limit or from a sender over the hourly limit (recorded).

Every message is recorded once in ``mail_log`` by Message-ID (a digest of the
bytes when it has none): handled again (a poller killed before it marked the
message), it does nothing.
"""

from __future__ import annotations

import hashlib
from email.utils import parseaddr
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from engine.desk import attachments, major, replies
from engine.desk.context import Desk
from engine.desk.portal import end_user
from engine.desk.writes import check_forward, event, intake
from engine.errors import ActionRefused, Conflict, ItsmError, NotFound, StoreUnavailable, UsageError
from engine.i18n import N_
from engine.mail import imap as imapmod
from engine.mail import thread
from engine.mail.parse import Inbound, headers_only, parse
from engine.runtime.fields import field_spec, is_email
from engine.runtime.ticket import Ticket

HOUR = timedelta(hours=1)
OUTCOMES = {"opened": N_("opened"), "replied": N_("replied"), "commented": N_("commented"),
            "recorded": N_("recorded"), "dropped": N_("dropped"), "duplicate": N_("duplicate"),
            "failed": N_("failed")}  # what a message did, as people read it
# the parts of a mail's ``detail`` (joined by "; "), recorded in English and said in the
# reader's language with engine.i18n.retell (engine.mail.parse's reasons included)
DETAILS = (N_("already handled: {outcome}"), N_("from one of the desk's own addresses (a loop)"),
           N_("larger than {limit} bytes (mail.max_message_bytes)"), N_("failed recipient {address}"),
           N_("no sender address"), N_("more than {limit} mails from {sender} in an hour (mail.sender_limit)"),
           N_("new {process} ticket from {sender}"), N_("comment from {sender}"),
           N_("internal comment from {sender}"), N_("not attached: {reasons}"), N_("performed {action}"),
           N_("{action} refused: {reason}"), N_("delivery status notification"),
           N_("auto-reply (Auto-Submitted: {value})"), N_("Auto-Submitted: {value}"), N_("Precedence: {value}"),
           N_("mailing list"), N_("from a mailer daemon"), N_("a structure nested too deep to read"),
           N_("a sender address the desk cannot answer: {sender}"),
           N_("not read, past what one mail brings (20 files, 200 parts): {names}"))
NOTED = ("ooo", "bounce")  # the kinds of automatic mail noted in the ticket they answer
KINDS = {  # what a message was (engine.mail.parse's Inbound.kind), as people read it
    # i18n: a kind of mail in 'itsm mail log': a person's own mail
    "person": N_("person"),
    # i18n: a kind of mail in 'itsm mail log': automatic mail (Auto-Submitted, Precedence: bulk, a mailing list)
    "auto": N_("auto"),
    # i18n: a kind of mail in 'itsm mail log': an out-of-office reply
    "ooo": N_("ooo"),
    # i18n: a kind of mail in 'itsm mail log': a bounce (a delivery status notification)
    "bounce": N_("bounce"),
}
NO_TEXT = {"en": "(no text)", "zh": "（无正文）"}


@dataclass(frozen=True)
class Mailbox:
    id: str
    address: str
    process: str
    service: str | None
    group: str | None
    lang: str | None


def mailboxes(desk: Desk) -> dict[str, Mailbox]:
    """The desk's mailboxes (codes/mailboxes.yaml), by id."""
    table = desk.defs.codes.get("mailboxes")
    if table is None:
        return {}
    return {code: Mailbox(code, str(v.get("address")).lower(), str(v.get("process")), v.get("service"),
                          v.get("group"), v.get("lang"))
            for code, v in table.values.items()}


def _mailbox_for(desk: Desk, mail: Inbound | None, given: str | None, headers_first: bool = False
                 ) -> Mailbox:
    boxes = mailboxes(desk)
    if not boxes:
        raise UsageError(N_("no mailboxes are declared (codes/mailboxes.yaml)"))
    if headers_first and mail is not None:  # a catch-all account: the address written to decides
        found = next((b for a in mail.recipients for b in boxes.values()
                      if b.address == thread.base_address(a)), None)
        if found is not None:
            return found
    if given:
        # an address as Postfix's ${recipient} gives it: a signed reply address is its mailbox's
        found = boxes.get(given) or next((b for b in boxes.values()
                                          if b.address in (given.lower(), thread.base_address(given))), None)
        if found is None:
            raise UsageError(N_("unknown mailbox {given!r}; mailboxes: {boxes}"),
                             values={"given": given, "boxes": ', '.join(boxes)})
        return found
    for address in (mail.recipients if mail else ()):
        found = next((b for b in boxes.values() if b.address == thread.base_address(address)), None)
        if found is not None:
            return found
    return next(iter(boxes.values()))


def receive(desk: Desk, raw: bytes, mailbox: str | None = None, headers_first: bool = False
            ) -> dict[str, Any]:
    """Handle one message; returns what it did: ``outcome`` (opened, replied,
    commented, recorded, dropped, duplicate), ``ticket``, ``detail``."""
    limit = desk.settings.mail.max_message_bytes
    too_large = len(raw) > limit or raw.startswith(b"X-Itsm-Too-Large:")
    mail = parse(headers_only(raw) if too_large else raw)
    box = _mailbox_for(desk, mail, mailbox, headers_first)
    mid = mail.message_id or f"<{hashlib.sha256(raw).hexdigest()[:40]}@itsm.digest>"
    try:
        return _receive(desk, mail, box, mid, too_large, limit)
    except Conflict:
        # Another poller (or an MTA pipe beside one) logged the same message between
        # our look-up and our commit: the message-id's unique index refused ours and
        # our transaction rolled back.  Once more: now it is a duplicate.
        return _receive(desk, mail, box, mid, too_large, limit)


def _receive(desk: Desk, mail: Inbound, box: Mailbox, mid: str, too_large: bool, limit: int
             ) -> dict[str, Any]:
    now = desk.now()
    with desk.store.write() as repo:
        seen = repo.mail.mail_seen(mid[:255])
        if seen is not None:
            return _result("duplicate", mail, seen.get("ticket_id") and _key(repo, seen["ticket_id"]),
                           DETAILS[0].format(outcome=seen["outcome"]))
        log = {"message_id": mid[:255], "mailbox": box.id, "sender": mail.sender or "",
               "subject": mail.subject[:500], "kind": mail.kind, "received_at": now}

        def record(outcome: str, detail: str, ticket: Ticket | None = None) -> dict[str, Any]:
            repo.mail.log_mail(dict(log, outcome=outcome, detail=detail[:500],
                                    ticket_id=ticket.id if ticket else None))
            return _result(outcome, mail, ticket.key if ticket else None, detail)

        own = {b.address for b in mailboxes(desk).values()} | {parseaddr(desk.settings.smtp.sender)[1].lower()}
        if thread.base_address(mail.sender or "") in {thread.base_address(a) for a in own}:
            return record("dropped", DETAILS[1])
        if too_large:
            return record("dropped", DETAILS[2].format(limit=limit))
        # a sender past the limit is dropped whatever its mail is: automatic mail too, which
        # would otherwise note itself in a ticket's journal as often as it is sent
        if mail.sender and repo.mail.mail_from_since(mail.sender, now - HOUR) >= desk.settings.mail.sender_limit:
            return record("dropped", DETAILS[5].format(limit=desk.settings.mail.sender_limit,
                                                         sender=mail.sender))
        ticket = _threaded(desk, repo, mail)
        if mail.kind != "person":
            # an out-of-office reply or a bounce is noted in the ticket it answers; other
            # automatic mail and nobody's mail (no sender: no limit holds it) only recorded
            if ticket is not None and mail.kind in NOTED:
                _note(desk, repo, ticket, mail, now)
            detail = mail.why + ("; " + DETAILS[3].format(address=mail.bounced) if mail.bounced else "")
            return record("recorded", detail, ticket)
        if not mail.sender:
            return record("dropped", DETAILS[4])
        if not is_email(mail.sender):  # (user@localhost): no reporter, no reply; logged, not refused
            return record("dropped", DETAILS[19].format(sender=mail.sender))
        if ticket is not None and ticket.status_category != "closed":
            outcome, detail = _reply(desk, repo, ticket, mail, now)
            return record(outcome, detail, ticket)
        opened, skipped = _open(desk, repo, box, mail, now, follows=ticket.key if ticket else None)
        return record("opened", DETAILS[6].format(process=opened.process, sender=mail.sender)
                      + ("; " + DETAILS[9].format(reasons="; ".join(skipped)) if skipped else ""), opened)


def _result(outcome: str, mail: Inbound, key: str | None, detail: str) -> dict[str, Any]:
    return {"outcome": outcome, "ticket": key, "kind": mail.kind, "from": mail.sender,
            "subject": mail.subject, "message_id": mail.message_id, "detail": detail}


def _key(repo: Any, ticket_id: int) -> str | None:
    try:
        return repo.get_ticket_by_id(ticket_id)["key"]
    except NotFound:
        return None


def _threaded(desk: Desk, repo: Any, mail: Inbound) -> Ticket | None:
    """The ticket ``mail`` answers, locked: named by our Message-IDs or a signed
    reply address (``desk+KEY-signature@...``), else by the subject tag when the
    sender is its reporter."""
    # our Message-IDs carry the sender's domain (engine.notify.channels); the mailboxes' too
    domains = {thread.domain_of(desk.settings.smtp.sender).lower()} | {
        thread.domain_of(b.address).lower() for b in mailboxes(desk).values()}
    ids = [*thread.keys_in_ids(mail.in_reply_to, domains),
           *thread.keys_in_addresses(mail.recipients, desk.settings.secret_key)]
    for tid in repo.mail.outbox_tickets(thread.outbox_ids(mail.in_reply_to, domains)):
        key = _key(repo, tid)
        if key:
            ids.append(key)
    for key in dict.fromkeys(ids):
        try:
            return Ticket.from_row(repo.get_ticket(key, lock=True))
        except NotFound:
            continue
    tagged = thread.subject_key(mail.subject)
    if tagged:
        try:
            row = repo.get_ticket(tagged, lock=True)
        except NotFound:
            return None
        if str(row.get("reporter") or "").lower() == mail.sender:
            return Ticket.from_row(row)
    return None


def _note(desk: Desk, repo: Any, ticket: Ticket, mail: Inbound, now: Any) -> None:
    """An automatic mail about a ticket: in its journal, not public, nothing else."""
    now = check_forward(desk, ticket, now)
    text = f"{mail.kind}: {mail.why}" + (f" ({mail.bounced})" if mail.bounced else "") + \
        f"\nFrom: {mail.sender}\nSubject: {mail.subject}"
    repo.update_ticket(ticket.id, ticket.version, {"updated_at": now})
    ticket.version += 1
    repo.append_event(ticket.id, event("mail", end_user(mail.sender or "unknown@invalid"), None, None,
                                       None, {"mail": {"kind": mail.kind, "message_id": mail.message_id}},
                                       text[:2000], ticket.definition_version, now, False),
                      key=ticket.key, process=ticket.process)


def _attach_all(desk: Desk, repo: Any, ticket: Ticket, mail: Inbound, actor: Any, now: Any,
                public: bool = True) -> list[str]:
    skipped = []
    for part in mail.attachments:
        try:
            with repo.savepoint():
                attachments.store(desk, repo, ticket, part.filename, part.data, actor, "mail", public, now)
        except (ActionRefused, UsageError) as exc:
            skipped.append(str(exc))
    if mail.unread:
        skipped.append(DETAILS[20].format(names=", ".join(mail.unread)))
    return skipped


def _reply(desk: Desk, repo: Any, ticket: Ticket, mail: Inbound, now: Any) -> tuple[str, str]:
    """A reply: public and acted on from the reporter; from anyone else a comment,
    public only when it came through the ticket's signed reply address (our
    Message-IDs can be guessed, the signature cannot)."""
    now = check_forward(desk, ticket, now)
    reporter = str(ticket.values.get("reporter") or "")
    by_reporter = reporter.lower() == mail.sender
    signed = ticket.key in thread.keys_in_addresses(mail.recipients, desk.settings.secret_key)
    actor = end_user(reporter if by_reporter else mail.sender)
    text = (mail.reply or mail.text or NO_TEXT.get(desk.lang, NO_TEXT["en"]))[:10_000]
    repo.update_ticket(ticket.id, ticket.version, {"updated_at": now})
    ticket.version += 1
    events = [repo.append_event(ticket.id, event(
        "comment", actor, "reporter" if by_reporter else None, None, None,
        {"mail": {"message_id": mail.message_id, "from": mail.sender}}, text,
        ticket.definition_version, now, by_reporter or signed), key=ticket.key, process=ticket.process)]
    skipped = _attach_all(desk, repo, ticket, mail, actor, now, by_reporter or signed)
    detail = DETAILS[7 if by_reporter or signed else 8].format(sender=mail.sender) + \
        ("; " + DETAILS[9].format(reasons="; ".join(skipped)) if skipped else "")
    if not by_reporter:
        return "commented", detail
    done = replies.user_replied(desk, repo, ticket, text, actor, now)
    return ("replied", detail + (f"; {done}" if done else ""))


def _open(desk: Desk, repo: Any, box: Mailbox, mail: Inbound, now: Any, follows: str | None
          ) -> tuple[Ticket, list[str]]:
    """The ticket a new mail opens, and why any of its files was not attached."""
    spec = desk.process(box.process)
    lang = box.lang or desk.lang
    title = mail.subject.strip() or NO_TEXT.get(lang, NO_TEXT["en"])
    text = mail.text or ""
    if follows:
        text = (f"(follows up {follows})\n\n" if lang != "zh" else f"（{follows} 的后续）\n\n") + text
    fields: dict[str, Any] = {"title": title[:200], "reporter": mail.sender}
    if text and field_spec(spec, "description") is not None:
        fields["description"] = text[:10_000]
    for name, value in (("service", box.service), ("group", box.group)):
        if value and field_spec(spec, name) is not None:
            fields[name] = value
    channel = field_spec(spec, "channel")
    channels = desk.defs.codes.get(channel.codes or "") if channel is not None else None
    if channels is not None and "email" in channels:
        fields["channel"] = "email"
    actor = end_user(mail.sender)
    ticket = intake(desk, repo, spec, fields, actor, now, None, reporter_lang=box.lang)
    skipped = _attach_all(desk, repo, ticket, mail, actor, now)
    major.check(desk, repo, ticket, now)
    return ticket, skipped


def log(desk: Desk, key: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The mail received, newest first (``itsm mail log``): what each was and did."""
    with desk.store.read() as repo:
        ticket_id = repo.get_ticket(key.upper())["id"] if key else None
        rows = repo.mail.mail_log(ticket_id, max(1, min(limit, 10_000)))
        keys = {r["ticket_id"]: _key(repo, r["ticket_id"]) for r in rows if r["ticket_id"]}
    return [{"at": desk.iso(r["received_at"]), "mailbox": r["mailbox"], "from": r["sender"],
             "subject": r["subject"], "kind": r["kind"], "outcome": r["outcome"],
             "ticket": keys.get(r["ticket_id"]), "detail": r["detail"], "message_id": r["message_id"]}
            for r in rows]


def failed(desk: Desk, raw: bytes, mailbox: str, why: str) -> None:
    """Record a message the desk refused (a field it could not take...), so it is
    not lost silently once the server marks it; one whose headers cannot be read
    either is recorded by its digest."""
    try:
        mail = parse(headers_only(raw))
    except Exception:  # noqa: BLE001 - what failed may be the parsing itself
        mail = Inbound(message_id=None, sender="", sender_name="", recipients=[], subject="", text="", reply="",
                       kind="auto")
    mid = mail.message_id or f"<{hashlib.sha256(raw).hexdigest()[:40]}@itsm.digest>"
    with desk.store.write() as repo:
        if repo.mail.mail_seen(mid[:255]) is None:
            repo.mail.log_mail({"message_id": mid[:255], "mailbox": mailbox, "sender": mail.sender or "",
                                "subject": mail.subject[:500], "kind": mail.kind, "outcome": "failed",
                                "ticket_id": None, "detail": why[:500], "received_at": desk.now()})


def poll(desk: Desk, on_each: Callable[[dict[str, Any]], None] | None = None,
         mailbox: str | None = None) -> list[dict[str, Any]]:
    """``itsm mail poll``: each configured IMAP account's unseen mail, one
    transaction per message, each marked on the server after its commit."""
    accounts = [a for a in desk.settings.mail.imap if mailbox in (None, a.mailbox)]
    if not accounts:
        raise UsageError(N_("no IMAP account is configured ([mail.imap.<mailbox>] in itsm.toml, or "
                            "ITSM_IMAP_HOST)"))
    out: list[dict[str, Any]] = []
    for a in accounts:
        account = imapmod.ImapAccount(a.host, a.port, a.tls, a.username, a.password, a.folder,
                                      a.done_folder, verify=a.verify, ca_file=a.ca_file)

        def handle(raw: bytes, box: str = a.mailbox) -> dict[str, Any]:
            try:
                result = receive(desk, raw, box, headers_first=True)
            except StoreUnavailable:
                raise  # the database is down: the poll stops, the message stays unseen for the next one
            except Exception as exc:  # noqa: BLE001 - refused, or a message that broke a part of the
                # gate: recorded as failed and marked, so that it cannot stop every later poll
                why = str(exc) if isinstance(exc, ItsmError) else f"internal error: {type(exc).__name__}: {exc}"
                result = {"outcome": "failed", "ticket": None, "detail": why}
                failed(desk, raw, box, why)
            result["mailbox"] = box
            if on_each:
                on_each(result)
            return result

        try:
            out.extend(imapmod.poll(account, handle, max_bytes=desk.settings.mail.max_message_bytes))
        except imapmod.MailboxUnavailable as exc:
            raise ItsmError("{error}", values={"error": exc.args[0] if exc.args else exc}) from None
    return out
