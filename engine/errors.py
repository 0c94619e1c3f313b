"""The one exception hierarchy of itsm and the exit codes of the CLI contract.

Every error a user can cause is an :class:`ItsmError`; its ``exit_code`` is what
the CLI returns.  Anything else reaching the top is a bug (exit 3).

A message given as a template with ``values`` (``NotFound(N_("no ticket {key}"),
values={"key": key})``) is said in the reader's language by :meth:`ItsmError.text`;
``message`` (and ``--json``) stays English.
"""

from __future__ import annotations

import enum
TYPE_CHECKING = False  # typing is not imported at run time: a remote command starts faster
if TYPE_CHECKING:
    from typing import Any, Mapping, Sequence

from engine.i18n import tr


class ExitCode(enum.IntEnum):
    OK = 0
    REFUSED = 1  # the request was refused, or lint reported findings
    USAGE = 2
    INTERNAL = 3
    NOT_FOUND = 4
    CONFLICT = 5


class ItsmError(Exception):
    """Root of every error itsm reports to a user."""

    exit_code: ExitCode = ExitCode.REFUSED
    kind: str = "error"

    def __init__(self, message: str, values: Mapping[str, Any] | None = None, **details: Any) -> None:
        self.template = message if values is not None else None  # a msgid of the catalogue
        self.values = dict(values or {})
        message = message.format(**self.values) if self.values else message
        super().__init__(message)
        self.message = message
        self.details = details

    def text(self, lang: str = "en") -> str:
        """The message as the CLI prints it, in ``lang``."""
        if self.template is None or lang == "en":
            return str(self)
        return tr(self.template, lang, **self.values)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.kind, "message": self.message,
                               "exit_code": int(self.exit_code)}
        out.update({k: v for k, v in self.details.items() if v is not None})
        return out


class UsageError(ItsmError):
    exit_code = ExitCode.USAGE
    kind = "usage"


class DefinitionError(ItsmError):
    """A definition file cannot be used; carries where the problem is."""

    exit_code = ExitCode.REFUSED
    kind = "definition"

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 column: int | None = None, path: str | None = None,
                 rule: str = "schema") -> None:
        super().__init__(message, file=file, line=line, column=column, path=path, rule=rule)
        self.file, self.line, self.column, self.path, self.rule = file, line, column, path, rule

    def __str__(self) -> str:
        where = self.file or "<definition>"
        if self.line:
            where += f":{self.line}:{self.column or 1}"
        at = f" (at {self.path})" if self.path else ""
        return f"{where}: {self.message}{at}"


class ActionRefused(ItsmError):
    """An action may not be performed now; says what is missing or allowed."""

    kind = "refused"

    def __init__(self, message: str, *, missing: Sequence[str] = (),
                 allowed_roles: Sequence[str] = (), available: Sequence[str] = (),
                 reason: str | None = None, values: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, values, missing=list(missing) or None,
                         allowed_roles=list(allowed_roles) or None,
                         available=list(available) if available else None, reason=reason)
        self.missing = list(missing)
        self.allowed_roles = list(allowed_roles)
        self.available = list(available)


class NotFound(ItsmError):
    exit_code = ExitCode.NOT_FOUND
    kind = "not_found"


class Conflict(ItsmError):
    exit_code = ExitCode.CONFLICT
    kind = "conflict"


class StoreUnavailable(ItsmError):
    """The database cannot be reached or opened."""

    exit_code = ExitCode.INTERNAL
    kind = "database"


class InvalidApiKey(ItsmError):
    """No key, a malformed, unknown, wrong or revoked key: one answer for all."""

    kind = "unauthenticated"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "a valid API key is needed (Authorization: Bearer itsm_...); "
                         "ask for one with 'itsm apikey create', or log in with 'itsm login'")


class Throttled(ItsmError):
    """Too many requests (failed logins, portal submissions, API calls) from one
    client, key or e-mail address: try again after ``retry_after`` seconds (429)."""

    kind = "throttled"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after
