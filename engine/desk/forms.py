"""The forms of the agent console (``/desk``), made from the definitions: each
action the acting person may take now on a ticket, with the fields it requires
and accepts, their types, labels and the code table entries to choose from; and
the priority an impact and urgency give (the priority matrix), for the intake
form's preview.  No rule is written here: what may be done is
engine.runtime.actions.available, what a value means is the definitions'.
"""

from __future__ import annotations

from typing import Any

from engine.desk import portal
from engine.desk.context import Desk
from engine.desk.tickets import comment_refusal
from engine.i18n import event_labels as i18n_event_labels, relabel_criteria, t
from engine.runtime.actions import available
from engine.model import label_document
from engine.runtime.fields import CORE_SPECS, field_spec
from engine.runtime.ticket import Ticket


def code_options(desk: Desk, table: str | None) -> list[dict[str, str]]:
    """The active entries of a code table: [{id, label}] in the desk's language."""
    codes = desk.defs.codes.get(table or "")
    if codes is None:
        return []
    return [{"id": str(code), "label": str(value.label.get(desk.lang))}
            for code, value in codes.values.items() if value.get("active", True) is not False]


def field(desk: Desk, spec: Any, fid: str, required: bool) -> dict[str, Any]:
    fs = field_spec(spec, fid)
    kind = fs.type if fs else "string"
    return {"id": fid, "type": kind, "label": str(fs.label.get(desk.lang)) if fs else fid,
            "required": required, "options": code_options(desk, fs.codes) if fs and fs.codes else []}


def action_forms(desk: Desk, key: str, actor_id: str | None) -> list[dict[str, Any]]:
    """The actions ``actor_id`` may take on ``key`` now, each with its fields (and
    ``opens``: the process of the linked ticket it opens, as declare_major does)."""
    with desk.store.read() as repo:
        actor = desk.actor(repo, actor_id)
        ticket = Ticket.from_row(repo.get_ticket(key.upper()))
        spec = desk.spec_for(ticket)
        out = []
        for a in available(spec, ticket, actor):
            fields = [field(desk, spec, f, True) for f in a.requires]
            fields += [field(desk, spec, f, False) for f in a.accepts if f not in a.requires]
            out.append({"action": a.id, "label": str(a.label.get(desk.lang)), "to": a.target,
                        "note": a.note, "fields": fields, "version": ticket.version, "opens": a.opens})
        return out


def note_kinds(desk: Desk, key: str, actor_id: str | None) -> list[str]:
    """The notes ``actor_id`` may add to ``key``: ``public``, ``internal``, both or
    none (engine.desk.tickets.comment_refusal decides, as for ``itsm comment``)."""
    with desk.store.read() as repo:
        actor = desk.actor(repo, actor_id)
        ticket = Ticket.from_row(repo.get_ticket(key.upper()))
        return [kind for kind in ("public", "internal")
                if comment_refusal(desk, actor, ticket, kind == "public") is None]


def priority_preview(desk: Desk, impact: str | None, urgency: str | None) -> dict[str, Any] | None:
    """The priority the matrix gives ``impact`` and ``urgency``: {id, label}; None
    when either is missing or unknown."""
    if not impact or not urgency:
        return None
    try:
        pid = desk.defs.priority_for(impact, urgency)
    except Exception:  # an unknown impact or urgency: no preview (intake says why on saving)
        return None
    if pid is None:
        return None
    table = desk.defs.codes.get("priority")
    value = table.values.get(str(pid)) if table is not None else None
    return {"id": str(pid), "label": str(value.label.get(desk.lang)) if value is not None else str(pid)}


def shown_fields(desk: Desk, view: dict[str, Any]) -> list[dict[str, Any]]:
    """A ticket view's fields as the console shows them: [{id, label, value, text}],
    ``text`` the code table's label for a code (never a raw id alone), yes/no for a
    flag, in the reader's language."""
    spec = desk.defs.processes.get(str(view.get("process")))
    values = {k: view.get(k) for k in ("service", "priority", "urgency", "impact", "group", "reporter",
                                       "assignee", "classification") if view.get(k) is not None}
    if "classification" in values:
        values["category"] = values.pop("classification")
    values.update(view.get("fields") or {})
    out = []
    for fid, value in values.items():
        fs = field_spec(spec, fid) if spec is not None else None
        text = t("yes" if value else "no", desk.lang) if isinstance(value, bool) else str(value)
        if fs is not None and fs.codes:
            table = desk.defs.codes.get(fs.codes)
            entry = table.values.get(str(value)) if table is not None else None
            if entry is not None:
                text = f"{entry.label.get(desk.lang)} ({value})"
        if fid == "criterion" and isinstance(value, str) and spec is not None and spec.criteria:
            text = relabel_criteria(text, desk.lang, {c.id: {"en": c.label.get("en"), "zh": c.label.get("zh")}
                                                      for c in spec.criteria})
        label = str(fs.label.get(desk.lang)) if fs is not None else fid
        out.append({"id": fid, "label": label, "value": value, "text": text})
    return out


INTAKE_FIELDS = ("title", "description", "service", "impact", "urgency")  # every process's, at the desk


def desk_processes(desk: Desk, actor_id: str | None) -> list[dict[str, str]]:
    """The processes the hotline logs for ``actor_id``: those whose first state a
    role of theirs owns (the service desk: incidents and service requests), never
    one opened by criteria (a major incident is declared); [{id, label}]."""
    with desk.store.read() as repo:
        actor = desk.actor(repo, actor_id)
    logged = [p for p in desk.defs.processes.values() if not p.criteria]
    mine = [p for p in logged if p.initial.owner in actor.roles]
    return [{"id": p.id, "label": str(p.title.get(desk.lang))}
            for p in (mine or [p for p in logged if p.initial.owner == "service_desk"])]


def intake_form(desk: Desk, actor_id: str | None, process: str | None,
                offering: str | None) -> dict[str, Any]:
    """The hotline intake form for ``process`` (default: the first the person
    logs): the processes to choose from, the catalogue's offerings when the
    process is the service request's (codes/services.yaml), and the fields the
    chosen ``offering`` (``service.offering``) needs, from the definitions."""
    processes = desk_processes(desk, actor_id)
    ids = [p["id"] for p in processes]
    chosen = process if process in ids else (ids[0] if ids else None)
    spec = desk.defs.processes.get(chosen or "")
    offers = list(portal.offerings(desk).values()) if chosen == portal.REQUEST else []
    picked = next((o for o in offers if o["id"] == offering), None)
    fields = [field(desk, spec, f["id"], True) for f in picked["fields"]] if picked and spec else []
    return {"processes": processes, "process": chosen, "offerings": offers,
            "offering": picked, "fields": fields}




def labels(desk: Desk) -> dict[str, Any]:
    """The definitions' labels a CLI in remote mode shows (engine.model.label_document),
    with the code tables of the core fields and of the processes' code fields."""
    tables = {f.codes for f in CORE_SPECS.values() if f.codes}
    tables |= {f.codes for p in desk.defs.processes.values() for f in p.fields.values() if f.codes}
    return label_document(desk.defs, tables)


def event_labels(desk: Desk, process: str) -> dict[str, dict[str, str]]:
    """The labels a journal is shown with (engine.i18n.event_labels), in the desk's language."""
    return i18n_event_labels(desk.defs, process, desk.lang)
