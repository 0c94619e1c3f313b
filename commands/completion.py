"""What the shell completes and what ``--help`` lists from the definitions: code
values (urgency, impact, services), ticket keys and the actions open on a ticket.

Completion runs before any command does (click parses with ``resilient_parsing``
and calls no callback), so the global options are read from the root context's
parameters.  Anything that fails here (no repository, no database yet) completes
nothing rather than printing an error into the user's shell.
"""

from __future__ import annotations

from typing import Any

import click
from click.shell_completion import CompletionItem

MAX_KEYS = 50  # ticket keys offered at once


def _root(ctx: click.Context) -> dict[str, Any]:
    return ctx.find_root().params


def code_values(ctx: click.Context, table: str) -> list[tuple[str, str]]:
    """The values of a code table with their labels in the chosen language."""
    from engine.definitions.home import find_home
    from engine.errors import ItsmError
    from engine.workspace import load_definitions

    params = _root(ctx)
    try:
        defs = load_definitions(find_home(params.get("home")))
    except (ItsmError, OSError):
        return []
    codes = defs.codes.get(table)
    lang = params.get("lang") or "en"
    return [(code, value.label.get(lang)) for code, value in codes.values.items()] if codes else []


class CodeOption(click.Option):
    """An option whose value is a code of ``table``: its help lists the codes of
    the process repository in use, and the shell completes them."""

    def __init__(self, *args: Any, table: str, **kwargs: Any) -> None:
        self.table = table
        kwargs.setdefault("metavar", "CODE")
        super().__init__(*args, **kwargs)

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        if record is None:
            return None
        from commands.common import HELP_LANG
        from engine.i18n import tr

        codes = [code for code, _ in code_values(ctx, self.table)]
        lang = HELP_LANG[0]
        said = tr(record[1], lang).rstrip(".。")
        if codes:
            return record[0], tr("{help}: one of {codes} (codes/{table}.yaml).", lang, help=said,
                                 codes=", ".join(codes), table=self.table)
        return record[0], tr("{help} (codes/{table}.yaml).", lang, help=said, table=self.table)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        return [CompletionItem(code, help=label) for code, label in code_values(ctx, self.table)
                if code.startswith(incomplete)]


def _api(ctx: click.Context) -> Any:
    from engine.api import Api

    params = _root(ctx)
    return Api.open(home=params.get("home"), db=params.get("db"), user=params.get("user"),
                    now=params.get("now"), lang=params.get("lang") or "en")


def complete_ticket(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Open tickets whose key starts with what is typed (any case)."""
    from engine.errors import ItsmError

    try:
        rows = _api(ctx).list(open_only=True)
    except (ItsmError, OSError):
        return []
    wanted = incomplete.upper()
    found = [r for r in rows if r["key"].startswith(wanted)][-MAX_KEYS:]
    return [CompletionItem(r["key"], help=r["title"]) for r in found]


def complete_action(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The actions the acting user may take on the ticket typed before."""
    from engine.errors import ItsmError

    key = ctx.params.get("key")
    if not key:
        return []
    try:
        actions = _api(ctx).actions(key)
    except (ItsmError, OSError):
        return []
    return [CompletionItem(a["action"], help=a["label"]) for a in actions
            if a["action"].startswith(incomplete)]
