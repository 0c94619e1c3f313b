"""The web application of ``itsm serve``: the portal (engine/web/pages.py) and
the JSON API (engine/web/api_v1.py) over one :class:`engine.api.Api`.

Handlers parse the request, call the Api and render; every error goes through
one handler here, which maps it with engine/web/errors.py: JSON like the CLI's
``--json`` errors under /api, an HTML page elsewhere.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine import __version__
from engine.errors import ItsmError, NotFound, Throttled
from engine.web.config import WebSettings
from engine.web.errors import http_status, usage_body
from engine.web.i18n import LANGS, t
from engine.web.limits import Limiter
from engine.web.middleware import AccessLog, Guard
from engine.web.requests import api_for, lang_of, wants_json

HERE = Path(__file__).resolve().parent
log = logging.getLogger("itsm.web")

DESCRIPTION = """\
The JSON API of itsm for agents, integrations and monitoring. Every request
needs an API key (`itsm apikey create --user USER`) as `Authorization: Bearer
itsm_...`; the key's user and roles apply exactly as with `itsm --as USER`.

Errors have the body `{"error", "message", "exit_code", ...}` of `itsm --json`
(plus `"text"`, the message in the request's language, when that is not English):
400 usage (a malformed request), 401 no valid API key, 403 the user lacks the
role, 404 not found, 409 changed concurrently (re-read and retry), 422 refused
(fields missing, a guard or close criterion failed, not available now), 503 the
database is unavailable.
"""


def create_app(api: Any, web: WebSettings | None = None) -> FastAPI:
    """The ASGI application over ``api`` (an opened engine.api.Api)."""
    from engine.web import api_v1, console, pages

    web = web or WebSettings.load(api.settings)
    api.store  # noqa: B018  open the database once, shared by the per-language copies
    apis = {}
    for lang in LANGS:
        apis[lang] = api.in_language(lang)
    app = FastAPI(title="itsm", version=__version__, description=DESCRIPTION,
                  openapi_url="/openapi.json", docs_url=None, redoc_url=None)
    app.state.apis = apis
    app.state.default_lang = api.lang if api.lang in LANGS else "en"
    app.state.web = web
    app.state.limits = Limiter()
    app.include_router(api_v1.session_router)
    app.include_router(api_v1.router)
    app.include_router(console.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/healthz", tags=["health"], summary="Liveness and database check")
    def healthz(request: Request) -> dict[str, str]:
        """`{"status": "ok"}` when the database answers (else 503)."""
        api_for(request).list(limit=1)
        return {"status": "ok", "version": __version__}

    app.add_exception_handler(ItsmError, _itsm_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
    app.add_middleware(AccessLog)
    app.add_middleware(Guard, max_body_bytes=web.max_body_bytes)
    if web.trusted_proxies:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(web.trusted_proxies))
    return app


def error_response(request: Request, status: int, body: dict[str, Any],
                   headers: dict[str, str] | None = None) -> Response:
    if wants_json(request):
        return JSONResponse(body, status_code=status, headers=headers)
    from engine.web.pages import error_page

    return error_page(request, status, body, headers)


async def _itsm_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ItsmError)
    status = http_status(exc)
    headers = {"WWW-Authenticate": 'Bearer realm="itsm"'} if status == 401 else None
    if isinstance(exc, Throttled):
        headers = {"Retry-After": str(exc.retry_after)}
    if status >= 500:
        log.error("request failed: %s", exc)
    body = exc.to_dict()
    lang = lang_of(request)
    if lang != "en":  # the message in the request's language (Accept-Language); "message" stays English
        body["text"] = exc.text(lang)
    return error_response(request, status, body, headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e.get("loc", ()))
        problems.append(f"{where}: {e.get('msg')}")
    body = usage_body("; ".join(problems) or "malformed request", problems=problems)
    _said(request, body, "err_malformed", problems="; ".join(problems) or "-")
    return error_response(request, 400, body)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405 and request.url.path.startswith("/api/"):
        from engine.web.api_v1 import check_key

        try:  # a stranger learns nothing of the API's routes: the key first, as on every route
            await check_key(request)
        except ItsmError as err:
            return await _itsm_error(request, err)
    if exc.status_code == 404:
        body = NotFound(f"no such page: {request.url.path}").to_dict()
        _said(request, body, "err_no_page", path=request.url.path)
    elif exc.status_code == 413:  # engine/web/middleware.py: the body passed the limit as it was read
        body = usage_body(str(exc.detail))
        _said(request, body, "err_too_large", limit=getattr(exc, "limit", "?"))
    else:
        body = {"error": "http", "message": str(exc.detail), "exit_code": 2}
        _said(request, body, "err_http", status=exc.status_code)
    return error_response(request, exc.status_code, body, getattr(exc, "headers", None))


def _said(request: Request, body: dict[str, Any], word: str, **values: Any) -> None:
    """``text``: the message in the request's language, beside the English
    ``message`` (as the engine's errors have it, _itsm_error)."""
    lang = lang_of(request)
    if lang != "en":
        body["text"] = t(word, lang, **values)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, 500, {"error": "internal", "message": "internal error", "exit_code": 3})


def configure_logging() -> None:
    """Access log and errors as lines on stderr (the access log's are JSON)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access = logging.getLogger("itsm.access")
    access.handlers[:] = [handler]
    access.setLevel(logging.INFO)
    access.propagate = False
    errors = logging.getLogger("itsm.web")
    err_handler = logging.StreamHandler(sys.stderr)
    err_handler.setFormatter(logging.Formatter("itsm: %(levelname)s %(message)s"))
    errors.handlers[:] = [err_handler]
    errors.setLevel(logging.INFO)
    errors.propagate = False
