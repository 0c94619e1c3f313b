"""The demonstration."""

from __future__ import annotations

from pathlib import Path

import click

from commands.common import command, json_mode, Labels, output_options, pass_state, State, ticket_columns



@command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where to put the demo database (default: a new temporary folder).")
@output_options()
@pass_state
def demo(state: State, directory: Path | None, as_json: bool) -> None:
    """Run a complete demonstration on a fresh SQLite database.

    A small organisation works a simulated week: first-contact resolution,
    assignment, pending and reopen, approval of a service request, a major
    incident with its review. Prints the story and a summary.

    \b
    Example:
      itsm demo --dir ./itsm-demo
    """
    import tempfile

    from engine import render
    from engine.demo import run

    json_mode(state, as_json)
    target = directory or Path(tempfile.mkdtemp(prefix="itsm-demo-"))
    try:  # a file on the way, no permission: the user's to fix
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from engine.errors import UsageError
        from engine.i18n import N_

        raise UsageError(N_("cannot write {path}: {error}"), values={"path": target, "error": exc}) from None
    say = (lambda line: None) if as_json else (lambda line: click.echo(line))
    result = run(target, say, home=state.home, lang=state.lang)
    if as_json:
        click.echo(render.to_json({k: v for k, v in result.items() if k != "rows"}), nl=False)
        return
    from engine.definitions.home import find_home
    from engine.i18n import tr
    from engine.workspace import load_definitions

    click.echo("")
    lang = state.lang
    defs = load_definitions(find_home(state.home)) if lang != "en" else None
    cols = ticket_columns(lang, Labels(state, defs=defs))
    click.echo(render.table(result["rows"], cols), nl=False)
    click.echo("\n" + tr("{count} tickets; resolution SLA met: {met}, breached: {breached}", lang,
                         count=result["tickets"], met=result["sla_met"], breached=result["sla_breached"]))
    lang_option = "" if lang == "en" else f" --lang {lang}"
    explore = f"itsm{lang_option} --db sqlite:///{target / 'itsm-demo.db'} --as wang.lei list"
    click.echo(tr("Explore: {command}", lang, command=explore))
