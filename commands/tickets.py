"""Working tickets: new, do, actions, show, history, list, comment, link, unlink."""

from __future__ import annotations

from typing import Any

import click

from commands.common import (command, emit, json_mode, note_option, output_options, parse_sets,
                             pass_state, set_option, show_text, State, ticket_columns, Labels)
from commands.completion import CodeOption, complete_action, complete_ticket

LIST_LIMIT = 50  # tickets `itsm list` shows unless told otherwise

@command()
@click.argument("process")
@click.option("--title", help="Short summary.")
@click.option("--reporter", metavar="EMAIL", help="Who reports it (default: the acting user).")
@click.option("--description", help="What happened, in the user's words.")
@click.option("--urgency", cls=CodeOption, table="urgency", help="How soon the user needs it.")
@click.option("--impact", cls=CodeOption, table="impact", help="How much of the business is affected.")
@click.option("--service", cls=CodeOption, table="services", help="Service from the catalogue.")
@set_option
@note_option
@output_options()
@pass_state
def new(state: State, process: str, title: str | None, reporter: str | None, description: str | None,
        urgency: str | None, impact: str | None, service: str | None, sets: tuple[str, ...],
        note: str | None, as_json: bool) -> None:
    """Log a new ticket: the single intake for incidents and service requests.

    \b
    Example:
      itsm new incident --title "Cannot log in to claims" --reporter li.na@example.com \\
          --urgency high --impact medium --service claims
    """
    from commands.search import similar_text
    from engine.i18n import t, tr

    json_mode(state, as_json)
    values: dict[str, Any] = parse_sets(sets)
    for name, value in (("title", title), ("reporter", reporter), ("description", description),
                        ("urgency", urgency), ("impact", impact), ("service", service)):
        if value is not None:
            values[name] = value
    api = state.api()
    ticket = api.new_ticket(process, values, note)
    offered = api.offered(ticket["key"])  # staff see known solutions; end users never do
    if offered is not None:
        ticket["similar"] = offered
    emit(state, ticket, as_json,
          lambda: t("created_ticket", state.lang, key=ticket["key"]) + "\n" + show_text(state, ticket)
          + (tr("major-incident criteria matched: linked to {key}", state.lang, key=ticket["major_incident"])
             + "\n" if ticket.get("major_incident") else "")
          + f"{t('status_token', state.lang)}: {ticket['status_token']}\n"
          + similar_text(state, ticket.get("similar") or []))


@command("do")
@click.argument("key", shell_complete=complete_ticket)
@click.argument("action", shell_complete=complete_action)
@set_option
@note_option
@click.option("--expect-version", type=int, metavar="N",
              help="Refuse (exit 5) unless the ticket is still at version N.")
@output_options()
@pass_state
def do_action(state: State, key: str, action: str, sets: tuple[str, ...], note: str | None,
              expect_version: int | None, as_json: bool) -> None:
    """Perform an action of the ticket's process.

    \b
    Example:
      itsm do INC-000042 resolve --set solution="Reset the VPN token" \\
          --set closure_code=solved --set service_restored=true
    """
    from commands.plain import done_text

    json_mode(state, as_json)
    ticket = state.api().do(key, action, parse_sets(sets), note, expect_version)
    emit(state, ticket, as_json,
         lambda: done_text(ticket, Labels(state, ticket["process"]).action(action), state.lang))


@command()
@click.argument("key", shell_complete=complete_ticket)
@output_options()
@pass_state
def actions(state: State, key: str, as_json: bool) -> None:
    """What the acting user can do with a ticket now, and what each needs.

    \b
    Example:
      itsm --as wang.lei actions INC-000042
    """
    from engine import render
    from engine.i18n import t, tr

    json_mode(state, as_json)
    rows = state.api().actions(key)
    lang = state.lang
    lab = Labels(state, state.api().show(key)["process"] if lang != "en" else None)
    cols = [("action", t("action", lang), lambda r: r["action"]),
            ("label", t("label", lang), lambda r: r["label"]),
            ("to", t("to", lang), lambda r: lab.state(r["to"]) or t("stays", lang)),
            ("requires", t("requires", lang), lambda r: r["requires"]),
            ("roles", t("roles", lang), lambda r: r["roles"])]
    emit(state, [{k: r[k] for k in ("action", "to", "requires", "accepts", "roles", "label", "note")}
                  for r in rows], as_json,
          lambda: render.table(rows, cols, max_width=80) if rows else tr("no action available to you now", lang) + "\n")


@command()
@click.argument("key", shell_complete=complete_ticket)
@output_options()
@pass_state
def show(state: State, key: str, as_json: bool) -> None:
    """Show a ticket with its fields and SLA clocks.

    \b
    Example:
      itsm show INC-000042 --json
    """
    json_mode(state, as_json)
    ticket = state.api().show(key)
    emit(state, ticket, as_json, lambda: show_text(state, ticket))


@command()
@click.argument("key", shell_complete=complete_ticket)
@output_options(listing=True)
@pass_state
def history(state: State, key: str, as_json: bool, as_csv: bool) -> None:
    """The journal of a ticket: who did what, when, with which changes.

    \b
    Example:
      itsm history INC-000042
    """
    from engine import render
    from engine.errors import ItsmError
    from engine.i18n import note_in, t, tr

    json_mode(state, as_json)
    api = state.api()
    events = api.history(key)
    lang = state.lang
    lab = Labels(state, api.show(key)["process"] if lang != "en" else None)
    labs: dict[str, Labels] = {}

    def of(e: dict[str, Any]) -> Labels:  # a major incident's timeline holds its incidents' events
        if lang == "en" or e["ticket"] == key.upper() or lab.defs is None:  # remote: no definitions here
            return lab
        if e["ticket"] not in labs:
            try:
                labs[e["ticket"]] = lab.process(api.show(e["ticket"])["process"])
            except ItsmError:  # an incident the reader may not see: its states by their ids
                labs[e["ticket"]] = lab
        return labs[e["ticket"]]

    labels = api.event_labels(lab.spec.id) if lab.spec is not None else None

    def note(e: dict[str, Any]) -> Any:  # the engine's own notes (a cascade, an alert) in lang
        return note_in(e, lang, labels)

    def change_text(e: dict[str, Any]) -> str:
        lab = of(e)
        move = f"{lab.state(e['from']) or '·'} -> {lab.state(e['to'])}  " if e["to"] else ""
        switch = e["changes"].get("sla_calendar")
        hours = [tr("{clock} clock on {calendar} hours", lang, clock=c,
                    calendar=v[1] if isinstance(v, list) and len(v) == 2 and v[1] else tr("service", lang))
                 for c, v in switch.items()] if isinstance(switch, dict) else []
        att = e["changes"].get("attachment")
        files = [f"{t('attachment', lang)}: {att.get('filename')} ({att.get('size')} B)"] \
            if isinstance(att, dict) else []
        return move + "; ".join([f"{k}={render.cell(lab.field(k, v[1]))}" for k, v in e["changes"].items()
                                 if isinstance(v, list) and len(v) == 2] + hours + files)

    cols = [("ticket", t("key", lang), lambda e: e["ticket"]),
            ("seq", "#", lambda e: e["seq"]), ("at", t("at", lang), lambda e: render.when(e["at"])),
            ("actor", t("actor", lang), lambda e: t("on_behalf_of", lang).format(by=e["by"], actor=e["actor"])
             if e.get("by") else e["actor"]),
            ("action", t("action", lang), lambda e: of(e).action(e["action"])),
            ("change", t("change", lang), change_text), ("note", t("note", lang), note)]
    emit(state, events, as_json, lambda: render.table(events, cols, max_width=60), as_csv,
          lambda: render.to_csv(events, cols))


@command("list")
@click.option("--process", help="Only this process.")
@click.option("--state", "states", multiple=True, help="Only tickets in this state (repeatable).")
@click.option("--open", "open_only", is_flag=True, help="Only tickets not closed.")
@click.option("--assignee", help="Only tickets assigned to this user.")
@click.option("--group", help="Only tickets of this support group.")
@click.option("--service", help="Only tickets of this service.")
@click.option("--priority", help="Only tickets of this priority.")
@click.option("--parent", help="Only tickets linked to this parent.")
@click.option("--breached", is_flag=True, help="Only open tickets with a breached SLA clock.")
@click.option("--at-risk", is_flag=True, help="Only open tickets past an SLA warning threshold, not yet breached.")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=LIST_LIMIT, show_default=True,
              help="At most this many tickets, in key order.")
@click.option("--all", "show_all", is_flag=True, help="Every matching ticket (no --limit).")
@output_options(listing=True)
@pass_state
def list_tickets(state: State, process: str | None, states: tuple[str, ...], open_only: bool,
                 assignee: str | None, group: str | None, service: str | None, priority: str | None,
                 parent: str | None, breached: bool, at_risk: bool, limit: int, show_all: bool,
                 as_json: bool, as_csv: bool) -> None:
    """Queues: tickets matching the filters.

    \b
    Example:
      itsm list --open --group desktop_support
    """
    from engine import render
    from engine.i18n import tr

    json_mode(state, as_json)
    rows = state.api().list(process=process, states=states, open_only=open_only, assignee=assignee,
                            group=group, service=service, priority=priority,
                            parent=parent.upper() if parent else None,
                            limit=None if show_all else limit + 1, breached=breached, at_risk=at_risk)
    if not show_all and len(rows) > limit:  # one more was read to know there are more
        rows = rows[:limit]
        click.echo("itsm: " + tr("showing the first {limit} matching tickets; narrow the filters, "
                                 "or give --limit N or --all", state.lang, limit=limit), err=True)
    cols = ticket_columns(state.lang, Labels(state))
    emit(state, rows, as_json, lambda: render.table(rows, cols), as_csv, lambda: render.to_csv(rows, cols))


@command()
@click.argument("key", shell_complete=complete_ticket)
@click.argument("text")
@click.option("--public", is_flag=True, help="Visible to the end user in the status view.")
@output_options()
@pass_state
def comment(state: State, key: str, text: str, public: bool, as_json: bool) -> None:
    """Add a note to a ticket's journal without changing its state.

    \b
    Example:
      itsm comment INC-000042 "Called the user, waiting for a screenshot"
    """
    from commands.plain import comment_text

    json_mode(state, as_json)
    event = state.api().comment(key, text, public)
    emit(state, event, as_json, lambda: comment_text(event, key, state.lang))


@command()
@click.argument("key", shell_complete=complete_ticket)
@click.argument("target")
@click.option("--rel", "relation", metavar="REL",
              help="The relation (declared under relations: in KEY's process). Default: the default "
                   "relation to TARGET's process (an incident's major incident or problem).")
@output_options()
@pass_state
def link(state: State, key: str, target: str, relation: str | None, as_json: bool) -> None:
    """Link a ticket to another by a relation its process declares.

    Without --rel: the default relation to the target's process (an incident
    to its major incident: part_of; to a problem: caused_by). A relation of
    cardinality one moves the link. Links are journaled and shown by itsm show.

    \b
    Example:
      itsm link INC-000043 MI-000001
      itsm link INC-000042 --rel related INC-000041
    """
    from engine.i18n import tr

    json_mode(state, as_json)
    ticket = state.api().link(key, target, relation)
    emit(state, ticket, as_json, lambda: tr("{key} linked to {target}", state.lang, key=ticket["key"],
                                           target=target.upper()) + "\n" + show_links(ticket))


@command()
@click.argument("key", shell_complete=complete_ticket)
@click.argument("target")
@click.option("--rel", "relation", metavar="REL",
              help="The relation to remove (needed when KEY is linked to TARGET by several).")
@output_options()
@pass_state
def unlink(state: State, key: str, target: str, relation: str | None, as_json: bool) -> None:
    """Remove a link (journaled, like itsm link).

    \b
    Example:
      itsm link INC-000042 --rel related INC-000041 && itsm unlink INC-000042 INC-000041
    """
    from engine.i18n import tr

    json_mode(state, as_json)
    ticket = state.api().unlink(key, target, relation)
    emit(state, ticket, as_json, lambda: tr("{key} unlinked from {target}", state.lang, key=ticket["key"],
                                           target=target.upper()) + "\n" + show_links(ticket))


def show_links(ticket: dict[str, Any]) -> str:
    return "".join(f"  {l['label']}: {l['target']} ({l['relation']})\n" for l in ticket.get("links") or [])
