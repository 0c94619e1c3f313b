"""The self-service portal: server-rendered pages that work without JavaScript.

- ``GET /``: self-help first (``?q=``: the public solutions and known errors
  that match, counted into the browser's portal session), then the one intake
  form: an incident, or an offering of the service catalogue with the fields it
  needs (chosen with a small GET form first);
- ``POST /``: files it as the end user; the acknowledgement shows the ticket
  number and the personal status link;
- ``GET /status`` (a lookup form) and ``GET /status/{key}?token=...``: the
  token-protected status page (as ``itsm status``);
- ``POST /status/{key}/{action}``: confirm, reopen... from the status page;
- ``POST /reply/{key}``: the reporter's answer with files (a public comment, and
  the process's ``replies:`` action: a pending ticket resumes);
- ``GET /status/{key}/files/{id}?token=...``: a public attachment, as a download.

Every POST needs the CSRF token (engine/web/csrf.py); output is autoescaped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from engine.errors import ItsmError
from engine.render import when
from engine.web import csrf
from engine.web.requests import api_for, lang_of, secure_cookie
from engine.web.errors import http_status
from engine.web.i18n import LANGS, t

router = APIRouter(include_in_schema=False)
_env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                          autoescape=True, trim_blocks=True, lstrip_blocks=True)
_env.filters["when"] = when  # one text form of a time, with its offset (engine.render.when)
templates = Jinja2Templates(env=_env)
RESERVED = ("csrf_token", "kind", "lang", "token")


def _nonce(request: Request) -> str:
    """The browser's portal session nonce (the CSRF cookie's), else a new one."""
    return csrf.usable_nonce(request.cookies.get(csrf.COOKIE)) or csrf.new_nonce()


def _render(request: Request, name: str, context: Mapping[str, Any], status: int = 200,
            headers: Mapping[str, str] | None = None, nonce: str | None = None) -> Response:
    lang = lang_of(request)
    nonce = nonce or _nonce(request)
    fresh = nonce != request.cookies.get(csrf.COOKIE)
    other = LANGS[1 - LANGS.index(lang)]
    ctx = {"lang": lang, "t": lambda word, **v: t(word, lang, **v),
           "csrf_field": csrf.FIELD, "csrf_token": csrf.sign(request.app.state.web.secret_key, nonce),
           "other_lang": other, "other_lang_url": str(request.url.include_query_params(lang=other)),
           **context}
    response = templates.TemplateResponse(request, name, ctx, status_code=status, headers=dict(headers or {}))
    if fresh:
        response.set_cookie(csrf.COOKIE, nonce, httponly=True, samesite="lax",
                            secure=secure_cookie(request),
                            path=(request.scope.get("root_path") or "") + "/")
    return response


def _csrf_ok(request: Request, form: Mapping[str, Any]) -> bool:
    token = form.get(csrf.FIELD)
    return csrf.valid(request.app.state.web.secret_key, request.cookies.get(csrf.COOKIE),
                      token if isinstance(token, str) else None)


def _url(request: Request, name: str, **params: Any) -> str:
    query = {k: v for k, v in params.pop("query", {}).items() if v is not None}
    url = request.url_for(name, **params)
    if "lang" in request.query_params:
        query.setdefault("lang", lang_of(request))
    return str(url.include_query_params(**query)) if query else str(url)


async def _form(request: Request) -> dict[str, str]:
    data = await request.form()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def error_page(request: Request, status: int, body: Mapping[str, Any],
               headers: Mapping[str, str] | None = None) -> Response:
    from engine.web.requests import route_path

    missing_page = status == 404 and not route_path(request).startswith("/status")
    return _render(request, "error.html", {"status": status, "message": body.get("text") or body.get("message"),
                                           "missing_page": missing_page}, status, headers)


# -- intake ------------------------------------------------------------------------------

def _form_context(request: Request, spec: dict[str, Any], kind: str) -> dict[str, Any]:
    offering = next((o for o in spec["offerings"] if o["id"] == kind), None)
    if offering is None and kind != "incident":
        kind = "incident"
    return {"form": spec, "kind": kind, "offering": offering,
            "action_url": _url(request, "portal_submit"), "choose_url": _url(request, "portal_form")}


def _limit(request: Request, email: str | None = None) -> None:
    """The portal's abuse limits (engine/web/limits.py): submissions, self-help
    searches and status look-ups per client address, submissions per e-mail
    address (429)."""
    security = api_for(request).settings.security
    limits = request.app.state.limits
    address = request.client.host if request.client else "unknown"
    limits.hit(f"portal-addr:{address}", security.portal_per_minute, 60.0,
               "portal requests from this address")
    if email:
        limits.hit(f"portal-email:{email.strip().lower()[:254]}", security.portal_per_email_hour, 3600.0,
                   "portal submissions for this e-mail address")
    api_for(request).act_from({"mode": "portal", "client": address[:64]})


@router.get("/", name="portal_form")
def portal_form(request: Request, kind: str = "incident", q: str | None = None) -> Response:
    api = api_for(request)
    spec = api.portal_form()
    nonce = _nonce(request)
    found = None
    if q is not None and q.strip():  # self-help: counted into this browser's session
        _limit(request)  # a search writes its count: limited like a submission
        found = api.portal_self_help(q, csrf.session_id(request.app.state.web.secret_key, nonce))
    values = {"title": found["query"]} if found else {}
    return _render(request, "form.html", {**_form_context(request, spec, kind), "values": values,
                                          "error": None, "self_help": found, "query": q or ""},
                   nonce=nonce)


@router.post("/", name="portal_submit")
async def portal_submit(request: Request) -> Response:
    form = await _form(request)
    if not _csrf_ok(request, form):
        return error_page(request, 403, {"message": t("csrf", lang_of(request))})
    _limit(request, form.get("reporter"))
    api = api_for(request)
    kind = form.get("kind") or "incident"
    values = {k: v for k, v in form.items() if k not in RESERVED}
    session = csrf.session_id(request.app.state.web.secret_key, request.cookies[csrf.COOKIE])
    try:
        ticket = await run_in_threadpool(api.portal_report, kind, values, session)
    except ItsmError as exc:
        status = http_status(exc)
        if status not in (400, 403, 422):
            raise
        spec = await run_in_threadpool(api.portal_form)
        return _render(request, "form.html", {**_form_context(request, spec, kind), "values": values,
                                              "self_help": None, "query": "", "error": exc.text(lang_of(request)),
                                              "missing": exc.details.get("missing") or []}, status)
    link = _url(request, "status_page", key=ticket["key"], query={"token": ticket["status_token"]})
    return _render(request, "ack.html", {"ticket": ticket, "status_link": link,
                                         "email": values.get("reporter")}, 201)


# -- status ------------------------------------------------------------------------------

_KEY_TEXT = re.compile(r"[A-Z0-9_-]{1,64}")  # what a ticket number may look like (PREFIX-000042)


@router.get("/status", name="status_lookup")
def status_lookup(request: Request, key: str | None = None, token: str | None = None) -> Response:
    if key and token:
        key, token = key.strip().upper(), token.strip()
        if not _KEY_TEXT.fullmatch(key):  # no ticket number ("INC/1", "INC-1?x=1"): answered as a wrong one
            _limit(request)
            api_for(request).portal_status(key, token)  # NotFound, the same page as a wrong number
        return RedirectResponse(_url(request, "status_page", key=quote(key, safe=""), query={"token": token}),
                                status_code=303)
    return _render(request, "lookup.html", {"key": key or "", "lookup_url": _url(request, "status_lookup")})


@router.get("/status/{key}", name="status_page")
def status_page(request: Request, key: str, token: str | None = None, done: str | None = None) -> Response:
    if not token:
        return _render(request, "lookup.html", {"key": key, "lookup_url": _url(request, "status_lookup")})
    _limit(request)
    view = api_for(request).portal_status(key, token)
    return _status(request, view, token, done=done)


def _status(request: Request, view: dict[str, Any], token: str, done: str | None = None,
            error: str | None = None, status: int = 200) -> Response:
    actions = [dict(a, url=_url(request, "status_action", key=view["key"], action=a["id"]))
               for a in view["actions"]]
    done_label = next((a["label"] for a in view["actions"] if a["id"] == done), done)
    files = [dict(f, url=_url(request, "status_file", key=view["key"], attachment_id=f["id"],
                              query={"token": token})) for f in view.get("attachments") or ()]
    return _render(request, "status.html", {"view": view, "token": token, "actions": actions,
                                            "done": done, "done_label": done_label, "error": error,
                                            "files": files,
                                            "reply_url": _url(request, "status_reply", key=view["key"]),
                                            "form_url": _url(request, "portal_form")}, status)


@router.post("/reply/{key}", name="status_reply")
async def status_reply(request: Request, key: str) -> Response:
    """The reporter's answer, with files, from the status page."""
    data = await request.form()
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    if not _csrf_ok(request, form):
        return error_page(request, 403, {"message": t("csrf", lang_of(request))})
    _limit(request)
    api = api_for(request)
    token = form.get("token") or ""
    files = []
    for item in data.getlist("files"):
        if not isinstance(item, str) and getattr(item, "filename", None):
            files.append((item.filename, await item.read()))
    return await _status_write(request, key, token, "reply", api.portal_reply, key, token,
                               form.get("text") or "", files)


async def _status_write(request: Request, key: str, token: str, done: str, call: Any, *args: Any) -> Response:
    """Run a write from the status page: back to the page with what was done, or,
    when the engine refuses it (403, 422), the page again with its message."""
    try:
        view = await run_in_threadpool(call, *args)
    except ItsmError as exc:
        status = http_status(exc)
        if status not in (403, 422):
            raise
        view = await run_in_threadpool(api_for(request).portal_status, key, token)
        return _status(request, view, token, error=exc.text(lang_of(request)), status=status)
    return RedirectResponse(_url(request, "status_page", key=view["key"],
                                 query={"token": token, "done": done}), status_code=303)


@router.get("/status/{key}/files/{attachment_id}", name="status_file")
def status_file(request: Request, key: str, attachment_id: int, token: str = "") -> Response:
    """A public attachment, for the holder of the status token: always a download."""
    _limit(request)  # a guessed token costs a look-up: limited like the status page
    meta, data = api_for(request).portal_attachment(key, token, attachment_id)
    return file_response(meta, data)


def file_response(meta: Mapping[str, Any], data: bytes) -> Response:
    from urllib.parse import quote

    name = str(meta["filename"])
    return Response(data, media_type=str(meta["content_type"]), headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox",
        "Digest": f"sha-256={meta['sha256']}"})


@router.post("/status/{key}/{action}", name="status_action")
async def status_action(request: Request, key: str, action: str) -> Response:
    form = await _form(request)
    if not _csrf_ok(request, form):
        return error_page(request, 403, {"message": t("csrf", lang_of(request))})
    _limit(request)
    api = api_for(request)
    token = form.get("token") or ""
    inputs = {k: v for k, v in form.items() if k not in RESERVED}
    return await _status_write(request, key, token, action, api.portal_act, key, token, action, inputs)
