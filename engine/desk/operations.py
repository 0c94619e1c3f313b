"""The operator's side of the desk: the outbox (deliver, list, retry), the
scheduled reports ``itsm tick`` queues, the journal's audit and the database
schema.  Every function takes the open desk (engine.desk.context.Desk) first."""

from __future__ import annotations

from typing import Any, Sequence

from engine.desk.audit import verify_ticket
from engine.desk.context import Desk
from engine.desk.search import reindex
from engine.desk.views import outbox_view


def deliver(desk: Desk) -> Any:
    """Send what the outbox holds (engine.notify.deliver)."""
    from engine.notify.deliver import deliver as send

    return send(desk.store, desk.home, desk.settings, desk.now)


def outbox(desk: Desk, status: str | None = None) -> list[dict[str, Any]]:
    with desk.store.read() as repo:
        rows = repo.list_outbox(status)
    return [outbox_view(r, desk.iso) for r in rows]


def retry_outbox(desk: Desk, ids: Sequence[int] | None) -> int:
    with desk.store.write() as repo:
        return repo.retry_outbox(ids, desk.now())


def audit(desk: Desk) -> tuple[int, int, list[dict[str, Any]]]:
    """(tickets, events, problems) of the journal's hash chains."""
    problems: list[dict[str, Any]] = []
    n_tickets = n_events = 0
    with desk.store.read() as repo:
        for ticket, events in repo.all_journals():
            n_tickets += 1
            n_events += len(events)
            problems.extend(p.to_dict() for p in verify_ticket(ticket["key"], ticket["state"], events,
                                                               ticket["version"]))
    return n_tickets, n_events, problems


def run_due_reports(desk: Desk) -> list[dict[str, Any]]:
    """Render every report whose schedule is due and queue it for its recipients;
    each report and period runs once (a unique key in report_runs)."""
    from engine.reports.schedule import due_reports, mail_rows, run_record

    with desk.store.read() as repo:
        first = repo.first_ticket_at()
        if first is None:  # no ticket yet: nothing to report on
            return []
        due = due_reports(desk, repo.report_ran, since=first)
    done = []
    for d in due:
        rows = mail_rows(desk, d.name, d.start, d.end)
        with desk.store.write() as repo:
            if repo.record_report_run(run_record(d, desk.now(), len(rows))):
                if rows:
                    repo.add_outbox(rows)
                outcome = f"{len(rows)} message(s) queued"
            else:
                outcome = "already ran"
        done.append({"report": d.name, "start": desk.iso(d.start), "end": desk.iso(d.end),
                     "outcome": outcome})
    return done


def upgrade_db(desk: Desk) -> tuple[str | None, str]:
    """Create or migrate the database schema (Alembic); fills the search index
    when the migration creates it."""
    from engine.store import db

    with db.translate_errors(desk.db_url):
        before, after = db.upgrade(db.make_engine(desk.db_url))
    if before is not None and before < "0004" <= after:  # the search index is new: fill it
        reindex(desk)
    return before, after
