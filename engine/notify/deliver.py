"""``itsm outbox deliver``: send pending outbox rows, a few at a time.

Rows are claimed in batches of ``SENDERS`` (status ``sending`` with a lease) in
one transaction, sent by as many threads at once (each send bounded by the
channel's connection timeout), then marked ``sent`` in another.  A sender killed between the two leaves the
row to be retried when the lease expires (at-least-once; the Message-ID and
Idempotency-Key let receivers drop the duplicate), and nothing marked sent is
ever sent again.

Whatever goes wrong while rendering or sending one row (a server down, a
gateway answering garbage, a template failing or breaking its bounds, a bug) is
that row's failed attempt and nothing more: the other rows keep flowing.
Failures retry with exponential backoff, capped at MAX_BACKOFF, up to
``max_attempts`` (an attempt whose deliverer died counts too), then stay
``failed`` until retried by hand (``itsm outbox retry``).

A circuit breaker per channel: once ``BREAKER`` sends of a channel failed in a
row in this run (the mail server is down or unconfigured), the run stops
taking that channel's rows.  The failed ones retry under the rules above; the
others stay queued, their attempts uncounted, and wait one backoff like a first
failed attempt (``held`` in the report), so a dead mail server costs a few
connection timeouts per backoff, not one per message.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from engine.notify import templates
from engine.notify.channels import CHANNELS, ERRORS, DeliveryFailed
from engine.settings import Settings

LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(days=1)  # 60 s x 2^n would reach years (and overflow) after a few dozen attempts
MAX_ERROR = 1000  # characters of last_error kept
SENDERS = 8  # rows claimed per transaction and sent at once (threads)
BREAKER = 3  # failed sends of a channel in a row that stop this run taking its rows


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0  # rows that failed for good in this run
    lines: list[dict[str, Any]] | None = None
    failed_total: int = 0  # rows in status failed after this run, waiting for `itsm outbox retry`
    held: int = 0  # rows left queued, untried, because their channel's breaker opened
    broken: dict[str, str] = field(default_factory=dict)  # channel -> the error that opened its breaker


def status_url(settings: Settings, key: str, token: str | None) -> str | None:
    if not settings.portal_url:
        return None
    base = settings.portal_url.rstrip("/") + f"/status/{quote(key)}"
    return base + (f"?token={quote(token)}" if token else "")


def context(row: dict[str, Any], settings: Settings) -> dict[str, Any]:
    payload = row.get("payload") or {}
    ticket = payload.get("ticket") or {}
    return {"ticket": ticket, "action": payload.get("action"), "note": payload.get("note"),
            "event": payload.get("event"), "recipient": row["recipient"],
            "status_url": status_url(settings, ticket.get("key", ""), payload.get("token"))}


def retry_delay(attempts: int, settings: Settings) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: backoff x 2^(attempts-1), capped."""
    seconds = settings.backoff_seconds * 2.0 ** min(max(attempts - 1, 0), 64)  # capped before timedelta
    return timedelta(seconds=min(seconds, MAX_BACKOFF.total_seconds()))


def error_text(text: str) -> str:
    """An error as last_error keeps it: no control characters (PostgreSQL refuses
    NUL in text), at most MAX_ERROR characters."""
    clean = "".join(c if c.isprintable() or c == " " else " " for c in text).strip()
    return clean if len(clean) <= MAX_ERROR else clean[: MAX_ERROR - 1] + "…"


def attempt(row: dict[str, Any], home: Path, settings: Settings) -> str | None:
    """Render and send one row: None when the receiver accepted it, else why not."""
    rendered, error = prepare(row, home, settings)
    return error if rendered is None else send(row, rendered, settings)[0]


def prepare(row: dict[str, Any], home: Path, settings: Settings) -> tuple[Any, str | None]:
    """The row's rendered message, or None and why not (a template problem, an
    unknown channel): the row's own failure, never the channel's."""
    try:
        if row["channel"] not in CHANNELS:
            raise DeliveryFailed(ERRORS[6].format(channel=repr(row["channel"])))
        return templates.render(home, row["template"], row["lang"], context(row, settings)), None
    except (DeliveryFailed, templates.TemplateProblem) as exc:
        return None, error_text(str(exc))
    except Exception as exc:  # noqa: BLE001 - one poison message must not stop all the others
        return None, error_text(f"{row['channel']} delivery failed: {type(exc).__name__}: {exc}")


def send(row: dict[str, Any], rendered: Any, settings: Settings) -> tuple[str | None, bool]:
    """Send one rendered row (in a sender thread): (None, False) when accepted,
    else (why not, whether the channel itself failed: it counts for the breaker)."""
    try:
        CHANNELS[row["channel"]].send(row, rendered, settings)
    except DeliveryFailed as exc:
        return error_text(str(exc)), exc.channel_failed
    except Exception as exc:  # noqa: BLE001 - one poison message must not stop all the others
        return error_text(f"{row['channel']} delivery failed: {type(exc).__name__}: {exc}"), True
    return None, False


class Breaker:
    """Failed sends in a row per channel, shared by the sender threads: once a
    channel reaches ``BREAKER`` the run takes none of its rows any more."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failures: dict[str, int] = {}
        self.broken: dict[str, str] = {}  # channel -> the error that opened it

    def allows(self, channel: str) -> bool:
        with self.lock:
            return channel not in self.broken

    def record(self, channel: str, error: str | None, channel_failed: bool) -> None:
        with self.lock:
            if channel_failed:
                self.failures[channel] = self.failures.get(channel, 0) + 1
                if self.failures[channel] >= BREAKER:
                    self.broken.setdefault(channel, error or "")
            elif error is None:
                self.failures[channel] = 0


SKIPPED = (None, False, True)  # (error, channel failed, not attempted: its channel's breaker is open)


def _send_in_order(rows: list[tuple[int, dict[str, Any], Any]], settings: Settings, breaker: Breaker,
                   done: "queue.Queue[tuple[int, tuple[str | None, bool, bool]]]") -> None:
    for i, row, rendered in rows:
        if not breaker.allows(row["channel"]):
            done.put((i, SKIPPED))
            continue
        error, channel_failed = send(row, rendered, settings)
        breaker.record(row["channel"], error, channel_failed)
        done.put((i, (error, channel_failed, False)))


def deliver(store: Any, home: Path, settings: Settings, now: Callable[[], datetime],
            limit: int = 1000) -> DeliveryReport:
    """Send up to ``limit`` due rows; each is marked as soon as its send returns."""
    report = DeliveryReport(lines=[])
    breaker = Breaker()
    report.broken = breaker.broken

    def record(row: dict[str, Any], error: str | None) -> None:
        with store.write() as repo:
            if row["status"] == "failed":  # its deliverer died during the last attempt allowed
                report.failed += 1
                result = {"status": "failed", "attempts": row["attempts"], "error": row["last_error"]}
            else:
                result = _finish(repo, row, error, now(), settings, report)
        report.lines.append({"id": row["id"], "channel": row["channel"], "to": row["recipient"],
                             "template": row["template"], "outcome": outcome_text(result), **result})

    with ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="itsm-send") as pool:
        while len(report.lines) < limit:
            t = now()
            with store.write() as repo:
                rows = []
                for _ in range(min(SENDERS, limit - len(report.lines))):
                    row = repo.claim_outbox(t, t + LEASE, settings.max_attempts, skip=list(breaker.broken))
                    if row is None:
                        break
                    rows.append(row)
            if not rows:
                break
            # one sender per recipient, in queue order: a reporter gets "logged" before "resolved"
            by_recipient: dict[str, list[tuple[int, dict[str, Any], Any]]] = {}
            pending = 0
            for i, row in enumerate(rows):
                rendered, error = prepare(row, home, settings) if row["status"] != "failed" else (None, None)
                if rendered is None:
                    record(row, error)
                else:
                    by_recipient.setdefault(str(row["recipient"]), []).append((i, row, rendered))
                    pending += 1
            done: queue.Queue[tuple[int, tuple[str | None, bool, bool]]] = queue.Queue()
            for group in by_recipient.values():
                pool.submit(_send_in_order, group, settings, breaker, done)
            released = []
            for _ in range(pending):
                i, (error, _failed, skipped) = done.get()
                if skipped:
                    released.append(rows[i])
                else:
                    record(rows[i], error)
            if released:  # claimed but not tried: back in the queue as they were
                with store.write() as repo:
                    for row in released:
                        repo.release_outbox(row["id"], row["attempts"] - 1, row["next_attempt_at"])
    if report.broken:  # the held rows wait like a first failed attempt, uncounted
        t = now()
        with store.write() as repo:
            report.held = repo.postpone_outbox(list(report.broken), t, t + retry_delay(1, settings))
    with store.read() as repo:
        report.failed_total = repo.count_outbox("failed")
    return report


def outcome_text(result: dict[str, Any]) -> str:
    """One attempt's result in English (the ``outcome`` of a report line)."""
    if result["status"] == "sent":
        return "sent"
    if result["status"] == "retrying":
        return f"retry in {result['retry_in']}s: {result['error']}"
    return f"failed after {result['attempts']} attempts: {result['error']}"


def _finish(repo: Any, row: dict[str, Any], error: str | None, done: datetime, settings: Settings,
            report: DeliveryReport) -> dict[str, Any]:
    """Record one attempt's result: {status: sent | retrying | failed, error, retry_in
    (seconds), attempts}."""
    if error is None:
        payload = dict(row.get("payload") or {})
        payload.pop("token", None)  # the status token leaves the database once sent
        repo.finish_outbox(row["id"], sent_at=done, error=None, retry_at=None, payload=payload)
        report.sent += 1
        return {"status": "sent"}
    if row["attempts"] < settings.max_attempts:
        delay = retry_delay(row["attempts"], settings)
        repo.finish_outbox(row["id"], sent_at=None, error=error, retry_at=done + delay)
        report.retrying += 1
        return {"status": "retrying", "retry_in": int(delay.total_seconds()), "error": error,
                "attempts": row["attempts"]}
    repo.finish_outbox(row["id"], sent_at=None, error=error, retry_at=None)
    report.failed += 1
    return {"status": "failed", "attempts": row["attempts"], "error": error}
