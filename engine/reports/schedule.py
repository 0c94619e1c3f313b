"""Scheduled reports: which are due, who receives them, the outbox rows to mail.

A report is due when its cron schedule names a moment at or before now; the run
covers from the end of the previous run's period to the start of the period that
moment falls in (:func:`engine.reports.cron.scheduled_runs`: the runs cover
every hour once).  ``itsm report --due``
renders each due report, writes the messages and a row of ``report_runs`` in
one transaction, and a unique key on (report, period_start, period_end) makes
a second run for the same period a no-op: ``already_ran`` lets the caller skip
those before rendering.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, NamedTuple

from engine.reports import cron
from engine.reports.definition import ReportSpec, Schedule, load_report, report_names, report_schedule


class DueReport(NamedTuple):
    name: str
    start: datetime
    end: datetime
    scheduled: datetime  # the moment of the schedule this run answers


def _tz(api: Any, spec: ReportSpec | Schedule) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(spec.timezone) if spec.timezone else api.tz


def due_reports(api: Any, already_ran: Callable[[str, datetime, datetime], bool] | None = None,
                since: datetime | None = None) -> list[DueReport]:
    """Every report of ``api.home`` whose schedule has fired at or before now, with
    the period its latest run covers, unless ``already_ran(name, start, end)`` says so, or the
    period ended before ``since`` (the desk's first ticket: a new desk does not
    mail reports of the weeks before it existed)."""
    now = api.now()
    out = []
    for name in report_names(api.home):
        spec = report_schedule(api.home, name)  # the whole file is read when it runs
        tz = _tz(api, spec)
        run = next(cron.scheduled_runs(spec.schedule, spec.period, now, tz), None)
        if run is None:
            continue
        start, end, fired = run
        if since is not None and end <= since:
            continue
        if already_ran is not None and already_ran(name, start, end):
            continue
        out.append(DueReport(name, start, end, fired))
    return out


def recipients(api: Any, spec: ReportSpec) -> list[str]:
    """E-mail addresses of the report's recipients: everyone holding a role, a
    group's mailbox (else its members), literal addresses."""
    groups = api.defs.codes.get("groups")
    out: list[str] = []
    with api.store.read() as repo:
        def person(pid: str) -> None:
            p = repo.find_person(pid)
            if p and p.get("email") and p.get("active", True):
                out.append(p["email"])

        for r in spec.recipients:
            if r.kind == "email":
                out.append(r.value)
            elif r.kind == "group":
                value = groups.values.get(r.value) if groups else None
                mailbox = value.get("email") if value else None
                if mailbox:
                    out.append(mailbox)
                else:
                    for pid in repo.group_members(r.value):
                        person(pid)
            else:
                for pid in repo.people_with_role(r.value):
                    person(pid)
    return list(dict.fromkeys(a.lower() for a in out))


def mail_rows(api: Any, name: str, start: datetime, end: datetime,
              template: str = "report") -> list[dict[str, Any]]:
    """Outbox rows (``Repo.add_outbox``) mailing report ``name`` over [start, end)
    to its recipients, in the report's language: the Markdown text as ``note``, the
    HTML page and the period in ``event`` for the message template."""
    from engine.reports.document import build
    from engine.reports.render import render

    spec = load_report(api.home, name, api.defs)
    doc = build(api, name, start, end, spec.lang, spec)
    md = render(doc, "md", spec.lang, api.defs, spec.folder, spec.template)
    event: dict[str, Any] = {"kind": "report", "name": name, "title": doc["title"],
                             "start": doc["period"]["start"], "end": doc["period"]["end"]}
    for fmt in spec.formats:
        if fmt != "md":
            event[fmt] = render(doc, fmt, spec.lang, api.defs, spec.folder, spec.template)
    now = api.now()
    return [{"ticket_id": None, "event_seq": None, "channel": "email", "recipient": address,
             "template": template, "lang": spec.lang, "payload": {"event": event, "note": md},
             "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
            for address in recipients(api, spec)]


def run_record(due: DueReport, now: datetime, messages: int,
               outcome: str = "sent to outbox") -> dict[str, Any]:
    """A row of the proposed ``report_runs`` table for one run."""
    return {"report": due.name, "period_start": due.start, "period_end": due.end,
            "scheduled_at": due.scheduled, "ran_at": now, "messages": messages, "outcome": outcome}
