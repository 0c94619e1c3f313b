"""What end users may see of a ticket: public fields and public updates only.

Used by ``itsm status``, the portal and message templates.  Internal notes,
internal fields, assignees' identities and comments not marked public never
appear here.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from engine.model import Definitions, ProcessSpec
from engine.runtime.fields import CORE_SPECS
from engine.runtime.ticket import Ticket

Iso = Callable[[Any], str | None]


def _label(defs: Definitions, table: str, code: Any, lang: str) -> str | None:
    t = defs.codes.get(table)
    if code is None:
        return None
    return t.label(str(code), lang) if t else str(code)


def public_fields(spec: ProcessSpec) -> list[str]:
    return [f.id for f in spec.fields.values() if f.public]


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
        "status_text": (user_text.get(lang) if isinstance(user_text, Mapping) else user_text),
        "priority": v.get("priority"), "priority_label": _label(defs, "priority", v.get("priority"), lang),
        "service": v.get("service"), "service_label": _label(defs, "services", v.get("service"), lang),
        "group_label": _label(defs, "groups", v.get("group"), lang),
        "created_at": iso(ticket.created_at), "updated_at": iso(ticket.updated_at),
        "due": resolution.get("due") if resolution.get("state") in ("running", "paused") else None,
    }
    for fid in public_fields(spec):
        out[fid] = v.get(fid)
    for fid in ("solution", "workaround", "fulfilment_note"):
        out.setdefault(fid, None)
    return out


def public_update(spec: ProcessSpec, event: Mapping[str, Any], lang: str, iso: Iso) -> dict[str, Any]:
    visible = set(public_fields(spec)) | {k for k, f in CORE_SPECS.items() if f.public}
    action = spec.actions.get(event["action"])
    label = action.label.get(lang) if action else (
        {"create": ("Logged", "已登记"), "comment": ("Update", "进展")}.get(
            event["action"], (event["action"], event["action"]))[1 if lang == "zh" else 0])
    changes = event.get("changes") or {}
    return {"at": iso(event.get("effective_at")), "action": event["action"], "label": label,
            "to": event.get("to_state"),
            "note": event.get("note") if event["action"] != "create" else None,
            "changes": {k: v[1] for k, v in changes.items()
                        if k in visible and isinstance(v, list) and len(v) == 2}}
