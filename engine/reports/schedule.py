"""Scheduled reports: which are due, who receives them, the outbox rows to mail.

A report's schedule names the moments it runs; each run covers from the end of
the previous run's period to the start of the period it runs in
(:func:`engine.reports.cron.scheduled_runs`), so a report's runs cover every
hour once.  ``itsm report --due`` (and ``itsm tick``) renders each due run,
writes the messages and a row of ``report_runs`` in one transaction, and a
unique key on (report, period_start, period_end) makes a second run for the
same period a no-op: ``already_ran`` lets the caller skip those before
rendering.

Runs missed while the desk was down (no tick ran) are made up, oldest first,
each over its own period, from the end of the report's last recorded run; at
most the report's ``catch_up`` of them (:data:`CATCH_UP` unless it says).
The earlier ones become one *skipped* run covering the rest of the gap:
recorded (so they are not looked for again) and said, with the command that
produces them by hand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, NamedTuple

from engine.errors import ItsmError
from engine.reports import cron
from engine.reports.definition import (
    CATCH_UP, ReportSpec, Schedule, load_report, report_names, report_schedule,
)


class DueReport(NamedTuple):
    name: str
    start: datetime
    end: datetime
    scheduled: datetime  # the moment of the schedule this run answers
    skipped: int = 0  # not a run to render: this many missed runs beyond the limit, recorded as skipped
    limit: int = CATCH_UP  # the report's catch_up
    problem: Any = None  # an ItsmError: the report's file cannot be read, it does not run (the others do)


def _tz(api: Any, spec: ReportSpec | Schedule) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(spec.timezone) if spec.timezone else api.tz


def due_reports(api: Any, already_ran: Callable[[str, datetime, datetime], bool] | None = None,
                since: datetime | None = None,
                last_end: Callable[[str, datetime], datetime | None] | None = None,
                catch_up: int | None = None) -> list[DueReport]:
    """The due runs of every report of ``api.home``, oldest first per report.

    ``last_end(name, now)`` is the end of the report's last recorded run (None:
    it never ran).  Every run of its schedule ending after it is due, each with
    its own period, the oldest starting at that end; of more than ``catch_up``
    (else the report's own), the latest ``catch_up`` are, and one entry with
    ``skipped`` (their count) covers the earlier ones.  A report that never ran has one due run, its latest
    (unless that ended before ``since``, the desk's first ticket: a new desk does
    not mail reports of the weeks before it existed).  ``already_ran(name, start,
    end)`` drops a run another tick recorded meanwhile."""
    now = api.now()
    out = []
    for name in report_names(api.home):
        try:
            spec = report_schedule(api.home, name)  # the whole file is read when it runs
        except ItsmError as exc:  # one broken report stops no other (lint R008 finds it first)
            out.append(DueReport(name, now, now, now, problem=exc))
            continue
        tz = _tz(api, spec)
        limit = catch_up if catch_up is not None else spec.catch_up
        last = last_end(name, now) if last_end is not None else None
        made: list[cron.Run] = []
        missed: list[cron.Run] = []
        for run in cron.scheduled_runs(spec.schedule, spec.period, now, tz):
            if last is not None and run.end <= last:
                break
            if last is None and since is not None and run.end <= since:
                break
            (made if len(made) < limit else missed).append(run)
            if last is None:  # its first run: nothing before it was missed
                break
        runs: list[DueReport] = []
        if missed and last is not None:
            runs.append(DueReport(name, last.astimezone(tz), missed[0].end, missed[0].scheduled, len(missed),
                                  limit))
        elif made and last is not None:  # the first made-up run starts where the last one ended
            made[-1] = cron.Run(last.astimezone(tz), made[-1].end, made[-1].scheduled)
        for run in reversed(made):
            if already_ran is None or not already_ran(name, run.start, run.end):
                runs.append(DueReport(name, run.start, run.end, run.scheduled))
        out.extend(runs)
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
    """A row of the ``report_runs`` table for one run (or skipped span)."""
    return {"report": due.name, "period_start": due.start, "period_end": due.end,
            "scheduled_at": due.scheduled, "ran_at": now, "messages": messages, "outcome": outcome}
