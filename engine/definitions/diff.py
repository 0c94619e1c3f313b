"""``itsm diff``: what a change to the definitions does, not how its YAML looks.

Two versions of a definition (process files, code tables, whole process
repositories, or process versions stored in the database) are compared item by
item: states, actions, roles, fields, close criteria, major-incident criteria,
SLA clocks, timers, code values and table settings (the priority matrix, SLA
targets...).  Every item becomes plain data first (:func:`process_items`,
:func:`table_items`); :func:`diff_items` compares those, so a reordered list, a
re-indented block or ``PT4H`` written for ``4h`` is no change.

The comparison here is pure; engine.lint.sides builds a side from files (checked
by lint's load rules) and engine.design.versions from the versions stored in the
database.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from engine.errors import NotFound, UsageError
from engine.i18n import N_, ntr, tr
from engine.model import (
    ClockSpec,
    CodeTable,
    Condition,
    Duration,
    Effect,
    Label,
    Message,
    ProcessSpec,
    Where,
)

# display order of the kinds of item
PROCESS_KINDS = ("process", "role", "field", "state", "action", "close_criterion", "criterion",
                 "clock", "timer")
TABLE_ITEM = {"sla": "policy", "services": "service", "calendars": "calendar", "groups": "group",
              "status": "status", "closure": "closure code", "priority": "priority",
              "urgency": "urgency", "impact": "impact", "categories": "category",
              "channels": "channel"}


# -- the result ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Detail:
    """One attribute of a changed item: old and new value, or what a list gained/lost."""

    attribute: str
    old: Any = None
    new: Any = None
    added: tuple[Any, ...] | None = None
    removed: tuple[Any, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"attribute": self.attribute, "old": self.old, "new": self.new}
        if self.added is not None:
            out["added"] = list(self.added)
            out["removed"] = list(self.removed or ())
        return out


@dataclass(frozen=True)
class Change:
    scope: str  # "process" | "table"
    scope_id: str
    kind: str  # state, action, ... (see PROCESS_KINDS), or a table's item kind
    id: str
    change: str  # added | removed | changed
    label: Label | None = None
    where: str | None = None  # file:line of the item (new side, or old side when removed)
    details: tuple[Detail, ...] = ()
    old: Any = None  # the whole item, when removed
    new: Any = None  # the whole item, when added
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scope": self.scope, "scope_id": self.scope_id, "kind": self.kind,
                               "id": self.id, "change": self.change,
                               "label": {"en": self.label.en, "zh": self.label.zh} if self.label else None,
                               "where": self.where, "details": [d.to_dict() for d in self.details]}
        if self.change == "added":
            out["new"] = self.new
        if self.change == "removed":
            out["old"] = self.old
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Side:
    """One version: what it is called and the specs it holds."""

    source: str  # as given on the command line
    label: str  # for the header
    processes: dict[str, ProcessSpec] = field(default_factory=dict)
    tables: dict[str, CodeTable] = field(default_factory=dict)
    table_shas: dict[str, str] = field(default_factory=dict)  # code tables it ran with
    whole: bool = False  # a repository or folder: compare everything by id
    warnings: list[str] = field(default_factory=list)
    stored: bool = False  # a version from the database (its code tables by hash only)


@dataclass
class DiffResult:
    old: Side
    new: Side
    changes: list[Change]

    @property
    def identical(self) -> bool:
        return not self.changes

    def summary(self) -> dict[str, int]:
        return {op: sum(1 for c in self.changes if c.change == op) for op in ("added", "removed", "changed")}

    def to_dict(self) -> dict[str, Any]:
        return {"old": {"source": self.old.source, "label": self.old.label},
                "new": {"source": self.new.source, "label": self.new.label},
                "identical": self.identical, "summary": self.summary(),
                "changes": [c.to_dict() for c in self.changes]}


# -- specs as plain data ----------------------------------------------------------------

def _label(label: Label) -> dict[str, str]:
    return {"en": label.en, "zh": label.zh}


def duration_text(d: Duration | str) -> str:
    """A canonical spelling, so 4h, 240m and PT4H compare equal."""
    if isinstance(d, str):
        try:
            d = Duration.parse(d)
        except ValueError:
            return d
    if d.seconds == 0 and not d.business_days and d.text and not _parses(d.text):
        return d.text  # unreadable: lint reports it; show it as written
    parts = []
    if d.business_days:
        parts.append(f"{d.business_days} business day{'s' if d.business_days != 1 else ''}")
    rest = d.seconds
    if rest and d.business:  # working time in the one unit that divides it
        size, unit = next((s, u) for s, u in ((3600, "hour"), (60, "minute"), (1, "second")) if rest % s == 0)
        parts.append(f"{rest // size} business {unit}{'s' if rest != size else ''}")
    elif rest or not parts:
        units = []
        for size, unit in ((86400, "d"), (3600, "h"), (60, "m"), (1, "s")):
            if rest >= size:
                units.append(f"{rest // size}{unit}")
                rest %= size
        parts.append("".join(units) or "0s")
    return " ".join(parts)


def _parses(text: str) -> bool:
    try:
        Duration.parse(text)
    except ValueError:
        return False
    return True


def _message(m: Message) -> str:
    via = f" ({m.channel})" if m.channel != "email" else ""
    return f"{', '.join(m.to)}: {m.template}{via}"


def _messages(ms: Iterable[Message]) -> list[str]:
    return sorted(_message(m) for m in ms)


def _condition(c: Condition) -> dict[str, list[str]]:
    return {"states": list(c.states), "categories": list(c.categories), "actions": list(c.actions)}


def _effect(e: Effect) -> dict[str, Any]:
    return {"notify": _messages(e.notify), "action": e.action}


def _clock(c: ClockSpec) -> dict[str, Any]:
    return {"label": _label(c.label), "target": c.target, "start": _condition(c.start),
            "stop": _condition(c.stop), "pause": _condition(c.pause), "resume": _condition(c.resume),
            "reset": _condition(c.reset), "warning": c.warning, "on_warning": _effect(c.on_warning),
            "on_breach": _effect(c.on_breach), "calendar": c.calendar, "sites": list(c.sites)}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


Item = tuple[Label | None, Where | None, dict[str, Any]]


def process_items(spec: ProcessSpec) -> dict[str, dict[str, Item]]:
    """Every item of a process as plain data, by kind and id."""
    items: dict[str, dict[str, Item]] = {k: {} for k in PROCESS_KINDS}
    items["process"][spec.id] = (spec.title, spec.where, {
        "title": _label(spec.title), "version": spec.version, "key_prefix": spec.key_prefix,
        "owner": spec.owner, "priority_override_roles": list(spec.override_roles),
        "defaults": _plain(dict(spec.defaults)), "policies": list(spec.policies),
        "intake_notify": _messages(spec.intake_notify), "criteria_watch": spec.criteria_watch,
        "criteria_window": duration_text(spec.criteria_window) if spec.criteria_window else None})
    for rid, label in spec.roles.items():
        items["role"][rid] = (label, None, {"label": _label(label)})
    for f in spec.fields.values():
        items["field"][f.id] = (f.label, f.where, {
            "label": _label(f.label), "type": f.type, "codes": f.codes, "public": f.public,
            "ask_each_time": f.ask_each_time})
    for s in spec.states.values():
        items["state"][s.id] = (s.label, s.where, {
            "label": _label(s.label), "status": s.status, "initial": s.initial, "final": s.final,
            "owner": s.owner})
    for a in spec.actions.values():
        items["action"][a.id] = (a.label, a.where, {
            "label": _label(a.label), "from": list(a.sources), "to": a.target, "roles": list(a.roles),
            "requires": list(a.requires), "accepts": list(a.accepts), "when": a.when,
            "when_message": _label(a.when_message) if a.when_message else None,
            "set": _plain(dict(a.set)), "notify": _messages(a.notify), "note": a.note,
            "public": a.public, "opens": a.opens, "cascade": a.cascade,
            "cascade_copy": list(a.cascade_copy)})
    for c in spec.close_criteria:
        items["close_criterion"][c.id] = (c.label, c.where, {
            "label": _label(c.label), "when": c.when, "states": list(c.states)})
    for c in spec.criteria:
        items["criterion"][c.id] = (c.label, c.where, {"label": _label(c.label), "when": c.when})
    for clock in spec.clocks:
        items["clock"][clock.id] = (clock.label, clock.where, _clock(clock))
    for t in spec.timers:
        items["timer"][t.id] = (t.label, t.where, {
            "label": _label(t.label), "states": list(t.states), "after": duration_text(t.after),
            "after_by_priority": {p: duration_text(d) for p, d in t.after_by_priority},
            "action": t.action, "calendar": t.calendar, "notify": _messages(t.notify),
            "remind_before": duration_text(t.remind_before) if t.remind_before else None,
            "remind": _messages(t.remind), "repeat": t.repeat, "restart_on": list(t.restart_on)})
    return items


def _table_value(tid: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
    out = _plain(attrs)
    if tid == "sla" and isinstance(out.get("targets"), dict):  # SLA targets are durations
        out["targets"] = {p: ({c: duration_text(str(v)) for c, v in t.items()} if isinstance(t, dict) else t)
                          for p, t in out["targets"].items()}
    return out


def table_items(table: CodeTable) -> dict[str, dict[str, Item]]:
    """A code table as plain data: its settings (title, matrix, default...) and its values."""
    kind = TABLE_ITEM.get(table.id, "code")
    settings = {"title": _label(table.title), "version": table.version, **_plain(dict(table.extra))}
    items: dict[str, dict[str, Item]] = {"table": {table.id: (table.title, Where(table.file), settings)},
                                         kind: {}}
    for v in table.values.values():
        items[kind][v.code] = (v.label, v.where, {"label": _label(v.label), "rank": v.rank,
                                                  **_table_value(table.id, v.attrs)})
    return items


# -- comparing plain data -----------------------------------------------------------------

def _scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list, tuple))


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def diff_values(old: Any, new: Any, path: str = "") -> list[Detail]:
    """What differs between two plain values: nested mappings by key, lists as sets."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[Detail] = []
        for key in dict.fromkeys([*old, *new]):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                if new[key] not in (None, [], {}, False):
                    out.append(Detail(sub, None, new[key]))
            elif key not in new:
                if old[key] not in (None, [], {}, False):
                    out.append(Detail(sub, old[key], None))
            else:
                out.extend(diff_values(old[key], new[key], sub))
        return out
    if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
        if all(_scalar(v) for v in [*old, *new]):
            added = tuple(v for v in dict.fromkeys(new) if v not in old)
            removed = tuple(v for v in dict.fromkeys(old) if v not in new)
        else:  # e.g. holidays of a calendar: entries compared whole
            old_keys, new_keys = [_canon(v) for v in old], [_canon(v) for v in new]
            added = tuple(v for v, k in zip(new, new_keys) if k not in old_keys)
            removed = tuple(v for v, k in zip(old, old_keys) if k not in new_keys)
        if added or removed:
            return [Detail(path, list(old), list(new), added, removed)]
        return []
    return [Detail(path, old, new)] if old != new else []


def diff_items(scope: str, scope_id: str, old: Mapping[str, Mapping[str, Item]],
               new: Mapping[str, Mapping[str, Item]], kinds: Iterable[str] | None = None) -> list[Change]:
    """Added, removed and changed items of every kind."""
    out: list[Change] = []
    for kind in kinds if kinds is not None else dict.fromkeys([*old, *new]):
        before, after = old.get(kind, {}), new.get(kind, {})
        for iid in dict.fromkeys([*after, *before]):
            if iid not in before:
                label, where, data = after[iid]
                out.append(Change(scope, scope_id, kind, iid, "added", label, _at(where), new=data))
            elif iid not in after:
                label, where, data = before[iid]
                out.append(Change(scope, scope_id, kind, iid, "removed", label, _at(where), old=data))
            else:
                details = diff_values(before[iid][2], after[iid][2])
                if details:
                    label, where, _ = after[iid]
                    out.append(Change(scope, scope_id, kind, iid, "changed", label, _at(where),
                                      tuple(details)))
    return out


def _at(where: Where | None) -> str | None:
    if where is None or not where.file or where.file.startswith("<"):
        return None
    return f"{where.file}:{where.line}" if where.line > 1 else where.file


def diff_processes(old: ProcessSpec, new: ProcessSpec) -> list[Change]:
    return diff_items("process", new.id, process_items(old), process_items(new), PROCESS_KINDS)


def diff_tables(old: CodeTable, new: CodeTable) -> list[Change]:
    return diff_items("table", new.id, table_items(old), table_items(new))


def _summary_of_process(spec: ProcessSpec) -> dict[str, Any]:
    return {"version": spec.version, "file": spec.file, "states": list(spec.states),
            "actions": list(spec.actions)}


def compare(old: Side, new: Side) -> DiffResult:
    """Everything that differs between two sides."""
    if old.whole != new.whole:  # a folder against one version: the folder's matching item
        old, new = (_narrow(old, new), new) if old.whole else (old, _narrow(new, old))
    changes: list[Change] = []
    if old.whole:
        for pid in dict.fromkeys([*new.processes, *old.processes]):
            a, b = old.processes.get(pid), new.processes.get(pid)
            if a is None and b is not None:
                changes.append(Change("process", pid, "process", pid, "added", b.title,
                                      _at(b.where), new=_summary_of_process(b)))
            elif b is None and a is not None:
                changes.append(Change("process", pid, "process", pid, "removed", a.title,
                                      _at(a.where), old=_summary_of_process(a)))
            elif a is not None and b is not None:
                changes.extend(diff_processes(a, b))
    else:
        if old.processes and new.processes:
            changes.extend(diff_processes(next(iter(old.processes.values())),
                                          next(iter(new.processes.values()))))
        elif (old.processes or old.tables) and (new.processes or new.tables) \
                and bool(old.processes) != bool(new.processes):
            raise UsageError(N_("cannot compare {old} with {new}: one is a process, the other a code "
                                "table"), values={"old": old.source, "new": new.source})
    changes.extend(_table_changes(old, new))
    return DiffResult(old, new, changes)


def _table_changes(old: Side, new: Side) -> list[Change]:
    out: list[Change] = []
    if old.whole or (old.tables and new.tables):
        pairs: Iterable[tuple[str, CodeTable | None, CodeTable | None]]
        if old.whole:
            ids = dict.fromkeys([*new.tables, *old.tables])
            pairs = ((t, old.tables.get(t), new.tables.get(t)) for t in ids)
        else:
            a, b = next(iter(old.tables.values())), next(iter(new.tables.values()))
            pairs = [(b.id, a, b)]
        for tid, a, b in pairs:
            if a is None and b is not None:
                out.append(Change("table", tid, "table", tid, "added", b.title, _at(Where(b.file)),
                                  new={"values": list(b.values)}))
            elif b is None and a is not None:
                out.append(Change("table", tid, "table", tid, "removed", a.title, _at(Where(a.file)),
                                  old={"values": list(a.values)}))
            elif a is not None and b is not None:
                out.extend(diff_tables(a, b))
        return out
    if (old.stored or new.stored) and old.table_shas and new.table_shas:
        # a stored version keeps only the hash of the code tables it ran with: say
        # which of them differ from the other side's
        for tid in dict.fromkeys([*new.table_shas, *old.table_shas]):
            a_sha, b_sha = old.table_shas.get(tid), new.table_shas.get(tid)
            if a_sha == b_sha:
                continue
            change = "added" if a_sha is None else "removed" if b_sha is None else "changed"
            out.append(Change("table", tid, "table", tid, change, None, f"codes/{tid}.yaml",
                              (Detail("sha256", (a_sha or "")[:12] or None, (b_sha or "")[:12] or None),),
                              note=N_("the database keeps only the hash of the code tables a version "
                                      "ran with: compare the files (e.g. from git) for the items")))
    return out


def _narrow(whole: Side, single: Side) -> Side:
    """The part of a folder that corresponds to a single file or stored version."""
    out = Side(whole.source, whole.label, table_shas=dict(whole.table_shas), warnings=whole.warnings,
               stored=whole.stored)
    for pid in single.processes:
        if pid in whole.processes:
            out.processes[pid] = whole.processes[pid]
    for tid in single.tables:
        if tid in whole.tables:
            out.tables[tid] = whole.tables[tid]
    if not out.processes and not out.tables:
        wanted = ", ".join([*single.processes, *single.tables]) or "?"
        raise NotFound(N_("{source} has no definition '{wanted}' to compare with {single}"),
                       values={"source": whole.source, "wanted": wanted, "single": single.source})
    return out


# -- text -------------------------------------------------------------------------------

_MARK = {"added": "+", "removed": "-", "changed": "~"}
KIND_WORDS = {  # the kinds of item (PROCESS_KINDS, TABLE_ITEM), as people read them
    "process": N_("process"), "role": N_("role"), "field": N_("field"), "state": N_("state"),
    "action": N_("action"), "close_criterion": N_("close criterion"), "criterion": N_("criterion"),
    "clock": N_("SLA clock"), "timer": N_("timer"), "table": N_("code table"), "policy": N_("SLA policy"),
    "service": N_("service"), "calendar": N_("calendar"), "group": N_("group"), "status": N_("status"),
    "closure code": N_("closure code"), "priority": N_("priority"), "urgency": N_("urgency"),
    "impact": N_("impact"), "category": N_("category"), "channel": N_("channel"), "code": N_("code")}


def kind_word(kind: str, lang: str = "en") -> str:
    return tr(KIND_WORDS[kind], lang) if kind in KIND_WORDS else kind


def show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if (not value or re.search(r"\s|[,\[\]{}]", value)) else value
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    return str(value)


def _flat(data: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value and key not in ("label", "title", "when_message"):
            yield from _flat(value, name)
        elif value not in (None, [], {}, False, "") and key not in ("label", "title"):
            yield name, value


_BUSINESS = re.compile(r"\b(\d+) business (day|hour|minute|second)s?\b")


def _business(found: "re.Match[str]", lang: str) -> str:
    """A duration in working time (duration_text) in ``lang``."""
    n, unit = int(found.group(1)), found.group(2)
    if unit == "day":
        return ntr("{count} business day", "{count} business days", n, lang)
    if unit == "hour":
        return ntr("{count} business hour", "{count} business hours", n, lang)
    if unit == "minute":
        return ntr("{count} business minute", "{count} business minutes", n, lang)
    return ntr("{count} business second", "{count} business seconds", n, lang)


def _said(line: str, lang: str) -> str:
    return line if lang == "en" else _BUSINESS.sub(lambda m: _business(m, lang), line)


def _detail_text(d: Detail) -> str:
    if d.added is not None:
        parts = []
        if d.added:
            parts.append("+ " + ", ".join(show(v) for v in d.added))
        if d.removed:
            parts.append("- " + ", ".join(show(v) for v in d.removed))
        return f"{d.attribute}: " + "; ".join(parts)
    return f"{d.attribute}: {show(d.old)} -> {show(d.new)}"


def to_text(result: DiffResult, lang: str = "en") -> str:
    """diff-like text: a heading per process or table, one line per item, indented details."""
    if result.identical:
        return ""
    lines = [f"--- {result.old.label}", f"+++ {result.new.label}"]
    scope = None
    for c in result.changes:
        if (c.scope, c.scope_id) != scope:
            scope = (c.scope, c.scope_id)
            lines.append(f"{kind_word('process' if c.scope == 'process' else 'table', lang)} {c.scope_id}")
        label = c.label.get(lang) if c.label else ""
        head = f"  {_MARK[c.change]} {kind_word(c.kind, lang)} {c.id}"
        if label and label != c.id:
            head += f" ({label})"
        if c.where:
            head += f"  [{c.where}]"
        lines.append(head)
        body: Iterable[str]
        if c.change == "changed":
            body = (_detail_text(d) for d in c.details)
        else:
            body = (f"{k}: {show(v)}" for k, v in _flat(c.new if c.change == "added" else c.old or {}))
        lines.extend(f"      {_said(b, lang)}" for b in body)
        if c.note:
            lines.append(f"      ({tr(c.note, lang)})")
    return "\n".join(lines) + "\n"


def summary_text(result: DiffResult, lang: str = "en") -> str:
    if result.identical:
        return tr("no semantic differences", lang)
    s = result.summary()
    return tr("{added} added, {removed} removed, {changed} changed", lang, **s)
