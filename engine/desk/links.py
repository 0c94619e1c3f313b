"""Typed links between tickets: the relations a process declares (``relations:``).

- link/unlink: ``itsm link KEY --rel REL TARGET`` (without ``--rel``: the default
  relation from the ticket's process to the target's), checked against the
  declaration (target process, cardinality one: linking again moves the link),
  journaled as a ``link`` event with ``{"link": [old, new]}`` ("REL KEY" texts).
  A default relation of cardinality one is mirrored in ``tickets.parent``
  (the major incident's children; ``itsm list --parent``).
- the guard context: ``links.REL`` (the keys this ticket links to) and
  ``linked.REL`` (the keys of the tickets linking to it), loaded only for an
  action whose guard or close criteria read them.
- cascade: when a ticket performs an action a relation into its process
  declares under ``cascade:``, the linked open tickets perform theirs.

Every function takes the open desk (engine.desk.context.Desk) first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from engine.desk import clockstate
from engine.desk.context import Desk
from engine.desk.writes import check_forward, event
from engine.errors import ActionRefused, ItsmError, NotFound, UsageError
from engine.i18n import CASCADE_RESULTS, N_, message, named, reason
from engine.model import Label, ProcessSpec, RelationSpec
from engine.runtime.actions import SYSTEM, Actor
from engine.runtime.ticket import Ticket

LINK_NAMES = ("links", "linked")


def relation_for(desk: Desk, spec: ProcessSpec, target: str, rel: str | None) -> RelationSpec:
    """The declared relation ``rel`` from ``spec`` to a ticket of process ``target``."""
    if rel is None:
        found = desk.defs.default_relation(spec.id, target)
        if found is None:
            names = ", ".join(r.id for r in spec.relations.values() if target in r.targets)
            raise UsageError(N_("process '{id}' declares no default relation to '{target}' tickets: name one "
                                "with --rel ({value})"),
                             values={"id": spec.id, "target": target, "value": names or 'none is declared'})
        return found
    relation = spec.relations.get(rel)
    if relation is None:
        raise UsageError(N_("process '{id}' declares no relation '{rel}' (relations: {value})"),
                         values={"id": spec.id, "rel": rel, "value": ', '.join(spec.relations) or 'none'})
    if target not in relation.targets:
        raise ActionRefused(N_("relation '{rel}' of '{id}' links to {targets} tickets, not to '{target}' "
                               "tickets"),
                            values={"rel": rel, "id": spec.id, "targets": ', '.join(relation.targets), "target": target})
    return relation


def mirrored(desk: Desk, process: str, relation: RelationSpec) -> bool:
    """Whether ``tickets.parent`` mirrors the relation: the default relation (of
    cardinality one) from a watched process to the major-incident process watching it."""
    return relation.default and relation.cardinality == "one" and any(
        (p := desk.defs.processes.get(t)) is not None and p.criteria_watch == process
        for t in relation.targets)


def text(relation: str, target: str | None) -> str | None:
    return f"{relation} {target}" if target else None


def record(desk: Desk, repo: Any, ticket: Ticket, relation: RelationSpec, target: str, actor: Actor,
           now: datetime) -> dict[str, Any] | None:
    """Write the link rows; returns the changes to journal (None: it was linked so
    already). ``parent`` is among them when the relation is mirrored there; the
    caller writes the ticket row and the event (an action's own, or ``link``)."""
    old = None
    if relation.cardinality == "one":
        current = [l["target"] for l in repo.links_of(ticket.id) if l["relation"] == relation.id]
        if current == [target]:
            return None
        gone = repo.remove_links(ticket.id, relation.id)
        old = gone[0] if gone else None
    if not repo.add_link(ticket.id, relation.id, target, now, actor.id):
        return None
    changes: dict[str, Any] = {"link": [text(relation.id, old), text(relation.id, target)]}
    if mirrored(desk, ticket.process, relation):
        changes["parent"] = [ticket.values.get("parent"), target]
    return changes


def add(desk: Desk, repo: Any, ticket: Ticket, relation: RelationSpec, target: str, actor: Actor,
        now: datetime, note: str | None = None) -> bool:
    """Link ``ticket`` to ``target`` by ``relation`` and journal it (a ``link`` event);
    False when it was linked so already."""
    changes = record(desk, repo, ticket, relation, target, actor, now)
    if changes is None:
        return False
    values: dict[str, Any] = {"updated_at": now}
    if "parent" in changes:
        values["parent"] = ticket.values["parent"] = target
    new = event("link", actor, None, None, None, changes, note, ticket.definition_version, now, False)
    values["clock_state"] = ticket.clock_state = clockstate.bumped(desk, ticket, new)
    repo.update_ticket(ticket.id, ticket.version, values)
    ticket.version += 1
    repo.append_event(ticket.id, new, key=ticket.key, process=ticket.process)
    return True


def remove(desk: Desk, repo: Any, ticket: Ticket, relation: RelationSpec, target: str | None,
           actor: Actor, now: datetime) -> list[str]:
    gone = repo.remove_links(ticket.id, relation.id, target)
    for key in gone:
        changes: dict[str, Any] = {"link": [text(relation.id, key), None]}
        values: dict[str, Any] = {"updated_at": now}
        if mirrored(desk, ticket.process, relation) and ticket.values.get("parent") == key:
            changes["parent"] = [key, None]
            values["parent"] = ticket.values["parent"] = None
        new = event("link", actor, None, None, None, changes, None, ticket.definition_version, now, False)
        values["clock_state"] = ticket.clock_state = clockstate.bumped(desk, ticket, new)
        repo.update_ticket(ticket.id, ticket.version, values)
        ticket.version += 1
        repo.append_event(ticket.id, new, key=ticket.key, process=ticket.process)
    return gone


def link(desk: Desk, key: str, target: str, rel: str | None, actor_id: str | None,
         unlink: bool = False) -> dict[str, Any]:
    """``itsm link`` / ``itsm unlink``: the ticket's view with its links."""
    now = desk.now()
    with desk.store.write() as repo:
        actor = desk.actor(repo, actor_id)
        ticket = Ticket.from_row(repo.get_ticket(key.upper(), lock=True))
        now = check_forward(desk, ticket, now)
        if not actor.system and not actor.roles:
            raise ActionRefused(N_("{id} may not link tickets: it needs a desk role"),
                                values={"id": actor.id})
        spec = desk.spec_for(ticket)
        try:
            other = repo.get_ticket(target.upper())
        except NotFound:
            if not unlink:
                raise
            other = None
        if other is not None and other["key"] == ticket.key:
            raise UsageError(N_("a ticket cannot be linked to itself"))
        target_key = other["key"] if other is not None else target.upper()
        if unlink:
            if rel is None:
                rels = {l["relation"] for l in repo.links_of(ticket.id) if l["target"] == target_key}
                if len(rels) != 1:
                    if not rels:
                        raise NotFound(N_("{key} is not linked to {target}"),
                                       values={"key": ticket.key, "target": target_key})
                    raise NotFound(N_("{key} is linked to {target} by {relations}: name the relation with --rel"),
                                   values={"key": ticket.key, "target": target_key,
                                           "relations": ", ".join(sorted(rels))})
                rel = rels.pop()
            # a relation no longer declared can still be removed
            relation = spec.relations.get(rel) or RelationSpec(rel, Label.plain(rel), Label.plain(rel), ())
            if not remove(desk, repo, ticket, relation, target_key, actor, now):
                raise NotFound(N_("{key} is not linked to {target_key} by {rel}"),
                               values={"key": ticket.key, "target_key": target_key, "rel": rel})
        else:
            assert other is not None
            relation = relation_for(desk, spec, other["process"], rel)
            add(desk, repo, ticket, relation, target_key, actor, now)
        view = desk.view(ticket)
        view.update(shown(desk, repo, ticket))
        return view


def shown(desk: Desk, repo: Any, ticket: Ticket) -> dict[str, Any]:
    """``links`` and ``linked`` for ``itsm show``: each with its relation's label."""
    spec = desk.defs.processes.get(ticket.process)
    out = []
    for l in repo.links_of(ticket.id):
        r = spec.relations.get(l["relation"]) if spec else None
        out.append({"relation": l["relation"], "label": r.label.get(desk.lang) if r else l["relation"],
                    "target": l["target"], "at": desk.iso(l["created_at"]), "by": l["created_by"]})
    back = []
    for l in repo.links_to(ticket.key):
        source = desk.defs.processes.get(l["process"])
        r = source.relations.get(l["relation"]) if source else None
        back.append({"relation": l["relation"], "label": r.inverse.get(desk.lang) if r else l["relation"],
                     "key": l["key"], "category": l["status_category"]})
    return {"links": out, "linked": back}


# -- guards ------------------------------------------------------------------------------
def needed(spec: ProcessSpec, action: str) -> bool:
    """Whether the action's guard, set: values or close criteria read links."""
    a = spec.actions.get(action)
    if a is None:
        return False
    found = _NEEDED.get(id(a))
    if found is None or found[0] is not a:  # once per action definition (immutable)
        texts = [a.when or ""] + [str(v) for _, v in a.set]
        if a.target is not None:
            texts += [c.when for c in spec.criteria_for(a.target)]
        if len(_NEEDED) >= 4096:
            _NEEDED.clear()
        found = _NEEDED[id(a)] = (a, any(name in t for t in texts for name in LINK_NAMES))
    return found[1]


_NEEDED: dict[int, tuple[Any, bool]] = {}  # id(action spec) -> (the spec, whether it reads links)


def context(desk: Desk, repo: Any, spec: ProcessSpec, ticket: Ticket) -> dict[str, Any]:
    """``links`` and ``linked`` for guards: relation -> keys (every declared relation present)."""
    out: dict[str, list[str]] = {r: [] for r in spec.relations}
    for l in repo.links_of(ticket.id):
        out.setdefault(l["relation"], []).append(l["target"])
    back: dict[str, list[str]] = {r.id: [] for _, r in desk.defs.incoming(spec.id)}
    for l in repo.links_to(ticket.key):
        back.setdefault(l["relation"], []).append(l["key"])
    return {"links": out, "linked": back}


# -- cascades ----------------------------------------------------------------------------
def cascades(desk: Desk, process: str, action: str) -> list[tuple[RelationSpec, Any]]:
    return [(r, c) for _, r in desk.defs.incoming(process) for c in r.cascade if c.on == action]


def cascade(desk: Desk, repo: Any, ticket: Ticket, action: str, values: dict[str, Any],
            now: datetime, perform: Callable[..., Any], legacy: tuple[str, tuple[str, ...]] | None
            ) -> list[Any]:
    """Along every relation into ``ticket``'s process that cascades ``action``, perform
    the declared action on each open linked ticket (through ``perform``, the action path
    of engine.desk.workflow); ``legacy``: an action-level ``cascade:`` (action, copy),
    run along the default relations into the process. Returns what happened (a line per
    linked ticket, engine.i18n.CASCADE_RESULTS: English as str, said in each language)."""
    plans = [(r.id, c.action, c.copy) for r, c in cascades(desk, ticket.process, action)]
    if legacy is not None:
        plans += [(r.id, legacy[0], legacy[1]) for _, r in desk.defs.incoming(ticket.process)
                  if r.default and not any(c.on == action for c in r.cascade)]
    results = []
    done: set[tuple[str, str]] = set()
    for rel, child_action, copy in plans:
        inputs = {f: values.get(f) for f in copy if values.get(f) is not None}
        for row in repo.children(ticket.key, [rel]):
            child = Ticket.from_row(row)
            if child.status_category == "closed" or (child.key, child_action) in done:
                continue
            done.add((child.key, child_action))
            try:
                perform(desk, repo, child, child_action, dict(inputs), f"{action} of {ticket.key}",
                        SYSTEM, now)  # engine.i18n.SYSTEM_NOTES
                results.append(message(CASCADE_RESULTS[1], key=child.key, action=_named_action(desk, child, child_action)))
            except ItsmError as exc:
                results.append(message(CASCADE_RESULTS[0], key=child.key,
                                       action=_named_action(desk, child, child_action), reason=reason(exc)))
    return results


def _named_action(desk: Desk, ticket: Ticket, action: str) -> Any:
    spec = desk.defs.processes.get(ticket.process)
    found = spec.actions.get(action) if spec is not None else None
    return named(action, found.label if found is not None else None)
