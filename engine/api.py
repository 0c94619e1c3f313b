"""The facade of itsm: what the CLI and the web layer call.

Every write is one transaction: lock the ticket, check and perform the action
(engine.runtime), recompute the SLA clocks from the journal (engine.sla),
update the row with a version check, append the hash-chained journal event.

This module opens the deployment (process repository, settings, database,
clock, who is acting, the definition versions stored) and offers the public
methods; the work is done by the modules below it, each taking the facade as
its first argument:

- engine.tickets: the ticket commands (new, do, comment, link, show, history...);
- engine.workflow: intake, actions, journal events and due work in a transaction;
- engine.notifying: a ticket's queued messages and its status token;
- engine.ticking: ``itsm tick``;
- engine.views: how tickets, events and outbox rows are shown;
- engine.people: the people tickets name;
- engine.major, engine.search, engine.alerts, engine.portal, engine.apikeys.
"""

from __future__ import annotations

import gc
import hmac
import os
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping, Sequence

from engine import major, people, search, sla as slamod, tickets, workflow
from engine.errors import ActionRefused, NotFound, UsageError
from engine.model import Definitions, ProcessSpec
from engine.notifying import notify, token_hash
from engine.runtime import timers
from engine.runtime.actions import SYSTEM, Actor
from engine.runtime.ticket import Ticket
from engine.settings import Settings
from engine.views import display_tz, outbox_view, public_update, public_view, ticket_view
from engine.workflow import wall as _wall
from engine.workspace import bundled_home, find_home, load_definitions


def parse_now(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--now: {text!r} is not an ISO 8601 time (e.g. 2026-03-02T09:00:00+08:00)") from None
    if value.tzinfo is None:
        raise UsageError(f"--now: {text!r} needs a UTC offset (e.g. +08:00)")
    return value


_FROZEN = False


def _freeze_once() -> None:
    """The modules and definitions loaded by the first Api of a process live as long
    as the process: take them out of the cyclic collector's scans, which otherwise
    walk them again and again in a long run (itsm batch, serve, tick: 4% of an
    action).  Once: freezing again would also keep whatever garbage is around."""
    global _FROZEN
    if not _FROZEN:
        _FROZEN = True
        gc.freeze()


class Api:
    def __init__(self, home: Path, definitions: Definitions, settings: Settings,
                 db: str | None, user: str | None, now: datetime | None, lang: str) -> None:
        self.home = home
        self.defs = definitions
        self.settings = settings
        self._db = db
        self.user = user or settings.user
        self._now = now
        self.lang = lang
        self.tz = display_tz(settings.timezone, now)
        self._stored_versions: set[str] = set()  # definition versions seen in the database

    @classmethod
    def open(cls, home: str | None = None, db: str | None = None, user: str | None = None,
             now: str | None = None, lang: str = "en") -> "Api":
        root = find_home(home)
        api = cls(root, load_definitions(root), Settings.load(root), db, user, parse_now(now), lang)
        _freeze_once()
        return api

    # -- plumbing ------------------------------------------------------------------
    @cached_property
    def db_url(self) -> str:
        from engine.store.db import default_url

        if self._db:
            return self._db
        if self.settings.database_url:
            return self.settings.database_url
        writable = self.home != bundled_home() and os.access(self.home, os.W_OK)
        return default_url(self.home, writable)

    @cached_property
    def store(self) -> Any:
        from engine.store.repository import Store

        return Store(self.db_url)

    def now(self) -> datetime:
        return self._now or _wall()

    def process(self, pid: str) -> ProcessSpec:
        spec = self.defs.processes.get(pid)
        if spec is None:
            raise NotFound(f"no process '{pid}'; known: {', '.join(self.defs.processes)}")
        return spec

    def actor(self, repo: Any, ident: str | None = None) -> Actor:
        ident = ident or self.user
        if not ident:
            raise UsageError("who is acting? give --as USER or set ITSM_USER")
        if ident == "system":
            return SYSTEM
        person = repo.find_person(ident)
        if person is None:
            if "@" in ident:  # an end user known only by e-mail: may act as reporter
                return Actor(ident.lower(), ident.lower(), ident)
            raise NotFound(f"no user '{ident}' (see 'itsm user list')")
        return Actor(person["id"], person["email"].lower(), person["name"],
                     frozenset(person["roles"]), frozenset(person["groups"]))

    def _register(self, repo: Any, spec: ProcessSpec) -> str:
        """The stored version of ``spec``'s definition, recorded on first use.  A
        version seen committed is remembered (rows of definition_versions are
        never deleted); one inserted now is checked again next time, in case this
        transaction rolls back."""
        version = self.defs.version(spec.id)
        if version in self._stored_versions:
            return version
        path = self.home / "processes" / f"{spec.id}.yaml"
        source = {"process": path.read_text(encoding="utf-8") if path.exists() else "",
                  "codes": {tid: t.sha256 for tid, t in self.defs.codes.items()}}
        if repo.ensure_definition_version(version, spec.id, spec.version, source, self.now()):
            self._stored_versions.add(version)
        return version

    def _spec_for(self, ticket: Ticket) -> ProcessSpec:
        spec = self.process(ticket.process)
        if ticket.state not in spec.states:
            raise ActionRefused(f"{ticket.key} is in state '{ticket.state}', which process "
                                f"'{spec.id}' no longer has: move it with 'itsm migrate'")
        return spec

    # -- people (engine/people.py) ---------------------------------------------------------
    def add_user(self, pid: str, name: str | None, email: str, phone: str | None,
                 roles: Sequence[str], groups: Sequence[str], site: str | None) -> dict[str, Any]:
        return people.add_user(self, pid, name, email, phone, roles, groups, site)

    def list_users(self) -> list[dict[str, Any]]:
        return people.list_users(self)

    # -- intake ------------------------------------------------------------------------
    def new_ticket(self, process: str, values: Mapping[str, Any], note: str | None = None,
                   actor_id: str | None = None) -> dict[str, Any]:
        return tickets.new_ticket(self, process, values, note, actor_id)

    def ingest_alerts(self, payload: Any, format: str = "auto",
                      source: str | None = None) -> dict[str, Any]:
        """Monitoring alerts (an Alertmanager webhook, or JSON events; text or
        decoded) -> one open incident per alert group (engine.alerts).  Returns
        {alerts, groups, created, noted, counted, resolved_noted, ignored, failed,
        results}; a malformed payload raises engine.intake.PayloadError first."""
        from engine.alerts import ingest

        return ingest(self, payload, format, source)

    def alert_groups(self, ticket: str | None = None, open_only: bool = False,
                     limit: int = 1000) -> list[dict[str, Any]]:
        from engine.alerts import alert_groups

        return alert_groups(self, ticket, open_only, limit)

    # -- actions -----------------------------------------------------------------------
    def do(self, key: str, action: str, inputs: Mapping[str, Any], note: str | None = None,
           expect_version: int | None = None, actor_id: str | None = None) -> dict[str, Any]:
        return tickets.do(self, key, action, inputs, note, expect_version, actor_id)

    def comment(self, key: str, text: str, public: bool = False,
                actor_id: str | None = None) -> dict[str, Any]:
        return tickets.comment(self, key, text, public, actor_id)

    def link(self, key: str, parent: str, actor_id: str | None = None) -> dict[str, Any]:
        return tickets.link(self, key, parent, actor_id)

    def tick(self) -> list[dict[str, Any]]:
        """Perform everything due at now: SLA thresholds, timers, reminders, in
        batches of engine.ticking.TICK_BATCH tickets per transaction; each
        effect once, however many ticks run (engine.ticking)."""
        from engine import ticking

        return ticking.tick(self)

    # -- reading -------------------------------------------------------------------------
    def show(self, key: str) -> dict[str, Any]:
        """The ticket, with its SLA clocks computed as of now."""
        return tickets.show(self, key)

    def history(self, key: str) -> list[dict[str, Any]]:
        """The journal; a major incident's includes its linked incidents' key events."""
        return tickets.history(self, key)

    def actions(self, key: str, actor_id: str | None = None) -> list[dict[str, Any]]:
        return tickets.actions(self, key, actor_id)

    def list(self, breached: bool = False, at_risk: bool = False, **filters: Any) -> list[dict[str, Any]]:
        return tickets.list_tickets(self, breached, at_risk, filters)

    def search(self, text: str, process: str | None = None, resolved: bool = False,
               limit: int = 20, actor_id: str | None = None) -> list[dict[str, Any]]:
        """Tickets whose text contains every term, best first (engine.search)."""
        return search.search(self, text, process, resolved, limit, actor_id)

    def similar(self, key: str, limit: int = 5, actor_id: str | None = None) -> list[dict[str, Any]]:
        """Resolved tickets most like ``key``, with their solutions (engine.search)."""
        return search.similar(self, key, limit, actor_id)

    def reindex_search(self) -> int:
        """Rebuild the search index from the tickets and journals; returns the count."""
        return search.reindex(self)

    def major_board(self) -> list[dict[str, Any]]:
        return major.board(self)

    # -- API keys (engine/apikeys.py) ------------------------------------------------------
    def create_api_key(self, user: str, label: str | None = None,
                       actor_id: str | None = None) -> dict[str, Any]:
        """A new API key acting as ``user``; its ``key`` is in the result once and
        never again (only its hash is stored)."""
        from engine import apikeys

        return apikeys.create(self, user, label, actor_id)

    def api_keys(self, user: str | None = None, actor_id: str | None = None) -> list[dict[str, Any]]:
        """The acting user's keys (the process owner's: everyone's, or ``user``'s)."""
        from engine import apikeys

        return apikeys.list_keys(self, user, actor_id)

    def revoke_api_key(self, key_id: int, actor_id: str | None = None) -> dict[str, Any]:
        from engine import apikeys

        return apikeys.revoke(self, key_id, actor_id)

    def authenticate(self, key: str | None) -> str:
        """The user id an API key acts as; engine.apikeys.InvalidApiKey otherwise."""
        from engine import apikeys

        return apikeys.authenticate(self, key)

    def status(self, key: str, token: str) -> dict[str, Any]:
        """The end user's view, for whoever holds the ticket's status token.

        A wrong key and a wrong token get the same answer, and the comparison
        takes the same time, so keys cannot be enumerated."""
        refusal = NotFound("no ticket with that key and token")
        given = token_hash(token or "")
        with self.store.read() as repo:
            found = repo.find_ticket_by_token(key.strip().upper())
            stored = found[1] if found and found[1] else "0" * 64
            if not hmac.compare_digest(stored, given) or found is None:
                raise refusal
            ticket = Ticket.from_row(repo.get_ticket_by_id(found[0]))
            spec = self.process(ticket.process)
            if ticket.status_category != "closed":
                ticket.sla = slamod.compute(spec, self.defs, self._transitions(repo, ticket),
                                            ticket.values, max(self.now(), ticket.updated_at))
            view = public_view(self.defs, spec, ticket, self.lang, self._iso)
            view["updates"] = [public_update(spec, e, self.lang, self._iso)
                               for e in repo.public_events(ticket.id)]
            view["can"] = [a.id for a in spec.actions_from(ticket.state) if "reporter" in a.roles]
            return view

    def _ticket_by_token(self, repo: Any, key: str, token: str | None) -> int:
        """The id of the ticket ``key`` if ``token`` is its status token; one
        refusal for a wrong key and a wrong token, compared in constant time
        (as :meth:`status`, for the portal's actions)."""
        given = token_hash(token or "")
        found = repo.find_ticket_by_token(key.strip().upper())
        stored = found[1] if found and found[1] else "0" * 64
        if not hmac.compare_digest(stored, given) or found is None:
            raise NotFound("no ticket with that key and token")
        return int(found[0])

    # -- the self-service portal (engine/portal.py) -----------------------------------------
    def portal_form(self) -> dict[str, Any]:
        """What the portal's intake form offers: incident fields, services,
        urgency levels, the catalogue's offerings with the fields each needs."""
        from engine import portal

        return portal.form(self)

    def portal_report(self, kind: str, values: Mapping[str, str]) -> dict[str, Any]:
        """File the portal's form as the end user (``kind``: incident or an
        offering ``service.offering``); the public view plus ``status_token``."""
        from engine import portal

        return portal.report(self, kind, values)

    def portal_status(self, key: str, token: str) -> dict[str, Any]:
        """:meth:`status` plus the reporter's actions with the fields they need."""
        from engine import portal

        return portal.status(self, key, token)

    def portal_act(self, key: str, token: str, action: str, inputs: Mapping[str, str]) -> dict[str, Any]:
        """Confirm, reopen...: a reporter's action for the holder of the status token."""
        from engine import portal

        return portal.act(self, key, token, action, inputs)

    # -- operations ------------------------------------------------------------------------
    def deliver(self) -> Any:
        from engine.notify.deliver import deliver

        return deliver(self.store, self.home, self.settings, self.now)

    def outbox(self, status: str | None = None) -> list[dict[str, Any]]:
        with self.store.read() as repo:
            rows = repo.list_outbox(status)
        return [outbox_view(r, self._iso) for r in rows]

    def retry_outbox(self, ids: Sequence[int] | None) -> int:
        with self.store.write() as repo:
            return repo.retry_outbox(ids, self.now())

    def audit(self) -> tuple[int, int, list[dict[str, Any]]]:
        """(tickets, events, problems) of the journal's hash chains."""
        from engine.audit import verify_ticket

        problems: list[dict[str, Any]] = []
        n_tickets = n_events = 0
        with self.store.read() as repo:
            for ticket, events in repo.all_journals():
                n_tickets += 1
                n_events += len(events)
                problems.extend(p.to_dict() for p in verify_ticket(ticket["key"], ticket["state"], events,
                                                                   ticket["version"]))
        return n_tickets, n_events, problems

    def run_due_reports(self) -> list[dict[str, Any]]:
        """Render every report whose schedule is due and queue it for its recipients;
        each report and period runs once (a unique key in report_runs)."""
        from engine.reports.schedule import due_reports, mail_rows, run_record

        with self.store.read() as repo:
            due = due_reports(self, repo.report_ran)
        done = []
        for d in due:
            rows = mail_rows(self, d.name, d.start, d.end)
            with self.store.write() as repo:
                if repo.record_report_run(run_record(d, self.now(), len(rows))):
                    if rows:
                        repo.add_outbox(rows)
                    outcome = f"{len(rows)} message(s) queued"
                else:
                    outcome = "already ran"
            done.append({"report": d.name, "start": self._iso(d.start), "end": self._iso(d.end),
                         "outcome": outcome})
        return done

    def upgrade_db(self) -> tuple[str | None, str]:
        from engine.store import db

        with db.translate_errors(self.db_url):
            before, after = db.upgrade(db.make_engine(self.db_url))
        if before is not None and before < "0004" <= after:  # the search index is new: fill it
            self.reindex_search()
        return before, after

    # -- views and the machinery other modules call (engine.workflow, engine.views) -----------
    def _iso(self, t: datetime | None) -> str | None:
        return t.astimezone(self.tz).isoformat(timespec="seconds") if t else None

    def _view(self, ticket: Ticket) -> dict[str, Any]:
        return ticket_view(self.defs, ticket, self.lang, self._iso)

    def _intake(self, repo: Any, spec: ProcessSpec, given: dict[str, Any], actor: Actor,
                now: datetime, note: str | None, extra_changes: Mapping[str, Any] | None = None) -> Ticket:
        return workflow.intake(self, repo, spec, given, actor, now, note, extra_changes)

    def _perform(self, repo: Any, ticket: Ticket, action: str, inputs: dict[str, Any],
                 note: str | None, actor: Actor, now: datetime,
                 events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return workflow.perform(self, repo, ticket, action, inputs, note, actor, now, events)

    def _event(self, action: str, actor: Actor, role: str | None, from_state: str | None,
               to_state: str | None, changes: Mapping[str, Any], note: str | None,
               version: str, now: datetime, public: bool) -> dict[str, Any]:
        return workflow.event(action, actor, role, from_state, to_state, changes, note, version,
                              now, public)

    def _check_forward(self, ticket: Ticket, now: datetime) -> datetime:
        return workflow.check_forward(self, ticket, now)

    def _transitions(self, repo: Any, ticket: Ticket,
                     events: Sequence[Mapping[str, Any]] | None = None) -> list[slamod.Transition]:
        return workflow.transitions(repo, ticket, events)

    def _notify(self, repo: Any, spec: ProcessSpec, ticket: Ticket, seq: int | None,
                messages: Sequence[Any], extra: Mapping[str, Any], now: datetime) -> int:
        return notify(self, repo, spec, ticket, seq, messages, extra, now)

    def _refresh_due(self, repo: Any, spec: ProcessSpec, ticket: Ticket,
                     events: Sequence[Mapping[str, Any]] | None = None,
                     fired: set[tuple[str, str, str]] | None = None, write: bool = True
                     ) -> list[timers.DueItem]:
        return workflow.refresh_due(self, repo, spec, ticket, events, fired, write)
