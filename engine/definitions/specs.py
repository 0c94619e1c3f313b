"""Build frozen specs (engine.model) from schema-valid documents.

The builder trusts the schema for shapes and is tolerant of broken references:
those are reported by lint, which runs on every new content version before a
definition is used (see engine.workspace).
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable, Mapping

from engine.definitions.loader import Document
from engine.model import (
    ActionSpec, Cascade, ClockSpec, CodeTable, CodeValue, Condition, Criterion, Definitions, Duration,
    Effect, FieldSpec, FrozenMap, Label, Message, ProcessSpec, RelationSpec, StateSpec, TimerSpec, Where,
)

CLOSED_STATE = "closed"


def label(value: Any, fallback: str = "") -> Label:
    if isinstance(value, dict):
        en = str(value.get("en") or value.get("zh") or fallback)
        zh = str(value.get("zh") or value.get("en") or fallback)
        return Label(en, zh)
    text = str(value) if value is not None else fallback
    return Label(text, text)


def _ids(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return (str(value),)


def _where(doc: Document, path: tuple[str | int, ...], key: bool = True) -> Where:
    mark = doc.mark(path, key=key)
    return Where(doc.file, mark.line, mark.column)


def _percent(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        return float(value.rstrip("%"))
    return float(value)


def _duration(value: Any) -> Duration:
    try:
        return Duration.parse(str(value))
    except ValueError:
        return Duration(0, text=str(value))


def _messages(doc: Document, path: tuple[str | int, ...], raw: Any) -> tuple[Message, ...]:
    out = []
    for i, m in enumerate(raw or ()):
        if isinstance(m, dict):
            out.append(Message(_ids(m.get("to")), str(m.get("template", "")),
                               str(m.get("channel", "email")), _where(doc, path + (i,), False)))
    return tuple(out)


def _condition(raw: Any) -> Condition:
    raw = raw if isinstance(raw, dict) else {}
    return Condition(_ids(raw.get("states")), _ids(raw.get("categories")), _ids(raw.get("actions")))


def _effect(doc: Document, path: tuple[str | int, ...], raw: Any) -> Effect:
    raw = raw if isinstance(raw, dict) else {}
    return Effect(_messages(doc, path + ("notify",), raw.get("notify")),
                  str(raw["action"]) if raw.get("action") else None)


def build_process(doc: Document, statuses: CodeTable | None = None) -> ProcessSpec:
    d = doc.data if isinstance(doc.data, dict) else {}
    pid = str(d.get("process", ""))
    roles = FrozenMap({str(k): label(v, str(k)) for k, v in (d.get("roles") or {}).items()})
    fields = FrozenMap({
        str(k): FieldSpec(str(k), str(v.get("type", "string")), label(v.get("label"), str(k)),
                          v.get("codes"), bool(v.get("public", False)), bool(v.get("ask_each_time", False)),
                          _where(doc, ("fields", k)))
        for k, v in (d.get("fields") or {}).items() if isinstance(v, dict)})
    states: dict[str, StateSpec] = {}
    for sid, s in (d.get("states") or {}).items():
        s = s if isinstance(s, dict) else {}
        status = str(s.get("status", sid))
        fallback = statuses.values[status].label if statuses and status in statuses.values \
            else Label.plain(str(sid))
        states[str(sid)] = StateSpec(
            str(sid), status, label(s["label"]) if s.get("label") else fallback,
            bool(s.get("initial", False)), bool(s.get("final", False)),
            str(s["owner"]) if s.get("owner") else None, _where(doc, ("states", sid)))
    open_states = tuple(s.id for s in states.values() if not s.final)
    actions: dict[str, ActionSpec] = {}
    for aid, a in (d.get("actions") or {}).items():
        a = a if isinstance(a, dict) else {}
        sources = open_states if a.get("from") == "*" else _ids(a.get("from"))
        actions[str(aid)] = ActionSpec(
            id=str(aid), label=label(a.get("label"), str(aid)), sources=sources,
            target=str(a["to"]) if a.get("to") else None, roles=_ids(a.get("roles")),
            requires=_ids(a.get("requires")), accepts=_ids(a.get("accepts")),
            when=a.get("when"), when_message=label(a["when_message"]) if a.get("when_message") else None,
            set=tuple((str(k), v) for k, v in (a.get("set") or {}).items()),
            notify=_messages(doc, ("actions", aid, "notify"), a.get("notify")),
            note=str(a.get("note", "optional")), public=bool(a.get("public", False)),
            opens=str(a["opens"]) if a.get("opens") else None,
            cascade=str((a.get("cascade") or {}).get("action")) if a.get("cascade") else None,
            cascade_copy=_ids((a.get("cascade") or {}).get("copy")),
            relation=str(a["relation"]) if a.get("relation") else None,
            where=_where(doc, ("actions", aid)))
    criteria = tuple(
        Criterion(str(c.get("id", i)), str(c.get("when", "")), label(c.get("label"), str(c.get("id"))),
                  _ids(c.get("states")) or (CLOSED_STATE,), _where(doc, ("close_criteria", i), False))
        for i, c in enumerate(d.get("close_criteria") or ()) if isinstance(c, dict))
    clocks = tuple(
        ClockSpec(str(cid), label(c.get("label"), str(cid)), str(c.get("target", cid)),
                  _condition(c.get("start")), _condition(c.get("stop")), _condition(c.get("pause")),
                  _condition(c.get("reset")), _percent(c.get("warning")),
                  _effect(doc, ("sla", cid, "on_warning"), c.get("on_warning")),
                  _effect(doc, ("sla", cid, "on_breach"), c.get("on_breach")),
                  _where(doc, ("sla", cid)), _condition(c.get("resume")),
                  str(c.get("calendar") or "service"), _ids(c.get("sites")))
        for cid, c in (d.get("sla") or {}).items() if isinstance(c, dict))
    timers = tuple(
        TimerSpec(str(tid), label(t.get("label"), str(tid)), _ids(t.get("states")),
                  _duration(t.get("after", "0s")), t.get("action"), t.get("calendar"),
                  _messages(doc, ("timers", tid, "notify"), t.get("notify")),
                  _duration(t["remind_before"]) if t.get("remind_before") else None,
                  _messages(doc, ("timers", tid, "remind"), t.get("remind")),
                  bool(t.get("repeat", False)),
                  tuple((str(p), _duration(v)) for p, v in (t.get("after_by_priority") or {}).items()),
                  _ids(t.get("restart_on")), _where(doc, ("timers", tid)))
        for tid, t in (d.get("timers") or {}).items() if isinstance(t, dict))
    relations = FrozenMap({
        str(rid): RelationSpec(
            str(rid), label(r.get("label"), str(rid)), label(r.get("inverse"), f"{rid} (inverse)"),
            _ids(r.get("to")), str(r.get("cardinality", "many")), bool(r.get("default", False)),
            tuple(Cascade(str(on), str(c.get("action", "")), _ids(c.get("copy")),
                          _where(doc, ("relations", rid, "cascade", on)))
                  for on, c in (r.get("cascade") or {}).items() if isinstance(c, dict)),
            _where(doc, ("relations", rid)))
        for rid, r in (d.get("relations") or {}).items() if isinstance(r, dict)})
    crit = d.get("criteria") if isinstance(d.get("criteria"), dict) else {}
    major = tuple(
        Criterion(str(rid), str(r.get("when", "")), label(r.get("label"), str(rid)), (),
                  _where(doc, ("criteria", "rules", rid)))
        for rid, r in (crit.get("rules") or {}).items() if isinstance(r, dict))
    override = d.get("priority_override") or {}
    return ProcessSpec(
        id=pid, version=int(d.get("version", 1) or 1), title=label(d.get("title"), pid),
        key_prefix=str(d.get("key_prefix", pid[:3].upper())), owner=str(d.get("owner", "")),
        roles=roles, fields=fields, states=FrozenMap(states), actions=FrozenMap(actions),
        close_criteria=criteria, clocks=clocks, timers=timers, criteria=major,
        criteria_watch=crit.get("watch"),
        criteria_window=_duration(crit.get("window", "30m")) if crit else None,
        file=doc.file, sha256=doc.sha256,
        where=Where(doc.file, 1, 1), override_roles=_ids(override.get("roles")),
        defaults=tuple((str(k), v) for k, v in (d.get("defaults") or {}).items()),
        intake_notify=_messages(doc, ("intake", "notify"), (d.get("intake") or {}).get("notify")),
        policies=_ids(d.get("policies")),
        solution_field=(d.get("search") or {}).get("solution"),
        reuse_field=(d.get("search") or {}).get("reuse"),
        publish_states=_ids((d.get("search") or {}).get("publish")),
        relations=relations,
        replies=tuple((str(k), str(v)) for k, v in (d.get("replies") or {}).items()
                      if isinstance(d.get("replies"), dict)))


IMPLICIT_RELATION = "part_of"


def implicit_relations(processes: dict[str, ProcessSpec]) -> dict[str, ProcessSpec]:
    """Give a process the link its tickets get from another process's major-incident
    criteria (``criteria: {watch: ...}``) or ``opens:`` action when it declares no
    relation to that process: a default relation ``part_of`` of cardinality one (what
    ``parent`` was before relations were declared), so definitions written before
    keep working. A declared relation always wins."""
    import dataclasses

    pairs: list[tuple[str, str]] = []
    for p in processes.values():
        if p.criteria and p.criteria_watch in processes:
            pairs.append((str(p.criteria_watch), p.id))
        pairs += [(p.id, a.opens) for a in p.actions.values()
                  if a.opens in processes and a.relation is None]
    out = dict(processes)
    for source, target in dict.fromkeys(pairs):
        spec = out[source]
        if any(target in r.targets for r in spec.relations.values()):
            continue
        rid = IMPLICIT_RELATION if IMPLICIT_RELATION not in spec.relations else f"{IMPLICIT_RELATION}_{target}"
        title = processes[target].title
        rel = RelationSpec(rid, Label(f"Part of {title.en}", f"所属{title.zh}"),
                           Label(f"Linked {spec.title.en}", f"关联的{spec.title.zh}"), (target,), "one", True,
                           (), spec.where)
        out[source] = dataclasses.replace(spec, relations=FrozenMap(dict(spec.relations, **{rid: rel})))
    return out


def build_table(doc: Document) -> CodeTable:
    d = doc.data if isinstance(doc.data, dict) else {}
    tid = str(d.get("table", ""))
    values = {}
    for code, v in (d.get("values") or {}).items():
        v = v if isinstance(v, dict) else {}
        # a generic table's declared attributes read like an extension table's own keys
        own = {k: x for k, x in v.items() if k not in ("label", "rank", "attributes")}
        declared = v.get("attributes") if isinstance(v.get("attributes"), dict) else {}
        attrs = FrozenMap({k: _freeze(x) for k, x in {**declared, **own}.items()})
        values[str(code)] = CodeValue(str(code), label(v.get("label"), str(code)),
                                      v.get("rank"), attrs, _where(doc, ("values", code)))
    extra = FrozenMap({k: _freeze(x) for k, x in d.items()
                       if k not in ("schema", "table", "version", "title", "values")})
    return CodeTable(tid, int(d.get("version", 1) or 1), label(d.get("title"), tid),
                     FrozenMap(values), extra, doc.file, doc.sha256)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return FrozenMap({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def combined_hash(shas: Iterable[str]) -> str:
    h = hashlib.sha256()
    for sha in shas:
        h.update(sha.encode())
    return h.hexdigest()


def build_definitions(home: str, process_docs: Mapping[str, Document],
                      table_docs: Mapping[str, Document]) -> Definitions:
    codes = FrozenMap({tid: build_table(doc) for tid, doc in table_docs.items()})
    statuses = codes.get("status")
    processes = FrozenMap(implicit_relations(
        {pid: build_process(doc, statuses) for pid, doc in process_docs.items()}))
    code_shas = [table_docs[t].sha256 for t in sorted(table_docs)]
    sha = combined_hash(code_shas + [process_docs[p].sha256 for p in sorted(process_docs)])
    # a process's version covers its own file and the code tables it runs with
    versions = FrozenMap({pid: combined_hash([doc.sha256] + code_shas)[:16]
                          for pid, doc in process_docs.items()})
    return Definitions(home, processes, codes, sha, versions)
