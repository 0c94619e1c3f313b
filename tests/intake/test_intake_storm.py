"""An event storm (10,000 alerts in 200 groups -> 200 incidents) and senders
racing on the same new alert group (one incident), on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path
from typing import Any

import _intake_worker
import pytest
from _intake_payloads import T0, am_alert, storm, text, webhook

REPO = Path(__file__).resolve().parents[2]
CTX = mp.get_context("spawn")  # no inherited database connections
SENDERS = 4
ROUNDS = 3


def test_a_storm_of_10000_alerts_in_200_groups_opens_200_incidents(
        itsm: Any, counts: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # durability is not under test here; fsync per transaction would only slow the run
    monkeypatch.setenv("ITSM_SQLITE_SYNCHRONOUS", "NORMAL")
    totals = {"alerts": 0, "created": 0, "noted": 0, "counted": 0, "ignored": 0, "failed": 0}
    started = time.perf_counter()
    for payload in storm(batches=10, per_batch=1000, groups=200):
        summary = itsm.json("intake", "-", input=text(payload), now=T0)
        for k in totals:
            totals[k] += summary[k]
    elapsed = time.perf_counter() - started
    assert totals == {"alerts": 10000, "created": 200, "noted": 0, "counted": 9800, "ignored": 0, "failed": 0}
    got = counts()
    assert (got["incidents"], got["alert_groups"]) == (200, 200)
    groups = itsm.json("alerts", "--limit", "1000")
    assert len(groups) == 200 and {g["count"] for g in groups} == {50}
    assert len({g["ticket"] for g in groups}) == 200
    assert itsm("audit", "verify").stdout.endswith("journal intact\n")
    assert elapsed < 240, f"the storm took {elapsed:.0f} s"


def _race(url: str, payload: Any) -> list[dict[str, Any]]:
    barrier = CTX.Barrier(SENDERS)
    results = CTX.Queue()
    procs = [CTX.Process(target=_intake_worker.send, args=(url, str(REPO), payload, w, barrier, results))
             for w in range(SENDERS)]
    for p in procs:
        p.start()
    try:
        got = dict(results.get(timeout=180) for _ in procs)
    finally:
        for p in procs:
            p.join(timeout=60)
    crashes = [r["crash"] for r in got.values() if "crash" in r]
    assert not crashes, "\n".join(crashes)
    assert [p.exitcode for p in procs] == [0] * SENDERS
    return list(got.values())


def test_senders_racing_on_a_new_alert_group_open_one_incident(itsm: Any, db_url: str, counts: Any) -> None:
    itsm("db", "upgrade")  # create the schema before the race
    for round_ in range(ROUNDS):
        # each sender brings the same three new groups: one incident each, whoever wins
        payload = webhook(*(am_alert(f"race{round_}-{g}", severity="warning") for g in range(3)))
        results = _race(db_url, payload)
        assert sum(r["created"] for r in results) == 3, results
        assert sum(r["failed"] for r in results) == 0, results
        assert sum(r["created"] + r["noted"] + r["counted"] for r in results) == 3 * SENDERS
        assert len({key for r in results for key in r["tickets"]}) == 3, results
    got = counts()
    assert (got["incidents"], got["alert_groups"]) == (3 * ROUNDS, 3 * ROUNDS)
    assert {g["count"] for g in itsm.json("alerts")} == {SENDERS}
    assert itsm("audit", "verify").stdout.endswith("journal intact\n")


def test_senders_racing_after_the_incident_was_resolved_open_one_new_incident(
        itsm: Any, db_url: str, counts: Any) -> None:
    itsm("user", "add", "wang.lei", "--email", "wang.lei@example.com", "--role", "service_desk",
         "--group", "service_desk")
    for round_ in range(ROUNDS):
        alert = am_alert(f"recur{round_}", severity="warning")
        first = itsm.json("intake", "-", input=text(webhook(alert)))["results"][0]["ticket"]
        itsm("do", first, "resolve", "--set", "solution=Restarted", "--set", "closure_code=solved",
             "--set", "service_restored=true", user="wang.lei")
        results = _race(db_url, webhook(alert))
        assert sum(r["created"] for r in results) == 1, results
        assert sum(r["failed"] for r in results) == 0, results
        tickets = {key for r in results for key in r["tickets"]}
        assert len(tickets) == 1 and first not in tickets, results
    assert counts()["incidents"] == 2 * ROUNDS
    assert {g["count"] for g in itsm.json("alerts")} == {SENDERS}

