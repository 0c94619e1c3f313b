"""Alert groups -> incidents: the engine side of ``itsm intake`` and the alert
endpoint (design 1: "monitoring and other systems raise incidents").

Each alert group (source + fingerprint, or the labels a rule groups by) has at
most one open incident.  Per group and payload, in one transaction with the
group's row locked:

- a firing alert without an open incident opens one through the normal intake
  (journaled, acknowledged, SLA clocks, major-incident criteria) as the actor
  ``monitoring``, the rules file's ``reporter`` reporting;
- repeats are counted on the group; a journal note sums them up at most every
  ``repeat_note_every`` (a resolution or a re-firing is always noted);
- a resolved alert is noted on the incident, which stays open: the agent
  resolves it once the service is confirmed restored;
- once the group's incident is resolved or closed, the next firing alert opens a
  new incident that names the previous one (a recurrence is a new incident, so
  the first fix's SLA result and closure stand; the agent may link them);
- a resolved alert of a group without an open incident is ignored.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine.alerts.payload import Alert, parse
from engine.alerts.rules import AlertRules, Mapped
from engine.desk import clockstate, major
from engine.desk.context import Desk
from engine.desk.writes import check_forward, event, intake
from engine.errors import Conflict, ItsmError, StoreUnavailable
from engine.i18n import N_
from engine.runtime.actions import Actor
from engine.runtime.fields import field_spec, max_length
from engine.runtime.ticket import Ticket

ACTOR_ID = "monitoring"
OUTCOMES = ("created", "noted", "counted", "resolved_noted", "ignored")
RETRIES = 3  # a group's transaction is retried after a conflict (deadlock, busy database)
CLOSED = ("resolved", "closed")


def monitoring_actor(reporter: str) -> Actor:
    """Who logs alert incidents: a system actor whose e-mail is the reporter's,
    so the journal shows 'monitoring' acting as the reporter."""
    return Actor(ACTOR_ID, reporter.lower(), "Monitoring", frozenset({"system"}), frozenset(), True)


@dataclass(frozen=True)
class _Ref:
    """The group's open incident (read with the group's row; locked only to note)."""

    id: int
    key: str


@dataclass
class _Group:
    key: tuple[str, str]
    items: list[Mapped] = field(default_factory=list)


def ingest(desk: Desk, payload: Any, fmt: str = "auto", source: str | None = None) -> dict[str, Any]:
    """Parse the whole payload (nothing is written if it is malformed), then file
    each alert group in its own transaction.  Returns the summary."""
    alerts = parse(payload, fmt, source)
    rules = AlertRules.of(desk.defs)
    spec = desk.process(rules.process)
    services = desk.defs.codes.get("services")
    catalogue = services.values if services is not None else {}
    counts: Counter[str] = Counter()
    groups: dict[tuple[str, str], _Group] = {}
    for alert in alerts:
        mapped = rules.map(alert, catalogue)
        if mapped.ignore:
            counts["ignored"] += 1
            continue
        groups.setdefault(mapped.key, _Group(mapped.key)).items.append(mapped)
    results, errors = [], []
    for group in groups.values():
        try:
            outcome = _with_retries(desk, rules, spec, group)
        except StoreUnavailable:
            raise  # the database is down: the whole payload fails (the sender retries)
        except ItsmError as exc:  # one group's refusal does not lose the others
            errors.append({"source": group.key[0], "fingerprint": group.key[1],
                           "alerts": len(group.items), "error": exc.message})
            continue
        counts.update(outcome.pop("counts"))
        results.append(outcome)
    summary: dict[str, Any] = {"alerts": len(alerts), "groups": len(groups)}
    summary.update({k: counts.get(k, 0) for k in OUTCOMES})
    summary["failed"] = sum(e["alerts"] for e in errors)
    summary["results"] = results
    if errors:
        summary["errors"] = errors
    return summary


def _with_retries(desk: Desk, rules: AlertRules, spec: Any, group: _Group) -> dict[str, Any]:
    for attempt in range(RETRIES):
        try:
            with desk.store.write() as repo:
                return _file_group(desk, repo, rules, spec, group)
        except Conflict:
            if attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _file_group(desk: Desk, repo: Any, rules: AlertRules, spec: Any, group: _Group) -> dict[str, Any]:
    now = desk.now()
    source, fingerprint = group.key
    firing = any(m.alert.status == "firing" for m in group.items)
    row = repo.lock_alert_group(source, fingerprint, now, create=firing)
    if row is None:  # only resolutions of a group never seen: nothing to note them on
        return {"source": source, "fingerprint": fingerprint, "alerts": len(group.items), "ticket": None,
                "status": "resolved", "count": 0, "counts": Counter(ignored=len(group.items))}
    ticket: _Ref | None = None
    previous = None
    if row["ticket_id"] is not None and row["ticket_category"] not in CLOSED:
        ticket = _Ref(row["ticket_id"], row["ticket_key"])
    elif row["ticket_id"] is not None:
        previous = row["ticket_key"]
    counts: Counter[str] = Counter()
    status, count, first_seen = row["status"], row["count"], row["first_seen"]
    noted_count, noted_at = row["noted_count"], row["noted_at"]
    pending: list[Mapped] = []  # repeats waiting for a note
    events: list[str] = []  # what must be noted now (resolutions, re-firing)
    created = linked = None
    last = group.items[-1].alert
    for m in group.items:
        a = m.alert
        if a.status == "firing" and ticket is None:
            new = _create(desk, repo, rules, spec, m, previous, now)
            linked = major.check(desk, repo, new, now)
            ticket = _Ref(new.id, new.key)
            created, status, count, first_seen = new.key, "firing", 1, now
            noted_count, noted_at = 1, now
            counts["created"] += 1
        elif a.status == "firing":
            count += 1
            if status == "resolved":
                events.append(N_("Alert firing again: {summary}").format(summary=a.summary))  # i18n.SYSTEM_NOTES
            status = "firing"
            pending.append(m)
        elif ticket is None:
            status = "resolved"
            counts["ignored"] += 1
        else:
            count += 1
            status = "resolved"
            events.append(N_("Alert resolved at {at}: {summary}. The incident stays open: resolve it once the "
                             "service is confirmed restored.").format(at=_shown(desk, a.ends_at), summary=a.summary)
                          if a.ends_at
                          else N_("Alert resolved: {summary}. The incident stays open: resolve it once the service "
                                  "is confirmed restored.").format(summary=a.summary))
            counts["resolved_noted"] += 1
    repeats = len(pending)
    due = noted_at is None or now - noted_at >= timedelta(seconds=rules.repeat_note_every)
    if ticket is not None and (events or (repeats and due)):
        lines = []
        if repeats:  # resolutions are noted as they come, so the rest since the last note are repeats
            unnoted = count - noted_count - counts["resolved_noted"]
            lines.append(N_("Alert repeated {count} time(s) since the last note ({total} alert(s) on this "
                            "incident): {summary}").format(count=unnoted, total=count,
                                                          summary=pending[-1].alert.summary))
        lines += events
        _note(desk, repo, ticket.id, "\n".join(lines), source, fingerprint, status, count, now)
        noted_count, noted_at = count, now
        counts["noted"] += repeats
    else:
        counts["counted"] += repeats
    repo.update_alert_group(row["id"], {
        "ticket_id": ticket.id if ticket is not None else row["ticket_id"], "status": status,
        "first_seen": first_seen, "last_seen": now, "count": count, "noted_count": noted_count,
        "noted_at": noted_at, "last_payload": last.record()})
    out: dict[str, Any] = {"source": source, "fingerprint": fingerprint, "alerts": len(group.items),
                           "ticket": ticket.key if ticket is not None else None,
                           "status": status, "count": count, "counts": counts}
    if created:
        out["created"] = created
        if previous:
            out["previous"] = previous
    if linked:
        out["major_incident"] = linked
    return out



def _shown(desk: Desk, iso: str) -> str:
    """An alert's time as the desk shows times: in its zone, with the offset (engine.render.when)."""
    from engine.render import when

    try:
        return when(desk.iso(datetime.fromisoformat(iso)))
    except (ValueError, OverflowError):  # not a time, or one beyond the calendar in the desk's zone
        return iso


def _create(desk: Desk, repo: Any, rules: AlertRules, spec: Any, m: Mapped, previous: str | None,
            now: datetime) -> Ticket:
    given = dict(m.values, reporter=rules.reporter)
    if previous:
        given["description"] = (f"{given.get('description') or ''}\n"
                                f"Previous incident of this alert group: {previous}").strip()
    for name, value in given.items():  # a monitoring system's long text is cut, not refused
        if isinstance(value, str):
            given[name] = value[:max_length(field_spec(spec, name))]
    note = N_("Opened from a monitoring alert (rule {rule}).").format(rule=m.rule)
    return intake(desk, repo, spec, given, monitoring_actor(rules.reporter), now, note,
                       {"alert": [None, {"source": m.alert.source, "fingerprint": m.group_fingerprint,
                                         "rule": m.rule}]})


def _note(desk: Desk, repo: Any, ticket_id: int, text: str, source: str, fingerprint: str,
          status: str, count: int, now: datetime) -> None:
    """An internal journal note (action 'alert'); the ticket's state is untouched."""
    ticket = Ticket.from_row(repo.get_ticket_by_id(ticket_id, lock=True))
    now = check_forward(desk, ticket, now)
    changes = {"alert": {"source": source, "fingerprint": fingerprint, "status": status, "count": count}}
    new = event("alert", monitoring_actor(""), None, None, None, changes, text,
                ticket.definition_version, now, False)
    repo.update_ticket(ticket.id, ticket.version,
                       {"updated_at": now, "clock_state": clockstate.bumped(desk, ticket, new)})
    repo.append_event(ticket.id, new, key=ticket.key, process=ticket.process)


def alert_groups(desk: Desk, ticket: str | None = None, open_only: bool = False,
                 limit: int = 1000) -> list[dict[str, Any]]:
    """The alert groups, newest activity first, with their incident."""
    with desk.store.read() as repo:
        rows = repo.list_alert_groups(ticket.upper() if ticket else None, open_only, limit)
    return [{"source": r["source"], "fingerprint": r["fingerprint"], "ticket": r.get("key"),
             "ticket_category": r.get("status_category"), "status": r["status"], "count": r["count"],
             "first_seen": desk.iso(r["first_seen"]), "last_seen": desk.iso(r["last_seen"]),
             "summary": (r.get("last_payload") or {}).get("summary")} for r in rows]


__all__ = ["ACTOR_ID", "OUTCOMES", "Alert", "alert_groups", "ingest", "monitoring_actor"]
