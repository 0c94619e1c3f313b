"""How tickets and their journals are shown.

- The staff view (``itsm show``/``list``, the JSON API): every field, the SLA
  clocks, times in the display time zone; journal events; outbox rows.
- What end users may see (``itsm status``, the portal, message templates):
  public fields and public updates only.  Internal notes, internal fields,
  assignees' identities and comments not marked public never appear there.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.clock import sla as slamod
from engine.errors import UsageError
from engine.i18n import N_, note_in
from engine.model import Definitions, ProcessSpec
from engine.runtime.fields import CORE_SPECS
from engine.runtime.ticket import Ticket

Iso = Callable[[Any], str | None]


# -- times and values ---------------------------------------------------------------------
def display_tz(name: str | None, defs: Definitions | None) -> tzinfo:
    """The desk's one display zone: ``ITSM_TZ`` / the ``timezone`` setting, else
    the head office's from the definitions (the default SLA policy's calendar),
    else UTC.  Every time a person reads is in it, with its offset; neither the
    machine's zone nor --now's offset changes it."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(N_("unknown time zone {name!r} (use an IANA name like Asia/Shanghai)"),
                             values={"name": name}) from None
    zone = slamod.home_zone(defs) if defs is not None else None
    return zone or timezone.utc


SLA_TIMES = ("due", "warning_at", "started_at", "stopped_at")


def sla_view(sla: Mapping[str, Any] | None, iso: Iso) -> dict[str, Any]:
    """A ticket's SLA clocks with their times in the display zone (a record
    keeps them in its calendar's zone)."""
    out: dict[str, Any] = {}
    for cid, rec in (sla or {}).items():
        if type(rec) is dict or isinstance(rec, Mapping):  # typing's check costs a microsecond
            rec = dict(rec)
            for name in SLA_TIMES:
                if isinstance(rec.get(name), str):
                    rec[name] = rezone(rec[name], iso)
        out[cid] = rec
    return out


def rezone(text: Any, iso: Iso) -> Any:
    """ISO 8601 text (e.g. an SLA record's due, in its calendar's zone) in the
    display zone; anything else as it is."""
    if not isinstance(text, str):
        return text
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return text
    return iso(value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc))


_PLAIN = frozenset((str, int, float, bool, type(None)))


def jsonable(value: Any) -> Any:
    """``value`` with its datetimes as ISO 8601 text (a journal event's changes)."""
    if type(value) in _PLAIN:  # most values of an event's changes
        return value
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# -- the staff view -------------------------------------------------------------------------
_CORE = frozenset(("title", "description", "reporter", "reporter_phone", "assignee", "group",
                   "urgency", "impact", "priority", "service", "category", "parent"))


def ticket_view(defs: Definitions, ticket: Ticket, lang: str, iso: Iso) -> dict[str, Any]:
    """The whole ticket, as ``itsm show`` and the JSON API return it."""
    spec = defs.processes.get(ticket.process)
    v = ticket.values
    state = spec.states.get(ticket.state) if spec else None
    return {
        "key": ticket.key, "process": ticket.process, "state": ticket.state,
        "state_label": state.label.get(lang) if state else ticket.state,
        "status": ticket.status, "category": ticket.status_category,
        "priority": v.get("priority"), "urgency": v.get("urgency"), "impact": v.get("impact"),
        "title": v.get("title"), "description": v.get("description"),
        "reporter": v.get("reporter"), "reporter_phone": v.get("reporter_phone"),
        "assignee": v.get("assignee"), "group": v.get("group"), "service": v.get("service"),
        "classification": v.get("category"), "parent": v.get("parent"),
        "fields": {k: val for k, val in v.items() if k not in _CORE},
        "field_labels": dict(_field_labels(defs, spec, lang)) if spec else {},
        "sla": sla_view(ticket.sla, iso), "priority_overridden": ticket.priority_overridden,
        "version": ticket.version, "definition_version": ticket.definition_version,
        "created_at": iso(ticket.created_at), "updated_at": iso(ticket.updated_at),
        "resolved_at": iso(ticket.resolved_at), "closed_at": iso(ticket.closed_at),
        "manuals": service_manuals(defs, v.get("service"), lang),
    }


def _field_labels(defs: Definitions, spec: Any, lang: str) -> dict[str, str]:
    """Field id -> its label in ``lang``, worked out once per process (definitions are immutable)."""
    memo = defs.derived.setdefault("views.field_labels", {})
    found = memo.get((spec.id, lang))
    if found is None or found[0] is not spec:
        found = memo[spec.id, lang] = (spec, {f.id: f.label.get(lang) for f in spec.fields.values()})
    return found[1]


MANUAL_KINDS = {"runbook": ("Runbook", "运行手册"),
                "support_manual": ("Support manual", "支持手册"),
                "user_guide": ("User guide", "用户指南"), "known_errors": ("Known errors", "已知错误")}


def service_manuals(defs: Definitions, service: Any, lang: str) -> list[dict[str, str]]:
    """The runbooks and support manuals the catalogue links to the service
    (codes/services.yaml ``manuals``): [{kind, kind_label, title, url}]."""
    table = defs.codes.get("services")
    value = table.values.get(str(service)) if table is not None and service else None
    out = []
    for m in (value.get("manuals") or ()) if value is not None else ():
        title = m.get("title") or {}
        kind = str(m.get("kind", ""))
        kind_label = MANUAL_KINDS.get(kind, (kind, kind))[lang == "zh"]
        out.append({"kind": kind, "kind_label": kind_label,
                    "title": str(title.get(lang) or title.get("en") or m.get("url")),
                    "url": str(m.get("url", ""))})
    return out


def event_view(e: Mapping[str, Any], iso: Iso) -> dict[str, Any]:
    """One journal event, as ``itsm history`` shows it; where it came from (the
    ``origin`` engine.desk.writes.event records) apart from the field changes, and
    ``by``: who acted on the actor's behalf."""
    changes = dict(e.get("changes") or {})
    origin = changes.pop("origin", None)
    origin = origin if isinstance(origin, dict) else None
    return {"seq": e["seq"], "action": e["action"], "actor": e["actor"], "role": e.get("role"),
            **({"by": origin.get("by"), "origin": origin} if origin else {}),
            "from": e.get("from_state"), "to": e.get("to_state"), "changes": changes,
            "note": e.get("note"), "public": bool(e.get("public")),
            "at": iso(e.get("effective_at")), "recorded_at": iso(e.get("recorded_at")),
            "definition_version": e.get("definition_version")}


def outbox_view(r: Mapping[str, Any], iso: Iso) -> dict[str, Any]:
    """One queued message, as ``itsm outbox`` shows it."""
    return {"id": r["id"], "ticket": r.get("key"), "channel": r["channel"],
            "recipient": r["recipient"], "template": r["template"], "lang": r["lang"],
            "status": r["status"], "attempts": r["attempts"], "last_error": r["last_error"],
            "created_at": iso(r["created_at"]), "sent_at": iso(r["sent_at"]),
            "next_attempt_at": iso(r["next_attempt_at"])}


# -- what end users see ---------------------------------------------------------------------


def _label(defs: Definitions, table: str, code: Any, lang: str) -> str | None:
    t = defs.codes.get(table)
    if code is None:
        return None
    return t.label(str(code), lang) if t else str(code)


def public_view(defs: Definitions, spec: ProcessSpec, ticket: Ticket, lang: str, iso: Iso) -> dict[str, Any]:
    v = ticket.values
    state = spec.states.get(ticket.state)
    status = defs.codes["status"].values.get(ticket.status) if "status" in defs.codes else None
    user_text = status.get("user_text") if status else None
    resolution = (ticket.sla or {}).get("resolution") or {}
    out: dict[str, Any] = {
        "key": ticket.key, "process": ticket.process, "process_title": spec.title.get(lang),
        "title": v.get("title"), "description": v.get("description"),
        "state": ticket.state, "state_label": state.label.get(lang) if state else ticket.state,
        "status_text": (user_text.get(lang) if type(user_text) is dict or isinstance(user_text, Mapping)
                        else user_text),
        "priority": v.get("priority"), "priority_label": _label(defs, "priority", v.get("priority"), lang),
        "service": v.get("service"), "service_label": _label(defs, "services", v.get("service"), lang),
        "group_label": _label(defs, "groups", v.get("group"), lang),
        "created_at": iso(ticket.created_at), "updated_at": iso(ticket.updated_at),
        "due": rezone(resolution.get("due"), iso) if resolution.get("state") in ("running", "paused") else None,
    }
    for fid in spec.public_fields:
        out[fid] = v.get(fid)
    for fid in ("solution", "workaround", "fulfilment_note"):
        out.setdefault(fid, None)
    return out


def public_update(spec: ProcessSpec, event: Mapping[str, Any], lang: str, iso: Iso) -> dict[str, Any]:
    visible = set(spec.public_fields) | {k for k, f in CORE_SPECS.items() if f.public}
    action = spec.actions.get(event["action"])
    label = action.label.get(lang) if action else (
        {"create": ("Logged", "已登记"), "comment": ("Update", "进展"),
         "attach": ("File attached", "附件")}.get(
            event["action"], (event["action"], event["action"]))[1 if lang == "zh" else 0])
    changes = event.get("changes") or {}
    return {"at": iso(event.get("effective_at")), "action": event["action"], "label": label,
            "to": event.get("to_state"),
            "note": (_note(spec, event, lang) or _asked(action, changes)) if event["action"] != "create" else None,
            "by_reporter": event.get("role") == "reporter",
            "attachment": _file(changes.get("attachment")),
            "changes": {k: v[1] for k, v in changes.items()
                        if k in visible and isinstance(v, list) and len(v) == 2}}


def _note(spec: ProcessSpec, event: Mapping[str, Any], lang: str) -> Any:
    """An update's note: one the engine wrote (a cascade: "resolve of MI-000001") said in
    ``lang`` with the process's action labels (engine.i18n.note_in); a person's as written."""
    if lang == "en" or not event.get("note"):
        return event.get("note")
    return note_in(event, lang, {"actions": _action_labels(spec, lang)})


_ACTION_LABELS: dict[tuple[str, str], tuple[ProcessSpec, dict[str, str]]] = {}


def _action_labels(spec: ProcessSpec, lang: str) -> dict[str, str]:
    """Action id -> its label in ``lang``, worked out once per process definition (a
    status page shows many updates)."""
    found = _ACTION_LABELS.get((spec.id, lang))
    if found is None or found[0] is not spec:
        found = _ACTION_LABELS[spec.id, lang] = (spec, {a.id: a.label.get(lang) for a in spec.actions.values()})
    return found[1]


def _asked(action: Any, changes: Mapping[str, Any]) -> str | None:
    """The reason of a public action that requires one (pend: the desk's question)."""
    reason = changes.get("reason")
    if action is not None and action.public and "reason" in action.requires \
            and isinstance(reason, list) and len(reason) == 2:
        return reason[1]
    return None


def _file(meta: Any) -> dict[str, Any] | None:
    if not isinstance(meta, Mapping):
        return None
    return {k: meta.get(k) for k in ("id", "filename", "size", "content_type", "sha256")}
