"""Shared by the rules that report problems found while reading files."""

from __future__ import annotations

from typing import Iterable

from engine.i18n import Said
from engine.lint.context import LintContext
from engine.model import Where


def load_problems(ctx: LintContext, rule: str) -> Iterable[tuple[Where, str]]:
    for err in ctx.load_errors:
        if err.rule == rule:
            yield Where(err.file or "<unknown>", err.line or 1, err.column or 1), Said(err.message, err.message_in)


def error_text(exc: BaseException) -> str:
    """An exception's message as a finding's message: in the reader's language when it
    carries a :class:`Said` (ValueError(message(N_(...))), ItsmError)."""
    if hasattr(exc, "message_in"):
        return Said(str(getattr(exc, "message")), getattr(exc, "message_in"))
    if exc.args and isinstance(exc.args[0], Said) and len(exc.args) == 1:
        return exc.args[0]
    return str(exc)
