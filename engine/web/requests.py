"""What a request says: its language, the Api speaking it, its path inside the
application (behind a proxy's root path), and whether it wants JSON."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from engine.web.i18n import negotiate


def lang_of(request: Request) -> str:
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"),
                     request.app.state.default_lang)


def api_for(request: Request) -> Any:
    """The Api speaking the request's language."""
    return request.app.state.apis[lang_of(request)]


def route_path(request: Request) -> str:
    """The path inside the application (without the proxy's root_path)."""
    path, root = request.scope.get("path", ""), request.scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def wants_json(request: Request) -> bool:
    return route_path(request).startswith(("/api/", "/openapi", "/healthz"))
