"""Mail to the desk (receive, poll) and attachments."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from engine.errors import StoreUnavailable
from engine.i18n import N_, tr

from commands.common import heads, command, emit, group, json_mode, output_options, pass_state, State

MAX_STDIN = 64 * 1024 * 1024  # read at most this much of a piped message


@group()
def mail() -> None:
    """Mail to the desk: from an MTA pipe (receive) or IMAP mailboxes (poll)."""


class _Words:
    """A mail's kind, outcome and detail (stored in English) in the reader's language."""

    def __init__(self, state: State) -> None:
        from engine.api import mail_words

        self.outcomes, self.details, self.kinds = mail_words()
        self.lang = lang = state.lang
        defs = state.api().defs
        self.names = {"outcome": {k: tr(v, lang) for k, v in self.outcomes.items()},
                      "process": {pid: p.title.get(lang) for pid, p in defs.processes.items()},
                      "action": {aid: a.label.get(lang) for p in reversed(list(defs.processes.values()))
                                 for aid, a in p.actions.items()}}

    def kind(self, kind: str) -> str:
        return tr(self.kinds[kind], self.lang) if kind in self.kinds else kind

    def outcome(self, outcome: str) -> str:
        return tr(self.outcomes[outcome], self.lang) if outcome in self.outcomes else outcome

    def detail(self, detail: str | None) -> str:
        from engine.i18n import retell

        return retell(detail or "", self.lang, self.details, self.names)


def _line(r: dict, state: State) -> str:
    """What one message did, in the reader's language."""
    words = _Words(state)
    ticket = f" {r['ticket']}" if r.get("ticket") else ""
    return tr("{what}: {detail}", state.lang, what=words.outcome(r["outcome"]) + ticket,
              detail=words.detail(r.get("detail"))) + "\n"


TEMPFAIL = 75  # sysexits.h EX_TEMPFAIL


@mail.command("receive")
@click.option("--mailbox", help="The mailbox (codes/mailboxes.yaml id or address) the mail came to "
                                "(default: from its To/Cc/Delivered-To headers).")
@output_options()
@pass_state
def mail_receive(state: State, mailbox: str | None, as_json: bool) -> None:
    """Read one RFC 5322 message on standard input and handle it: open a ticket,
    add a reply to one (resuming or reopening it as the process says), or record
    an automatic reply or a bounce. For a Postfix pipe transport, like RT's
    rt-mailgate (docs/operations.md#mail).

    \b
    Example:
      itsm mail receive < examples/mail/new-incident.eml
      itsm mail receive --mailbox servicedesk --json < examples/mail/new-incident.eml
    """
    json_mode(state, as_json)
    raw = sys.stdin.buffer.read(MAX_STDIN + 1)
    try:
        result = state.api().mail_receive(raw, mailbox)
    except StoreUnavailable as exc:
        # EX_TEMPFAIL: an MTA (Postfix's pipe) keeps the mail and tries again; any other
        # status but 0 and 64-78 makes it bounce the mail to its sender
        exc.exit_code = TEMPFAIL  # type: ignore[assignment]
        raise
    emit(state, result, as_json, lambda: _line(result, state))


@mail.command("poll")
@click.option("--mailbox", help="Poll only this mailbox's IMAP account.")
@output_options()
@pass_state
def mail_poll(state: State, mailbox: str | None, as_json: bool) -> None:
    """Fetch unseen mail from the IMAP accounts of itsm.toml ([mail.imap.<mailbox>])
    and handle each message as 'mail receive' does. A message is marked seen (or
    moved to done_folder) only after its transaction committed: a poll killed
    midway loses nothing, and a message handled twice does nothing the second time.

    \b
    Example:
      itsm mail poll --mailbox servicedesk
    """
    json_mode(state, as_json)
    api = state.api()
    if not any(mailbox in (None, a.mailbox) for a in api.settings.mail.imap):
        click.echo("itsm: " + tr("no IMAP account is configured ([mail.imap.<mailbox>] in itsm.toml, or "
                                 "ITSM_IMAP_HOST): nothing to poll", state.lang), err=True)
        emit(state, [], as_json, lambda: "")
        return
    results = api.mail_poll(None if as_json else lambda r: click.echo(_line(r, state), nl=False), mailbox)
    if as_json:
        emit(state, results, as_json, lambda: "")


@mail.command("log")
@click.option("--ticket", "key", help="Only the mail about this ticket.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@output_options(listing=True)
@pass_state
def mail_log(state: State, key: str | None, limit: int, as_json: bool, as_csv: bool) -> None:
    """The mail received, newest first: what each message was (a person's, an
    auto-reply, a bounce...) and what it did (opened, replied, recorded, dropped).

    \b
    Example:
      itsm mail log --limit 20
      itsm mail log --ticket INC-000042 --json
    """
    from engine import render

    json_mode(state, as_json)
    rows = state.api().mail_log(key, limit)
    words = _Words(state)
    # English: the detail as recorded (process and action ids, as the commands take them)
    detail = (lambda r: r["detail"]) if state.lang == "en" else (lambda r: words.detail(r["detail"]))
    cols = [("at", N_("At"), lambda r: render.when(r["at"])), ("from", N_("From"), lambda r: r["from"]),
            ("kind", N_("Kind"), lambda r: words.kind(r["kind"])),
            ("outcome", N_("Outcome"), lambda r: words.outcome(r["outcome"])),
            ("ticket", N_("Ticket"), lambda r: r["ticket"]), ("subject", N_("Subject"), lambda r: r["subject"]),
            ("detail", N_("Detail"), detail)]
    cols = heads(cols, state.lang)
    emit(state, rows, as_json, lambda: render.table(rows, cols), as_csv, lambda: render.to_csv(rows, cols))


@command()
@click.argument("key")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--internal", is_flag=True, help="Staff only: not shown to the reporter.")
@click.option("--name", help="The file name to store (default: FILE's name).")
@output_options()
@pass_state
def attach(state: State, key: str, file: Path, internal: bool, name: str | None, as_json: bool) -> None:
    """Attach a file to a ticket (a screenshot, a log). It is stored with its
    SHA-256, journaled, and listed in show, history and the status page.

    \b
    Example:
      itsm attach INC-000042 examples/mail/vpn-error.log
      itsm attach INC-000042 examples/mail/vpn-error.log --internal --name client.log
    """
    json_mode(state, as_json)
    limit = state.api().settings.mail.attachment_max_bytes
    with file.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:  # the file's own size in the refusal, not the limit + 1 bytes read of it
            from engine.errors import ActionRefused

            raise ActionRefused(N_("{name}: {count} bytes is over the limit of {attachment_max_bytes} bytes per "
                                   "file"), values={"name": name or file.name, "count": size,
                                                    "attachment_max_bytes": limit})
        data = handle.read(limit + 1)  # a pipe has no size: the engine refuses what is over
    done = state.api().attach(key, name or file.name, data, public=not internal)
    emit(state, done, as_json, lambda: tr("attached {file} to {key} ({size} bytes, {type}, sha256 {sha}…)",
                                          state.lang, file=done["filename"], key=done["ticket"], size=done["size"],
                                          type=done["content_type"], sha=done["sha256"][:12]) + "\n")
