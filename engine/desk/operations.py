"""The operator's side of the desk: the outbox (deliver, list, retry), the
scheduled reports ``itsm tick`` queues, the journal's audit and the database
schema.  Every function takes the open desk (engine.desk.context.Desk) first."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from engine.desk.context import Desk
from engine.desk.search import reindex
from engine.errors import ItsmError
from engine.i18n import N_, Said, joined, message, reason
from engine.limits import MAX_ROW_ID
from engine.desk.views import outbox_view


def deliver(desk: Desk) -> Any:
    """Send what the outbox holds (engine.notify.deliver)."""
    from engine.notify.deliver import deliver as send

    return send(desk.store, desk.home, desk.settings, desk.now)


def delivery_errors() -> tuple[str, ...]:
    """The shapes of why a send failed, as English msgids (engine.notify.channels.ERRORS)."""
    from engine.notify.channels import ERRORS

    return ERRORS


def outbox(desk: Desk, status: str | None = None) -> list[dict[str, Any]]:
    with desk.store.read() as repo:
        rows = repo.list_outbox(status)
    return [outbox_view(r, desk.iso) for r in rows]


def retry_outbox(desk: Desk, ids: Sequence[int] | None) -> int:
    if ids is not None:  # an id no database integer holds is no message
        ids = [i for i in ids if 0 < i <= MAX_ROW_ID]
        if not ids:
            return 0
    with desk.store.write() as repo:
        return repo.retry_outbox(ids, desk.now())


def audit(desk: Desk, checkpoints: str | None = None, public_key: str | None = None) -> dict[str, Any]:
    """``itsm audit verify`` (engine.desk.audit.verify)."""
    from engine.desk.audit import verify

    return verify(desk, checkpoints, public_key)


def audit_tick(desk: Desk, seal: Callable[[Desk], dict[str, Any]],
               due: Callable[[Desk], dict[str, Any] | None]) -> list[dict[str, Any]]:
    """``itsm tick``'s lines for the journal: what was sealed, a checkpoint made when due."""
    lines = []
    sealed = seal(desk)
    if sealed["sealed"] or sealed["stopped"]:
        lines.append({"key": "-", "kind": "audit", "name": "seal", "due": None,
                      "outcome": joined([message(N_("sealed {count} event(s), {total} in the desk log"),
                                                 count=sealed["sealed"], total=sealed["count"])]
                                        + ([message(N_("stopped: {reason}"), reason=sealed["stopped"])]
                                           if sealed["stopped"] else []))})
    made = due(desk)
    if made is not None:
        lines.append({"key": "-", "kind": "audit", "name": "checkpoint", "due": None, "outcome": made["outcome"]})
    return lines


def rekey(desk: Desk, force: bool = False) -> dict[str, Any]:
    """``itsm audit rekey`` (engine.desk.sealing.rekey), recorded as a checkpoint
    (signed when a signing key is configured)."""
    from engine.desk.checkpoints import checkpoint
    from engine.desk.sealing import rekey as run

    result = run(desk, force)
    extra = {"rekey": {"events": result["rechained"], "from_keys": result["from_keys"],
                       "key_id": result["key_id"], "legacy_through": result["legacy_through"],
                       "problems": len(result["problems"])}}
    result["checkpoint"] = checkpoint(desk, "rekey", extra, unsigned_ok=True)
    return result


def run_due_reports(desk: Desk, deadline: float | None = None) -> list[dict[str, Any]]:
    """Render every due run of the reports and queue it for its recipients, oldest
    first: each run missed since a report's last run covers its own period, up to
    the report's ``catch_up`` of them (7 unless it says); the missed runs before those
    are recorded as skipped, and their line says how to produce them by hand.
    Each report and period runs once (a unique key in report_runs).  No report
    starts after ``deadline`` (a ``time.monotonic()`` instant): it stays due, for
    the next run, and its line says so."""
    import time

    from engine.reports.schedule import due_reports, mail_rows, run_record

    with desk.store.read() as repo:
        first = repo.first_ticket_at()
        if first is None:  # no ticket yet: nothing to report on
            return []
        due = due_reports(desk, repo.report_ran, since=first, last_end=repo.last_report_end)
    done = []
    for d in due:
        line = {"report": d.name, "start": desk.iso(d.start), "end": desk.iso(d.end)}
        if deadline is not None and time.monotonic() >= deadline:
            done.append(dict(line, outcome=joined([
                message(N_("left for the next tick (budget spent)")),
                message(N_("on a big desk run 'itsm tick --only reports' as its own job"))])))
            continue
        if d.problem is not None:
            done.append(dict(line, outcome=_not_run(d.problem)))
            continue
        if d.skipped:
            values = {"count": d.skipped, "limit": d.limit}
            stored = message(N_("skipped: {count} missed run(s) beyond the catch-up limit of {limit}"), **values)
            with desk.store.write() as repo:
                if repo.record_report_run(run_record(d, desk.now(), 0, str(stored))):
                    outcome = message(N_("not made up: {count} missed run(s) beyond the catch-up limit of "
                                         "{limit}; to produce them: itsm report {name} --from {start} --to {end}"),
                                      name=d.name, start=d.start.isoformat(), end=d.end.isoformat(), **values)
                else:
                    outcome = message(N_("already ran"))
            done.append(dict(line, outcome=outcome))
            continue
        try:
            rows = mail_rows(desk, d.name, d.start, d.end)
        except ItsmError as exc:  # not recorded as run: the next tick tries it again
            done.append(dict(line, outcome=_not_run(exc)))
            continue
        with desk.store.write() as repo:
            if repo.record_report_run(run_record(d, desk.now(), len(rows))):
                if rows:
                    repo.add_outbox(rows)
                outcome = message(N_("{count} message(s) queued"), count=len(rows))
            else:
                outcome = message(N_("already ran"))
        done.append(dict(line, outcome=outcome))
    return done


def _not_run(exc: ItsmError) -> Any:
    """A due report that cannot be made, said in the reader's language; the other
    reports of the tick still run."""
    return message(N_("not run: {problem}; once it is fixed ('itsm lint' says where) the next tick runs it"),
                   problem=Said(str(exc), exc.text))


def upgrade_db(desk: Desk) -> tuple[str | None, str, dict[str, Any] | None]:
    """Create or migrate the database schema (Alembic); fills the search index
    when the migration creates it, and re-keys the journal when it crosses the
    keyed journal's migration (0006) or unkeyed events remain (a SQLite database
    is migrated on first use, without the key): (before, after, rekey result or
    {"refused": message})."""
    from engine.errors import ItsmError
    from engine.store import db

    with db.translate_errors(desk.db_url):
        engine = db.make_engine(desk.db_url)
        try:
            before, after = db.upgrade(engine)
        finally:
            engine.dispose()  # no connection left open (a SQLite file stays free for others)
    if before is not None and before < "0004" <= after:  # the search index is new: fill it
        reindex(desk)
    keyed: dict[str, Any] | None = None
    crossed = before is not None and before < "0006" <= after
    with desk.store.read() as repo:
        legacy = repo.audit.has_unkeyed()
    if crossed or legacy:
        try:
            keyed = rekey(desk) if legacy or crossed else None
        except ItsmError as exc:
            keyed = {"refused": reason(exc)}  # English, and said in the reader's language
    return before, after, keyed
