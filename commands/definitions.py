"""Definitions: lint, graph, init."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from commands.common import command, pass_state, State
from engine.errors import ExitCode, UsageError
from engine.i18n import N_, ntr, tr



@command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]),
              default="text", show_default=True,
              help="Output format: text, a JSON array of findings, SARIF 2.1.0 for code "
                   "scanning, or GitHub Actions annotations.")
@click.option("--json", "as_json", is_flag=True,
              help="The same as --format json (the spelling the other commands use).")
@click.option("--fail-level", type=click.Choice(["error", "warning", "info"]), default="info",
              show_default=True, help="Lowest severity that makes lint exit 1.")
@click.option("--max-warnings", type=click.IntRange(min=0), default=None, metavar="N",
              help="Also exit 1 when there are more than N warnings, whatever --fail-level.")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, metavar="FILE",
              help="Lint configuration (default: .itsmlint.yaml in the process repository; "
                   "without one, the 'recommended' preset). Its globs are relative to the "
                   "repository linted.")
@click.option("--report-suppressed", is_flag=True,
              help="Also list the findings suppressed in the files, with their reasons "
                   "(text and JSON; SARIF always carries them as suppressions).")
@click.option("--snippets/--no-snippets", default=None,
              help="Show the source line and a caret under each finding "
                   "(default: when stdout is a terminal).")
@click.option("--db", "with_db", is_flag=True,
              help="Also check open tickets in the database against the definitions "
                   "(states or fields the definitions no longer have), and each process's "
                   "version: against the versions tickets ran under (D003, D004).")
@click.option("--against", type=click.Path(path_type=Path), default=None, metavar="OLD",
              help="Check each process's version: against an earlier copy OLD of the "
                   "repository (a folder, e.g. a git worktree of the main branch) or of a "
                   "process file: content changed without a version bump (D003), a lower "
                   "version (D004).")
@pass_state
def lint(state: State, paths: tuple[Path, ...], fmt: str, as_json: bool, fail_level: str,
         max_warnings: int | None, config_path: Path | None, report_suppressed: bool,
         snippets: bool | None, with_db: bool, against: Path | None) -> None:
    """Check process definitions and code tables.

    Without PATH, lints the current process repository. Given the repository
    (or its processes/ and codes/ folders), cross-file checks run too. Rules,
    severities and per-file overrides come from .itsmlint.yaml beside
    processes/; a finding is suppressed by '# itsmlint: disable=ID reason: ...'
    on its line. Exit 0: clean; 1: findings at --fail-level or above (or more
    warnings than --max-warnings); 2: usage or configuration error; 3: internal
    error.

    \b
    Example:
      itsm lint processes codes --format json
      itsm lint --format sarif > itsm-lint.sarif
      itsm lint --against ../p16-release-2026-02   # e.g. a git worktree of the release
    """
    if as_json:
        if fmt not in ("text", "json"):
            raise UsageError(N_("--json and --format {fmt} ask for two formats: give one"),
                             values={"fmt": fmt})
        fmt = "json"
    from engine.lint import lint_paths, severity_at_least
    from engine.lint.config import config_for
    from engine.lint.formatters import Report, render
    from engine.lint.sarif import source_root
    from engine.definitions.home import find_home

    targets = list(paths) or [find_home(state.home)]
    config = config_for(targets[0], config_path)
    result = lint_paths(targets, config)
    findings = list(result.findings)
    if against is not None:
        from engine.lint.sides import against_findings

        findings += config.apply(against_findings(against, result.context))
    if with_db:
        if result.errors:
            click.echo("itsm: " + tr(N_("--db skipped: fix the definitions' errors first"), state.lang), err=True)
        else:
            findings += config.apply(state.api().version_findings())
    result.findings = findings
    repo = result.context.repos[0] if result.context.repos else Path.cwd()
    report = Report(findings, result.suppressed, report_suppressed,
                    sys.stdout.isatty() if snippets is None else snippets, source_root(repo), state.lang)
    out = render(fmt, report)
    if out:
        click.echo(out, nl=False)
    errors, warnings = result.count("error"), result.count("warning")
    too_many = max_warnings is not None and warnings > max_warnings
    if fmt == "text" and (result.findings or result.suppressed):
        click.echo(_summary(errors, warnings, len(result.suppressed), state.lang), err=True)
    if too_many:
        click.echo("itsm: " + (f"{warnings} warning(s), more than --max-warnings {max_warnings}"
                               if state.lang == "en" else
                               ntr("{count} warning, more than --max-warnings {max}",
                                   "{count} warnings, more than --max-warnings {max}", warnings, state.lang,
                                   max=max_warnings)), err=True)
    failing = [f for f in result.findings if severity_at_least(f.severity, fail_level)]
    sys.exit(int(ExitCode.REFUSED) if failing or too_many else 0)


def _summary(errors: int, warnings: int, suppressed: int, lang: str) -> str:
    """Lint's last line: "2 error(s), 1 warning(s), 3 suppressed" (its English spelling is pinned)."""
    if lang == "en":
        hidden = f", {suppressed} suppressed" if suppressed else ""
        return f"{errors} error(s), {warnings} warning(s){hidden}"
    parts = [ntr("{count} error", "{count} errors", errors, lang),
             ntr("{count} warning", "{count} warnings", warnings, lang)]
    if suppressed:
        parts.append(ntr("{count} suppressed", "{count} suppressed", suppressed, lang))
    return tr(N_(", "), lang).join(parts)


@command()
@click.argument("process", required=False)
@click.option("--all", "every", is_flag=True,
              help="Every process and how they meet (relations, actions that open a ticket, "
                   "cascades, major-incident criteria) as one diagram.")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True)
@pass_state
def graph(state: State, process: str | None, every: bool, fmt: str) -> None:
    """Print a process as a Mermaid state diagram or Graphviz DOT; with --all,
    every process and the relations between them (their inputs and outputs).

    \b
    Example:
      itsm graph incident --format mermaid
      itsm graph --all
    """
    from engine.errors import NotFound
    from engine.definitions.graph import FORMATS, FORMATS_ALL
    from engine.workspace import load_definitions
    from engine.definitions.home import find_home

    from engine.i18n import N_

    if every == (process is not None):
        raise UsageError(N_("name one PROCESS, or give --all (not both)"), values={})
    defs = load_definitions(find_home(state.home))
    if every:
        click.echo(FORMATS_ALL[fmt](defs, state.lang), nl=False)
        return
    assert process is not None
    if process not in defs.processes:
        raise NotFound(N_("no process '{process}'; known: {known}"),
                       values={"process": process, "known": ", ".join(defs.processes)})
    click.echo(FORMATS[fmt](defs.processes[process], state.lang), nl=False)


@command()
@click.argument("directory", type=click.Path(path_type=Path))
@pass_state
def init(state: State, directory: Path) -> None:
    """Create a new process repository from the bundled defaults.

    \b
    Example:
      itsm init ./p16-processes
    """
    from engine.definitions.home import init_repository
    from engine.i18n import ntr, tr

    created = init_repository(directory)
    click.echo(tr("created process repository {path} ({files})", state.lang, path=directory,
                  files=ntr("{count} file", "{count} files", len(created), state.lang)))
