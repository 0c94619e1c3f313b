"""The one mapping of itsm's errors to HTTP statuses (the CLI maps the same
errors to exit codes in cli.py).  The JSON body is what ``itsm --json``
prints on stderr: ``{"error", "message", "exit_code", ...details}``.

| error | HTTP |
|---|---|
| no, malformed, unknown or revoked API key | 401 |
| usage error, malformed payload or body | 400 |
| action refused: the actor lacks the role | 403 |
| not found (also: wrong status token) | 404 |
| changed concurrently, stale ``expect_version`` | 409 |
| too many requests (logins, portal, API key): ``Retry-After`` | 429 |
| action refused: fields missing, guard or close criteria failed, not available now | 422 |
| the database is unavailable | 503 |
"""

from __future__ import annotations

from engine.errors import (ActionRefused, Conflict, DefinitionError, ExitCode, InvalidApiKey, ItsmError,
                           NotFound, StoreUnavailable, Throttled, UsageError)

BY_EXIT_CODE = {ExitCode.REFUSED: 422, ExitCode.USAGE: 400, ExitCode.NOT_FOUND: 404,
                ExitCode.CONFLICT: 409, ExitCode.INTERNAL: 503}


def http_status(exc: ItsmError) -> int:
    if isinstance(exc, InvalidApiKey):
        return 401
    if isinstance(exc, Throttled):
        return 429
    if isinstance(exc, ActionRefused):
        return 403 if exc.allowed_roles else 422
    if isinstance(exc, UsageError):
        return 400
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, StoreUnavailable):
        return 503
    if isinstance(exc, DefinitionError):
        return 500  # the deployment's definitions cannot be used: not the client's fault
    return BY_EXIT_CODE.get(exc.exit_code, 422)


def usage_body(message: str, **details: object) -> dict[str, object]:
    """The body of a request itsm could not read (like a CLI usage error)."""
    return UsageError(message, **details).to_dict()
