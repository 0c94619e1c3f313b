"""The ``itsm`` command: the root group, the global options and the mapping of
every error to the exit codes of the CLI contract (design 6).

The commands themselves live in the ``commands`` package, one module per area
(tickets, people, definitions, reports...), each a few lines: parse options,
call the engine facade (engine.api), render.  Heavy modules are imported
inside commands so that ``itsm --help`` stays fast.

    itsm = "cli:main"      (pyproject.toml)      python -m cli

May import: ground, definitions, lint, workspace, store, reports, api, design, demo, web.
"""

from __future__ import annotations

import json
from typing import Any

import click

from commands import (alerts, apikey, batch, definitions, demo, design, mail, major, notifications,  # noqa: F401
                      operations, people, reports, search, serve, tickets)
from commands.common import COMMANDS, State
from engine import __version__
from engine.errors import ExitCode, ItsmError
from engine.i18n import tr


def _report_error(state: State | None, exc: ItsmError) -> int:
    if state is not None and state.json_errors:
        click.echo(json.dumps(exc.to_dict(), ensure_ascii=False), err=True)
    else:
        click.echo(f"itsm: {exc.text(state.lang if state is not None else 'en')}", err=True)
    return int(exc.exit_code)


class ItsmGroup(click.Group):
    """Maps every error to the exit codes of the CLI contract."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ItsmError as exc:
            ctx.exit(_report_error(ctx.find_object(State), exc))
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            state = ctx.find_object(State)
            click.echo("itsm: " + tr("interrupted", state.lang if state else "en"), err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug: short message, traceback only with --debug
            state = ctx.find_object(State)
            if state is not None and state.debug:
                raise
            click.echo("itsm: " + tr("internal error: {error} (run with --debug for the traceback)",
                                     state.lang if state else "en", error=f"{type(exc).__name__}: {exc}"),
                       err=True)
            ctx.exit(int(ExitCode.INTERNAL))


@click.group(cls=ItsmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", envvar="ITSM_HOME", metavar="DIR",
              help="Process repository (default: $ITSM_HOME, the nearest folder upward with "
                   "processes/ and codes/, else the bundled defaults).")
@click.option("--db", envvar="ITSM_DATABASE_URL", metavar="URL",
              help="Database URL (default: SQLite in the repository's .itsm/ folder).")
@click.option("--as", "user", envvar="ITSM_USER", metavar="USER", help="Acting user (id or e-mail).")
@click.option("--now", envvar="ITSM_NOW", metavar="ISO8601",
              help="The current time, for simulation and back-filling.")
@click.option("--lang", envvar="ITSM_LANG", type=click.Choice(["en", "zh"]), default=None,
              help="Language of labels and messages (default: $ITSM_LANG, else the acting "
                   "person's own language, else en).")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.version_option(__version__, "--version", prog_name="itsm")
@click.pass_context
def main(ctx: click.Context, home: str | None, db: str | None, user: str | None,
         now: str | None, lang: str | None, debug: bool) -> None:
    """itsm: declarative IT service management.

    Agents work tickets (new, do, show, list), auditors check definitions
    (lint, graph), operators run timers and reports.

    \b
    Example:
      itsm new incident --title "Claims system down" --reporter li.na@example.com
    """
    ctx.obj = State(home=home, db=db, user=user, now=now, lang=lang or "en", lang_chosen=lang is not None,
                    debug=debug)


for _command in COMMANDS:  # declared by the modules of the commands package
    main.add_command(_command)

if __name__ == "__main__":  # python -m cli
    main(prog_name="itsm")
