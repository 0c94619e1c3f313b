"""The ``itsm`` command: the root group, the global options and the mapping of
every error to the exit codes of the CLI contract (design 6).

The commands themselves live in the ``commands`` package, one module per area
(tickets, people, definitions, reports...), each a few lines: parse options,
call the engine facade (engine.api) or, in remote mode, the desk server
(engine.remote), render.  ``itsm --help`` imports no command module: the root
group knows each command's module and the first paragraph of its help
(``COMMAND_MODULES`` of commands/plain.py, kept true by tests/test_docs.py) and
imports a module only when one of its commands runs.  The console script starts
in entry.py, which prints ``itsm --help`` / ``--version`` and performs a remote
``itsm do`` without click, and hands everything else to :func:`main` unchanged.

    itsm = "entry:main"      (pyproject.toml)      python -m cli      (click only)

May import: ground, definitions, lint, workspace, store, reports, api, design, demo, web, remote.
"""

from __future__ import annotations

from typing import Any

import click

from commands.common import COMMANDS, State
from commands.plain import (COMMAND_MODULES, error_text, internal_error_text, interrupted_text,  # noqa: F401
                            ROOT_HELP, terminal_columns, write)
from engine import __version__
from engine.errors import ExitCode, ItsmError


def _report_error(state: State | None, exc: ItsmError) -> int:
    write(error_text(exc, state is not None and state.json_errors, state.lang if state is not None else "en"),
          err=True)
    return int(exc.exit_code)


class ItsmContext(click.Context):
    def make_formatter(self) -> click.HelpFormatter:
        """click's formatter, its width found as click finds it (at most 80)."""
        width = self.terminal_width
        if width is None:
            from click import formatting

            width = formatting.FORCED_WIDTH or max(min(terminal_columns(), self.max_content_width or 80) - 2, 50)
        return self.formatter_class(width=width, max_width=self.max_content_width)


class ItsmGroup(click.Group):
    """Maps every error to the exit codes of the CLI contract; imports a
    command's module only when the command is looked up."""

    context_class = ItsmContext

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMAND_MODULES) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            __import__(f"commands.{COMMAND_MODULES[cmd_name][0]}")
            for made in COMMANDS:
                if made.name not in self.commands:
                    self.add_command(made)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing of ``--help`` from :data:`COMMAND_MODULES`, without importing."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = [(n, click.Command(n, help=COMMAND_MODULES[n][1]).get_short_help_str(limit)
                 if n in COMMAND_MODULES
                 else self.commands[n].get_short_help_str(limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ItsmError as exc:
            ctx.exit(_report_error(ctx.find_object(State), exc))
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            state = ctx.find_object(State)
            write(interrupted_text(state.lang if state else "en"), err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug: short message, traceback only with --debug
            state = ctx.find_object(State)
            if state is not None and state.debug:
                raise
            write(internal_error_text(exc, state.lang if state else "en"), err=True)
            ctx.exit(int(ExitCode.INTERNAL))


@click.group(cls=ItsmGroup, help=ROOT_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", envvar="ITSM_HOME", metavar="DIR",
              help="Process repository (default: $ITSM_HOME, the nearest folder upward with "
                   "processes/ and codes/, else the bundled defaults).")
@click.option("--db", envvar="ITSM_DATABASE_URL", metavar="URL",
              help="Database URL (default: SQLite in the repository's .itsm/ folder).")
@click.option("--url", envvar="ITSM_URL", metavar="URL",
              help="A desk server (itsm serve): the agent commands go through its JSON API "
                   "with your token (itsm login); default: url in itsm.toml.")
@click.option("--as", "user", envvar="ITSM_USER", metavar="USER", help="Acting user (id or e-mail).")
@click.option("--now", envvar="ITSM_NOW", metavar="ISO8601",
              help="The current time, for simulation and back-filling.")
@click.option("--lang", envvar="ITSM_LANG", type=click.Choice(["en", "zh"]), default=None,
              help="Language of labels and messages (default: $ITSM_LANG, else the acting "
                   "person's own language, else en).")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.version_option(__version__, "--version", prog_name="itsm")
@click.pass_context
def main(ctx: click.Context, home: str | None, db: str | None, url: str | None, user: str | None,
         now: str | None, lang: str | None, debug: bool) -> None:
    ctx.obj = State(home=home, db=db, url=url, user=user, now=now, lang=lang or "en",
                    lang_chosen=lang is not None, debug=debug)


def load_commands() -> click.Group:
    """The root group with every command module imported (for tests and tools
    that walk ``main.commands``)."""
    import pkgutil

    import commands

    for module in pkgutil.iter_modules(commands.__path__):  # every module, listed or not
        __import__(f"commands.{module.name}")
    for made in COMMANDS:
        if made.name not in main.commands:
            main.add_command(made)
    return main


if __name__ == "__main__":  # python -m cli
    main(prog_name="itsm")
