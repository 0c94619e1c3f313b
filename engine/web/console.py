"""The agent console, ``/desk``: the service desk in the browser, server-rendered,
usable without JavaScript, over the same engine.api facade as the CLI.

- ``GET/POST /desk/login``: a password for a personal token (as ``POST
  /api/v1/session``, throttled the same way), kept in the ``itsm_desk`` cookie
  (HttpOnly, SameSite=Lax, Secure over https or with ``[web] secure_cookies``);
  ``POST /desk/logout`` revokes the token and clears the cookie;
- ``GET /desk``: the queues (``?queue=mine|groups|unassigned|breached|at_risk|
  waiting|major``, ``&q=`` a filter on key and title, ``&priority=``, ``&sort=`` a column,
  ``-`` first for descending, ``&page=``): filtered, sorted, counted and paged
  in SQL (``[web] page_size`` rows), all kept in the URL; a small script
  refreshes the rows, the count and the pager every 30 seconds (``&partial=1``);
- ``GET /desk/t/{key}``: the ticket: fields, SLA clocks, history (internal notes
  marked), links, similar resolved tickets; one form per action the person may
  take now, made from the definition (engine.desk.forms), and the note form;
- ``POST /desk/t/{key}/do/{action}``: the action; a refusal is shown inline with
  the engine's message, a concurrent change (exit 5) as "changed meanwhile"
  (on the board when the form came from there: ``return_to=board``);
- ``POST /desk/t/{key}/note``: a public or an internal note (``itsm comment``);
- ``GET/POST /desk/new``: the hotline intake: the process (incident, service
  request) and a service request's catalogue offering with its fields, caller
  look-up, similar solutions for the title and the priority preview;
- ``GET /desk/board``: the major-incident board (``?declare=KEY``: that
  incident's declare_major form).

Every POST carries the CSRF token of engine/web/csrf.py.
"""

from __future__ import annotations

from typing import Any, Mapping

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from engine.errors import ActionRefused, Conflict, InvalidApiKey, ItsmError, NotFound, UsageError
from engine.i18n import N_
from engine.web import csrf
from engine.web.errors import http_status
from engine.web.i18n import LANGS, negotiate, t
from engine.web.pages import templates
from engine.web.requests import lang_of, secure_cookie

router = APIRouter(prefix="/desk", include_in_schema=False)
COOKIE = "itsm_desk"
QUEUES = ("mine", "groups", "unassigned", "breached", "at_risk", "waiting", "major")
SORTS = ("key", "priority", "title", "state", "assignee", "left")
MAX_PAGE = 100_000
MAX_NOTE = 10_000  # characters of a note from the console


def _session(request: Request) -> dict[str, Any] | None:
    """The logged-in person's key ({user, key_id, ...}) or None."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    api = request.app.state.apis[request.app.state.default_lang]
    try:
        key = api.authenticate_key(token)
    except InvalidApiKey:
        return None
    api.act_from({"mode": "console", "key": key["key_id"]})
    request.state.user = key["user"]  # the access log's "user", as the API's requests have it
    return key


def _lang(request: Request, person: Mapping[str, Any] | None) -> str:
    """``?lang=`` wins, then the person's own language, then the browser's."""
    if request.query_params.get("lang") in LANGS:
        return str(request.query_params["lang"])
    if person and person.get("lang") in LANGS:
        return str(person["lang"])
    return negotiate(None, request.headers.get("accept-language"), request.app.state.default_lang)


def _nonce(request: Request) -> str:
    return csrf.usable_nonce(request.cookies.get(csrf.COOKIE)) or csrf.new_nonce()


def _render(request: Request, name: str, lang: str, context: Mapping[str, Any], status: int = 200,
            me: Mapping[str, Any] | None = None) -> Response:
    nonce = _nonce(request)
    other = LANGS[1 - LANGS.index(lang)]
    base = (request.scope.get("root_path") or "") + "/desk"
    ctx = {"lang": lang, "t": lambda word, **v: t(word, lang, **v), "base": base, "me": me,
           "csrf_field": csrf.FIELD, "csrf_token": csrf.sign(request.app.state.web.secret_key, nonce),
           "other_lang": other, "other_lang_url": str(request.url.include_query_params(lang=other)),
           "queues": QUEUES, **context}
    ctx["here"] = lambda **changes: _here(request, changes)
    response = templates.TemplateResponse(request, name, ctx, status_code=status)
    if nonce != request.cookies.get(csrf.COOKIE):
        response.set_cookie(csrf.COOKIE, nonce, httponly=True, samesite="lax", secure=secure_cookie(request),
                            path=(request.scope.get("root_path") or "") + "/")
    return response


def _here(request: Request, changes: Mapping[str, Any]) -> str:
    """This page's URL relative to itself (``?...``), with ``changes`` to its query
    (None removes a parameter); never with ``partial``."""
    url = request.url.remove_query_params(["partial", *[k for k, v in changes.items() if v is None]])
    url = url.include_query_params(**{k: v for k, v in changes.items() if v is not None})
    return "?" + url.query


async def _form(request: Request) -> dict[str, str] | None:
    """The form's fields, or None when its CSRF token is wrong; UsageError (400) for
    a NUL character in any of them (no database stores it: PostgreSQL refuses it),
    as the portal and the JSON API answer."""
    data = await request.form()
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    token = form.pop(csrf.FIELD, None)
    if not csrf.valid(request.app.state.web.secret_key, request.cookies.get(csrf.COOKIE), token):
        return None
    for name, value in form.items():
        if "\x00" in value or "\x00" in name:
            raise UsageError(N_("{name}: contains a NUL character"), values={"name": name.replace("\x00", "")})
    return form


def _csrf_refused(request: Request) -> Response:
    from engine.web.pages import error_page

    return error_page(request, 403, {"message": t("csrf", lang_of(request))})


class _Login(Exception):
    pass


async def _posted(request: Request) -> Response | tuple[dict[str, str], Any, dict[str, Any], str]:
    """A console form posted by a signed-in person: (the form's fields, the Api in the
    person's language, the person, lang); else the answer instead: 403 when the CSRF
    token is wrong (checked first), the login page when no one is signed in."""
    form = await _form(request)
    if form is None:
        return _csrf_refused(request)
    try:
        api, person, lang = _who(request, "write")
    except _Login:
        return _to_login(request)
    return form, api, person, lang


def _refusal_status(exc: ItsmError) -> int | None:
    """The HTTP status of a refusal shown inline on the form's page (400, 403, 422), or
    None for an error the app's handlers answer (not found, a conflict, an internal one)."""
    status = http_status(exc)
    return None if isinstance(exc, NotFound) or status not in (400, 403, 422) else status


def _who(request: Request, need: str = "read") -> tuple[Any, dict[str, Any], str]:
    """(the Api in the person's language, the person, lang) or _Login; ActionRefused
    (403) when the person's roles do not give ``need`` (read for pages, write for
    forms), as the JSON API refuses their key (codes/permissions.yaml)."""
    key = _session(request)
    if key is None:
        raise _Login()
    apis = request.app.state.apis
    refused = apis[request.app.state.default_lang].console_refusal(key, need)
    if refused is not None:
        raise refused
    person = apis[request.app.state.default_lang].user(key["user"])
    lang = _lang(request, person)
    return apis[lang], person, lang


def _to_login(request: Request) -> Response:
    nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    base = (request.scope.get("root_path") or "") + "/desk"
    from urllib.parse import quote

    return RedirectResponse(f"{base}/login?next={quote(nxt)}", status_code=303)


# -- login -----------------------------------------------------------------------------------

@router.get("/login", name="desk_login")
def login_form(request: Request, next: str = "") -> Response:
    lang = _lang(request, None)
    return _render(request, "desk/login.html", lang, {"next": next, "error": None, "user": ""})


@router.post("/login")
async def login(request: Request) -> Response:
    from engine.web.api_v1 import throttled_login

    form = await _form(request)
    if form is None:
        return _csrf_refused(request)
    lang = _lang(request, None)
    user = (form.get("user") or "").strip()
    home = (request.scope.get("root_path") or "") + "/desk"
    nxt = form.get("next") or ""
    if not (nxt == home or nxt.startswith((home + "/", home + "?"))) or "\\" in nxt or "//" in nxt:
        nxt = home  # only back into the console: never an open redirect
    api = request.app.state.apis[lang]
    api.act_from({"mode": "console"})
    try:
        session = await run_in_threadpool(throttled_login, request, api, user, form.get("password") or "")
    except InvalidApiKey:
        return _render(request, "desk/login.html", lang,
                       {"next": nxt, "error": t("login_failed", lang), "user": user}, 401)
    granted = await run_in_threadpool(api.authenticate_key, session["token"])
    if "read" not in granted["scopes"]:
        # a person whose roles read no ticket (codes/permissions.yaml) has no console: no session either
        await run_in_threadpool(api.revoke_api_key, granted["key_id"], granted["user"])
        return _render(request, "desk/login.html", lang,
                       {"next": nxt, "error": t("console_not_allowed", lang), "user": user}, 403)
    response = RedirectResponse(nxt, status_code=303)
    response.set_cookie(COOKIE, session["token"], httponly=True, samesite="lax", secure=secure_cookie(request),
                        path=(request.scope.get("root_path") or "") + "/desk")
    return response


@router.post("/logout", name="desk_logout")
async def logout(request: Request) -> Response:
    form = await _form(request)
    if form is None:
        return _csrf_refused(request)
    key = _session(request)
    if key is not None:
        api = request.app.state.apis[request.app.state.default_lang]
        await run_in_threadpool(api.revoke_api_key, key["key_id"], key["user"])
    base = (request.scope.get("root_path") or "") + "/desk"
    response = RedirectResponse(f"{base}/login", status_code=303)
    response.delete_cookie(COOKIE, path=base, secure=secure_cookie(request), httponly=True, samesite="lax")
    return response


# -- queues ----------------------------------------------------------------------------------

def _left(view: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """Business seconds left on the running clock with the least left, and when it is due
    (ISO 8601 in the desk's zone)."""
    best: tuple[int | None, str | None] = (None, None)
    for rec in (view.get("sla") or {}).values():
        if isinstance(rec, Mapping) and rec.get("state") == "running" and rec.get("remaining_seconds") is not None:
            left = int(rec["remaining_seconds"])
            if best[0] is None or left < best[0]:
                best = (left, rec.get("due"))
    return best


def queue_rows(api: Any, person: Mapping[str, Any], queue: str, q: str = "",
               sort: str = "left", page: int = 1, size: int = 50,
               priority: str = "") -> tuple[int, list[dict[str, Any]]]:
    """(the count of one queue's tickets, the page ``page`` of them), through the
    facade (engine.desk.tickets.page_tickets): filtered, sorted and paged in SQL."""
    desc = sort.startswith("-")
    column = sort.lstrip("-")
    order = {"left": "due"}.get(column, column) if column in SORTS else "due"
    common: dict[str, Any] = {"open_only": True, "limit": size, "offset": (page - 1) * size,
                              "order": ("-" if desc else "") + order, "text": q.strip() or None,
                              "priority": priority or None}
    groups = list(person.get("groups") or ())
    if queue == "mine":
        total, rows = api.page(assignee=person["id"], **common)
    elif queue == "groups":
        total, rows = api.page(groups=groups, **common) if groups else (0, [])
    elif queue == "unassigned":
        total, rows = api.page(groups=groups, ungrouped_too=True, unassigned=True, **common)
    elif queue == "breached":
        total, rows = api.page(breached=True, **common)
    elif queue == "at_risk":
        total, rows = api.page(at_risk=True, **common)
    elif queue == "waiting":
        total, rows = api.page(categories=["pending"], **common)
    else:  # major
        majors = [p.id for p in api.defs.processes.values() if p.criteria]
        total, rows = api.page(processes=majors, **common) if majors else (0, [])
    out = []
    for r in rows:
        left, due = _left(r)
        out.append(dict(r, left=left, left_due=due))
    return total, out


def duration(seconds: Any) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    sign = "-" if s < 0 else ""
    s = abs(s)
    return f"{sign}{s // 3600}:{(s % 3600) // 60:02d}"


@router.get("", name="desk_queues")
def queues(request: Request, queue: str = "mine", q: str = "", sort: str = "left", page: int = 1,
           priority: str = "", partial: int = 0) -> Response:
    try:
        api, person, lang = _who(request)
    except _Login:
        return _to_login(request)
    queue = queue if queue in QUEUES else "mine"
    sort = sort if sort.lstrip("-") in SORTS else "left"
    page = min(max(page, 1), MAX_PAGE)
    size = int(request.app.state.web.page_size)  # [web] page_size
    priorities = api.code_options("priority")
    priority = priority if priority in {o["id"] for o in priorities} else ""
    total, rows = queue_rows(api, person, queue, q[:200], sort, page, size, priority)
    pages = max(1, -(-total // size))
    if page > pages:  # past the end (the queue shrank): its last page
        page = pages
        total, rows = queue_rows(api, person, queue, q[:200], sort, page, size, priority)
        pages = max(1, -(-total // size))
    ctx = {"rows": rows, "queue": queue, "q": q[:200], "sort": sort, "duration": duration, "total": total,
           "priority": priority, "priorities": priorities,
           "plabel": {o["id"]: o["label"] for o in priorities},
           "page": page, "pages": pages, "first": (page - 1) * size + 1 if rows else 0,
           "last": (page - 1) * size + len(rows)}
    return _render(request, "desk/queue_rows.html" if partial else "desk/queues.html", lang, ctx, me=person)


# -- the ticket ------------------------------------------------------------------------------

def _ticket_page(request: Request, api: Any, person: Mapping[str, Any], lang: str, key: str,
                 error: str | None = None, failed: str | None = None, conflict: bool = False,
                 values: Mapping[str, str] | None = None, status: int = 200,
                 created: str | None = None) -> Response:
    view = api.show(key)
    key = view["key"]
    labels = api.event_labels(view["process"])
    history = _retold(lang, api.history(key, actor_id=person["id"]), labels)
    forms = api.action_forms(key, actor_id=person["id"])
    similar = api.similar(key, limit=3, actor_id=person["id"]) if view["category"] not in ("resolved", "closed") else []
    reuse = (request.query_params.get("reuse") or "").strip().upper()[:40]
    reuse_text = next((s.get("solution") or "" for s in similar if s["key"] == reuse), "")
    return _render(request, "desk/ticket.html", lang, {
        "view": view, "history": history, "forms": forms, "similar": similar, "error": error,
        "failed": failed, "conflict": conflict, "values": dict(values or {}), "reuse": reuse,
        "reuse_text": reuse_text, "created": created, "shown": api.shown_fields(view),
        "note_kinds": api.note_kinds(key, actor_id=person["id"]),
        "plabel": {o["id"]: o["label"] for o in api.code_options("priority")},
        "labels": labels, "duration": duration}, status, me=person)


def _retold(lang: str, history: list[dict[str, Any]], labels: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The journal with the engine's own notes (a cascade, an alert; stored in English) in
    ``lang``, actions, clocks and timers by their labels (engine.i18n.note_in)."""
    if lang == "en":
        return history
    from engine.i18n import note_in

    return [dict(e, note=note_in(e, lang, labels)) for e in history]


@router.get("/t/{key}", name="desk_ticket")
def ticket(request: Request, key: str) -> Response:
    try:
        api, person, lang = _who(request)
    except _Login:
        return _to_login(request)
    return _ticket_page(request, api, person, lang, key)


@router.get("/t/{key}/files/{attachment_id}", name="desk_file")
def ticket_file(request: Request, key: str, attachment_id: int) -> Response:
    """An attachment of the ticket (internal ones too, for staff), always as a download."""
    from engine.web.pages import file_response

    try:
        api, person, _ = _who(request)
    except _Login:
        return _to_login(request)
    meta, data = api.attachment(key, attachment_id, actor_id=person["id"])
    return file_response(meta, data)


@router.post("/t/{key}/do/{action}", name="desk_do")
async def do(request: Request, key: str, action: str) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    form, api, person, lang = posted
    note = form.pop("note", None) or None
    version = form.pop("version", "")
    back = form.pop("return_to", "")
    back_declare = form.pop("declare", "") == "1"
    inputs = {k: v for k, v in form.items() if v != ""}

    def again(**kw: Any) -> Response:  # the page the form was on, with what went wrong
        if back == "board":
            return _board_page(request, api, person, lang, declare=key if back_declare else "", **kw)
        return _ticket_page(request, api, person, lang, key, **kw)

    try:
        expect = int(version) if version else None
        await run_in_threadpool(api.do, key, action, inputs, note, expect, person["id"])
    except Conflict:
        return again(conflict=True, failed=action, values=form, status=409)
    except ValueError:
        return again(error="version", failed=action, status=400)
    except ItsmError as exc:
        status = _refusal_status(exc)
        if status is None:
            raise
        return again(error=exc.text(lang), failed=action, values=form, status=status)
    base = (request.scope.get("root_path") or "") + "/desk"
    return RedirectResponse(f"{base}/board" if back == "board" else f"{base}/t/{key.upper()}", status_code=303)


@router.post("/t/{key}/note", name="desk_note")
async def note(request: Request, key: str) -> Response:
    """A public or an internal note (``itsm comment``, with ``--public`` or not)."""
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    form, api, person, lang = posted
    public = form.get("kind") == "public"
    text = form.get("text") or ""
    try:
        if len(text) > MAX_NOTE:  # refused whole, kept in the form: never cut unseen
            raise UsageError(N_("{name}: at most {limit} characters"), values={"name": "text", "limit": MAX_NOTE})
        await run_in_threadpool(api.comment, key, text, public, person["id"])
    except ItsmError as exc:
        status = _refusal_status(exc)
        if status is None:
            raise
        return _ticket_page(request, api, person, lang, key, error=exc.text(lang), failed="note",
                            values=form, status=status)
    base = (request.scope.get("root_path") or "") + "/desk"
    return RedirectResponse(f"{base}/t/{key.upper()}#history", status_code=303)


# -- hotline intake --------------------------------------------------------------------------

def _intake(request: Request, api: Any, person: Mapping[str, Any], lang: str, values: Mapping[str, str],
            error: str | None = None, status: int = 200) -> Response:
    caller = None
    who = (values.get("caller") or "").strip()
    if who:
        try:
            caller = api.caller(who)
        except NotFound:
            caller = {"missing": True}
    title = (values.get("title") or "").strip()
    similar = api.search(title, resolved=True, limit=5, actor_id=person["id"]) if len(title) >= 3 else []
    form = api.intake_form(person["id"], values.get("process"), values.get("offering"))
    return _render(request, "desk/new.html", lang, {
        "values": values, "caller": caller, "similar": similar, "error": error, "form": form,
        "services": api.code_options("services"), "impacts": api.code_options("impact"),
        "urgencies": api.code_options("urgency"),
        "priority": api.priority_preview(values.get("impact"), values.get("urgency"))}, status, me=person)


INTAKE_FIELDS = ("title", "description", "service", "impact", "urgency")


@router.get("/new", name="desk_new")
def new_form(request: Request) -> Response:
    try:
        api, person, lang = _who(request)
    except _Login:
        return _to_login(request)
    values = {k: v[:2000] for k, v in list(request.query_params.items())[:50] if k not in ("lang", csrf.FIELD)}
    return _intake(request, api, person, lang, values)


@router.post("/new")
async def new(request: Request) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    form, api, person, lang = posted
    chosen = api.intake_form(person["id"], form.get("process"), form.get("offering"))
    if chosen["process"] is None or (form.get("process") and form["process"] != chosen["process"]):
        return _intake(request, api, person, lang, form, error=t("no_process", lang), status=400)
    names = (*INTAKE_FIELDS, *[f["id"] for f in chosen["fields"]])
    values = {k: form[k] for k in names if form.get(k, "") != ""}
    if chosen["offering"] is not None:  # a catalogue offering: its service and its name
        values.update(service=chosen["offering"]["service"], offering=chosen["offering"]["offering"])
        values.setdefault("title", chosen["offering"]["label"])
    caller = (form.get("caller") or "").strip()
    if caller:
        try:
            found = api.caller(caller)
            values["reporter"] = found.get("email") or found["id"]
        except NotFound:
            values["reporter"] = caller
    values.setdefault("channel", "phone")
    try:
        ticket = await run_in_threadpool(api.new_ticket, chosen["process"], values, None, person["id"])
    except ItsmError as exc:
        status = _refusal_status(exc)
        if status is None:
            raise
        return _intake(request, api, person, lang, form, error=exc.text(lang), status=status)
    # as ``itsm new`` prints it: the caller's personal status link, given once
    link = str(request.url_for("status_page", key=ticket["key"]).include_query_params(
        token=ticket["status_token"]))
    return _ticket_page(request, api, person, lang, ticket["key"], created=link, status=201)


# -- the major-incident board ----------------------------------------------------------------

def _board_page(request: Request, api: Any, person: Mapping[str, Any], lang: str, declare: str = "",
                error: str | None = None, failed: str | None = None, conflict: bool = False,
                values: Mapping[str, str] | None = None, status: int = 200) -> Response:
    rows = []
    for m in api.major_board():  # with the board's own actions this person may take now
        forms = [f for f in api.action_forms(m["key"], actor_id=person["id"]) if f["action"] in BOARD_ACTIONS]
        rows.append(dict(m, forms=forms))
    majors = {p.id for p in api.defs.processes.values() if p.criteria}
    declaring, declare_forms = declare.strip().upper()[:40], []
    if declaring:  # the incident's own actions that open a major incident, from its definition
        try:
            declare_forms = [f for f in api.action_forms(declaring, actor_id=person["id"]) if f["opens"] in majors]
        except NotFound:
            error = error or t("no_ticket", lang, key=declaring)
        if not declare_forms and not error:
            error = t("no_declare", lang, key=declaring)
    return _render(request, "desk/board.html", lang, {
        "board": rows, "failed": failed, "error": error, "conflict": conflict, "values": dict(values or {}),
        "reuse": "", "reuse_text": "", "declaring": declaring, "declare_forms": declare_forms},
        status, me=person)


@router.get("/board", name="desk_board")
def board(request: Request, declare: str = "") -> Response:
    try:
        api, person, lang = _who(request)
    except _Login:
        return _to_login(request)
    return _board_page(request, api, person, lang, declare)


BOARD_ACTIONS = ("accept", "post_update", "assign_lead", "assign_communications")


__all__ = ["router", "queue_rows", "ActionRefused"]
