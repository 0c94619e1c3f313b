"""Monitoring alerts: intake (a webhook payload from a file or stdin), alerts (the groups)."""

from __future__ import annotations

import sys
from typing import Any

import click

from engine.i18n import N_, ntr, tr

from commands.common import command, emit, json_mode, output_options, pass_state, State
from engine.errors import ExitCode


ALERT_STATUS = {"firing": N_("firing"), "resolved": N_("resolved")}  # an alert group's status


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
    from engine import render

    json_mode(state, as_json)
    data = payload.read()
    result = state.api().ingest_alerts(data, fmt, source)

    lang = state.lang

    def text() -> str:
        counts = [ntr("{count} incident opened", "{count} incidents opened", result["created"], lang),
                  tr("{count} noted", lang, count=result["noted"]), tr("{count} counted", lang, count=result["counted"]),
                  ntr("{count} resolution noted", "{count} resolutions noted", result["resolved_noted"], lang),
                  tr("{count} ignored", lang, count=result["ignored"])]
        if result["failed"]:
            counts.append(tr("{count} failed", lang, count=result["failed"]))
        lines = [tr("{alerts} in {groups}: {counts}", lang,
                    alerts=ntr("{count} alert", "{count} alerts", result["alerts"], lang),
                    groups=ntr("{count} group", "{count} groups", result["groups"], lang),
                    counts=tr(", ", lang).join(counts))]
        for r in result["results"]:
            what = tr(N_("opened") if r.get("created") else N_("updated") if r["ticket"] else N_("no incident"), lang)
            extra = [ntr("{count} alert", "{count} alerts", r["alerts"], lang),
                     tr(ALERT_STATUS[r["status"]], lang) if r["status"] in ALERT_STATUS else r["status"]]
            if r.get("previous"):
                extra.append(tr("after {key}", lang, key=r["previous"]))
            if r.get("major_incident"):
                extra.append(tr("linked to {key}", lang, key=r["major_incident"]))
            pad = " " * max(0, 11 - render.width(what))
            lines.append(f"  {r['ticket'] or '-':<12} {what}{pad} {r['source']}/{r['fingerprint']}"
                         + tr(" ({details})", lang, details=tr(", ", lang).join(extra)))
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
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True, help="At most this many groups.")
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
    lang = state.lang
    cols = [("ticket", tr("Ticket", lang), lambda r: r["ticket"]),
            ("status", tr("Alert", lang), lambda r: tr(ALERT_STATUS[r["status"]], lang) if r["status"] in ALERT_STATUS
             else r["status"]),
            ("count", tr("Count", lang), lambda r: r["count"]), ("source", tr("Source", lang), lambda r: r["source"]),
            ("fingerprint", tr("Fingerprint", lang), lambda r: r["fingerprint"]),
            ("last_seen", tr("Last seen", lang), lambda r: render.when(r["last_seen"])),
            ("summary", tr("Summary", lang), lambda r: r["summary"])]
    emit(state, rows, as_json, lambda: render.table(rows, cols) if rows else tr("no alert groups", state.lang) + "\n",
         as_csv, lambda: render.to_csv(rows, cols))
