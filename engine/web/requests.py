"""What a request says: its language, the Api speaking it, its path inside the
application (behind a proxy's root path), whether it wants JSON, and its JSON
body, read strictly (:func:`decode_json`)."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Request

from engine.errors import UsageError
from engine.limits import nested_deeper_than
from engine.web.i18n import negotiate

MAX_JSON_DEPTH = 32  # objects and lists inside each other; the API's bodies need 2


def secure_cookie(request: Request) -> bool:
    """Whether a cookie set for ``request`` is Secure: over https, or always with
    ``[web] secure_cookies`` (TLS ends at a proxy before the app)."""
    return request.url.scheme == "https" or bool(request.app.state.web.secure_cookies)


def lang_of(request: Request) -> str:
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"),
                     request.app.state.default_lang)


def server_api(request: Request) -> Any:
    """The Api speaking the request's language, on the server's clock."""
    return request.app.state.apis[lang_of(request)]


def api_for(request: Request) -> Any:
    """The Api speaking the request's language, at the client's time (``X-Itsm-Now``,
    a remote ``--now``) where the server believes clients ([web] client_clock)."""
    api = server_api(request)
    now = request.headers.get("x-itsm-now")
    if now is None:
        return api
    if not request.app.state.web.client_clock:
        raise UsageError("--now (X-Itsm-Now): this desk server keeps its own clock; only a server "
                         "started with 'itsm serve --client-clock' lets clients set the time")
    return api.at(now)


def route_path(request: Request) -> str:
    """The path inside the application (without the proxy's root_path)."""
    path, root = request.scope.get("path", ""), request.scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def wants_json(request: Request) -> bool:
    return route_path(request).startswith(("/api/", "/openapi", "/healthz"))


class _NotJson(ValueError):
    pass


def _constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a number JSON has")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson(f"{text} is out of range (a number is at most about 1.8e308)")
    return value


def decode_json(body: bytes) -> Any:
    """A JSON body as data, or UsageError (400) saying what is wrong with it.

    Stricter than ``json.loads``: NaN, Infinity and numbers beyond the range of a
    double (``1e400``) are refused, as JSON (RFC 8259) has no such numbers, and so
    are bodies nested deeper than MAX_JSON_DEPTH."""
    too_deep = f"the body is nested too deeply: at most {MAX_JSON_DEPTH} levels of objects and lists"
    try:
        data = json.loads(body, parse_constant=_constant, parse_float=_finite)
    except _NotJson as exc:
        raise UsageError(f"the body is not valid JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"the body is not valid JSON: {exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}") from None
    except RecursionError:
        raise UsageError(too_deep) from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"the body is not UTF-8 text (byte {exc.start})") from None
    except ValueError:  # int() of more than 4300 digits
        raise UsageError("the body is not valid JSON: a number has too many digits") from None
    if nested_deeper_than(data, MAX_JSON_DEPTH):
        raise UsageError(too_deep)
    return data


def is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/...+json``, as FastAPI reads bodies."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class JsonRequest(Request):
    """A request whose JSON body is read by :func:`decode_json`."""

    async def json(self) -> Any:
        if not hasattr(self, "_strict_json"):
            self._strict_json = decode_json(await self.body())
        return self._strict_json
