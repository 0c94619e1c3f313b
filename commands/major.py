"""The major-incident procedure."""

from __future__ import annotations

import sys

import click

from commands.common import emit, group, hm, json_mode, output_options, pass_state, State



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

    json_mode(state, as_json)
    cols = [("key", "Key", lambda r: r["key"]), ("state", "State", lambda r: r["state"]),
            ("priority", "Prio", lambda r: r["priority"]), ("title", "Title", lambda r: r["title"]),
            ("manager", "Manager", lambda r: r["manager"]), ("lead", "Lead", lambda r: r["technical_lead"]),
            ("age", "Age", lambda r: hm((r["age_minutes"] or 0) * 60)),
            ("sla", "SLA due", lambda r: (render.when(r["sla_due"]) + (" BREACHED" if r["sla_breached"] else ""))),
            ("update", "Since update", lambda r: "" if r["minutes_since_update"] is None else
             hm(r["minutes_since_update"] * 60) + (" !" if r["update_overdue"] else "")),
            ("linked", "Linked", lambda r: f"{r['linked_open']}/{r['linked']}")]
    while True:
        rows = state.api().major_board()
        if watch and not as_json and not as_csv and sys.stdout.isatty():
            click.clear()
        emit(state, rows, as_json, lambda: render.table(rows, cols) if rows
              else "no open major incident\n", as_csv, lambda: render.to_csv(rows, cols))
        if not watch or as_json or as_csv or not sys.stdout.isatty():
            return  # --watch refreshes a terminal; in a pipe the board prints once
        time.sleep(watch)
