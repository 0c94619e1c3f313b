"""KPI reports."""

from __future__ import annotations

from pathlib import Path

import click

from engine.i18n import N_, tr

from commands.common import command, pass_state, State



@command()
@click.argument("name", required=False)
@click.option("--due", is_flag=True, help="Run every report whose schedule is due and mail it "
                                          "to its recipients through the outbox (itsm tick does this too).")
@click.option("--from", "start", metavar="DATE", help="Start of the period (default: the last complete period).")
@click.option("--to", "end", metavar="DATE", help="End of the period (exclusive).")
@click.option("--current", is_flag=True,
              help="The report's period now falls in (this day, week or month so far).")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "csv", "json"]), default="md",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout.")
@pass_state
def report(state: State, name: str | None, due: bool, start: str | None, end: str | None,
           current: bool, fmt: str, output: Path | None) -> None:
    """Render a KPI report from reports/NAME.yaml, computed in SQL from the
    central database; or, with --due, run the scheduled ones.

    \b
    Example:
      itsm report weekly --from 2026-03-02 --to 2026-03-09 --format html -o weekly.html
      itsm report weekly --current
      itsm report --due
    """
    from engine.errors import UsageError
    from engine.i18n import said

    api = state.api()
    if due and state.remote:
        raise UsageError(N_("itsm report --due runs on the database (as itsm tick does), not through --url"))
    if due:
        from engine import render

        for line in api.run_due_reports():  # the period in the display form, as every shown time
            click.echo(f"{line['report']} {render.when(line['start'])} - {render.when(line['end'])}: "
                       f"{said(line['outcome'], state.lang)}")
        return
    if not name:
        raise UsageError(N_("give a report NAME (see reports/), or --due"))
    if state.remote:
        text = api.report(name, start, end, fmt, current)  # the server computes it
    else:
        from commands.progress import Progress

        with Progress(f"report {name}") as progress:  # KPI by KPI, on a terminal only
            text = api.report(name, start, end, fmt, current, progress)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:  # no such folder, a file on the way, no permission
            raise UsageError(N_("cannot write {path}: {error}"), values={"path": output, "error": exc}) from None
        click.echo(tr("wrote {file}", state.lang, file=output), err=True)
    else:
        click.echo(text, nl=False)
