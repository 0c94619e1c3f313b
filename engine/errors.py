"""The one exception hierarchy of itsm and the exit codes of the CLI contract.

Every error a user can cause is an :class:`ItsmError`; its ``exit_code`` is what
the CLI returns.  Anything else reaching the top is a bug (exit 3).

Every message is a template of the catalogue with ``values``
(``NotFound(N_("no ticket {key}"), values={"key": key})``), said in the reader's
language by :meth:`ItsmError.text` where it is shown; ``message``, ``str(exc)`` and
``--json`` stay English with raw ids.  A value may say itself in each language
(engine.i18n ``named``/``names``/``phrase``/``message``, another error, an OSError).
tests/cli/test_zh_errors.py fails on an error message not marked this way.
"""

from __future__ import annotations

import enum
from typing import Any, Mapping, Sequence

from engine.i18n import N_, Said, said, tr


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
        self.template = message  # a msgid of the catalogue (marked with N_), or a Said
        self.values = dict(values or {})
        message = message.format(**self.values) if self.values else str(message)
        super().__init__(message)
        self.message = message
        self.details = details

    def text(self, lang: str = "en") -> str:
        """The message as the CLI prints it, in ``lang``."""
        if lang == "en":
            return str(self)
        return self.message_in(lang)

    def message_in(self, lang: str) -> str:
        """The message alone (without what ``__str__`` adds around it) in ``lang``."""
        if isinstance(self.template, Said) and not self.values:
            return self.template.said(lang)
        if not self.template:  # gettext's "" is the catalogue's header
            return ""
        return tr(self.template, lang, **{k: said(v, lang) for k, v in self.values.items()})

    def said(self, lang: str) -> str:
        """As a value of another message: :meth:`text`."""
        return self.text(lang)

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
                 rule: str = "schema", values: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, values, file=file, line=line, column=column, path=path, rule=rule)
        self.file, self.line, self.column, self.path, self.rule = file, line, column, path, rule

    def _where(self) -> str:
        where = self.file or "<definition>"
        if self.line:
            where += f":{self.line}:{self.column or 1}"
        return where

    def __str__(self) -> str:
        at = f" (at {self.path})" if self.path else ""
        return f"{self._where()}: {self.message}{at}"

    def located(self, lang: str = "en") -> str:
        """The message and, when known, the path in the document: "... (at states.new)"."""
        if not self.path:
            return self.message_in(lang)
        return tr(N_("{message} (at {path})"), lang, message=self.message_in(lang), path=self.path)

    def text(self, lang: str = "en") -> str:
        if lang == "en":
            return str(self)
        if self.path:
            return tr("{where}: {message} (at {path})", lang, where=self._where(),
                      message=self.message_in(lang), path=self.path)
        return f"{self._where()}: {self.message_in(lang)}"


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

    def __init__(self, message: str | None = None, values: Mapping[str, Any] | None = None) -> None:
        super().__init__(message or N_("a valid API key is needed (Authorization: Bearer itsm_...); "
                                       "ask for one with 'itsm apikey create', or log in with 'itsm login'"),
                         values)


class Throttled(ItsmError):
    """Too many requests (failed logins, portal submissions, API calls) from one
    client, key or e-mail address: try again after ``retry_after`` seconds (429)."""

    kind = "throttled"

    def __init__(self, message: str, retry_after: int, values: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, values, retry_after=retry_after)
        self.retry_after = retry_after
