"""The end user's side of the engine: what the self-service portal offers and
does (design 1: "report an incident or request, ask for status, confirm a
resolution").  Offered by the facade (engine.api) to ``engine.web`` and to
``itsm status``.

- :func:`self_help`: self-help before asking: the public solutions (and known
  errors' workarounds) that match what the user types, each search counted into
  the user's portal session; a session that files a ticket afterwards is marked
  (:func:`report`), one that does not is a deflection (KPI self_help_deflection);
- :func:`form`: the one intake form: report an incident (with the services and
  urgency levels to choose from, each with its operational description) or ask
  for one of the catalogue's offerings (codes/services.yaml), with the fields
  each offering needs;
- :func:`report`: files it as the end user (known only by e-mail: an end user
  has no roles, whoever the address belongs to), through the same intake as
  ``itsm new`` (journal, acknowledgement, SLA clocks, major-incident criteria);
- :func:`status_view`: what the holder of a ticket's status token sees;
- :func:`status` and :func:`act`: the token-protected status view, and the
  actions the reporter may take from it (confirm, reopen), performed as the
  reporter through the same action path as ``itsm do``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from engine.clock import sla as slamod
from engine.desk import attachments, major, replies, search
from engine.desk.context import Desk
from engine.desk.notifying import ticket_by_token
from engine.desk.views import public_update, public_view
from engine.desk.workflow import perform
from engine.desk.writes import check_forward, event, intake, transitions
from engine.errors import ActionRefused, UsageError
from engine.i18n import N_
from engine.model import ProcessSpec
from engine.runtime.actions import Actor
from engine.runtime.fields import field_spec
from engine.runtime.ticket import Ticket


INCIDENT = "incident"  # the process an end user's "something is broken" goes to
REQUEST = "service_request"  # the process of catalogue offerings
INCIDENT_FIELDS = ("title", "description", "service", "urgency")
REQUEST_FIELDS = ("title", "description")
MAX_TEXT = {"title": 200, "reporter": 254}  # what a form may send (the database allows more)
MAX_ANY = 10_000
MAX_QUERY = 200  # characters of a self-help search
SELF_HELP_RESULTS = 5

# what the portal says to end users (the engine's own refusals come from engine.i18n)
SAY = {
    "reporter": ("Your e-mail address is needed, to tell you about the ticket.",
                 "请填写您的电子邮件地址，以便通知您工单进展。"),
    "title": ("A short summary is needed.", "请填写简要说明。"),
    "offering": ("{offering} needs: {fields}.", "{offering} 需要填写：{fields}。"),
    "kind": ("Unknown request type {kind!r}: choose an incident or an offering of the service catalogue.",
             "未知的请求类型 {kind!r}：请选择突发事件或服务目录中的服务项。"),
    "not_yours": ("'{action}' is not something you can do here; available now: {available}.",
                  "此处不能执行“{action}”；当前可用：{available}。"),
    "nothing": ("nothing", "无"),
    "reply": ("Write your answer, or attach a file.", "请填写答复内容，或附上文件。"),
    "closed": ("This ticket is closed: please report a new one.", "该工单已关闭，请提交新的工单。"),
}


def _say(desk: Desk, what: str, **values: Any) -> str:
    en, zh = SAY[what]
    return (zh if desk.lang == "zh" else en).format(**values)


def end_user(email: str) -> Actor:
    """The portal's actor: the e-mail address given, with no roles (a member of
    staff reporting through the portal is a reporter like anyone else)."""
    return Actor(email.lower(), email.lower(), email)


def _codes(desk: Desk, table: str) -> list[dict[str, Any]]:
    t = desk.defs.codes.get(table)
    if t is None:
        return []
    out = []
    for code, value in t.values.items():
        if value.get("active", True) is False:  # retired: no new ticket may use it
            continue
        hint = value.get("choose_when") or value.get("description")
        out.append({"id": code, "label": value.label.get(desk.lang),
                    "hint": hint.get(desk.lang) if isinstance(hint, Mapping) else hint})
    return out


def _field(desk: Desk, spec: Any, fid: str) -> dict[str, Any]:
    fs = field_spec(spec, fid)
    return {"id": fid, "type": fs.type if fs else "string",
            "label": fs.label.get(desk.lang) if fs else fid}


def offerings(desk: Desk) -> dict[str, dict[str, Any]]:
    """Every offering of the catalogue, by ``service.offering``."""
    spec = desk.defs.processes.get(REQUEST)
    services = desk.defs.codes.get("services")
    if spec is None or services is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for sid, service in services.values.items():
        if service.get("active", True) is False:
            continue
        for oid, offering in (service.get("offerings") or {}).items():
            label = offering.get("label") or {}
            out[f"{sid}.{oid}"] = {
                "id": f"{sid}.{oid}", "service": sid, "offering": oid,
                "service_label": service.label.get(desk.lang),
                "label": label.get(desk.lang) or label.get("en") or oid if isinstance(label, Mapping) else str(label),
                "approval": bool(offering.get("approval")),
                "fields": [_field(desk, spec, f) for f in offering.get("fields") or ()]}
    return out


def form(desk: Desk) -> dict[str, Any]:
    """What the intake form offers, with labels in the Api's language."""
    incident = desk.defs.processes.get(INCIDENT)
    request = desk.defs.processes.get(REQUEST)
    return {
        "incident": {"process": INCIDENT, "title": incident.title.get(desk.lang),
                     "fields": [_field(desk, incident, f) for f in INCIDENT_FIELDS]} if incident else None,
        "request": {"process": REQUEST, "title": request.title.get(desk.lang)} if request else None,
        "services": _codes(desk, "services"),
        "urgency": _codes(desk, "urgency"),
        "offerings": list(offerings(desk).values()),
    }


def _check_text(values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        if not isinstance(value, str):
            raise UsageError(N_("{name}: expected text"), values={"name": name})
        if "\x00" in value:
            raise UsageError(N_("{name}: contains a NUL character"), values={"name": name})
        if len(value) > MAX_TEXT.get(name, MAX_ANY):
            raise UsageError(N_("{name}: at most {limit} characters"),
                             values={"name": name, "limit": MAX_TEXT.get(name, MAX_ANY)})


def may_acknowledge(desk: Desk, repo: Any, spec: Any, address: str, now: datetime) -> bool:
    """Whether the intake's acknowledgement may go to ``address``: at most
    ``[security] acks_per_hour`` in an hour (counted in the outbox, so the cap holds
    across the server's workers), so the portal cannot turn the desk's mail server on
    whoever's address a stranger types in.  Past the cap the ticket is still filed."""
    cap = desk.settings.security.acks_per_hour
    if not cap or not spec.intake_notify:
        return True
    sent = sum(repo.messages_to(address.strip().lower(), m.template, now - timedelta(hours=1))
               for m in spec.intake_notify)
    return sent < cap


def self_help(desk: Desk, text: str, session: str | None = None) -> dict[str, Any]:
    """Search the public solutions for ``text`` (engine.desk.search.public_solutions)
    and count the search into ``session`` (an opaque id of the user's portal
    session, at most 64 characters; None: not counted).  Returns {query, results}."""
    if not isinstance(text, str) or "\x00" in text:
        raise UsageError(N_("q: expected text"))
    query = " ".join(text.split())
    if len(query) > MAX_QUERY:
        raise UsageError(N_("q: at most {MAX_QUERY} characters"), values={"MAX_QUERY": MAX_QUERY})
    if session is not None and not (isinstance(session, str) and 0 < len(session) <= 64):
        raise UsageError(N_("session: at most 64 characters"))
    if not query:
        return {"query": "", "results": []}
    with desk.store.write() as repo:
        repo.search.catch_up()  # the index in step with the tickets (SQLite)
        results = search.public_solutions(desk, repo, query, SELF_HELP_RESULTS)
        if session:
            repo.self_help.searched(session, len(results), desk.now())
    return {"query": query, "results": results}


def report(desk: Desk, kind: str, values: Mapping[str, str], session: str | None = None) -> dict[str, Any]:
    """File the form: ``kind`` is ``incident`` or an offering id
    (``service.offering``); ``values`` the form's fields (reporter, title,
    description, service, urgency, the offering's fields); ``session`` the portal
    session that may have searched self-help first (it is marked: not deflected).
    Returns the ticket's public view with its ``status_token``."""
    given = {k: v for k, v in values.items() if v is not None and str(v).strip() != ""}
    _check_text(given)
    reporter = given.get("reporter", "").strip()
    if not reporter:
        raise ActionRefused(_say(desk, "reporter"), missing=["reporter"])
    if kind == INCIDENT and desk.defs.processes.get(INCIDENT) is not None:
        spec = desk.process(INCIDENT)
        fields = {k: given[k] for k in INCIDENT_FIELDS if k in given}
    else:
        offering = offerings(desk).get(kind)
        if offering is None:
            raise UsageError(_say(desk, "kind", kind=kind))
        spec = desk.process(REQUEST)
        fields = {k: given[k] for k in REQUEST_FIELDS if k in given}
        needed = [f["id"] for f in offering["fields"]]
        missing = [f for f in needed if f not in given]
        if missing:
            labels = {f["id"]: f["label"] for f in offering["fields"]}
            raise ActionRefused(_say(desk, "offering", offering=offering["label"],
                                     fields=", ".join(labels[m] for m in missing)), missing=missing)
        fields.update({f: given[f] for f in needed})
        fields.update(service=offering["service"], offering=offering["offering"])
        fields.setdefault("title", offering["label"])
    if not fields.get("title"):
        raise ActionRefused(_say(desk, "title"), missing=["title"])
    fields["reporter"] = reporter
    channel = field_spec(spec, "channel")
    channels = desk.defs.codes.get(channel.codes or "") if channel is not None else None
    if channels is not None and "portal" in channels:
        fields["channel"] = "portal"
    now: datetime = desk.now()
    with desk.store.write() as repo:
        ticket = intake(desk, repo, spec, fields, end_user(reporter), now, None,
                        acknowledge=may_acknowledge(desk, repo, spec, reporter, now))
        major.check(desk, repo, ticket, now)
        if session:
            repo.self_help.ticket_filed(session, ticket.id, now)
        view = public_view(desk.defs, spec, ticket, desk.lang, desk.iso)
    with desk.store.read(search=True) as repo:  # self-help, looked up once the ticket is committed
        view["suggestions"] = suggestions(desk, repo, spec, ticket.id)
    view["status_token"] = ticket.status_token
    return view


def suggestions(desk: Desk, repo: Any, spec: ProcessSpec, ticket_id: int, limit: int = 3) -> list[str]:
    """Self-help for the end user: the solution texts of the resolved tickets most
    like theirs, when the process shows its solutions to end users (the solution
    field is ``public``).  Only the text: never another ticket's key, title,
    reporter or notes."""
    field = spec.fields.get(spec.solution_field or "")
    if field is None or not field.public:
        return []
    rows = search.similar_in(desk, repo, repo.get_ticket_by_id(ticket_id), limit * 2)
    texts = list(dict.fromkeys(" ".join(r["solution"].split()) for r in rows
                               if r["process"] == spec.id and r["solution"]))
    return texts[:limit]


def status_view(desk: Desk, key: str, token: str) -> dict[str, Any]:
    """The end user's view, for whoever holds the ticket's status token: public
    fields and public updates only, the SLA clocks as of now, and ``can``, the
    reporter's actions now.  A wrong key and a wrong token get the same answer."""
    with desk.store.read() as repo:
        ticket = Ticket.from_row(repo.get_ticket_by_id(ticket_by_token(repo, key, token)))
        spec = desk.process(ticket.process)
        if ticket.status_category != "closed":
            ticket.sla = slamod.compute(spec, desk.defs, transitions(repo, ticket),
                                        ticket.values, max(desk.now(), ticket.updated_at))
        view = public_view(desk.defs, spec, ticket, desk.lang, desk.iso)
        view["updates"] = [public_update(spec, e, desk.lang, desk.iso)
                           for e in repo.public_events(ticket.id)]
        view["can"] = [a.id for a in spec.actions_from(ticket.state) if "reporter" in a.roles]
        view["attachments"] = attachments.listing(repo, ticket.id, True, desk.iso)
        view["can_reply"] = ticket.status_category != "closed"
        view["reply_does"] = dict(spec.replies).get(ticket.state)
        return view


def status(desk: Desk, key: str, token: str) -> dict[str, Any]:
    """:func:`status_view` plus the reporter's actions as the page offers them:
    ``actions`` = [{id, label, requires: [{id, label, type}]}]."""
    view = status_view(desk, key, token)
    spec = desk.process(view["process"])
    view["actions"] = [
        {"id": a.id, "label": a.label.get(desk.lang),
         "requires": [_field(desk, spec, f) for f in a.requires]}
        for a in (spec.actions[aid] for aid in view["can"])]
    return view


def act(desk: Desk, key: str, token: str, action: str, inputs: Mapping[str, str]) -> dict[str, Any]:
    """Perform one of the reporter's actions (confirm, reopen) for whoever holds
    the ticket's status token, as the reporter.  Returns the status view."""
    given = {k: v for k, v in inputs.items() if v is not None and str(v).strip() != ""}
    _check_text(given)
    now = desk.now()
    with desk.store.write() as repo:
        ticket_id = ticket_by_token(repo, key, token)
        ticket = Ticket.from_row(repo.get_ticket_by_id(ticket_id, lock=True))
        spec = desk.spec_for(ticket)
        spec_action = spec.actions.get(action)
        if spec_action is None or "reporter" not in spec_action.roles:
            mine = [a.id for a in spec.actions_from(ticket.state) if "reporter" in a.roles]
            raise ActionRefused(_say(desk, "not_yours", action=action,
                                     available=", ".join(mine) or _say(desk, "nothing")), available=mine)
        accepted = set(spec_action.requires) | set(spec_action.accepts)
        fields = {k: v for k, v in given.items() if k in accepted}
        reporter = str(ticket.values.get("reporter") or "")
        perform(desk, repo, ticket, action, fields, None, end_user(reporter), now)
    return status(desk, key, token)


MAX_FILES = 5  # files with one reply


def reply(desk: Desk, key: str, token: str, text: str,
          files: Sequence[tuple[str, bytes]] = ()) -> dict[str, Any]:
    """The reporter's reply on the status page: a public comment (and its files)
    and, when the process's ``replies:`` names one for the ticket's state, that
    action as the reporter (a pending ticket resumes).  Returns the status view."""
    text = (text or "").strip()
    _check_text({"reply": text})
    if not text and not files:
        raise ActionRefused(_say(desk, "reply"), missing=["reply"])
    if len(files) > MAX_FILES:
        raise UsageError(N_("at most {MAX_FILES} files with one reply"), values={"MAX_FILES": MAX_FILES})
    now = desk.now()
    with desk.store.write() as repo:
        ticket = Ticket.from_row(repo.get_ticket_by_id(ticket_by_token(repo, key, token), lock=True))
        if ticket.status_category == "closed":
            raise ActionRefused(_say(desk, "closed"))
        now = check_forward(desk, ticket, now)
        reporter = end_user(str(ticket.values.get("reporter") or ""))
        repo.update_ticket(ticket.id, ticket.version, {"updated_at": now})
        ticket.version += 1
        repo.append_event(ticket.id, event("comment", reporter, "reporter", None, None, {},
                                           text or "-", ticket.definition_version, now, True),
                          key=ticket.key, process=ticket.process)
        for name, data in files:
            attachments.store(desk, repo, ticket, name, data, reporter, "portal", True, now)
        if text:
            replies.user_replied(desk, repo, ticket, text, reporter, now)
    return status(desk, key, token)


def attachment(desk: Desk, key: str, token: str, attachment_id: int) -> tuple[dict[str, Any], bytes]:
    """A public attachment, for the holder of the ticket's status token."""
    with desk.store.read() as repo:
        return attachments.content(desk, repo, ticket_by_token(repo, key, token), attachment_id, True)
