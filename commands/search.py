"""Finding recorded solutions: search, similar."""

from __future__ import annotations

from typing import Any

import click

from commands.common import command, emit, json_mode, output_options, pass_state, State
from engine.i18n import N_


# the searched columns (engine.store.search), as a match's snippet names them
MATCHED = {"title": N_("title"), "description": N_("description"), "solution": N_("solution"),
           "details": N_("other fields"), "notes": N_("notes")}


def _hit_columns(state: State, with_match: bool) -> list[Any]:
    """Columns of search hits: states, services and the matched column by their
    labels in Chinese (raw ids in English and in --json/--csv's ids)."""
    from commands.common import Labels
    from engine.i18n import t

    lang, lab = state.lang, Labels(state)
    cols = [("key", t("key", lang), lambda r: r["key"]),
            ("state", t("state", lang), lambda r: lab.process(r.get("process")).state(r["state"])),
            ("service", t("service", lang), lambda r: lab.core("service", r["service"]) or ""),
            ("title", t("title", lang), lambda r: r["title"])]
    if with_match:
        sep = "：" if lang == "zh" else ": "
        cols.append(("match", t("match", lang), lambda r: f"{_matched(r['match']['field'], lang)}{sep}"
                                                         f"{r['match']['text']}"))
    else:
        cols.append(("solution", t("solution", lang), lambda r: " ".join((r["solution"] or "").split())))
    cols.append(("score", t("score", lang), lambda r: f"{r['score']:g}"))
    return cols


def _matched(column: str, lang: str) -> str:
    from engine.i18n import tr

    return tr(MATCHED[column], lang) if column in MATCHED else column


def similar_text(state: State, rows: list[dict[str, Any]]) -> str:
    """The agent's hint under a new ticket: the top similar solutions (closure
    codes by their labels in Chinese)."""
    from commands.common import Labels
    from engine.i18n import t

    if not rows:
        return ""
    lab = Labels(state)
    lines = [t("similar_solutions", state.lang)]
    for r in rows:
        solution = " ".join((r["solution"] or "").split())
        lines.append(f"  {r['key']}  {r['title']}\n      -> {solution[:160]}"
                     + (f"  [{lab.code('closure', r['closure_code'])}]" if r.get("closure_code") else ""))
    return "\n".join(lines) + "\n"


@command()
@click.argument("text", required=False)
@click.option("--process", help="Only tickets of this process.")
@click.option("--resolved", is_flag=True, help="Only tickets that were resolved (they carry a solution).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="At most this many results.")
@click.option("--reindex", is_flag=True, help="Rebuild the search index from the tickets and their "
                                              "journals (after a bulk import), then exit.")
@output_options(listing=True)
@pass_state
def search(state: State, text: str | None, process: str | None, resolved: bool, limit: int,
           reindex: bool, as_json: bool, as_csv: bool) -> None:
    """Full-text search over titles, descriptions, solutions, text fields and
    journal notes, in Chinese and English. Every term must occur (as a
    substring, any case); "double quotes" keep a phrase. Best matches first,
    with the matched snippet. For service-desk staff.

    \b
    Example:
      itsm search "理赔系统 无法登录" --resolved
      itsm search VPN --process incident --json
    """
    from engine import render
    from engine.errors import UsageError
    from engine.i18n import t

    json_mode(state, as_json)
    api = state.api()
    if reindex:
        from commands.progress import Progress

        with Progress("reindex") as progress:
            count = api.reindex_search(progress)
        emit(state, {"reindexed": count}, as_json, lambda: t("reindexed", state.lang, count=count) + "\n")
        return
    if not text:
        raise UsageError(N_('give the TEXT to search for, e.g. itsm search "理赔系统 无法登录"'))
    rows = api.search(text, process=process, resolved=resolved, limit=limit)
    cols = _hit_columns(state, with_match=True)
    emit(state, rows, as_json, lambda: render.table(rows, cols, max_width=60) if rows
         else t("no_matches", state.lang) + "\n", as_csv, lambda: render.to_csv(rows, cols))


@command()
@click.argument("key")
@click.option("--limit", type=click.IntRange(1, 100), default=5, show_default=True,
              help="At most this many tickets.")
@output_options(listing=True)
@pass_state
def similar(state: State, key: str, limit: int, as_json: bool, as_csv: bool) -> None:
    """Resolved tickets most like KEY (its title and description; the same
    service and category weigh more), with their solution and closure code:
    look here before assigning. Resolve with --set solution_from=THAT-KEY to
    reuse one.

    \b
    Example:
      itsm similar INC-000123
      itsm do INC-000123 resolve --set solution_from=INC-000041 --set closure_code=solved \\
          --set service_restored=true
    """
    from commands.common import Labels
    from engine import render
    from engine.i18n import t

    json_mode(state, as_json)
    rows = state.api().similar(key, limit=limit)
    cols = _hit_columns(state, with_match=False)
    lab = Labels(state)
    cols.insert(4, ("closure", t("closure", state.lang), lambda r: lab.code("closure", r["closure_code"]) or ""))
    emit(state, rows, as_json, lambda: render.table(rows, cols, max_width=60) if rows
         else t("no_similar", state.lang, key=key.upper()) + "\n", as_csv, lambda: render.to_csv(rows, cols))
