"""Monitoring alerts: intake (a webhook payload from a file or stdin), alerts (the groups)."""

from __future__ import annotations

import sys
from typing import Any

import click

from engine.i18n import tr

from commands.common import command, emit, json_mode, output_options, pass_state, State
from engine.errors import ExitCode


@command()
@click.argument("payload", metavar="FILE|-", type=click.File("rb"))
@click.option("--format", "fmt", type=click.Choice(["auto", "alertmanager", "event"]), default="auto",
              show_default=True, help="Payload format: an Alertmanager webhook, or generic JSON event(s).")
@click.option("--source", metavar="NAME",
              help="The monitoring system (default: 'alertmanager' for webhooks; events name their own).")
@output_options()
@pass_state
def intake(state: State, payload: Any, fmt: str, source: str | None, as_json: bool) -> None:
    """File monitoring alerts as incidents: one open incident per alert group,
    repeats and resolutions noted on it (codes/alert_rules.yaml maps alerts to
    service, urgency, impact and category). Exits 1 if a group could not be filed.

    \b
    Example:
      itsm intake alertmanager-webhook.json --source prometheus-dc2
      echo '{"source": "zabbix", "fingerprint": "db1-disk", "summary": "Disk 95% full on db1",
             "severity": "warning", "service": "claims"}' | itsm intake - --format event
    """
    json_mode(state, as_json)
    data = payload.read()
    result = state.api().ingest_alerts(data, fmt, source)

    def text() -> str:
        lines = [f"{result['alerts']} alert(s) in {result['groups']} group(s): "
                 f"{result['created']} incident(s) opened, {result['noted']} noted, "
                 f"{result['counted']} counted, {result['resolved_noted']} resolution(s) noted, "
                 f"{result['ignored']} ignored" + (f", {result['failed']} failed" if result["failed"] else "")]
        for r in result["results"]:
            what = "opened" if r.get("created") else "updated" if r["ticket"] else "no incident"
            extra = f", after {r['previous']}" if r.get("previous") else ""
            extra += f", linked to {r['major_incident']}" if r.get("major_incident") else ""
            lines.append(f"  {r['ticket'] or '-':<12} {what:<11} {r['source']}/{r['fingerprint']} "
                         f"({r['alerts']} alert(s), {r['status']}{extra})")
        return "\n".join(lines) + "\n"

    emit(state, result, as_json, text)
    for e in result.get("errors") or ():
        if not as_json:
            click.echo(f"itsm: {e['source']}/{e['fingerprint']}: {e['error']}", err=True)
    if result.get("errors"):
        sys.exit(int(ExitCode.REFUSED))


@command()
@click.option("--open", "open_only", is_flag=True, help="Only groups whose incident is still open.")
@click.option("--ticket", metavar="KEY", help="Only the groups of this incident.")
@click.option("--limit", type=int, default=100, show_default=True, help="At most this many groups.")
@output_options(listing=True)
@pass_state
def alerts(state: State, open_only: bool, ticket: str | None, limit: int, as_json: bool,
           as_csv: bool) -> None:
    """List monitoring alert groups with their incident, newest activity first.

    \b
    Example:
      itsm alerts --open
    """
    from engine import render

    json_mode(state, as_json)
    rows = state.api().alert_groups(ticket, open_only, limit)
    cols = [("ticket", "Ticket", lambda r: r["ticket"]), ("status", "Alert", lambda r: r["status"]),
            ("count", "Count", lambda r: r["count"]), ("source", "Source", lambda r: r["source"]),
            ("fingerprint", "Fingerprint", lambda r: r["fingerprint"]),
            ("last_seen", "Last seen", lambda r: render.when(r["last_seen"])),
            ("summary", "Summary", lambda r: r["summary"])]
    emit(state, rows, as_json, lambda: render.table(rows, cols) if rows else tr("no alert groups", state.lang) + "\n",
         as_csv, lambda: render.to_csv(rows, cols))
