"""``itsm simulate``: replay a scripted ticket against a definition, without a database.

A script gives a start time, the intake, then steps: actions (who, what, which
fields, a note), and ``tick`` steps that let time pass.  Everything runs through
the real facade (:class:`engine.api.Api`) -- the same intake, action checks
(``runtime.actions.perform``), SLA clocks computed from the journal, timers
(``runtime.timers.due_items``) and refusal messages as ``itsm new``/``do``/``tick``
-- over :class:`MemoryStore`, an in-memory stand-in for the repository.  When
time passes, every timer and SLA threshold fires at its own due instant, as if
``itsm tick`` ran every minute.

Script::

    start: "2026-03-02T09:00:00+08:00"
    people:                       # optional: who is who (else roles and groups act)
      chen.jie: {groups: [desktop_support]}
    intake: {as: service_desk, title: VPN down, reporter: li.na@example.com, service: network}
    steps:
      - {at: +10m, as: service_desk, action: assign, set: {group: desktop_support}}
      - {at: +1h, as: chen.jie, action: resolve, expect: refused}
      - tick: +3 business days
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from engine.clock import sla as slamod
from engine.errors import ActionRefused, DefinitionError, NotFound, UsageError
from engine.i18n import N_
from engine.journal import GENESIS, event_hash, hashed_fields
from engine.model import Definitions, Duration, ProcessSpec
from engine.runtime.fields import CORE_SPECS

MAX_FIRINGS = 2000  # timer firings per advance of time (repeating timers over long ticks)
DYNAMIC = ("reporter", "assignee", "group_member", "system")


# -- the in-memory store --------------------------------------------------------------------

class MemoryStore:
    """What :class:`engine.store.repository.Store` offers the facade, in memory.

    A write that raises is rolled back (the whole state is restored), as a
    database transaction would be.  People come from the script; a role or a
    support group named as a person stands for someone holding it."""

    def __init__(self, defs: Definitions, people: Mapping[str, Mapping[str, Any]]) -> None:
        self.defs = defs
        self.people = {pid: dict(p, id=pid) for pid, p in people.items()}
        self.strict = bool(people)  # with people declared, nobody else exists
        self.roles = {r for p in defs.processes.values() for r in p.roles}
        groups = defs.codes.get("groups")
        self.groups = set(groups.values) if groups else set()
        self.data: dict[str, Any] = {"tickets": {}, "journal": {}, "due": {}, "fired": {},
                                     "outbox": [], "keys": {}, "log": [], "links": [], "stale": set()}

    @contextmanager
    def write(self) -> Iterator["MemoryRepo"]:
        saved = copy.deepcopy(self.data)
        try:
            yield MemoryRepo(self)
        except BaseException:
            self.data.clear()
            self.data.update(saved)
            raise

    @contextmanager
    def read(self) -> Iterator["MemoryRepo"]:
        yield MemoryRepo(self)

    def next_due(self) -> datetime | None:
        dues = [i["due_at"] for items in self.data["due"].values() for i in items]
        return min(dues) if dues else None

    def changed(self) -> bool:
        """Tickets changed since the last tick (whose due work the next tick works out)."""
        return bool(self.data["stale"])

    def person(self, ident: str) -> dict[str, Any] | None:
        for p in self.people.values():
            if ident == p["id"] or ident.lower() == str(p.get("email") or "").lower():
                return _person(p["id"], p.get("email"), p.get("roles"), p.get("groups"), p.get("phone"))
        if "@" in ident:
            return None  # an end user, known by e-mail only
        roles = [ident] if ident in self.roles else []
        groups = [ident] if ident in self.groups else []
        if roles or groups or not self.strict:
            return _person(ident, None, roles, groups, None)
        return None


def _person(pid: str, email: Any, roles: Any, groups: Any, phone: Any) -> dict[str, Any]:
    return {"id": pid, "name": pid, "email": str(email or f"<{pid}>"), "phone": phone, "site": None,
            "active": True, "created_at": None, "roles": sorted(roles or ()),
            "groups": sorted(groups or ())}


class _NoMail:
    """Mail and attachments (engine.store.mail): a simulated ticket has none."""

    def attachments_of(self, *args: Any) -> list[Any]:
        return []

    def attachment_bytes(self, *args: Any) -> int:
        return 0

    def attachment(self, *args: Any) -> None:
        return None

    mail_seen = attachment


class _NoSearch:
    """The knowledge index (engine.desk.search): a simulated ticket finds no earlier solutions."""

    def put(self, *args: Any, **kwargs: Any) -> None:
        return None

    append_note = set_notes = rebuild = put

    def get(self, *args: Any) -> None:
        return None

    def find(self, *args: Any) -> list[Any]:
        return []

    scan_like = find


class MemoryRepo:
    """The repository methods the facade uses on the intake, action and tick paths."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.d = store.data
        self.search = _NoSearch()
        self.mail = _NoMail()

    def __getattr__(self, name: str) -> Any:
        raise NotImplementedError(f"the simulation's in-memory store has no '{name}' yet "
                                  "(engine/design/simulate.py, MemoryRepo)")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        saved = copy.deepcopy(self.store.data)
        try:
            yield
        except BaseException:
            self.store.data.clear()
            self.store.data.update(saved)
            raise

    # people
    def find_person(self, ident: str) -> dict[str, Any] | None:
        return self.store.person(ident)

    def group_members(self, gid: str) -> list[str]:
        found = [p["id"] for p in self.store.people.values() if gid in (p.get("groups") or ())]
        return found or ([gid] if gid in self.store.groups else [])

    def people_with_role(self, role: str) -> list[str]:
        found = [p["id"] for p in self.store.people.values() if role in (p.get("roles") or ())]
        return found or [role]

    # definitions and keys
    def ensure_definition_version(self, *args: Any) -> None:
        return None

    def next_key(self, prefix: str) -> str:
        self.d["keys"][prefix] = self.d["keys"].get(prefix, 0) + 1
        return f"{prefix}-{self.d['keys'][prefix]:06d}"

    # tickets
    def insert_ticket(self, row: dict[str, Any]) -> int:
        tid = len(self.d["tickets"]) + 1
        self.d["tickets"][tid] = copy.deepcopy(dict(row, id=tid))
        self.d["journal"][tid] = []
        return tid

    def _rows(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(r) for r in self.d["tickets"].values()]

    def get_ticket(self, key: str, *, lock: bool = False) -> dict[str, Any]:
        for row in self._rows():
            if row["key"] == key:
                return row
        raise NotFound(N_("no ticket {key}"), values={"key": key})

    def get_ticket_by_id(self, ticket_id: int, *, lock: bool = False) -> dict[str, Any]:
        if ticket_id not in self.d["tickets"]:
            raise NotFound(N_("no ticket with id {ticket_id}"), values={"ticket_id": ticket_id})
        return copy.deepcopy(self.d["tickets"][ticket_id])

    def update_ticket(self, ticket_id: int, expected_version: int, values: dict[str, Any]) -> None:
        row = self.d["tickets"][ticket_id]
        if row["version"] != expected_version:
            raise AssertionError("the simulated ticket changed twice in one step")
        row.update(copy.deepcopy(values), version=expected_version + 1)

    def _open(self, process: str, service: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self._rows() if r["process"] == process
                and r["status_category"] not in ("resolved", "closed")
                and (service is None or r.get("service") == service)]

    def count_recent_open(self, process: str, service: str, since: datetime,
                          until: datetime | None = None) -> int:
        return sum(1 for r in self._open(process, service)
                   if r["created_at"] >= since and (until is None or r["created_at"] <= until))

    def open_ticket_on_service(self, process: str, service: str) -> dict[str, Any] | None:
        rows = self._open(process, service)
        return rows[-1] if rows else None

    def recent_unlinked(self, process: str, service: str, since: datetime) -> list[dict[str, Any]]:
        return [r for r in self._open(process, service) if r.get("parent") is None and r["created_at"] >= since]

    # typed links (engine.store.repository: the links table)
    def children(self, parent_key: str, relations: Sequence[str] | None = None) -> list[dict[str, Any]]:
        ids = {l["ticket_id"] for l in self.d["links"] if l["target"] == parent_key
               and (relations is None or l["relation"] in relations)}
        return [r for r in self._rows() if r["id"] in ids]

    def links_of(self, ticket_id: int) -> list[dict[str, Any]]:
        return [{k: l[k] for k in ("relation", "target", "created_at", "created_by")}
                for l in self.d["links"] if l["ticket_id"] == ticket_id]

    def links_to(self, key: str) -> list[dict[str, Any]]:
        rows = self.d["tickets"]
        return [{"relation": l["relation"], "key": rows[l["ticket_id"]]["key"],
                 "process": rows[l["ticket_id"]]["process"],
                 "status_category": rows[l["ticket_id"]]["status_category"], "created_at": l["created_at"]}
                for l in self.d["links"] if l["target"] == key]

    def add_link(self, ticket_id: int, relation: str, target: str, now: datetime, by: str) -> bool:
        if any((l["ticket_id"], l["relation"], l["target"]) == (ticket_id, relation, target)
               for l in self.d["links"]):
            return False
        self.d["links"].append({"ticket_id": ticket_id, "relation": relation, "target": target,
                                "created_at": now, "created_by": by})
        return True

    def remove_links(self, ticket_id: int, relation: str, target: str | None = None) -> list[str]:
        gone = [l for l in self.d["links"] if l["ticket_id"] == ticket_id and l["relation"] == relation
                and (target is None or l["target"] == target)]
        self.d["links"] = [l for l in self.d["links"] if l not in gone]
        return [l["target"] for l in gone]

    def list_open(self, process: str) -> list[dict[str, Any]]:
        return [r for r in self._rows() if r["process"] == process and r["status_category"] != "closed"]

    # journal
    def append_event(self, ticket_id: int, event: dict[str, Any], last: Any = None, *,
                     key: str = "", process: str = "") -> dict[str, Any]:
        """A dry run's journal: chained with the unkeyed hash (no audit key needed)."""
        events = self.d["journal"][ticket_id]
        seq, prev = (events[-1]["seq"] + 1, events[-1]["hash"]) if events else (1, GENESIS)
        row = dict(copy.deepcopy(event), seq=seq, ticket_id=ticket_id, prev_hash=prev)
        row["hash"] = event_hash(prev, hashed_fields(row))
        events.append(row)
        self.d["log"].append(row)
        return dict(row)

    def events(self, ticket_id: int) -> list[dict[str, Any]]:
        return copy.deepcopy(self.d["journal"].get(ticket_id, []))

    def last_action_times(self, ticket_id: int, actions: Sequence[str]) -> dict[str, datetime]:
        out: dict[str, datetime] = {}
        for e in self.d["journal"].get(ticket_id, []):
            if e["action"] in actions:
                out[e["action"]] = max(out.get(e["action"], e["effective_at"]), e["effective_at"])
        return out

    # timed work
    def replace_due_work(self, ticket_id: int, items: Sequence[dict[str, Any]]) -> None:
        self.d["due"][ticket_id] = [dict(i) for i in items]
        self.d["stale"].discard(ticket_id)

    def mark_due_stale(self, ticket_id: int) -> None:
        self.d["stale"].add(ticket_id)

    def due_stale_tickets(self, limit: int) -> list[int]:
        return sorted(self.d["stale"])[:limit]

    def due_tickets(self, until: datetime, limit: int = 10000) -> list[int]:
        firsts = {tid: min(i["due_at"] for i in items) for tid, items in self.d["due"].items() if items}
        return sorted((t for t, due in firsts.items() if due <= until), key=lambda t: firsts[t])[:limit]

    def fired_keys(self, ticket_id: int) -> set[tuple[str, str, str]]:
        return {k[1:] for k in self.d["fired"] if k[0] == ticket_id}

    # a simulation runs one set of definitions: its sweeps after a change find nothing
    def due_sweep(self, process: str) -> tuple[str, int | None] | None:
        return self.d.setdefault("sweeps", {}).get(process)

    def set_due_sweep(self, process: str, version: str, after_id: int | None) -> None:
        self.d.setdefault("sweeps", {})[process] = (version, after_id)

    def process_versions(self, process: str) -> set[str]:
        return {t["definition_version"] for t in self.d["tickets"].values() if t["process"] == process}

    def stale_open_tickets(self, process: str, version: str, after_id: int, limit: int) -> list[int]:
        return sorted(tid for tid, t in self.d["tickets"].items()
                      if t["process"] == process and t["status_category"] != "closed"
                      and t["definition_version"] != version and tid > after_id)[:limit]

    def tick_batch(self, ticket_ids: Sequence[int]
                   ) -> dict[int, tuple[dict[str, Any], set[tuple[str, str, str]]]]:
        """As the store's: id -> (ticket row, fired keys) for a tick batch."""
        return {tid: (self.get_ticket_by_id(tid), self.fired_keys(tid))
                for tid in sorted(ticket_ids) if tid in self.d["tickets"]}

    def ticket_versions(self, ticket_ids: Sequence[int]) -> dict[int, int]:
        return {tid: self.d["tickets"][tid]["version"] for tid in ticket_ids if tid in self.d["tickets"]}

    def mark_fired(self, ticket_id: int, kind: str, name: str, cycle: str, now: datetime,
                   outcome: str) -> bool:
        key = (ticket_id, kind, name, cycle)
        if key in self.d["fired"]:
            return False
        self.d["fired"][key] = outcome
        return True

    def set_fired_outcome(self, ticket_id: int, kind: str, name: str, cycle: str, outcome: str) -> None:
        self.d["fired"][(ticket_id, kind, name, cycle)] = outcome

    # notifications
    def add_outbox(self, rows: Sequence[dict[str, Any]]) -> None:
        self.d["outbox"].extend(copy.deepcopy(list(rows)))


# -- the script ------------------------------------------------------------------------------

STEP_KEYS = ("at", "as", "action", "set", "note", "expect", "tick", "ticket")
TOP_KEYS = ("start", "process", "people", "intake", "steps")


@dataclass
class Step:
    index: int  # 1-based position in steps:
    where: str  # file:line:column
    at: str | None = None
    actor: str | None = None
    action: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    tick: str | None = None
    ticket: str | None = None
    expect_refused: bool | str = False  # True, or text the refusal must contain
    expect_state: str | None = None


@dataclass
class Script:
    file: str
    start: datetime | None
    process: str | None
    people: dict[str, dict[str, Any]]
    intake: Step
    steps: list[Step]


def _where(doc: Any, path: tuple[Any, ...], key: bool = False) -> str:
    mark = doc.mark(path, key=key)
    return f"{doc.file}:{mark.line}:{mark.column}"


def parse_time(text: Any, where: str) -> datetime:
    try:
        value = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(N_("{where}: {text!r} is not an ISO 8601 time or a +duration (e.g. "
                            "2026-03-02T09:00:00+08:00, +30m, +2 business days)"),
                         values={"where": where, "text": text}) from None
    if value.tzinfo is None:
        raise UsageError(N_("{where}: {text!r} needs a UTC offset (e.g. +08:00)"),
                         values={"where": where, "text": text})
    return value


def load_script(path: Path) -> Script:
    """Read a simulation script; any mistake is a usage error at its line."""
    from engine.definitions.loader import load_file

    try:
        doc = load_file(path, str(path))
    except DefinitionError as exc:
        raise UsageError("{error}", values={"error": exc}) from None
    data = doc.data
    if not isinstance(data, dict):
        raise UsageError(N_("{path}: a simulation script is a mapping with start, intake and steps"),
                         values={"path": path})
    for key in data:
        if key not in TOP_KEYS:
            raise UsageError(N_("{where}: unknown key '{key}' (a script has: {TOP_KEYS})"),
                             values={"where": _where(doc, (key,), True), "key": key, "TOP_KEYS": ', '.join(TOP_KEYS)})
    start = parse_time(data["start"], _where(doc, ("start",))) if data.get("start") is not None else None
    for key, kind in (("people", dict), ("steps", list)):
        if data.get(key) is not None and not isinstance(data[key], kind):
            raise UsageError(N_("{where}: '{key}:' is a {value}"),
                             values={"where": _where(doc, (key,)), "key": key, "value": 'mapping of person: {roles, groups}' if kind is dict else 'list of steps'})
    people: dict[str, dict[str, Any]] = {}
    for pid, p in (data.get("people") or {}).items():
        p = p if isinstance(p, dict) else {}
        bad = [k for k in p if k not in ("roles", "groups", "email", "phone")]
        if bad:
            raise UsageError(N_("{where}: unknown key '{bad}' (a person has: roles, groups, email, phone)"),
                             values={"where": _where(doc, ('people', pid, bad[0]), True), "bad": bad[0]})
        people[str(pid)] = {"roles": [str(r) for r in _list(p.get("roles"))],
                            "groups": [str(g) for g in _list(p.get("groups"))],
                            "email": p.get("email"), "phone": p.get("phone")}
    raw_intake = data.get("intake")
    if not isinstance(raw_intake, dict):
        raise UsageError(N_("{where}: the script needs an 'intake:' mapping (the new ticket's fields: title, "
                            "reporter, service, urgency, impact...)"),
                         values={"where": _where(doc, ('intake',))})
    intake = Step(0, _where(doc, ("intake",)), at=_text(raw_intake.get("at")),
                  actor=_text(raw_intake.get("as")), note=_text(raw_intake.get("note")),
                  inputs={str(k): v for k, v in raw_intake.items() if k not in ("as", "note", "at", "expect")})
    _expect(intake, raw_intake.get("expect"), doc, ("intake", "expect"))
    steps = []
    for i, raw in enumerate(data.get("steps") or []):
        where = _where(doc, ("steps", i))
        if not isinstance(raw, dict):
            raise UsageError(N_("{where}: a step is a mapping, e.g. {{at: +1h, as: service_desk, action: "
                                "assign}}"), values={"where": where})
        for key in raw:
            if key not in STEP_KEYS:
                raise UsageError(N_("{where}: unknown key '{key}' (a step has: {STEP_KEYS})"),
                                 values={"where": _where(doc, ('steps', i, key), True), "key": key, "STEP_KEYS": ', '.join(STEP_KEYS)})
        if bool(raw.get("action")) == bool(raw.get("tick")):
            raise UsageError(N_("{where}: a step has either 'action:' or 'tick:'"), values={"where": where})
        if raw.get("set") is not None and not isinstance(raw.get("set"), dict):
            raise UsageError(N_("{where}: 'set:' is a mapping field: value"),
                             values={"where": _where(doc, ('steps', i, 'set'))})
        step = Step(i + 1, where, at=_text(raw.get("at")), actor=_text(raw.get("as")),
                    action=_text(raw.get("action")), inputs=dict(raw.get("set") or {}),
                    note=_text(raw.get("note")), tick=_text(raw.get("tick")), ticket=_text(raw.get("ticket")))
        _expect(step, raw.get("expect"), doc, ("steps", i, "expect"))
        steps.append(step)
    return Script(str(path), start, _text(data.get("process")), people, intake, steps)


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else ([value] if value is not None else [])


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _expect(step: Step, raw: Any, doc: Any, path: tuple[Any, ...]) -> None:
    if raw is None:
        return
    if raw == "refused":
        step.expect_refused = True
        return
    if isinstance(raw, dict) and set(raw) <= {"refused", "state"}:
        refused = raw.get("refused", False)
        step.expect_refused = refused if isinstance(refused, (bool, str)) else bool(refused)
        step.expect_state = _text(raw.get("state"))
        return
    raise UsageError(N_("{where}: expect is 'refused', {{refused: TEXT}} or {{state: STATE}}"),
                     values={"where": _where(doc, path)})


# -- running it ---------------------------------------------------------------------------------

class Simulation:
    """One script replayed against one process of a set of definitions."""

    def __init__(self, home: Path, defs: Definitions, spec: ProcessSpec, script: Script,
                 lang: str = "en", now: datetime | None = None) -> None:
        from engine.api import Api
        from engine.settings import Settings

        self.spec, self.script, self.lang, self.defs = spec, script, lang, defs
        unknown = [r for p in script.people.values() for r in p["roles"]
                   if r not in {r for s in defs.processes.values() for r in s.roles}]
        if unknown:
            raise UsageError(N_("{file}: people: unknown role(s) {unknown}"),
                             values={"file": script.file, "unknown": ', '.join(unknown)})
        self.store = MemoryStore(defs, script.people)
        bad = [g for p in script.people.values() for g in p["groups"] if g not in self.store.groups]
        if bad:
            raise UsageError(N_("{file}: people: unknown group(s) {bad} (codes/groups.yaml)"),
                             values={"file": script.file, "bad": ', '.join(bad)})
        self.now = script.start or now or datetime.now().astimezone()
        self.api = Api(home, defs, Settings.load(home), None, None, self.now, lang)
        self.api.desk.store = self.store  # instead of opening the database
        self.key: str | None = None
        self.entries: list[dict[str, Any]] = []

    # time
    def _set_now(self, t: datetime) -> None:
        self.now = t
        self.api.desk.fixed_now = t  # as --now would

    def _when(self, text: str | None, where: str) -> datetime:
        if text is None:
            return self.now
        raw = str(text).strip()
        duration: Duration | None = None
        if raw.startswith("+"):
            try:
                duration = Duration.parse(raw[1:].strip())
            except ValueError as exc:
                raise UsageError(N_("{where}: {exc}"), values={"where": where, "exc": exc}) from None
        else:
            try:
                duration = Duration.parse(raw)  # "tick: 4h" reads as "+4h"
            except ValueError:
                duration = None
        if duration is None:
            target = parse_time(raw, where)
        elif duration.business:
            service = self._ticket_values().get("service")
            target = slamod.calendar_for(self.defs, None, service).add(self.now, duration)
        else:
            target = self.now + timedelta(seconds=duration.seconds)
        if target < self.now:
            raise UsageError(N_("{where}: {raw} is before the simulation's time ({iso}); the journal only "
                                "moves forward"),
                             values={"where": where, "raw": raw, "iso": self._iso(self.now)})
        return target

    def _advance(self, until: datetime) -> None:
        """Let time pass, firing every timer and SLA threshold at its due instant."""
        for _ in range(MAX_FIRINGS):
            changed = self.store.changed()  # as itsm tick: the due work of changed tickets, worked out now
            if not changed:
                due = self.store.next_due()
                if due is None or due > until:
                    break
                self._set_now(max(due, self.now))
            mark = self._mark()
            fired = self.api.tick()
            if fired:
                self.entries.append(self._entry("timer", None, mark, actor="system", fired=[
                    {"ticket": f["key"], "kind": f["kind"], "name": f["name"], "due": f["due"],
                     "outcome": f["outcome"]} for f in fired]))
            elif not changed or self.store.changed():
                break
        self._set_now(max(until, self.now))

    # people
    def _actor(self, given: str | None, step: Step) -> str:
        values = self._ticket_values(step.ticket.upper() if step.ticket else None)
        who = given or "reporter"
        if who == "reporter":
            reporter = values.get("reporter") or step.inputs.get("reporter")
            if not reporter:
                raise UsageError(N_("{where}: 'as: reporter' needs the ticket's reporter (intake: reporter:)"),
                                 values={"where": step.where})
            return str(reporter)
        if who in ("assignee", "group_member"):
            person = (values.get("assignee") if who == "assignee" else None) or values.get("group")
            if not person:
                raise UsageError(N_("{where}: the ticket has no assignee or group yet: name a person, role or "
                                    "group in 'as:'") if who == "assignee" else
                                 N_("{where}: the ticket has no group yet: name a person, role or group in 'as:'"),
                                 values={"where": step.where})
            return str(person)
        if who != "system" and self.store.person(who) is None and "@" not in who:
            raise UsageError(N_("{where}: as: '{who}' is not a person of the script (people:), a role, a "
                                "support group, an e-mail address or one of {DYNAMIC}"),
                             values={"where": step.where, "who": who, "DYNAMIC": ', '.join(DYNAMIC)})
        return who

    def _ticket_values(self, key: str | None = None) -> dict[str, Any]:
        key = key or self.key
        if key is None:
            return {}
        with self.store.read() as repo:
            row = repo.get_ticket(key)
        from engine.runtime.ticket import Ticket

        return Ticket.from_row(row).values

    # steps
    def run(self) -> dict[str, Any]:
        intake = self.script.intake
        self._set_now(self._when(intake.at, intake.where))
        actor = self._actor(intake.actor, intake)
        mark = self._mark()
        try:
            view = self.api.new_ticket(self.spec.id, intake.inputs, intake.note, actor)
            self.key = view["key"]
            self.entries.append(self._entry("intake", intake, mark, actor=actor, view=view))
        except ActionRefused as exc:
            self.entries.append(self._entry("intake", intake, mark, actor=actor, refused=exc.text(self.lang)))
            return self.result()
        for step in self.script.steps:
            if step.tick is not None:
                self._advance(self._when(step.tick, step.where))
                self.entries.append(self._entry("tick", step, self._mark()))
                continue
            self._advance(self._when(step.at, step.where))
            key = (step.ticket or self.key or "").upper()
            mark = self._mark()
            who: str | None = None
            try:
                who = self._actor(step.actor, step)
                view = self.api.do(key, step.action or "", step.inputs, step.note, actor_id=who)
                self.entries.append(self._entry("action", step, mark, actor=who, view=view, key=key))
            except ActionRefused as exc:
                self.entries.append(self._entry("action", step, mark, actor=who, refused=exc.text(self.lang), key=key))
            except NotFound as exc:  # a ticket or person the script names does not exist
                raise UsageError(N_("{where}: {message}"),
                                 values={"where": step.where, "message": exc}) from None
        return self.result()

    def _mark(self) -> tuple[int, int]:
        return len(self.store.data["log"]), len(self.store.data["outbox"])

    def _iso(self, t: datetime | None) -> str | None:
        return t.astimezone(self.api.tz).isoformat(timespec="seconds") if t else None

    def _entry(self, kind: str, step: Step | None, mark: tuple[int, int], *, actor: str | None = None,
               view: Mapping[str, Any] | None = None, refused: str | None = None,
               key: str | None = None, fired: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        key = key or self.key
        keys = {t["id"]: t["key"] for t in self.store.data["tickets"].values()}
        events = [{"ticket": keys[e["ticket_id"]], "action": e["action"], "actor": e["actor"],
                   "from": e["from_state"], "to": e["to_state"],
                   # where the simulation ran (engine.desk.context.ORIGIN) is not part of its story
                   "changes": {k: v for k, v in (e["changes"] or {}).items() if k != "origin"},
                   "note": e["note"]}
                  for e in self.store.data["log"][mark[0]:]]
        sent = [{"ticket": keys.get(r["ticket_id"]), "to": r["recipient"], "template": r["template"],
                 "channel": r["channel"]} for r in self.store.data["outbox"][mark[1]:]]
        changes: dict[str, list[Any]] = {}
        for e in events:
            if e["ticket"] == key:
                for name, pair in (e["changes"] or {}).items():
                    if not (isinstance(pair, list) and len(pair) == 2):
                        continue  # not a field's [old, new]: a calendar switch, the targets judged
                    changes[name] = [changes[name][0] if name in changes else pair[0], pair[1]]
        shown = self.api.show(key) if key else None
        action = self.spec.actions.get(step.action or "") if step else None
        entry: dict[str, Any] = {
            "step": step.index if step else None, "where": step.where if step else None, "kind": kind,
            "at": self._iso(self.now), "ticket": key, "as": step.actor if step else None, "actor": actor,
            "action": step.action if step else None,
            "action_label": action.label.get(self.lang) if action else None,
            "outcome": "refused" if refused else {"tick": "time passed", "timer": "fired"}.get(kind, "done"),
            "refused": refused, "events": events, "changes": changes, "notifications": sent,
            "fired": fired or [], "state": shown["state"] if shown else None,
            "state_label": shown["state_label"] if shown else None,
            "sla": shown["sla"] if shown else {},
            "linked": {k: view[k] for k in ("opened", "joined", "major_incident", "cascade")
                       if view and view.get(k)},
        }
        entry["as_written"], entry["problem"] = self._check(step, refused, shown)
        return entry

    @staticmethod
    def _check(step: Step | None, refused: str | None, shown: Mapping[str, Any] | None) -> tuple[bool, str | None]:
        if step is None:
            return True, None
        if refused and not step.expect_refused:
            return False, PROBLEMS[0]
        if step.expect_refused and not refused:
            return False, PROBLEMS[1]
        if isinstance(step.expect_refused, str) and refused and step.expect_refused not in refused:
            return False, PROBLEMS[2].format(expected=repr(step.expect_refused))
        if step.expect_state and shown and shown["state"] != step.expect_state:
            return False, PROBLEMS[3].format(expected=step.expect_state, state=shown["state"])
        return True, None

    def result(self) -> dict[str, Any]:
        ok = all(e["as_written"] for e in self.entries) and self.key is not None
        tickets = [self.api.show(t["key"]) for t in self.store.data["tickets"].values()]
        labels = {name: fs.label.get(self.lang) for name, fs in {**CORE_SPECS, **self.spec.fields}.items()}
        return {"process": self.spec.id, "title": self.spec.title.get(self.lang),
                "script": self.script.file, "ticket": self.key, "ok": ok,
                "state": tickets[0]["state"] if tickets else None, "entries": self.entries,
                "tickets": tickets, "field_labels": labels,
                "clock_labels": {c.id: c.label.get(self.lang) for c in self.spec.clocks},
                "timer_labels": {t.id: t.label.get(self.lang) for t in self.spec.timers},
                "value_labels": {name: {v.code: v.label.get(self.lang) for v in self.defs.codes[fs.codes].values.values()}
                                 for name, fs in {**CORE_SPECS, **self.spec.fields}.items()
                                 if fs.codes and fs.codes in self.defs.codes},
                "action_labels": {p.key_prefix: {a.id: a.label.get(self.lang) for a in p.actions.values()}
                                  for p in self.defs.processes.values()},
                "state_labels": {p.key_prefix: {s.id: s.label.get(self.lang) for s in p.states.values()}
                                 for p in self.defs.processes.values()}}


PROBLEMS = (N_("refused"), N_("expected a refusal, but it was done"), N_("refused, but not with {expected}"),
            N_("expected state {expected}, but it is {state}"))  # why a step did not run as written


def simulate(process: str, script_path: Path, home: str | None = None, lang: str = "en",
             now: datetime | None = None) -> dict[str, Any]:
    """Replay ``script_path`` against ``process`` (an id of the process repository,
    or the path of a process file in one); the result says step by step what happened."""
    from engine.workspace import load_definitions
    from engine.definitions.home import find_home, is_repository

    given = Path(process)
    if process.endswith((".yaml", ".yml")) or given.is_file():
        root = given.resolve().parent.parent
        if not given.is_file() or not is_repository(root):
            raise UsageError(N_("{process}: give a process id, or a process file in the processes/ folder of "
                                "a process repository"), values={"process": process})
        process = given.stem
    else:
        root = find_home(home)
    defs = load_definitions(root)
    spec = defs.processes.get(process)
    if spec is None:
        raise NotFound(N_("no process '{process}'; known: {processes}"),
                       values={"process": process, "processes": ', '.join(defs.processes)})
    if not script_path.is_file():
        raise UsageError(N_("{script_path}: no such script"), values={"script_path": script_path})
    script = load_script(script_path)
    if script.process and script.process != process:
        raise UsageError(N_("{script_path}: the script is written for process '{process}', not '{given}'"),
                         values={"script_path": script_path, "process": script.process, "given": process})
    return Simulation(root, defs, spec, script, lang, now).run()
