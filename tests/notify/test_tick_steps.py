"""``itsm tick`` in steps (issue #25): timers, audit, deliveries and reports can
run alone (``--only``), and a mail server that is down costs a few attempts per
run, not one per message: the sender gives the channel up after a few failures
and the other messages stay queued, untried, for the next run."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from engine.notify.deliver import BREAKER, SENDERS

REPORTERS = [f"user{i}@example.com" for i in range(12)]


def closed_port() -> int:
    """A local port nobody listens on: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dead_smtp(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("ITSM_SMTP_HOST", "127.0.0.1"), ("ITSM_SMTP_PORT", str(closed_port())),
                        ("ITSM_SMTP_TLS", "none"),
                        ("ITSM_NOTIFY_BACKOFF", "60"), ("ITSM_NOTIFY_MAX_ATTEMPTS", "3")):
        monkeypatch.setenv(name, value)


def outbox(itsm: Any) -> list[dict[str, Any]]:
    return itsm.json("outbox", "list")


def log_many(itsm: Any, org: Any, n: int) -> None:
    for i in range(n):  # one acknowledgement each, to twelve different reporters
        itsm.json("new", "incident", "--title", f"Kiosk {i} frozen", "--reporter", REPORTERS[i],
                  user=org.agent.id, now="2026-03-02T09:00:00+08:00")


def test_dead_mail_server_is_given_up_on_after_a_few_failures(itsm, org, dead_smtp) -> None:
    log_many(itsm, org, 12)
    assert len(outbox(itsm)) == 12
    lines = itsm.json("tick", "--only", "deliveries", now="2026-03-02T09:01:00+08:00")
    tried = [r for r in outbox(itsm) if r["attempts"]]
    assert BREAKER <= len(tried) <= SENDERS  # at most one batch was tried, not all twelve
    assert all(r["status"] == "pending" and r["last_error"] for r in tried)
    untried = [r for r in outbox(itsm) if not r["attempts"]]
    assert len(untried) == 12 - len(tried) and all(r["status"] == "pending" for r in untried)
    held = [x for x in lines if x["name"] == "held"]
    assert len(held) == 1 and held[0]["outcome"].startswith("email given up on")
    assert f"{len(untried)} message(s) stay queued" in held[0]["outcome"]
    # the held rows wait one backoff (60 s) like a first failure: nothing is due at once
    assert itsm.json("outbox", "deliver", now="2026-03-02T09:01:30+08:00")["messages"] == []
    # after it the next run tries again, and gives up again
    again = itsm.json("outbox", "deliver", now="2026-03-02T09:02:00+08:00")
    assert BREAKER <= len(again["messages"]) <= SENDERS
    assert again["held"] == 12 - len(again["messages"])  # the failed ones are due again too
    assert sum(1 for r in outbox(itsm) if r["attempts"]) <= 2 * SENDERS


def test_steps_run_alone(itsm, org, dead_smtp) -> None:
    log_many(itsm, org, 2)
    # timers alone, or reports alone, send nothing
    for step in ("timers", "reports", "audit"):
        itsm.json("tick", "--only", step, now="2026-03-02T09:01:00+08:00")
        assert all(r["attempts"] == 0 for r in outbox(itsm)), step
    # the default runs every step, deliveries included
    lines = itsm.json("tick", now="2026-03-02T09:02:00+08:00")
    assert {r["attempts"] for r in outbox(itsm)} == {1}
    assert any(x["kind"] == "outbox" and x["name"] == "deliver" for x in lines)


def test_timers_budget_leaves_the_rest_due(itsm, org, monkeypatch: pytest.MonkeyPatch) -> None:
    """A spent budget stops the timers step between batches, never inside one;
    what is left is still due, and the next tick does it."""
    import engine.desk.ticking as ticking

    class Clock:  # every look at the clock finds a second gone
        t = 0.0

        def monotonic(self) -> float:
            self.t += 1.0
            return self.t

    for i in range(2):
        itsm.json("new", "incident", "--title", f"Budget {i}", "--reporter", REPORTERS[i],
                  user=org.agent.id, now="2026-03-02T09:00:00+08:00")
    monkeypatch.setattr(ticking, "TICK_BATCH", 1)
    monkeypatch.setattr(ticking, "time", Clock())
    later = "2026-03-20T09:00:00+08:00"
    first = itsm.json("tick", "--only", "timers", "--budget", "0.5", now=later)
    done = {x["key"] for x in first if x["key"] != "-"}
    assert len(done) == 1 and done <= {"INC-000001", "INC-000002"}
    assert [x["outcome"] for x in first if x["name"] == "budget"] == [
        "1 due ticket(s) left for the next tick (budget 0.5s spent)"]
    second = itsm.json("tick", "--only", "timers", "--budget", "0.5", now=later)
    assert {x["key"] for x in second if x["key"] != "-"} == {"INC-000001", "INC-000002"} - done
    assert not any(x["name"] == "budget" for x in second)


def test_a_ticket_that_fails_is_rolled_back_alone(itsm, org, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch runs without a savepoint per ticket; when one ticket's work fails
    (here: another tick recorded its effect first), the batch is rolled back and
    run again with each ticket on its own: the others are done, the failed one
    is reported as skipped, nothing of it is written, and the next tick does it."""
    from engine.store.repository import Repo

    for i in range(3):
        itsm.json("new", "incident", "--title", f"Batch {i}", "--reporter", REPORTERS[i],
                  user=org.agent.id, now="2026-03-02T09:00:00+08:00")
    mailed = lambda key: sum(1 for r in outbox(itsm) if r["ticket"] == key)  # noqa: E731
    before = {k: mailed(k) for k in ("INC-000001", "INC-000002")}
    original = Repo.mark_fired
    failing: list[int] = []

    def mark_fired(self: Repo, ticket_id: int, *args: Any) -> bool:
        if self.get_ticket_by_id(ticket_id)["key"] == "INC-000002":
            failing.append(ticket_id)
            return False
        return original(self, ticket_id, *args)

    monkeypatch.setattr(Repo, "mark_fired", mark_fired)
    later = "2026-03-20T09:00:00+08:00"
    first = itsm.json("tick", "--only", "timers", now=later)
    skipped = [x for x in first if x["key"] == f"#{failing[0]}"]
    assert len(skipped) == 1 and skipped[0]["outcome"].endswith("fired concurrently"), first
    assert {x["key"] for x in first if x["key"].startswith("INC-")} == {"INC-000001", "INC-000003"}
    assert mailed("INC-000001") > before["INC-000001"] and mailed("INC-000002") == before["INC-000002"]
    monkeypatch.setattr(Repo, "mark_fired", original)
    second = itsm.json("tick", "--only", "timers", now=later)
    assert {x["key"] for x in second} == {"INC-000002"}
    assert [x["outcome"] for x in second] == [x["outcome"] for x in first if x["key"] == "INC-000001"]


def test_a_due_report_is_not_started_once_the_budget_is_spent(itsm, org, db_url) -> None:
    """A report due after the tick's budget is spent stays due, with a line that
    says where it goes; the next run renders and queues it."""
    from pathlib import Path

    from engine.api import Api

    itsm.json("new", "incident", "--title", "Printer jams", "--reporter", REPORTERS[0],
              user=org.agent.id, now="2026-03-03T10:00:00+08:00")
    api = Api.open(home=str(Path(__file__).resolve().parents[2]), db=db_url, now="2026-03-10T09:00:00+08:00")
    try:
        left = api.run_due_reports(deadline=0.0)  # spent before the step began
        assert left and {x["outcome"] for x in left} == {
            "left for the next tick (budget spent); on a big desk run 'itsm tick --only reports' as its own job"}
        assert not [r for r in api.outbox() if r["template"] == "report"]
        ran = api.run_due_reports()
        assert [x["report"] for x in ran] == [x["report"] for x in left]
        assert all(x["outcome"].endswith("message(s) queued") for x in ran), ran
    finally:
        api.store.close()
