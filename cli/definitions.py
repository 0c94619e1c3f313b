"""Definitions: lint, graph, init."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.app import (State, main, pass_state)
from engine.errors import ExitCode



@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="Output format.")
@click.option("--fail-level", type=click.Choice(["error", "warning", "info"]), default="info",
              show_default=True, help="Lowest severity that makes lint exit 1.")
@click.option("--db", "with_db", is_flag=True,
              help="Also check open tickets in the database against the definitions "
                   "(states or fields the definitions no longer have).")
@pass_state
def lint(state: State, paths: tuple[Path, ...], fmt: str, fail_level: str, with_db: bool) -> None:
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
    findings = list(result.findings)
    if with_db:
        if result.errors:
            click.echo("itsm: --db skipped: fix the definitions' errors first", err=True)
        else:
            from engine.migrate import db_findings

            findings += db_findings(state.api())
    result.findings = findings
    out = FORMATS[fmt](findings)
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
