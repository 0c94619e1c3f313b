"""End users and notifications: status, outbox."""

from __future__ import annotations

from typing import Any

import click

from engine.i18n import N_, ntr, tr

from commands.common import heads, command, emit, group, json_mode, output_options, pass_state, State



@command()
@click.argument("key")
@click.option("--token", required=True, help="The status token from the acknowledgement message.")
@output_options()
@pass_state
def status(state: State, key: str, token: str, as_json: bool) -> None:
    """The end user's view of a ticket: state in plain words, priority, group,
    SLA due date and public updates. Needs the ticket's status token.

    \b
    Example:
      itsm status INC-000042 --token 3q2-X...
    """
    from engine import render
    from engine.i18n import tr

    json_mode(state, as_json)
    api = state.api()
    view = api.status(key, token)
    lang = state.lang
    defs = getattr(api, "defs", None)  # none in remote mode: the actions by their ids
    spec = defs.processes.get(view.get("process")) if defs is not None and lang != "en" else None

    def action(aid: str) -> str:  # what the reporter may do, by its label in another language
        found = spec.actions.get(aid) if spec is not None else None
        return f"{found.label.get(lang)} ({aid})" if found is not None else aid

    def text() -> str:
        head = f"{view['key']}  {view['title']}\n"
        body = render.pairs([(tr("Status", lang), f"{view['state_label']}: {view['status_text'] or ''}"),
                             (tr("Priority", lang), view["priority_label"]),
                             (tr("Service", lang), view["service_label"]),
                             (tr("Handled by", lang), view["group_label"]), (tr("Due", lang), render.when(view["due"])),
                             (tr("Solution", lang), view.get("solution")),
                             (tr("Workaround", lang), view.get("workaround")),
                             (tr("Fulfilment", lang), view.get("fulfilment_note"))])
        updates = "".join(f"  {render.when(u['at'])}  {u['label']}" + (f": {u['note']}" if u["note"] else "")
                          + "\n" for u in view["updates"])
        can = tr("You can: {actions}", lang, actions=(", " if lang == "en" else "、").join(
            action(a) for a in view["can"])) + "\n" if view["can"] else ""
        files = "".join(f"  #{f['id']} {f['filename']} ({f['size']} B)\n" for f in view.get("attachments") or ())
        return (head + body + (tr("Updates:", lang) + "\n" + updates if updates else "")
                + (tr("Files:", lang) + "\n" + files if files else "") + can)

    emit(state, view, as_json, text)


@group()
def outbox() -> None:
    """Queued notifications: deliver them, inspect failures, retry."""


@outbox.command("deliver")
@output_options()
@pass_state
def outbox_deliver(state: State, as_json: bool) -> None:
    """Send pending messages (SMTP e-mail, webhook for SMS/IM). Any failure of
    one message (server, gateway, template) is that message's failed attempt;
    failures retry with exponential backoff, then stay 'failed' for
    'itsm outbox retry'. A few messages are sent at once; after three failed
    sends in a row of a channel (its server down) the rest of that channel's
    messages stay queued for the next run ("held").

    \b
    Example:
      ITSM_SMTP_HOST=localhost ITSM_SMTP_PORT=2525 itsm outbox deliver
    """
    json_mode(state, as_json)
    report = state.api().deliver()
    data = {"sent": report.sent, "retrying": report.retrying, "failed": report.failed,
            "failed_total": report.failed_total, "held": report.held, "broken": report.broken,
            "messages": report.lines}
    emit(state, data, as_json, lambda: delivery_text(report, state.lang))


CHANNELS = {"email": N_("e-mail"), "sms": N_("SMS"), "webhook": N_("webhook")}  # engine.notify.channels
OUTBOX_STATUS = {"pending": N_("pending"), "sending": N_("sending"), "sent": N_("sent"), "failed": N_("failed")}


def channel_label(channel: str, lang: str) -> str:
    return tr(CHANNELS[channel], lang) if channel in CHANNELS else channel


def delivery_text(report: Any, lang: str) -> str:
    """What itsm outbox deliver did: a line per message, the counts, what waits."""
    from engine.api import delivery_errors
    from engine.i18n import retell

    errors = delivery_errors()

    def outcome(m: dict[str, Any]) -> str:
        error = retell(str(m.get("error") or ""), lang, errors)
        if m.get("status") == "sent":
            return tr("sent", lang)
        if m.get("status") == "retrying":
            return tr("retry in {seconds} s: {error}", lang, seconds=m["retry_in"], error=error)
        if m.get("status") == "failed":
            return ntr("failed after {count} attempt: {error}", "failed after {count} attempts: {error}",
                       m["attempts"], lang, error=error)
        return str(m.get("outcome") or "")

    lines = [f"#{m['id']} {channel_label(m['channel'], lang)} {m['to']} {m['template']}: {outcome(m)}\n"
             for m in report.lines]
    lines.append(tr("sent {sent}, retrying {retrying}, failed {failed}", lang, sent=report.sent,
                    retrying=report.retrying, failed=report.failed) + "\n")
    if report.failed_total:
        lines.append(ntr("{count} failed message in all: itsm outbox list --status failed",
                         "{count} failed messages in all: itsm outbox list --status failed",
                         report.failed_total, lang) + "\n")
    lines += [tr("{channel} given up on for this run ({error}): {held} held", lang,
                 channel=channel_label(channel, lang), error=retell(error, lang, errors),
                 held=ntr("{count} message", "{count} messages", report.held, lang)) + "\n"
              for channel, error in report.broken.items()]
    return "".join(lines)


@outbox.command("list")
@click.option("--status", "status_", type=click.Choice(["pending", "sending", "sent", "failed"]),
              help="Only messages in this delivery status.")
@output_options(listing=True)
@pass_state
def outbox_list(state: State, status_: str | None, as_json: bool, as_csv: bool) -> None:
    """List queued, sent and failed messages.

    \b
    Example:
      itsm outbox list --status failed
    """
    from engine import render

    json_mode(state, as_json)
    rows = state.api().outbox(status_)
    from engine.api import delivery_errors
    from engine.i18n import retell

    lang, errors = state.lang, delivery_errors()
    cols = [("id", "#", lambda r: r["id"]), ("ticket", N_("Ticket"), lambda r: r["ticket"]),
            ("channel", N_("Channel"), lambda r: channel_label(r["channel"], lang)),
            ("recipient", N_("Recipient"), lambda r: r["recipient"]),
            ("template", N_("Template"), lambda r: r["template"]),
            ("status", N_("Status"), lambda r: tr(OUTBOX_STATUS[r["status"]], lang) if r["status"] in OUTBOX_STATUS
             else r["status"]),
            ("attempts", N_("Tries"), lambda r: r["attempts"]), ("last_error", N_("Last error"), lambda r: retell(r["last_error"] or "", lang, errors))]
    cols = heads(cols, state.lang)
    emit(state, rows, as_json, lambda: render.table(rows, cols), as_csv, lambda: render.to_csv(rows, cols))


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int)
@pass_state
def outbox_retry(state: State, ids: tuple[int, ...]) -> None:
    """Put failed messages back in the queue (all failed ones without IDS),
    with their attempts counted from zero again.

    \b
    Example:
      itsm outbox retry 17 18
    """
    n = state.api().retry_outbox(list(ids) or None)
    click.echo(tr("{count} message(s) queued again", state.lang, count=n))
