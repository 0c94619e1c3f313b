"""ASGI middleware of ``itsm serve``: the structured access log, security
headers, and the refusals that come before any handler (oversized bodies, NUL
characters in the path or query).

The body limit holds for every body, whether it declares its length or comes in
chunks: a declared length over the limit is refused before anything is read,
and the bytes of any other body are counted as the application reads them, so
the read stops (413) as soon as the count passes the limit, long before a large
body is held in memory.

The access log is one JSON object per request on the ``itsm.access`` logger
(stderr under ``itsm serve``): time, client address (the proxy's client when
the proxy is trusted), method, path (never the query string: it may carry a
status token), status, bytes, duration, user agent, request id, the API
key's user and, when it acts for another person (X-Itsm-As), ``user`` is that
person and ``by`` the key's.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from starlette.exceptions import HTTPException

from engine.web.errors import usage_body
from engine.web.i18n import negotiate, t

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

access_logger = logging.getLogger("itsm.access")

CSP = ("default-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None


class BodyTooLarge(HTTPException):
    """Raised where the application reads a body past the limit; answered 413
    (by the application's handler, or by :class:`Guard` if it gets that far)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")
        self.limit = limit


class Guard:
    """Security headers on every response; 413 for a body over the limit
    (declared or counted while it is read); 400 for a NUL character in the path
    or query (no database takes it)."""

    def __init__(self, app: App, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path") or scope.get("path", "").encode()
        query = scope.get("query_string") or b""
        if b"%00" in raw.lower() or b"\x00" in raw or b"%00" in query or b"\x00" in scope["path"].encode():
            await _json(send, 400, usage_body("the request contains a NUL character"))
            return
        limit = self.max_body_bytes
        root, path = scope.get("root_path", ""), scope["path"]
        route = path[len(root):] if root and path.startswith(root) else path
        length = _header(scope, b"content-length")
        declared_over = length is not None and length.isdigit() and int(length) > limit
        if declared_over and route.startswith(("/api/", "/openapi", "/healthz")):
            await _json(send, 413, _said(scope, usage_body(BodyTooLarge(limit).detail), "err_too_large",
                                         limit=limit))
            return
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            if declared_over:  # a page's form: refused unread by the app, which answers with its HTML page
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body") or b"")
                if received > limit:
                    raise BodyTooLarge(limit)
            return message
        static = route.startswith("/static/")

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers") or [])
                names = {k.lower() for k, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"x-frame-options", b"DENY"), (b"content-security-policy", CSP.encode())]
                if not static:
                    extra.append((b"cache-control", b"no-store"))
                headers += [(k, v) for k, v in extra if k not in names]
                message = dict(message, headers=headers)
            await send(message)

        try:
            await self.app(scope, bounded_receive, send_with_headers)
        except BodyTooLarge as exc:  # not answered by the application's handler
            if not started:
                await _json(send_with_headers, 413, usage_body(exc.detail))


def _said(scope: Scope, body: dict[str, Any], word: str, **values: Any) -> dict[str, Any]:
    """``body`` with ``text`` in the language the request asks for (``?lang=``,
    Accept-Language), answered before the application saw it."""
    from urllib.parse import parse_qs

    query = parse_qs((scope.get("query_string") or b"").decode("latin-1")).get("lang", [None])[0]
    accept = _header(scope, b"accept-language")
    lang = negotiate(query, accept)
    if lang != "en":
        body["text"] = t(word, lang, **values)
    return body


async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


class AccessLog:
    """One JSON line per request, written when the response is complete."""

    def __init__(self, app: App, logger: logging.Logger = access_logger) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _header(scope, b"x-request-id")
        if not request_id or len(request_id) > 100 or not request_id.isprintable():
            request_id = uuid.uuid4().hex
        status, size = 500, 0

        async def send_logged(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
                message = dict(message, headers=[*(message.get("headers") or []),
                                                 (b"x-request-id", request_id.encode())])
            elif message["type"] == "http.response.body":
                size += len(message.get("body") or b"")
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            client = scope.get("client")
            state = scope.get("state") or {}
            self.logger.info(json.dumps({
                "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                "event": "access", "remote": client[0] if client else None,
                "scheme": scope.get("scheme"), "method": scope.get("method"),
                "path": scope.get("path"), "status": status,
                "bytes": size, "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "user_agent": _header(scope, b"user-agent"), "request_id": request_id,
                "user": state.get("user"), "by": state.get("by")}, ensure_ascii=False))
