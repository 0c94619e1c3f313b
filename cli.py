"""The ``itsm`` command: click wiring only.  Every command parses its options,
calls the engine and renders the result; errors are mapped to exit codes in one
place (:func:`main`).  Heavy modules are imported inside commands so that
``itsm --help`` stays fast."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import click

from engine import __version__
from engine.errors import ExitCode, ItsmError


@dataclass
class State:
    home: str | None = None
    db: str | None = None
    user: str | None = None
    now: str | None = None
    lang: str = "en"
    debug: bool = False
    json_errors: bool = False
    _api: Any = field(default=None, repr=False)

    def api(self) -> Any:
        """The engine facade, opened on first use."""
        if self._api is None:
            from engine.api import Api

            self._api = Api.open(home=self.home, db=self.db, user=self.user, now=self.now,
                                 lang=self.lang)
        return self._api


pass_state = click.make_pass_decorator(State)


def _report_error(state: State | None, exc: ItsmError) -> int:
    if state is not None and state.json_errors:
        click.echo(json.dumps(exc.to_dict(), ensure_ascii=False), err=True)
    else:
        click.echo(f"itsm: {exc}", err=True)
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
            click.echo("itsm: interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug: short message, traceback only with --debug
            state = ctx.find_object(State)
            if state is not None and state.debug:
                raise
            click.echo(f"itsm: internal error: {type(exc).__name__}: {exc} "
                       "(run with --debug for the traceback)", err=True)
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
@click.option("--lang", envvar="ITSM_LANG", type=click.Choice(["en", "zh"]), default="en",
              show_default=True, help="Language of labels and messages.")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.version_option(__version__, "--version", prog_name="itsm")
@click.pass_context
def main(ctx: click.Context, home: str | None, db: str | None, user: str | None,
         now: str | None, lang: str, debug: bool) -> None:
    """itsm: declarative IT service management.

    Agents work tickets (new, do, show, list), auditors check definitions
    (lint, graph), operators run timers and reports.

    \b
    Example:
      itsm new incident --title "Claims system down" --reporter li.na@example.com
    """
    ctx.obj = State(home=home, db=db, user=user, now=now, lang=lang, debug=debug)


# --- definitions -------------------------------------------------------------

@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="Output format.")
@click.option("--fail-level", type=click.Choice(["error", "warning", "info"]), default="info",
              show_default=True, help="Lowest severity that makes lint exit 1.")
@pass_state
def lint(state: State, paths: tuple[Path, ...], fmt: str, fail_level: str) -> None:
    """Check process definitions and code tables.

    Without PATH, lints the current process repository. Given the repository
    (or its processes/ and codes/ folders), cross-file checks run too.
    Exit 0: clean; 1: findings; 2: usage; 3: internal error.

    \b
    Example:
      itsm lint processes codes --format json
    """
    from engine.lint import lint_paths, severity_at_least
    from engine.lint.formatters import FORMATS
    from engine.workspace import find_home

    targets = list(paths) or [find_home(state.home)]
    result = lint_paths(targets)
    out = FORMATS[fmt](result.findings)
    if out:
        click.echo(out, nl=False)
    if fmt == "text":
        errors, warnings = result.count("error"), result.count("warning")
        if result.findings:
            click.echo(f"{errors} error(s), {warnings} warning(s)", err=True)
    failing = [f for f in result.findings if severity_at_least(f.severity, fail_level)]
    sys.exit(int(ExitCode.REFUSED) if failing else 0)


@main.command()
@click.argument("process")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True)
@pass_state
def graph(state: State, process: str, fmt: str) -> None:
    """Print a process as a Mermaid state diagram or Graphviz DOT.

    \b
    Example:
      itsm graph incident --format mermaid
    """
    from engine.errors import NotFound
    from engine.graph import FORMATS
    from engine.workspace import find_home, load_definitions

    defs = load_definitions(find_home(state.home))
    if process not in defs.processes:
        raise NotFound(f"no process '{process}'; known: {', '.join(defs.processes)}")
    click.echo(FORMATS[fmt](defs.processes[process], state.lang), nl=False)


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
def init(directory: Path) -> None:
    """Create a new process repository from the bundled defaults.

    \b
    Example:
      itsm init ./p16-processes
    """
    from engine.repo_init import init_repository

    created = init_repository(directory)
    click.echo(f"created process repository {directory} ({len(created)} files)")


if __name__ == "__main__":  # pragma: no cover
    main()
