"""Operations: tick, audit verify, migrate."""

from __future__ import annotations

import sys

import click

from commands.common import command, emit, group, json_mode, output_options, pass_state, State
from engine.errors import ExitCode


@command()
@click.argument("process")
@click.option("--map", "maps", multiple=True, metavar="OLD=NEW",
              help="Move open tickets from state OLD to state NEW (repeatable).")
@click.option("--apply", "do_apply", is_flag=True, help="Perform the moves (default: dry run).")
@output_options()
@pass_state
def migrate(state: State, process: str, maps: tuple[str, ...], do_apply: bool, as_json: bool) -> None:
    """Move open tickets to the current definition of PROCESS with an explicit
    state map. A dry run unless --apply; each move is journaled. Only the
    process owner may apply.

    \b
    Example:
      itsm --as p16.owner migrate incident --map awaiting_vendor=pending --apply
    """
    from engine.errors import UsageError

    json_mode(state, as_json)
    mapping: dict[str, str] = {}
    for item in maps:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            raise UsageError(f"--map {item!r}: write OLD=NEW, e.g. --map awaiting_vendor=pending")
        mapping[old.strip()] = new.strip()
    api = state.api()
    result = api.migrate(process, mapping) if do_apply else api.migration_plan(process, mapping)

    def text() -> str:
        verb = "moved" if do_apply else "would move"
        lines = [f"{m['key']}: {verb} {m['from']} -> {m['to']}\n" for m in result["moves"]]
        lines += [f"{u['key']}: state '{u['state']}' no longer exists and is not mapped\n"
                  for u in result["unmapped"]]
        lines.append(f"{len(result['moves'])} to move, {len(result['unmapped'])} unmapped, "
                     f"{len(result['older_version'])} on an older version (they move on their next action)"
                     + ("" if do_apply else "; dry run: add --apply") + "\n")
        return "".join(lines)

    emit(state, result, as_json, text)
    if result["unmapped"]:
        sys.exit(int(ExitCode.REFUSED))


@group()
def audit() -> None:
    """Checks for auditors."""


@audit.command("verify")
@output_options()
@pass_state
def audit_verify(state: State, as_json: bool) -> None:
    """Verify every ticket's hash-chained journal; report altered, deleted or
    reordered events (ticket and sequence number). Exit 1 if any.

    \b
    Example:
      itsm audit verify --json
    """
    from engine import render

    json_mode(state, as_json)
    tickets_, events, problems = state.api().audit()
    data = {"tickets": tickets_, "events": events, "problems": problems}
    emit(state, data, as_json, lambda: "".join(
        f"{p['ticket']}" + (f" #{p['seq']}" if p["seq"] else "") + f": {p['kind']}: {p['message']}\n"
        for p in problems) + f"{render.count(tickets_, 'ticket')}, {render.count(events, 'event')}: "
        + (f"{render.count(len(problems), 'problem')}\n" if problems else "journal intact\n"))
    if problems:
        sys.exit(int(ExitCode.REFUSED))



@command()
@output_options(listing=True)
@pass_state
def tick(state: State, as_json: bool, as_csv: bool) -> None:
    """Perform everything due now: SLA warnings and breaches, auto-closure,
    reminders. Run it from cron every minute; it is idempotent and safe to run
    from several machines at once.

    \b
    Example:
      itsm --now 2026-03-09T09:00:00+08:00 tick
    """
    from engine import render

    json_mode(state, as_json)
    from commands.progress import Progress

    api = state.api()
    with Progress("tick") as progress:
        done = api.tick(progress)
    for line in api.run_due_reports():
        done.append({"key": "-", "kind": "report", "name": line["report"], "due": line["end"],
                     "outcome": line["outcome"]})
    report = api.deliver()
    if report.sent or report.retrying or report.failed:
        done.append({"key": "-", "kind": "outbox", "name": "deliver", "due": None,
                     "outcome": f"sent {report.sent}, retrying {report.retrying}, failed {report.failed}"})
    if report.failed_total:  # every tick says so until someone retries them
        done.append({"key": "-", "kind": "outbox", "name": "failed", "due": None,
                     "outcome": f"{report.failed_total} message(s): itsm outbox list --status failed, "
                                "itsm outbox retry"})
    cols = [("key", "Key", lambda r: r["key"]), ("kind", "Kind", lambda r: r["kind"]),
            ("name", "Name", lambda r: r["name"]), ("due", "Due", lambda r: r["due"]),
            ("outcome", "Outcome", lambda r: r["outcome"])]
    emit(state, done, as_json, lambda: render.table(done, cols, max_width=70) if done
          else "nothing due\n", as_csv, lambda: render.to_csv(done, cols))
