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

import os
import sys
from typing import Any

import click

from commands.common import COMMANDS, HELP_LANG, JSON_USAGE, Command, Context, State, json_requested, translating
from commands.plain import (COMMAND_MODULES, error_text, internal_error_text, interrupted_text,  # noqa: F401
                            ROOT_HELP, terminal_columns, write)
from engine import __version__
from engine.errors import ExitCode, ItsmError
from engine.i18n import LANGS, N_, choose, retell, tr

def _report_error(state: State | None, exc: ItsmError) -> int:
    write(error_text(exc, state is not None and state.json_errors, state.lang if state is not None else "en"),
          err=True)
    return int(exc.exit_code)


CLICK_ERRORS = (  # click's own usage errors (English), said in the chosen language (engine.i18n.retell)
    N_("Missing argument {name}."), N_("Missing option {name}."), N_("Missing parameter {name}."),
    N_("Missing command."), N_("No such command {name}. Did you mean {other}?"), N_("No such command {name}."),
    N_("No such option {name}. Did you mean {other}?"), N_("No such option {name}. (Did you mean one of: {others}?)"),
    N_("No such option {name}."),
    N_("No such option: {name}"), N_("Got unexpected extra argument ({args})"),
    N_("Got unexpected extra arguments ({args})"), N_("Option {name} requires an argument."),
    N_("Option {name} requires {count} arguments."), N_("Option {name} does not take a value."),
    N_("Invalid value for {param}: {value} is not a valid integer range."),
    N_("Invalid value for {param}: {value} is not a valid integer."),
    N_("Invalid value for {param}: {value} is not a valid float range."),
    N_("Invalid value for {param}: {value} is not a valid float."),
    N_("Invalid value for {param}: {value} is not a valid boolean."),
    N_("Invalid value for {param}: {value} is not in the range {range}."),
    N_("Invalid value for {param}: {value} is not one of {choices}."),
    N_("Invalid value for {param}: {value} is not {choice}."),
    N_("Invalid value for {param}: {what} does not exist."),
    N_("Invalid value for {param}: {what} is a directory."),
    N_("Invalid value for {param}: {what} is a file."),
    N_("Invalid value for {param}: {what} is not readable."),
    N_("Invalid value for {param}: {message}"))


def _usage_lang(ctx: click.Context | None, args: list[str] | None = None) -> str:
    """The language of a usage error: the State's (English for --json), else --lang / ITSM_LANG
    as parsed so far (or as written in ``args``, when the global options could not be parsed)."""
    state = ctx.find_object(State) if ctx is not None else None
    if state is not None:
        return "en" if state.json_errors else state.lang
    lang = ctx.params.get("lang") if ctx is not None else None
    for i, arg in enumerate(args or ()):
        if arg == "--lang" and i + 1 < len(args or ()):
            lang = (args or [])[i + 1]
        elif arg.startswith("--lang="):
            lang = arg.partition("=")[2]
    return choose(lang or os.environ.get("ITSM_LANG"))


def _report_usage_error(lang: str, exc: click.UsageError) -> int:
    """click's usage error in the chosen language: what is wrong, and where the help is."""
    click.echo("itsm: " + retell(exc.format_message(), lang, CLICK_ERRORS), err=True)
    if exc.ctx is not None:
        path = exc.ctx.command_path
        click.echo(tr("Try '{command} --help' for help.", lang, command=path), err=True)
    return int(exc.exit_code)


def _report_usage_json(exc: click.UsageError) -> int:
    """click's usage error with --json: one object on stderr, as itsm's own usage errors
    (error "usage", click's English message without its "Usage:" and "Try" lines, exit 2)."""
    from engine.errors import UsageError

    error = UsageError("{error}", values={"error": exc.format_message()})
    write(error_text(error, True, "en"), err=True)
    return int(error.exit_code)


def _help_language(args: list[str]) -> str:
    """The language of --help and usage errors: the root's --lang, else ITSM_LANG
    (never the database: help stays quick)."""
    lang = os.environ.get("ITSM_LANG")
    words = iter(args)
    for word in words:
        if word == "--lang":
            lang = next(words, None)
        elif word.startswith("--lang="):
            lang = word[len("--lang="):]
        elif word in ("--home", "--db", "--url", "--as", "--now"):
            next(words, None)
        elif word == "--" or not word.startswith("-"):
            break  # the command: its options are its own (user add --lang)
    return lang if lang in LANGS else "en"


class ItsmContext(Context):
    def make_formatter(self) -> click.HelpFormatter:
        """click's formatter, its width found as click finds it (at most 80)."""
        width = self.terminal_width
        if width is None:
            from click import formatting

            width = formatting.FORCED_WIDTH or max(min(terminal_columns(), self.max_content_width or 80) - 2, 50)
        return translating(self.formatter_class(width=width, max_width=self.max_content_width))


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
        rows = [(n, Command(n, help=COMMAND_MODULES[n][1]).get_short_help_str(limit)
                 if n in COMMAND_MODULES
                 else self.commands[n].get_short_help_str(limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        """Help and usage errors in the language of --lang / ITSM_LANG (commands.helptext);
        with --json, click's usage errors in English (a JSON object: :meth:`invoke`)."""
        given = sys.argv[1:] if args is None else list(args)
        lang = _help_language(given)
        if lang == "en":
            return super().main(args, prog_name, **extra)
        from commands.helptext import speaking

        with speaking(lang, HELP_LANG, errors_in_english=json_requested(given)):
            return super().main(args, prog_name, **extra)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        given = list(args)
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:  # a global option itsm does not know, in the chosen language
            if json_requested(given):
                raise click.exceptions.Exit(_report_usage_json(exc)) from None
            lang = _usage_lang(None, given)
            if lang == "en":
                raise
            raise click.exceptions.Exit(_report_usage_error(lang, exc)) from None
        ctx.meta[JSON_USAGE] = json_requested(given)  # for the commands' usage errors (invoke); meta is shared
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ItsmError as exc:
            ctx.exit(_report_error(ctx.find_object(State), exc))
        except click.UsageError as exc:
            help_shown = isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ()))  # not an error
            if ctx.meta.get(JSON_USAGE) and not help_shown:
                ctx.exit(_report_usage_json(exc))  # --json: a JSON object, as itsm's own usage errors
            lang = _usage_lang(ctx)
            if lang == "en":
                raise
            if help_shown:  # a group given no command: its help (already in lang), as click shows it
                click.echo(exc.format_message(), err=True)
                ctx.exit(int(exc.exit_code))
            ctx.exit(_report_usage_error(lang, exc))
        except click.exceptions.Abort:
            lang = _usage_lang(ctx)
            if lang == "en":
                raise
            click.echo(tr("Aborted!", lang), err=True)
            ctx.exit(1)
        except (click.exceptions.Exit, click.ClickException):
            raise
        except BrokenPipeError:  # the reader went away (itsm list | head): quietly, as click's main
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more is written
            ctx.exit(1)
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
    from commands.common import utf8_text

    ctx.obj = State(home=home, db=db, url=url, user=user, now=now, lang=lang or "en",
                    lang_chosen=lang is not None, debug=debug)
    utf8_text(ctx, ctx.command.params, ("home", "db"))  # --as, --now, --url; --home and --db name files


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
