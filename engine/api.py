"""The facade of itsm: what the CLI and the web layer call.

Every write is one transaction: lock the ticket, check and perform the action
(engine.runtime), recompute the SLA clocks from the journal (engine.sla),
update the row with a version check, append the hash-chained journal event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timezone, tzinfo
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine import major, search, sla as slamod
from engine.errors import ActionRefused, Conflict, ItsmError, NotFound, UsageError
from engine.model import Definitions, ProcessSpec
from engine.notify.outbox import enqueue
from engine.runtime import timers
from engine.views import public_update, public_view
from engine.runtime.actions import SYSTEM, Actor, Outcome, available, perform
from engine.runtime.context import service_view
from engine.runtime.fields import coerce, field_spec
from engine.runtime.ticket import Ticket
from engine.settings import Settings
from engine.workspace import bundled_home, find_home, load_definitions


TICK_BATCH = 100  # due tickets per transaction of `itsm tick`


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


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


def _wall() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class _Lookup:
    repo: Any

    def person_id(self, ident: str) -> str | None:
        person = self.repo.find_person(ident)
        return person["id"] if person else None

    def ticket_exists(self, key: str) -> bool:
        try:
            self.repo.get_ticket(key)
        except NotFound:
            return False
        return True


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
        self.tz = _display_tz(settings.timezone, now)
        self._stored_versions: set[str] = set()  # definition versions seen in the database

    @classmethod
    def open(cls, home: str | None = None, db: str | None = None, user: str | None = None,
             now: str | None = None, lang: str = "en") -> "Api":
        root = find_home(home)
        return cls(root, load_definitions(root), Settings.load(root), db, user, parse_now(now), lang)

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

    # -- people ----------------------------------------------------------------------
    def add_user(self, pid: str, name: str | None, email: str, phone: str | None,
                 roles: Sequence[str], groups: Sequence[str], site: str | None) -> dict[str, Any]:
        known_roles = {r for p in self.defs.processes.values() for r in p.roles}
        unknown = [r for r in roles if r not in known_roles]
        if unknown:
            raise UsageError(f"unknown role(s) {', '.join(unknown)}; roles of the processes: "
                             f"{', '.join(sorted(known_roles))}")
        group_table = self.defs.codes.get("groups")
        bad = [g for g in groups if group_table is None or g not in group_table.values]
        if bad:
            raise UsageError(f"unknown group(s) {', '.join(bad)} (see codes/groups.yaml)")
        with self.store.write() as repo:
            repo.add_person(pid, name or pid, email.lower(), phone, site, roles, groups, self.now())
            return self._person(repo.find_person(pid))

    def list_users(self) -> list[dict[str, Any]]:
        with self.store.read() as repo:
            return [self._person(p) for p in repo.list_people()]

    def _person(self, person: dict[str, Any]) -> dict[str, Any]:
        return dict(person, created_at=self._iso(person.get("created_at")))

    # -- intake ------------------------------------------------------------------------
    def new_ticket(self, process: str, values: Mapping[str, Any], note: str | None = None,
                   actor_id: str | None = None) -> dict[str, Any]:
        spec = self.process(process)
        now = self.now()
        with self.store.write() as repo:
            actor = self.actor(repo, actor_id)
            ticket = self._intake(repo, spec, dict(values), actor, now, note)
            linked = major.check(self, repo, ticket, now)
            view = self._view(ticket)
            view["status_token"] = ticket.status_token
            if linked:
                view["major_incident"] = linked
            if actor.roles or actor.groups:  # staff see known solutions; end users never do
                view["similar"] = search.similar_in(self, repo, repo.get_ticket(ticket.key), 3)
            return view

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

    def _intake(self, repo: Any, spec: ProcessSpec, given: dict[str, Any], actor: Actor,
                now: datetime, note: str | None, extra_changes: Mapping[str, Any] | None = None) -> Ticket:
        lookup = _Lookup(repo)
        if not given.get("title"):
            raise ActionRefused("a new ticket needs a title (--title)", missing=["title"])
        if not given.get("reporter"):
            if actor.system or "@" not in (actor.email or ""):
                raise ActionRefused("a new ticket needs the reporter's e-mail (--reporter)",
                                    missing=["reporter"])
            given["reporter"] = actor.email
        values: dict[str, Any] = {}
        for name, raw in given.items():
            fs = field_spec(spec, name)
            if fs is None:
                raise ActionRefused(f"process '{spec.id}' has no field '{name}'")
            values[name] = coerce(self.defs, fs, raw, lookup)
        for name, default in spec.defaults:
            if values.get(name) is None:
                values[name] = default
        self._check_category(spec, values)
        overridden = False
        if "priority" in given and not actor.system:
            if not set(actor.roles) & set(spec.override_roles) or not note:
                raise ActionRefused(f"only {', '.join(spec.override_roles) or 'nobody'} may set the "
                                    "priority by hand, and only with a reason (--note)",
                                    **({"missing": ["note"]} if set(actor.roles) & set(spec.override_roles)
                                       else {"allowed_roles": spec.override_roles}))
            overridden = True
        elif "priority" in given:  # the system copies a priority (a candidate keeps its incident's)
            overridden = values.get("priority") != self.defs.priority_for(
                values.get("impact") or "", values.get("urgency") or "")
        elif values.get("impact") and values.get("urgency"):
            values["priority"] = self.defs.priority_for(values["impact"], values["urgency"])
        version = self._register(repo, spec)
        initial = spec.initial
        key = repo.next_key(spec.key_prefix)
        ticket = Ticket(key=key, process=spec.id, state=initial.id, values=values,
                        definition_version=version, created_at=now, updated_at=now,
                        state_entered_at=now, version=1, status=initial.status,
                        status_category=self.defs.category_of(initial.status),
                        priority_overridden=overridden)
        ticket.sla = slamod.compute(spec, self.defs, [slamod.Transition(now, None, initial.id, "create")],
                                    values, now)
        row = ticket.to_row()
        row.update(timers.sla_summary(ticket.sla))
        row["version"] = 1
        token = self._token_for(key)
        row["token_hash"] = token_hash(token)
        ticket.id = repo.insert_ticket(row)
        ticket.status_token = token
        search.index(repo, spec, ticket)  # before the create event, whose note it indexes
        changes = {k: [None, v] for k, v in values.items() if v is not None}
        changes.update(extra_changes or {})
        created = repo.append_event(ticket.id, self._event(
            "create", actor, "reporter" if actor.is_(values.get("reporter")) else None,
            None, initial.id, changes, note, version, now, True))
        if spec.intake_notify:
            self._notify(repo, spec, ticket, 1, spec.intake_notify, {"token": token}, now)
        self._refresh_due(repo, spec, ticket, [created], set())
        return ticket

    def _check_category(self, spec: ProcessSpec, values: Mapping[str, Any]) -> None:
        cat = self.defs.codes.get("categories")
        value = cat.values.get(values.get("category") or "") if cat else None
        allowed = value.get("processes") if value else None
        if allowed and spec.id not in allowed:
            raise ActionRefused(f"category '{values.get('category')}' is not used for {spec.id} "
                                f"tickets (codes/categories.yaml: {', '.join(allowed)})")

    def _event(self, action: str, actor: Actor, role: str | None, from_state: str | None,
               to_state: str | None, changes: Mapping[str, Any], note: str | None,
               version: str, now: datetime, public: bool) -> dict[str, Any]:
        return {"action": action, "actor": actor.id, "role": role, "from_state": from_state,
                "to_state": to_state, "changes": _jsonable(changes), "note": note,
                "public": public, "definition_version": version, "effective_at": now,
                "recorded_at": _wall()}

    # -- actions -----------------------------------------------------------------------
    def do(self, key: str, action: str, inputs: Mapping[str, Any], note: str | None = None,
           expect_version: int | None = None, actor_id: str | None = None) -> dict[str, Any]:
        now = self.now()
        with self.store.write() as repo:
            actor = self.actor(repo, actor_id)
            ticket = Ticket.from_row(repo.get_ticket(key.upper(), lock=True))
            if expect_version is not None and ticket.version != expect_version:
                raise Conflict(f"{ticket.key} is at version {ticket.version}, not {expect_version}: "
                               "it changed since you looked; re-run the command")
            result = self._perform(repo, ticket, action, dict(inputs), note, actor, now)
            return result

    def _check_forward(self, ticket: Ticket, now: datetime) -> datetime:
        """The effective time of a change to ``ticket``, read once its row is locked.

        On the wall clock a concurrent writer may have committed a moment after we
        read the clock: the change then happens at the ticket's last change time.
        A time given with --now must not go back before the last change."""
        if self._now is None:
            return max(now, _wall(), ticket.updated_at)
        if now < ticket.updated_at:
            raise UsageError(f"--now {self._iso(now)} is before {ticket.key}'s last change "
                             f"({self._iso(ticket.updated_at)}); the journal only moves forward")
        return now

    def _transitions(self, repo: Any, ticket: Ticket,
                     events: Sequence[Mapping[str, Any]] | None = None) -> list[slamod.Transition]:
        return [slamod.Transition(e["effective_at"], e["from_state"], e["to_state"], e["action"])
                for e in (repo.events(ticket.id) if events is None else events)
                if e["to_state"] is not None]

    def _perform(self, repo: Any, ticket: Ticket, action: str, inputs: dict[str, Any],
                 note: str | None, actor: Actor, now: datetime,
                 events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        spec = self._spec_for(ticket)
        now = self._check_forward(ticket, now)
        if events is None:  # read once: SLA history, the chain's tail, timers
            events = repo.events(ticket.id)
        history = self._transitions(repo, ticket, events)
        ticket.definition_version = self._register(repo, spec)

        def sla_for(target: str, values: Mapping[str, Any]) -> dict[str, Any]:
            moved = history + [slamod.Transition(now, ticket.state, target, action)]
            return slamod.compute(spec, self.defs, moved, values, now)

        search.fill_reused_solution(self, repo, spec, ticket, inputs)
        out = perform(self.defs, spec, ticket, action, actor, inputs, note, now,
                      _Lookup(repo), sla_for, self.lang)
        if "category" in out.changes:
            self._check_category(spec, out.values)
        linked = None
        if out.action.opens:
            running = major.running_on_service(self, repo, ticket.process, out.values.get("service"))
            if running is not None:  # declared again for the same outbreak: join it
                linked_key = running
            else:
                linked = self._open_linked(repo, spec, ticket, out, actor, now, note)
                linked_key = linked.key
            out.values["parent"] = linked_key
            out.changes["parent"] = [ticket.values.get("parent"), linked_key]
        self._apply(repo, ticket, spec, out, actor, note, now, events)
        cascaded = major.cascade(self, repo, ticket, out, now) if out.action.cascade else None
        major_key = None
        if linked is None and any(f in out.changes for f in major.WATCHED_FIELDS):
            major_key = major.check(self, repo, ticket, now)
        view = self._view(ticket)
        if out.action.opens:
            view["opened" if linked is not None else "joined"] = out.values["parent"]
        if major_key:
            view["major_incident"] = major_key
        if cascaded is not None:
            view["cascade"] = cascaded
        return view

    def _apply(self, repo: Any, ticket: Ticket, spec: ProcessSpec, out: Outcome, actor: Actor,
               note: str | None, now: datetime, events: list[dict[str, Any]]) -> None:
        """Write the outcome: the ticket row, its journal event (appended to
        ``events``, the ticket's journal read under its lock), notifications and
        due work."""
        target = spec.states[out.to_state]
        moved = out.to_state != out.from_state
        category = self.defs.category_of(target.status)
        values = {"state": out.to_state, "status": target.status, "status_category": category,
                  "updated_at": now, "sla": out.sla, "definition_version": ticket.definition_version,
                  "priority_overridden": out.priority_overridden}
        if moved:
            values["state_entered_at"] = now
            if category == "resolved":
                values["resolved_at"] = now
            if target.final:
                values["closed_at"] = now
        ticket.values = out.values
        row = ticket.to_row()
        for name in ("title", "description", "reporter", "reporter_phone", "assignee", "group_id",
                     "urgency", "impact", "priority", "service", "category", "parent", "fields"):
            values[name] = row[name]
        values.update(timers.sla_summary(out.sla))
        repo.update_ticket(ticket.id, ticket.version, values)
        search.index_if_changed(repo, spec, ticket, out.changes)
        event = repo.append_event(ticket.id, self._event(
            out.action.id, actor, out.role, out.from_state, out.to_state if moved else None,
            out.changes, note, ticket.definition_version, now, out.action.public),
            last=events[-1] if events else None)
        events.append(event)
        ticket.version += 1
        ticket.state, ticket.status, ticket.status_category = out.to_state, target.status, category
        ticket.sla, ticket.updated_at = out.sla, now
        ticket.priority_overridden = out.priority_overridden
        if moved:
            ticket.state_entered_at = now
        if out.action.notify:
            reason = out.values.get("reason") if "reason" in out.action.requires else None
            self._notify(repo, spec, ticket, event["seq"], out.action.notify,
                         {"action": {"id": out.action.id, "label": out.action.label.get(self.lang)},
                          "note": (note or reason) if out.action.public else None}, now)
        self._refresh_due(repo, spec, ticket, events)

    def _notify(self, repo: Any, spec: ProcessSpec, ticket: Ticket, seq: int | None,
                messages: Sequence[Any], extra: Mapping[str, Any], now: datetime) -> int:
        """Queue messages in this transaction; the payload is what templates see."""
        payload = {"key": ticket.key, "ticket": self._message_ticket(spec, ticket), **extra}
        token = payload.pop("token", None) or (self._token_for(ticket.key) if self.settings.secret_key else None)
        total = 0
        for message in messages:
            for target in message.to:  # the status token goes to the reporter and nobody else
                one = replace(message, to=(target,))
                data = dict(payload, token=token) if target == "reporter" and token else payload
                total += enqueue(repo, spec, ticket.id, seq, ticket.values, [one], data, self.lang, now,
                                 self._group_mailboxes())
        return total

    def _group_mailboxes(self) -> dict[str, str]:
        table = self.defs.codes.get("groups")
        return {g: v.get("email") for g, v in table.values.items() if v.get("email")} if table else {}

    def _token_for(self, key: str) -> str:
        """The reporter's status token: derived from the deployment's secret key when
        one is configured (so every message to the reporter can carry a working
        link), else random and only in the acknowledgement."""
        secret = self.settings.secret_key
        if not secret:
            return secrets.token_urlsafe(18)
        digest = hmac.new(secret.encode(), f"itsm-status:{key}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:24]

    def _message_ticket(self, spec: ProcessSpec, ticket: Ticket) -> dict[str, Any]:
        """The ticket as messages show it: public information only."""
        view = public_view(self.defs, spec, ticket, self.lang, self._iso)
        view.update(assignee=ticket.values.get("assignee"), reporter=ticket.values.get("reporter"),
                    group=ticket.values.get("group"), reason=ticket.values.get("reason"))
        for f in spec.fields.values():  # who is who: manager, technical lead, approver...
            if f.type == "user":
                view[f.id] = ticket.values.get(f.id)
        offering = ticket.values.get("offering")
        if offering:
            offerings = (service_view(self.defs, ticket.values.get("service")) or {}).get("offerings") or {}
            view["offering_label"] = (offerings.get(offering) or {}).get("label") or offering
        return view

    def _refresh_due(self, repo: Any, spec: ProcessSpec, ticket: Ticket,
                     events: Sequence[Mapping[str, Any]] | None = None,
                     fired: set[tuple[str, str, str]] | None = None, write: bool = True
                     ) -> list[timers.DueItem]:
        """The ticket's due work, from its journal and the effects already fired
        (read here unless given); replaces its due_work rows unless ``write`` is False."""
        if fired is None:
            fired = repo.fired_keys(ticket.id) if ticket.id is not None else set()
        if spec.timers:
            starts = timers.timer_starts(spec, ticket, repo.events(ticket.id) if events is None else events)
        else:
            starts = {}
        repeats = {}
        for t in spec.timers:
            if t.repeat and t.id in starts:
                base = starts[t.id].isoformat(timespec="seconds")
                repeats[t.id] = sum(1 for k, n, c in fired if k == "timer" and n == t.id
                                    and c.startswith(base + "#"))
        items = timers.due_items(self.defs, spec, ticket, ticket.sla, fired, repeats, starts)
        if write:
            repo.replace_due_work(ticket.id, [i.row() for i in items])
        return items

    # -- timers ------------------------------------------------------------------------
    def tick(self) -> list[dict[str, Any]]:
        """Perform everything due at now: SLA thresholds, timers, reminders.

        Due tickets are handled in batches of :data:`TICK_BATCH`, one transaction
        per batch (one durable commit instead of one per ticket) taking the
        tickets' locks in id order, each ticket inside a savepoint: a ticket
        whose work is refused or conflicts is rolled back alone and left to the
        next tick.  Every effect is recorded as fired (a unique key per cycle) in
        the transaction of the effect, while the ticket is locked and after its
        fired keys were read under that lock, so running tick twice, or from two
        machines at once, does each thing once."""
        now = self.now()
        with self.store.read() as repo:
            due = repo.due_tickets(now)
        report: list[dict[str, Any]] = []
        for first in range(0, len(due), TICK_BATCH):
            batch = sorted(due[first:first + TICK_BATCH])  # one lock order for concurrent ticks
            with self.store.write() as repo:
                for ticket_id in batch:
                    try:
                        with repo.savepoint():
                            report.extend(self._tick_ticket(repo, ticket_id, now))
                    except (Conflict, NotFound) as exc:
                        report.append({"key": f"#{ticket_id}", "kind": "-", "name": "-", "due": None,
                                       "outcome": f"skipped: {exc.message}"})
        return report

    def _tick_ticket(self, repo: Any, ticket_id: int, now: datetime) -> list[dict[str, Any]]:
        """Fire what is due on one locked ticket; its journal and fired keys are read
        once and kept current in memory, its due work written once at the end."""
        done: list[dict[str, Any]] = []
        ticket = Ticket.from_row(repo.get_ticket_by_id(ticket_id, lock=True))
        spec = self.defs.processes.get(ticket.process)
        if spec is None or ticket.state not in spec.states or now < ticket.updated_at:
            return done  # a tick behind the ticket's last change leaves it to a later tick
        events = repo.events(ticket.id)
        fired = repo.fired_keys(ticket.id)
        current = False  # is ticket.sla computed from the current journal?
        computed_for = -1  # the journal length ticket.sla was computed for
        for _ in range(20):  # an effect may make the next one due (bounded)
            if computed_for != len(events):  # a notification alone changes no clock
                ticket.sla = slamod.compute(spec, self.defs, self._transitions(repo, ticket, events),
                                            ticket.values, max(now, ticket.updated_at))
                computed_for = len(events)
            items = [i for i in self._refresh_due(repo, spec, ticket, events, fired, write=False)
                     if i.due_at <= now]
            if not items:
                current = True
                break
            item = items[0]
            fired.add((item.kind, item.name, item.cycle))
            later = [i for i in self._refresh_due(repo, spec, ticket, events, fired, write=False)
                     if i.kind == item.kind and i.name == item.name and i.due_at <= now]
            if item.kind == "remind" and any(i.kind == "timer" and i.name == item.name for i in items):
                outcome = "skipped: the timer itself is already due"
            elif later:  # a repeating timer that missed several beats fires once
                outcome = "skipped: a later repetition is also due"
            else:
                outcome = self._fire(repo, spec, ticket, item, now, events)
            if not repo.mark_fired(ticket.id, item.kind, item.name, item.cycle, now, outcome):
                raise Conflict(f"{ticket.key}: {item.kind} {item.name} fired concurrently")
            done.append({"key": ticket.key, "kind": item.kind, "name": item.name,
                         "due": self._iso(item.due_at), "outcome": outcome})
        if not current and computed_for != len(events):
            ticket.sla = slamod.compute(spec, self.defs, self._transitions(repo, ticket, events),
                                        ticket.values, max(now, ticket.updated_at))
        self._refresh_due(repo, spec, ticket, events, fired)
        return done

    def _fire(self, repo: Any, spec: ProcessSpec, ticket: Ticket, item: timers.DueItem,
              now: datetime, events: list[dict[str, Any]]) -> str:
        parts = []
        if item.notify:
            clock = (ticket.sla or {}).get(item.name) or {}
            n = self._notify(repo, spec, ticket, None, item.notify,
                             {"event": {"kind": item.kind, "name": item.name,
                                        "at": self._iso(item.due_at),
                                        "due": clock.get("due") or self._iso(item.due_at)}}, now)
            parts.append(f"{n} message(s) queued")
        if item.action:
            try:
                result = self._perform(repo, ticket, item.action, {}, f"{item.kind} {item.name}",
                                       SYSTEM, now, events)
                parts.append(f"{item.action} -> {result['state']}")
            except ItsmError as exc:
                parts.append(f"{item.action} refused: {exc.message}")
        return "; ".join(parts) or "nothing to do"

    def _open_linked(self, repo: Any, spec: ProcessSpec, ticket: Ticket, out: Outcome,
                     actor: Actor, now: datetime, note: str | None) -> Ticket:
        target = self.process(out.action.opens or "")
        copy = ("service", "urgency", "impact", "category", "affected_users", "regulatory_impact",
                "description")
        given = {k: out.values.get(k) for k in copy
                 if out.values.get(k) is not None and field_spec(target, k) is not None}
        given["title"] = out.values.get("title")
        given["reporter"] = actor.email if "@" in (actor.email or "") else out.values.get("reporter")
        if field_spec(target, "criterion") is not None:
            given["criterion"] = f"{out.action.id} by {actor.id} from {ticket.key}"
        return self._intake(repo, target, given, actor, now, note or out.values.get("reason"))

    # -- reading -------------------------------------------------------------------------
    def show(self, key: str) -> dict[str, Any]:
        """The ticket, with its SLA clocks computed as of now."""
        with self.store.read() as repo:
            ticket = Ticket.from_row(repo.get_ticket(key.upper()))
            spec = self.defs.processes.get(ticket.process)
            if spec is not None and ticket.status_category != "closed":
                now = max(self.now(), ticket.updated_at)
                ticket.sla = slamod.compute(spec, self.defs, self._transitions(repo, ticket),
                                            ticket.values, now)
            return self._view(ticket)

    def history(self, key: str) -> list[dict[str, Any]]:
        """The journal; a major incident's includes its linked incidents' key events."""
        with self.store.read() as repo:
            row = repo.get_ticket(key.upper())
            events = repo.events(row["id"])
            spec = self.defs.processes.get(row["process"])
            if spec is not None and spec.criteria:
                return [dict(_event_view(e, self._iso), ticket=e["ticket"])
                        for e in major.timeline(self, repo, row["key"], events)]
            return [dict(_event_view(e, self._iso), ticket=row["key"]) for e in events]

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

    def actions(self, key: str, actor_id: str | None = None) -> list[dict[str, Any]]:
        with self.store.read() as repo:
            actor = self.actor(repo, actor_id)
            ticket = Ticket.from_row(repo.get_ticket(key.upper()))
            spec = self._spec_for(ticket)
            out = []
            for a in available(spec, ticket, actor):
                out.append({"action": a.id, "label": a.label.get(self.lang), "to": a.target,
                            "requires": list(a.requires), "accepts": list(a.accepts),
                            "roles": list(a.roles), "note": a.note})
            return out

    def list(self, breached: bool = False, at_risk: bool = False, **filters: Any) -> list[dict[str, Any]]:
        from engine.store.repository import TicketFilter

        if breached:
            filters["breached_at"] = self.now()
        if at_risk:
            filters["at_risk_at"] = self.now()
        with self.store.read() as repo:
            rows = repo.list_tickets(TicketFilter(**filters))
            return [self._view(Ticket.from_row(r)) for r in rows]

    def comment(self, key: str, text: str, public: bool = False,
                actor_id: str | None = None) -> dict[str, Any]:
        if not text.strip():
            raise UsageError("a comment needs text")
        now = self.now()
        with self.store.write() as repo:
            actor = self.actor(repo, actor_id)
            row = repo.get_ticket(key.upper(), lock=True)
            ticket = Ticket.from_row(row)
            now = self._check_forward(ticket, now)
            if not (actor.roles or actor.groups or actor.system or actor.is_(ticket.values.get("reporter"))):
                raise ActionRefused(f"{actor.id} may not comment on {ticket.key}: only the reporter "
                                    "and service-desk staff may", allowed_roles=["reporter"])
            repo.update_ticket(ticket.id, ticket.version, {"updated_at": now})
            ev = repo.append_event(ticket.id, self._event("comment", actor, None, None, None, {}, text,
                                                          ticket.definition_version, now, public))
            return _event_view(ev, self._iso)

    def link(self, key: str, parent: str, actor_id: str | None = None) -> dict[str, Any]:
        now = self.now()
        with self.store.write() as repo:
            actor = self.actor(repo, actor_id)
            ticket = Ticket.from_row(repo.get_ticket(key.upper(), lock=True))
            now = self._check_forward(ticket, now)
            parent_row = repo.get_ticket(parent.upper())
            if parent_row["key"] == ticket.key:
                raise UsageError("a ticket cannot be its own parent")
            if not actor.system and not actor.roles:
                raise ActionRefused(f"{actor.id} may not link tickets: it needs a desk role")
            old = ticket.values.get("parent")
            ticket.values["parent"] = parent_row["key"]
            repo.update_ticket(ticket.id, ticket.version, {"parent": parent_row["key"], "updated_at": now})
            repo.append_event(ticket.id, self._event("link", actor, None, None, None,
                                                     {"parent": [old, parent_row["key"]]}, None,
                                                     ticket.definition_version, now, False))
            ticket.version += 1
            return self._view(ticket)

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

    def deliver(self) -> Any:
        from engine.notify.deliver import deliver

        return deliver(self.store, self.home, self.settings, self.now)

    def outbox(self, status: str | None = None) -> list[dict[str, Any]]:
        with self.store.read() as repo:
            rows = repo.list_outbox(status)
        return [{"id": r["id"], "ticket": r.get("key"), "channel": r["channel"],
                 "recipient": r["recipient"], "template": r["template"], "lang": r["lang"],
                 "status": r["status"], "attempts": r["attempts"], "last_error": r["last_error"],
                 "created_at": self._iso(r["created_at"]), "sent_at": self._iso(r["sent_at"]),
                 "next_attempt_at": self._iso(r["next_attempt_at"])} for r in rows]

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

    # -- views ---------------------------------------------------------------------------------
    def _iso(self, t: datetime | None) -> str | None:
        return t.astimezone(self.tz).isoformat(timespec="seconds") if t else None

    def _view(self, ticket: Ticket) -> dict[str, Any]:
        spec = self.defs.processes.get(ticket.process)
        v = ticket.values
        state = spec.states.get(ticket.state) if spec else None
        core = ("title", "description", "reporter", "reporter_phone", "assignee", "group",
                "urgency", "impact", "priority", "service", "category", "parent")
        return {
            "key": ticket.key, "process": ticket.process, "state": ticket.state,
            "state_label": state.label.get(self.lang) if state else ticket.state,
            "status": ticket.status, "category": ticket.status_category,
            "priority": v.get("priority"), "urgency": v.get("urgency"), "impact": v.get("impact"),
            "title": v.get("title"), "description": v.get("description"),
            "reporter": v.get("reporter"), "reporter_phone": v.get("reporter_phone"),
            "assignee": v.get("assignee"), "group": v.get("group"), "service": v.get("service"),
            "classification": v.get("category"), "parent": v.get("parent"),
            "fields": {k: val for k, val in v.items() if k not in core},
            "field_labels": {f.id: f.label.get(self.lang) for f in spec.fields.values()} if spec else {},
            "sla": ticket.sla, "priority_overridden": ticket.priority_overridden,
            "version": ticket.version, "definition_version": ticket.definition_version,
            "created_at": self._iso(ticket.created_at), "updated_at": self._iso(ticket.updated_at),
            "resolved_at": self._iso(ticket.resolved_at), "closed_at": self._iso(ticket.closed_at),
        }


def _display_tz(name: str | None, now: datetime | None) -> tzinfo:
    """Times are shown in the configured zone, else --now's offset, else local time."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"unknown time zone {name!r} (use an IANA name like Asia/Shanghai)") from None
    if now is not None and now.tzinfo is not None:
        return now.tzinfo
    return datetime.now().astimezone().tzinfo or timezone.utc


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _event_view(e: Mapping[str, Any], _iso: Any) -> dict[str, Any]:
    return {"seq": e["seq"], "action": e["action"], "actor": e["actor"], "role": e.get("role"),
            "from": e.get("from_state"), "to": e.get("to_state"), "changes": e.get("changes") or {},
            "note": e.get("note"), "public": bool(e.get("public")),
            "at": _iso(e.get("effective_at")), "recorded_at": _iso(e.get("recorded_at")),
            "definition_version": e.get("definition_version")}
