"""``itsm outbox deliver``: send pending outbox rows, one at a time.

A row is claimed (status ``sending`` with a lease) in one transaction, sent,
then marked ``sent`` in another.  A sender killed between the two leaves the
row to be retried when the lease expires (at-least-once; the Message-ID and
Idempotency-Key let receivers drop the duplicate), and nothing marked sent is
ever sent again.

Whatever goes wrong while rendering or sending one row (a server down, a
gateway answering garbage, a template failing or breaking its bounds, a bug) is
that row's failed attempt and nothing more: the other rows keep flowing.
Failures retry with exponential backoff, capped at MAX_BACKOFF, up to
``max_attempts`` (an attempt whose deliverer died counts too), then stay
``failed`` until retried by hand (``itsm outbox retry``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from engine.notify import templates
from engine.notify.channels import CHANNELS, DeliveryFailed
from engine.settings import Settings

LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(days=1)  # 60 s x 2^n would reach years (and overflow) after a few dozen attempts
MAX_ERROR = 1000  # characters of last_error kept


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0  # rows that failed for good in this run
    lines: list[dict[str, Any]] | None = None
    failed_total: int = 0  # rows in status failed after this run, waiting for `itsm outbox retry`


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
    try:
        rendered = templates.render(home, row["template"], row["lang"], context(row, settings))
        channel = CHANNELS.get(row["channel"])
        if channel is None:
            raise DeliveryFailed(f"unknown channel {row['channel']!r}")
        channel.send(row, rendered, settings)
    except (DeliveryFailed, templates.TemplateProblem) as exc:
        return error_text(str(exc))
    except Exception as exc:  # noqa: BLE001 - one poison message must not stop all the others
        return error_text(f"{row['channel']} delivery failed: {type(exc).__name__}: {exc}")
    return None


def deliver(store: Any, home: Path, settings: Settings, now: Callable[[], datetime],
            limit: int = 1000) -> DeliveryReport:
    report = DeliveryReport(lines=[])
    for _ in range(limit):
        t = now()
        with store.write() as repo:
            row = repo.claim_outbox(t, t + LEASE, settings.max_attempts)
        if row is None:
            break
        if row["status"] == "failed":  # its deliverer died during the last attempt allowed
            report.failed += 1
            outcome = f"failed after {row['attempts']} attempts: {row['last_error']}"
        else:
            outcome = _finish(store, row, attempt(row, home, settings), now(), settings, report)
        report.lines.append({"id": row["id"], "channel": row["channel"], "to": row["recipient"],
                             "template": row["template"], "outcome": outcome})
    with store.read() as repo:
        report.failed_total = repo.count_outbox("failed")
    return report


def _finish(store: Any, row: dict[str, Any], error: str | None, done: datetime, settings: Settings,
            report: DeliveryReport) -> str:
    """Record one attempt's result; the outcome line of the report."""
    with store.write() as repo:
        if error is None:
            payload = dict(row.get("payload") or {})
            payload.pop("token", None)  # the status token leaves the database once sent
            repo.finish_outbox(row["id"], sent_at=done, error=None, retry_at=None, payload=payload)
            report.sent += 1
            return "sent"
        if row["attempts"] < settings.max_attempts:
            delay = retry_delay(row["attempts"], settings)
            repo.finish_outbox(row["id"], sent_at=None, error=error, retry_at=done + delay)
            report.retrying += 1
            return f"retry in {int(delay.total_seconds())}s: {error}"
        repo.finish_outbox(row["id"], sent_at=None, error=error, retry_at=None)
        report.failed += 1
        return f"failed after {row['attempts']} attempts: {error}"
