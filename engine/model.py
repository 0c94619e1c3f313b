"""Frozen specifications built from the definition files.

A definition is parsed once per content hash and never changes afterwards; runtime
state (tickets, journal) lives in the store.  Only the standard library is used
here so every layer can depend on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Iterator, Mapping

from engine.i18n import N_, message

LANGS = ("en", "zh")
CATEGORIES = ("new", "active", "pending", "resolved", "closed")
FIELD_TYPES = ("string", "text", "bool", "int", "number", "code", "date", "datetime",
               "duration", "email", "user", "group", "ticket")
CORE_FIELDS = ("key", "process", "state", "status", "title", "description",
               "reporter", "reporter_phone", "assignee", "group", "urgency", "impact",
               "priority", "service", "category", "parent", "created_at", "updated_at")
BUILTIN_ROLES = ("reporter", "assignee", "group_member", "system")


class FrozenMap(dict):  # type: ignore[type-arg]
    """An insertion-ordered mapping that refuses mutation (and still pickles)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("definitions are immutable")

    __setitem__ = __delitem__ = _refuse  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (dict(self),))

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self.items()))


@dataclass(frozen=True)
class Where:
    """Where a spec element was written: file and 1-based line/column."""

    file: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NOWHERE = Where("<builtin>")


@dataclass(frozen=True)
class Label:
    en: str
    zh: str

    def get(self, lang: str = "en") -> str:
        return self.zh if lang == "zh" else self.en

    @classmethod
    def plain(cls, text: str) -> "Label":
        return cls(text, text)


BUILTIN_ROLE_LABELS = {"reporter": Label("Reporter", "报告人"), "assignee": Label("Assignee", "处理人"),
                       "group_member": Label("Group member", "处理组成员"), "system": Label("System", "系统")}


def role_label(roles: Mapping[str, Label], role: str) -> Label | None:
    """The label of ``role`` among a process's ``roles``, or of a built-in role."""
    return roles.get(role) or BUILTIN_ROLE_LABELS.get(role)


def first_role_label(processes: Iterable[Any], role: str) -> Label | None:
    """The label of a role from the first of ``processes`` that declares it (in its
    ``roles``), or a built-in role's (Definitions and the labels a remote CLI reads)."""
    return next((p.roles[role] for p in processes if role in p.roles), BUILTIN_ROLE_LABELS.get(role))


_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}
_PART = re.compile(r"\s*(\d+)\s*(business\s+)?([a-z]+)\s*")
_ISO = re.compile(r"^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


_PARSED: dict[str, "Duration"] = {}  # Duration.parse's memory

@dataclass(frozen=True)
class Duration:
    """A span of time.  ``business`` durations count in a business calendar.

    ``business_days`` keeps whole business days apart from business hours:
    "3 business days" means three working days of the calendar, whatever their
    length, while "4 business hours" is four hours of working time.
    """

    seconds: int
    business: bool = False
    business_days: int = 0
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> "Duration":
        """Read a duration (durations are immutable: the texts of the definitions,
        parsed again by every SLA computation, are remembered)."""
        found = _PARSED.get(text) if isinstance(text, str) else None
        if found is None:
            found = cls._parse(text)
            if isinstance(text, str):
                if len(_PARSED) >= 1024:
                    _PARSED.clear()
                _PARSED[text] = found
        return found

    @classmethod
    def _parse(cls, text: str) -> "Duration":
        raw = str(text).strip()
        iso = _ISO.match(raw)
        if iso:
            w, d, h, m, s = (int(g) if g else 0 for g in iso.groups())
            return cls(((w * 7 + d) * 24 + h) * 3600 + m * 60 + s, text=raw)
        pos, total, days, business, plain = 0, 0, 0, False, False
        low = raw.lower()
        if not low:
            raise ValueError(message(N_("empty duration")))
        while pos < len(low):
            m_ = _PART.match(low, pos)
            if not m_ or m_.end() == pos:
                raise ValueError(message(N_("cannot read duration {raw!r}: write e.g. 15m, 4h, '3 business days' or PT4H"),
                                         raw=raw))
            number, is_business, unit = int(m_.group(1)), bool(m_.group(2)), m_.group(3)
            if unit not in _UNITS:
                raise ValueError(message(N_("unknown unit {unit!r} in duration {raw!r}"), unit=unit, raw=raw))
            if is_business:
                business = True
                if _UNITS[unit] == 86400:
                    days += number
                    pos = m_.end()
                    continue
                if _UNITS[unit] > 86400:
                    raise ValueError(message(N_("business weeks are not supported in {raw!r}: use days"),
                                             raw=raw))
            else:
                plain = True
            total += number * _UNITS[unit]
            pos = m_.end()
        if business and plain:
            raise ValueError(message(N_("duration {raw!r} mixes business and calendar time"), raw=raw))
        return cls(total, business, days, raw)

    def __str__(self) -> str:
        return self.text or f"{self.seconds}s"


@dataclass(frozen=True)
class FieldSpec:
    id: str
    type: str
    label: Label
    codes: str | None = None  # code table, for type "code"
    public: bool = False  # shown to the end user in the status view
    ask_each_time: bool = False  # a requiring action needs a fresh value
    where: Where = NOWHERE


@dataclass(frozen=True)
class StateSpec:
    id: str
    status: str
    label: Label
    initial: bool = False
    final: bool = False
    owner: str | None = None  # role accountable while a ticket is here
    where: Where = NOWHERE


@dataclass(frozen=True)
class Message:
    """A notification: to whom, how, with which template."""

    to: tuple[str, ...]
    template: str
    channel: str = "email"
    where: Where = NOWHERE


@dataclass(frozen=True)
class ActionSpec:
    id: str
    label: Label
    sources: tuple[str, ...]
    target: str | None  # None: an update action, the state stays
    roles: tuple[str, ...]
    requires: tuple[str, ...] = ()
    accepts: tuple[str, ...] = ()  # optional fields that may be given
    when: str | None = None
    when_message: Label | None = None
    set: tuple[tuple[str, Any], ...] = ()
    notify: tuple[Message, ...] = ()
    note: str = "optional"  # "required" | "optional"
    public: bool = False  # shown to the end user as a public update
    opens: str | None = None  # process of a linked ticket this action opens
    cascade: str | None = None  # action performed on open linked children
    cascade_copy: tuple[str, ...] = ()  # fields given to the children's action
    relation: str | None = None  # the relation the ticket ``opens`` is linked by
    where: Where = NOWHERE

    def is_update(self) -> bool:
        return self.target is None


@dataclass(frozen=True)
class Cascade:
    """What a relation carries: when the target performs ``on``, the linked open
    sources perform ``action`` with the ``copy`` fields."""

    on: str
    action: str
    copy: tuple[str, ...] = ()
    where: Where = NOWHERE


@dataclass(frozen=True)
class RelationSpec:
    """A typed link from a ticket of the declaring process to tickets of ``targets``."""

    id: str
    label: Label
    inverse: Label  # how the target shows the tickets linked to it
    targets: tuple[str, ...]  # processes a link may point at
    cardinality: str = "many"  # "one": at most one link of this relation per ticket
    default: bool = False  # the relation of `itsm link KEY TARGET` and of `opens:`
    cascade: tuple[Cascade, ...] = ()
    where: Where = NOWHERE


@dataclass(frozen=True)
class Criterion:
    """A named expression: a close criterion or a major-incident criterion."""

    id: str
    when: str
    label: Label
    states: tuple[str, ...] = ()
    where: Where = NOWHERE


@dataclass(frozen=True)
class Condition:
    """States, status categories or actions that make a clock condition true."""

    states: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.states or self.categories or self.actions)


@dataclass(frozen=True)
class Effect:
    """What happens at a clock threshold or timer: messages and/or a system action."""

    notify: tuple[Message, ...] = ()
    action: str | None = None


@dataclass(frozen=True)
class ClockSpec:
    id: str
    label: Label
    target: str  # which target of the SLA policy (response, resolution)
    start: Condition
    stop: Condition
    pause: Condition = Condition()
    reset: Condition = Condition()
    warning: float | None = None  # percent; None = the policy's
    on_warning: Effect = Effect()
    on_breach: Effect = Effect()
    where: Where = NOWHERE
    resume: Condition = Condition()  # what restarts a stopped clock (e.g. reopen)
    calendar: str = "service"  # whose hours it counts in: service, group, reporter_site
    sites: tuple[str, ...] = ()  # group / reporter_site: only at these sites (empty: all)


@dataclass(frozen=True)
class TimerSpec:
    id: str
    label: Label
    states: tuple[str, ...]
    after: Duration
    action: str | None = None
    calendar: str | None = None  # None: the service's calendar
    notify: tuple[Message, ...] = ()
    remind_before: Duration | None = None
    remind: tuple[Message, ...] = ()
    repeat: bool = False
    after_by_priority: tuple[tuple[str, Duration], ...] = ()  # overrides 'after' per priority
    restart_on: tuple[str, ...] = ()  # actions that start the timer again
    where: Where = NOWHERE

    def after_for(self, priority: str | None) -> Duration:
        return dict(self.after_by_priority).get(priority or "", self.after)


@dataclass(frozen=True)
class ProcessSpec:
    id: str
    version: int
    title: Label
    key_prefix: str
    owner: str
    roles: Mapping[str, Label]
    fields: Mapping[str, FieldSpec]
    states: Mapping[str, StateSpec]
    actions: Mapping[str, ActionSpec]
    close_criteria: tuple[Criterion, ...] = ()
    clocks: tuple[ClockSpec, ...] = ()
    timers: tuple[TimerSpec, ...] = ()
    criteria: tuple[Criterion, ...] = ()  # major-incident criteria
    criteria_watch: str | None = None  # the process whose tickets criteria look at
    criteria_window: Duration | None = None  # for aggregates such as recent_on_service
    override_roles: tuple[str, ...] = ()  # who may override the matrix priority
    defaults: tuple[tuple[str, Any], ...] = ()  # intake values when not given
    intake_notify: tuple[Message, ...] = ()  # acknowledgement messages at intake
    policies: tuple[str, ...] = ()  # lint policies the process follows (e.g. guidelines)
    solution_field: str | None = None  # search.solution: the field holding the reusable solution
    reuse_field: str | None = None  # search.reuse: the ticket-type field naming a reused solution
    publish_states: tuple[str, ...] = ()  # search.publish: states whose solution is published
    relations: Mapping[str, RelationSpec] = field(default_factory=FrozenMap)  # typed links it declares
    replies: tuple[tuple[str, str], ...] = ()  # state -> the action a reporter's reply performs
    file: str = ""
    sha256: str = ""
    where: Where = NOWHERE

    @cached_property
    def initial(self) -> StateSpec:
        return next(s for s in self.states.values() if s.initial)

    def actions_from(self, state: str) -> Iterator[ActionSpec]:
        return iter(self._by_source.get(state, ()))

    @cached_property
    def _by_source(self) -> dict[str, tuple[ActionSpec, ...]]:
        """Actions by source state, in definition order (built on first use)."""
        out: dict[str, list[ActionSpec]] = {}
        for a in self.actions.values():
            for s in dict.fromkeys(a.sources):
                out.setdefault(s, []).append(a)
        return {s: tuple(v) for s, v in out.items()}

    def criteria_for(self, state: str) -> tuple[Criterion, ...]:
        return tuple(c for c in self.close_criteria if state in c.states)

    @cached_property
    def user_fields(self) -> tuple[str, ...]:
        """The fields of type ``user`` (a manager, a technical lead...), in definition
        order (built on first use)."""
        return tuple(f.id for f in self.fields.values() if f.type == "user")

    @cached_property
    def public_fields(self) -> tuple[str, ...]:
        """The fields end users see (``public: true``), in definition order."""
        return tuple(f.id for f in self.fields.values() if f.public)

    @cached_property
    def text_fields(self) -> tuple[str, ...]:
        """The fields of a text type (``text``, ``string``), in definition order: what
        the search index holds besides the title and description (built on first use)."""
        return tuple(f for f, fs in self.fields.items() if fs.type in ("text", "string"))


@dataclass(frozen=True)
class CodeValue:
    code: str
    label: Label
    rank: int | None = None
    attrs: Mapping[str, Any] = field(default_factory=FrozenMap)
    where: Where = NOWHERE

    def __getitem__(self, key: str) -> Any:
        return self.attrs[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)


@dataclass(frozen=True)
class CodeTable:
    id: str
    version: int
    title: Label
    values: Mapping[str, CodeValue]
    extra: Mapping[str, Any] = field(default_factory=FrozenMap)  # e.g. the priority matrix
    file: str = ""
    sha256: str = ""

    def __contains__(self, code: object) -> bool:
        return code in self.values

    def label(self, code: str, lang: str = "en") -> str:
        value = self.values.get(code)
        return value.label.get(lang) if value else str(code)


@dataclass(frozen=True)
class Definitions:
    """Everything loaded from one process repository, at one content version."""

    home: str
    processes: Mapping[str, ProcessSpec]
    codes: Mapping[str, CodeTable]
    sha256: str  # of every file together
    versions: Mapping[str, str] = field(default_factory=FrozenMap)  # process -> version hash

    def version(self, pid: str) -> str:
        return self.versions.get(pid) or self.sha256

    @cached_property
    def derived(self) -> dict[str, dict[Any, Any]]:
        """What the engine works out from these definitions and keeps with them (they
        are immutable): one dict per kind of value, named by the module that fills it."""
        return {}

    def process(self, pid: str) -> ProcessSpec:
        return self.processes[pid]

    def table(self, tid: str) -> CodeTable:
        return self.codes[tid]

    def priority_for(self, impact: str, urgency: str) -> str | None:
        matrix = self.codes["priority"].extra.get("matrix", {})
        return matrix.get(impact, {}).get(urgency)

    def category_of(self, status: str) -> str:
        value = self.codes["status"].values.get(status)
        return value.get("category", "active") if value else "active"

    def incoming(self, pid: str) -> list[tuple[ProcessSpec, RelationSpec]]:
        """The relations (with their declaring process) whose links may point at ``pid``
        (worked out once per process: every action asks)."""
        memo = self.derived.setdefault("model.incoming", {})
        found = memo.get(pid)
        if found is None:
            found = memo[pid] = tuple((p, r) for p in self.processes.values() for r in p.relations.values()
                                      if pid in r.targets)
        return list(found)

    def default_relation(self, source: str, target: str) -> RelationSpec | None:
        """The relation of `itsm link KEY TARGET` (no --rel) and of ``opens:``."""
        spec = self.processes.get(source)
        found = [r for r in (spec.relations.values() if spec else ()) if target in r.targets]
        return next((r for r in found if r.default), found[0] if len(found) == 1 else None)

    def process_for_prefix(self, prefix: str) -> ProcessSpec | None:
        return next((p for p in self.processes.values() if p.key_prefix == prefix), None)

    def role_label(self, role: str) -> Label | None:
        """The label of a role, from the first process that declares it (or a built-in role's)."""
        return first_role_label(self.processes.values(), role)


# -- labels for a client without the definitions --------------------------------------------
def label_document(defs: Definitions, tables: Iterable[str]) -> dict[str, Any]:
    """The labels a CLI in remote mode shows the definitions by (``GET
    /api/v1/labels``; engine.remote.labels reads it back): of every process its
    title, states, actions, roles, SLA clocks, timers and major-incident criteria, the
    type (and code table) of its fields; of the code ``tables`` (those the labels
    are asked for) their values' labels.  Labels only: no guard, target, address or
    other attribute of a definition."""
    wanted = tuple(sorted(t for t in set(tables) if t in defs.codes))
    memo = defs.derived.setdefault("model.label_document", {})
    found = memo.get(wanted)
    if found is not None:  # the definitions do not change: made once
        return found

    def lab(label: Label) -> dict[str, str]:
        return {"en": label.en, "zh": label.zh}

    found = memo[wanted] = {
        "version": defs.sha256,
        "processes": {pid: {
            "title": lab(p.title),
            "states": {sid: lab(s.label) for sid, s in p.states.items()},
            "actions": {aid: lab(a.label) for aid, a in p.actions.items()},
            "roles": {rid: lab(r) for rid, r in p.roles.items()},
            "fields": {fid: {"type": f.type, "codes": f.codes} for fid, f in p.fields.items()},
            "clocks": [{"id": c.id, "label": lab(c.label)} for c in p.clocks],
            "timers": [{"id": tm.id, "label": lab(tm.label) if tm.label else None} for tm in p.timers],
            "criteria": [{"id": c.id, "label": lab(c.label)} for c in p.criteria],
        } for pid, p in defs.processes.items()},
        "codes": {tid: {code: lab(v.label) for code, v in defs.codes[tid].values.items()} for tid in wanted},
    }
    return found
