"""The major-incident procedure."""

from __future__ import annotations

import sys

import click

from engine.i18n import N_

from commands.common import heads, emit, group, hm, json_mode, output_options, pass_state, State


BREACHED = N_("BREACHED")  # after the SLA due time of a board row whose resolution clock is past it


@group()
def major() -> None:
    """The major-incident procedure."""


@major.command("board")
@click.option("--watch", "watch", type=float, default=None, metavar="SECONDS",
              help="Refresh every SECONDS on a terminal (Ctrl-C to stop).")
@output_options(listing=True)
@pass_state
def major_board(state: State, watch: float | None, as_json: bool, as_csv: bool) -> None:
    """Every open major incident: manager, lead, age, SLA, time since the last
    update (overdue marked !), linked incidents, state.

    \b
    Example:
      itsm major board --watch 30
    """
    import time

    from engine import render
    from engine.i18n import tr

    json_mode(state, as_json)
    api = state.api()  # first: with no --lang it may take the acting person's language
    lang = state.lang

    def state_shown(r: dict) -> str:  # English: the state's id, as the commands take it
        return r["state"] if lang == "en" else r.get("state_label") or r["state"]

    def sla_shown(r: dict) -> str:
        return render.when(r["sla_due"]) + (" " + tr(BREACHED, lang) if r["sla_breached"] else "")

    cols = [("key", N_("Key"), lambda r: r["key"]), ("state", N_("State"), state_shown),
            ("priority", N_("Prio"), lambda r: r["priority"]), ("title", N_("Title"), lambda r: r["title"]),
            ("manager", N_("Manager"), lambda r: r["manager"]), ("lead", N_("Lead"), lambda r: r["technical_lead"]),
            ("age", N_("Age"), lambda r: hm((r["age_minutes"] or 0) * 60)),
            ("sla", N_("SLA due"), sla_shown),
            ("update", N_("Since update"), lambda r: "" if r["minutes_since_update"] is None else
             hm(r["minutes_since_update"] * 60) + (" !" if r["update_overdue"] else "")),
            ("linked", N_("Linked"), lambda r: f"{r['linked_open']}/{r['linked']}")]
    cols = heads(cols, lang)
    while True:
        rows = api.major_board()
        if watch and not as_json and not as_csv and sys.stdout.isatty():
            click.clear()
        emit(state, rows, as_json, lambda: render.table(rows, cols) if rows
              else tr("no open major incident", lang) + "\n", as_csv, lambda: render.to_csv(rows, cols))
        if not watch or as_json or as_csv or not sys.stdout.isatty():
            return  # --watch refreshes a terminal; in a pipe the board prints once
        time.sleep(watch)
