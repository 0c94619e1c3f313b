"""The ticket commands of the desk, one transaction each.

Writes (``itsm new``, ``do``, ``comment``; ``link`` is engine.desk.links) lock the ticket and run
engine.desk.workflow; reads (``itsm show``, ``history``, ``actions``, ``list``)
recompute what is shown as of now.  Every function takes the open desk (engine.desk.context.Desk) first.
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.desk import attachments, clockstate, links, major, permissions, search
from engine.desk.context import Desk
from engine.i18n import N_, message
from engine.limits import MAX_ROW_ID
from engine.errors import ActionRefused, Conflict, UsageError
from engine.runtime.actions import available
from engine.runtime.fields import CORE_SPECS
from engine.runtime.ticket import Ticket
from engine.desk.views import event_view
from engine.desk.workflow import perform
from engine.desk.writes import check_forward, event, intake



# -- writes --------------------------------------------------------------------------------
def new_ticket(desk: Desk, process: str, values: Mapping[str, Any], note: str | None,
               actor_id: str | None) -> dict[str, Any]:
    spec = desk.process(process)
    now = desk.now()
    with desk.store.write() as repo:
        actor = desk.actor(repo, actor_id)
        ticket = intake(desk, repo, spec, dict(values), actor, now, note)
        linked = major.check(desk, repo, ticket, now)
        view = desk.view(ticket)
        view["status_token"] = ticket.status_token
        if linked:
            view["major_incident"] = linked
        return view


def do(desk: Desk, key: str, action: str, inputs: Mapping[str, Any], note: str | None,
       expect_version: int | None, actor_id: str | None) -> dict[str, Any]:
    if expect_version is not None and not 0 <= expect_version <= MAX_ROW_ID:  # no ticket is at it: a typo
        raise UsageError(N_("--expect-version: {value} is not a version of a ticket (0 to {max})"),
                         values={"value": expect_version, "max": MAX_ROW_ID})
    now = desk.now()
    with desk.store.write() as repo:
        actor = desk.actor(repo, actor_id)
        ticket = Ticket.from_row(repo.get_ticket(key.upper(), lock=True))
        if expect_version is not None and ticket.version != expect_version:
            raise Conflict(N_("{key} is at version {version}, not {expect_version}: it changed since you "
                              "looked; re-run the command"),
                           values={"key": ticket.key, "version": ticket.version, "expect_version": expect_version})
        result = perform(desk, repo, ticket, action, dict(inputs), note, actor, now)
        return result


def comment(desk: Desk, key: str, text: str, public: bool, actor_id: str | None) -> dict[str, Any]:
    """A note in the journal: public (the reporter sees it) or internal, which
    only a person holding the internal_notes permission may write (and read)."""
    if not text.strip():
        raise UsageError(N_("a comment needs text"))
    now = desk.now()
    with desk.store.write() as repo:
        actor = desk.actor(repo, actor_id)
        row = repo.get_ticket(key.upper(), lock=True)
        ticket = Ticket.from_row(row)
        now = check_forward(desk, ticket, now)
        refused = comment_refusal(desk, actor, ticket, public)
        if refused is not None:
            raise refused
        new = event("comment", actor, None, None, None, {}, text, ticket.definition_version, now, public)
        repo.update_ticket(ticket.id, ticket.version,
                           {"updated_at": now, "clock_state": clockstate.bumped(desk, ticket, new)})
        ev = repo.append_event(ticket.id, new, key=ticket.key, process=ticket.process)
        return event_view(ev, desk.iso)


def comment_refusal(desk: Desk, actor: Any, ticket: Ticket, public: bool) -> ActionRefused | None:
    """Why ``actor`` may not add this note to ``ticket`` (None: they may): a note
    is for the reporter and staff; an internal one for those who hold the
    internal_notes permission (who alone read it).  ``itsm comment`` and the
    console's note form both ask here."""
    if not (actor.roles or actor.groups or actor.system or actor.is_(ticket.values.get("reporter"))):
        return ActionRefused(N_("{id} may not comment on {key}: only the reporter and service-desk staff "
                                "may"), allowed_roles=["reporter"], values={"id": actor.id, "key": ticket.key})
    if not public:  # an internal note: for those who may read it back
        return permissions.refusal(desk.defs, actor, "internal_notes", message(N_("add an internal note to {key}"), key=ticket.key))
    return None


# -- reads ---------------------------------------------------------------------------------
def show(desk: Desk, key: str) -> dict[str, Any]:
    with desk.store.read() as repo:
        ticket = Ticket.from_row(repo.get_ticket(key.upper()))
        ticket.sla = clockstate.sla_shown(desk, repo, ticket, desk.now())
        view = desk.view(ticket)
        view.update(links.shown(desk, repo, ticket))
        view["attachments"] = attachments.listing(repo, ticket.id, False, desk.iso)
        return view


def history(desk: Desk, key: str, actor_id: str | None = None) -> list[dict[str, Any]]:
    """The journal; for an ``actor_id`` without the internal_notes permission
    (codes/permissions.yaml) without internal comments and notes."""
    with desk.store.read() as repo:
        row = repo.get_ticket(key.upper())
        events = repo.events(row["id"])
        staff = actor_id is None or permissions.holds(desk.defs, desk.actor(repo, actor_id), "internal_notes")
        spec = desk.defs.processes.get(row["process"])
        if spec is not None and spec.criteria:
            out = [dict(event_view(e, desk.iso), ticket=e["ticket"])
                   for e in major.timeline(desk, repo, row["key"], events)]
        else:
            out = [dict(event_view(e, desk.iso), ticket=row["key"]) for e in events]
        if staff:
            return out
        return [e if e["public"] else dict(e, note=None) for e in out
                if e["public"] or e["action"] != "comment"]


def actions(desk: Desk, key: str, actor_id: str | None) -> list[dict[str, Any]]:
    with desk.store.read() as repo:
        actor = desk.actor(repo, actor_id)
        ticket = Ticket.from_row(repo.get_ticket(key.upper()))
        spec = desk.spec_for(ticket)
        out = []
        for a in available(spec, ticket, actor):
            out.append({"action": a.id, "label": a.label.get(desk.lang), "to": a.target,
                        "requires": list(a.requires), "accepts": list(a.accepts),
                        "roles": list(a.roles), "note": a.note})
        return out


def _filter(desk: Desk, breached: bool, at_risk: bool, filters: dict[str, Any]) -> Any:
    from engine.store.repository import TicketFilter

    if breached:
        filters["breached_at"] = desk.now()
    if at_risk:
        filters["at_risk_at"] = desk.now()
    return TicketFilter(**filters)


# list filters naming a code (the code table that knows them: engine.runtime.fields.CORE_SPECS)
_CODED = ("service", "group", "priority")


def known_filters(desk: Desk, filters: Mapping[str, Any]) -> None:
    """Refuse a queue filter no definition knows (``itsm list --state resolvd``):
    an empty queue for a typo reads as "nothing to do".  An unknown process is
    NotFound, as for search; a state must be one of the process's (or of any
    process's), a service, group or priority a code of its table."""
    process = filters.get("process")
    specs = [desk.process(process)] if process else list(desk.defs.processes.values())
    states = {s for spec in specs for s in spec.states}
    for state in filters.get("states") or ():
        if state not in states:
            text = (N_("--state {state}: no such state in {process}; known: {known}") if process
                    else N_("--state {state}: no process has such a state; known: {known}"))
            raise UsageError(text, values={"state": state, "process": process,
                                           "known": ", ".join(sorted(states))})
    for name in _CODED:
        table_id = CORE_SPECS[name].codes or name
        value, table = filters.get(name), desk.defs.codes.get(table_id)
        if value and table is not None and value not in table:
            raise UsageError(N_("--{name} {value}: not a code of {table}; known: {known}"),
                             values={"name": name, "value": value, "table": table_id,
                                     "known": ", ".join(table.values)})


def list_tickets(desk: Desk, breached: bool, at_risk: bool, filters: dict[str, Any]) -> list[dict[str, Any]]:
    known_filters(desk, filters)
    f = _filter(desk, breached, at_risk, filters)
    with desk.store.read() as repo:
        rows = repo.list_tickets(f)
        return [desk.view(Ticket.from_row(r)) for r in rows]


def page_tickets(desk: Desk, breached: bool, at_risk: bool,
                 filters: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """(how many tickets the filters select, the page of them ``limit`` and
    ``offset`` give, with their SLA clocks as of now), read in one transaction:
    the agent console's queues."""
    f = _filter(desk, breached, at_risk, filters)
    now = desk.now()
    with desk.store.read() as repo:
        total = repo.count_tickets(f)
        out = []
        for row in repo.list_tickets(f) if f.offset < total else []:
            ticket = Ticket.from_row(row)
            ticket.sla = clockstate.sla_shown(desk, repo, ticket, now)  # the clocks as of now, as show
            out.append(desk.view(ticket))
        return total, out
