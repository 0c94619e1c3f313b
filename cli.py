"""The ``itsm`` command: the root group, the global options and the mapping of
every error to the exit codes of the CLI contract (design 6).

The commands themselves live in the ``commands`` package, one module per area
(tickets, people, definitions, reports...), each a few lines: parse options,
call the engine facade (engine.api) or, in remote mode, the desk server
(engine.remote), render.  ``itsm --help`` imports no command module: the root
group knows each command's module and the first paragraph of its help
(:data:`COMMAND_MODULES`, kept true by tests/cli/test_help_examples.py) and
imports a module only when one of its commands runs.

    itsm = "cli:main"      (pyproject.toml)      python -m cli

May import: ground, definitions, lint, workspace, store, reports, api, design, demo, web, remote.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from commands.common import COMMANDS, HELP_LANG, Command, Context, State, translating
from engine import __version__
from engine.errors import ExitCode, ItsmError
from engine.i18n import LANGS, N_, choose, retell, tr

COMMAND_MODULES = {  # name -> (module of commands/, the first paragraph of its help)
    'actions': ('tickets',
        'What the acting user can do with a ticket now, and what each needs.'),
    'alerts': ('alerts',
        'List monitoring alert groups with their incident, newest activity first.'),
    'apikey': ('apikey',
        'API keys for agents and integrations using the JSON API (itsm serve).'),
    'attach': ('mail',
        'Attach a file to a ticket (a screenshot, a log). It is stored with its SHA-256, '
        'journaled, and listed in show, history and the status page.'),
    'audit': ('operations',
        'Checks for auditors.'),
    'batch': ('batch',
        'Perform many changes in one process: FILE (or stdin) holds one JSON object per '
        'line, each done in its own transaction, in order:'),
    'comment': ('tickets',
        "Add a note to a ticket's journal without changing its state."),
    'db': ('people',
        'The database: create or migrate its schema.'),
    'demo': ('demo',
        'Run a complete demonstration on a fresh SQLite database.'),
    'diff': ('design',
        'What a change to the definitions does: states, actions, roles, required fields, '
        'guards, criteria, SLA clocks and targets, timers, notifications and labels '
        'added, removed or changed -- not its YAML whitespace.'),
    'do': ('tickets',
        "Perform an action of the ticket's process."),
    'graph': ('definitions',
        'Print a process as a Mermaid state diagram or Graphviz DOT; with --all, every '
        'process and the relations between them (their inputs and outputs).'),
    'history': ('tickets',
        'The journal of a ticket: who did what, when, with which changes.'),
    'init': ('definitions',
        'Create a new process repository from the bundled defaults.'),
    'intake': ('alerts',
        'File monitoring alerts as incidents: one open incident per alert group, repeats '
        'and resolutions noted on it (codes/alert_rules.yaml maps alerts to service, '
        'urgency, impact and category). Exits 1 if a group could not be filed.'),
    'link': ('tickets',
        'Link a ticket to another by a relation its process declares.'),
    'lint': ('definitions',
        'Check process definitions and code tables.'),
    'list': ('tickets',
        'Queues: tickets matching the filters.'),
    'login': ('session',
        'Log in to a desk server (itsm serve): exchange a password, or an existing token '
        'read from stdin with --with-token, for a personal token kept in your config '
        'folder (mode 0600).'),
    'logout': ('session',
        'Revoke your token on the desk server and forget it.'),
    'mail': ('mail',
        'Mail to the desk: from an MTA pipe (receive) or IMAP mailboxes (poll).'),
    'major': ('major',
        'The major-incident procedure.'),
    'migrate': ('operations',
        'Move open tickets to the current definition of PROCESS with an explicit state '
        'map. A dry run unless --apply; each move is journaled. Only the process owner '
        'may apply.'),
    'new': ('tickets',
        'Log a new ticket: the single intake for incidents and service requests.'),
    'outbox': ('notifications',
        'Queued notifications: deliver them, inspect failures, retry.'),
    'report': ('reports',
        'Render a KPI report from reports/NAME.yaml, computed in SQL from the central '
        'database; or, with --due, run the scheduled ones.'),
    'search': ('search',
        'Full-text search over titles, descriptions, solutions, text fields and journal '
        'notes, in Chinese and English. Every term must occur (as a substring, any case);'
        ' "double quotes" keep a phrase. Best matches first, with the matched snippet. '
        'For service-desk staff.'),
    'serve': ('serve',
        'Run the self-service portal (report an incident or request, follow its status, '
        'confirm or reopen) and the JSON API for agents, integrations and monitoring '
        '(/api/v1, described at /openapi.json). Put it behind a reverse proxy for TLS; '
        'access logs go to stderr as JSON lines.'),
    'show': ('tickets',
        'Show a ticket with its fields and SLA clocks.'),
    'similar': ('search',
        'Resolved tickets most like KEY (its title and description; the same service and '
        'category weigh more), with their solution and closure code: look here before '
        'assigning. Resolve with --set solution_from=THAT-KEY to reuse one.'),
    'simulate': ('design',
        'Replay a scripted ticket against a definition, without a database: after every '
        'step the state, the changed fields, the SLA clocks, the messages that would be '
        "sent and any refusal (with the same words as 'itsm do'). Timers and SLA "
        "thresholds fire as time passes ('tick:' steps, or a later 'at:')."),
    'status': ('notifications',
        "The end user's view of a ticket: state in plain words, priority, group, SLA due "
        "date and public updates. Needs the ticket's status token."),
    'tick': ('operations',
        'Perform everything due now: SLA warnings and breaches, auto-closure, reminders '
        '(timers); render the KPI reports whose schedule is due (reports); seal the '
        'journal (audit); send queued messages (deliveries: a few at once, a mail server '
        'that is down is given up on for this run after a few failures). Run it from cron'
        ' every minute; it is idempotent and safe to run from several machines at once. '
        'On a big desk, run the reports as their own job (docs/operations.md).'),
    'unlink': ('tickets',
        'Remove a link (journaled, like itsm link).'),
    'user': ('people',
        'People, their roles and support groups.'),
    'whoami': ('session',
        'Who you are on the desk server: your user, name, roles and token.'),
}


def _report_error(state: State | None, exc: ItsmError) -> int:
    if state is not None and state.json_errors:
        import json

        click.echo(json.dumps(exc.to_dict(), ensure_ascii=False), err=True)
    else:
        click.echo(f"itsm: {exc.text(state.lang if state is not None else 'en')}", err=True)
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


def _terminal_columns() -> int:
    """What shutil.get_terminal_size() answers ($COLUMNS, the terminal, else 80)
    without importing shutil (and with it bz2, lzma, zlib) for every --help."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


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

            width = formatting.FORCED_WIDTH or max(min(_terminal_columns(), self.max_content_width or 80) - 2, 50)
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
        """Help and usage errors in the language of --lang / ITSM_LANG (commands.helptext)."""
        lang = _help_language(sys.argv[1:] if args is None else list(args))
        if lang == "en":
            return super().main(args, prog_name, **extra)
        from commands.helptext import speaking

        with speaking(lang, HELP_LANG):
            return super().main(args, prog_name, **extra)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        given = list(args)
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:  # a global option itsm does not know, in the chosen language
            lang = _usage_lang(None, given)
            if lang == "en":
                raise
            raise click.exceptions.Exit(_report_usage_error(lang, exc)) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ItsmError as exc:
            ctx.exit(_report_error(ctx.find_object(State), exc))
        except click.UsageError as exc:
            lang = _usage_lang(ctx)
            if lang == "en":
                raise
            ctx.exit(_report_usage_error(lang, exc))
        except click.exceptions.Abort:
            lang = _usage_lang(ctx)
            if lang == "en":
                raise
            click.echo(tr("Aborted!", lang), err=True)
            ctx.exit(1)
        except (click.exceptions.Exit, click.ClickException):
            raise
        except KeyboardInterrupt:
            state = ctx.find_object(State)
            click.echo("itsm: " + tr("interrupted", state.lang if state else "en"), err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug: short message, traceback only with --debug
            state = ctx.find_object(State)
            if state is not None and state.debug:
                raise
            error = f"{type(exc).__name__}: {exc}"
            click.echo("itsm: " + tr("internal error: {error} (run with --debug for the traceback)",
                                     state.lang if state else "en", error=error), err=True)
            ctx.exit(int(ExitCode.INTERNAL))


@click.group(cls=ItsmGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    """itsm: declarative IT service management.

    Agents work tickets (new, do, show, list), auditors check definitions
    (lint, graph), operators run timers and reports.

    \b
    Example:
      itsm new incident --title "Claims system down" --reporter li.na@example.com
    """
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
