"""Alert intake throughput: an event storm through ``Api.ingest_alerts``.

The storm is the issue's: 10,000 alerts in 200 alert groups (``--quick``:
2,000 in 40), sent as Alertmanager webhooks of 1,000 alerts each (alerts
interleaved over the groups, as a flapping fleet sends them), on a fresh SQLite
file (WAL, synchronous=FULL: every commit durable).  The engine files each
group of each webhook in one transaction: the first webhook opens one incident
per group through the normal intake (journal, acknowledgement, SLA, major-
incident criteria), the rest are repeats counted on their group.  Figure:
alerts per second over the whole storm, payload parsing and rule mapping
included.  The run also checks that exactly one incident per group was opened.

Baseline: bare ``sqlite3`` on the same file settings inserting one row per
alert into a plain table, committing as often as the engine does (once per
group of each webhook) -- the floor set by durable commits.  No target (info).
With ITSM_BENCH_DATABASE_URL the same pair runs on PostgreSQL (raw psycopg).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from bench._util import Config, Result, median, reset_postgres, sqlite_url

NAME = "intake"
NOW = "2026-03-02T09:00:00+08:00"
SERVICES = ("claims", "policy_admin", "email", "network", "desktop")
PER_PAYLOAD = 1000


def storm(alerts: int, groups: int) -> list[dict[str, Any]]:
    out = []
    for start in range(0, alerts, PER_PAYLOAD):
        batch = []
        for i in range(start, min(start + PER_PAYLOAD, alerts)):
            g = i % groups
            batch.append({"status": "firing", "fingerprint": f"bench{g:05d}",
                          "labels": {"alertname": f"Bench{g % 7}", "service": SERVICES[g % 5],
                                     "severity": ("critical", "warning")[g % 2], "instance": f"host{g}"},
                          "annotations": {"summary": f"bench problem {g}"},
                          "startsAt": "2026-03-02T00:55:00Z", "endsAt": "0001-01-01T00:00:00Z"})
        out.append({"version": "4", "status": "firing", "receiver": "itsm", "alerts": batch})
    return out


def engine_rate(cfg: Config, url: str, payloads: list[dict[str, Any]], groups: int) -> float:
    from engine.api import Api

    cfg.apply_env()
    api = Api.open(db=url, now=NOW)
    api.store  # noqa: B018 - schema created outside the timing
    texts = [json.dumps(p) for p in payloads]  # what the endpoint / CLI receives
    started = time.perf_counter()
    created = 0
    for text in texts:
        created += api.ingest_alerts(text)["created"]
    elapsed = time.perf_counter() - started
    api.store.close()
    if created != groups:
        raise AssertionError(f"the storm opened {created} incidents for {groups} groups")
    return sum(len(p["alerts"]) for p in payloads) / elapsed


def _commits(payloads: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The alerts of each (webhook, group): one transaction each, as the engine commits."""
    out = []
    for p in payloads:
        by: dict[str, list[dict[str, Any]]] = {}
        for a in p["alerts"]:
            by.setdefault(a["fingerprint"], []).append(a)
        out.extend(by.values())
    return out


def raw_sqlite_rate(path: Path, payloads: list[dict[str, Any]]) -> float:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    for pragma in ("journal_mode=WAL", "busy_timeout=30000", "synchronous=FULL"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute("CREATE TABLE alert_log (id INTEGER PRIMARY KEY, fingerprint TEXT, status TEXT, payload TEXT)")
    started = time.perf_counter()
    for alerts in _commits(payloads):
        conn.execute("BEGIN IMMEDIATE")
        for a in alerts:
            conn.execute("INSERT INTO alert_log (fingerprint, status, payload) VALUES (?, ?, ?)",
                         (a["fingerprint"], a["status"], json.dumps(a)))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return sum(len(p["alerts"]) for p in payloads) / elapsed


def raw_pg_rate(url: str, payloads: list[dict[str, Any]]) -> float:
    import psycopg

    with psycopg.connect(re.sub(r"^postgresql(\+psycopg)?://", "postgresql://", url), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_alert_log")
        conn.execute("CREATE TABLE bench_alert_log (id serial PRIMARY KEY, fingerprint text, status text, payload text)")
        started = time.perf_counter()
        for alerts in _commits(payloads):
            with conn.transaction():
                for a in alerts:
                    conn.execute("INSERT INTO bench_alert_log (fingerprint, status, payload) VALUES (%s, %s, %s)",
                                 (a["fingerprint"], a["status"], json.dumps(a)))
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_alert_log")
    return sum(len(p["alerts"]) for p in payloads) / elapsed


def run(cfg: Config) -> list[Result]:
    alerts, groups = cfg.pick((2000, 40), (10000, 200))
    reps = cfg.pick(1, 3, 5)
    payloads = storm(alerts, groups)
    label = f"storm {alerts:,} alerts / {groups} groups"
    figs, bases = [], []
    for rep in range(reps):
        bases.append(raw_sqlite_rate(cfg.scratch(f"intake-raw-{rep}.db"), payloads))
        figs.append(engine_rate(cfg, sqlite_url(cfg.scratch(f"intake-api-{rep}.db")), payloads, groups))
    results = [Result(NAME, f"Api.ingest_alerts, {label}, SQLite WAL FULL", median(figs), "alerts/s",
                      median(bases), "raw sqlite3, a row per alert, same commits",
                      samples=figs, baseline_samples=bases)]
    if cfg.pg_url:
        figs, bases = [], []
        for _ in range(reps):
            bases.append(raw_pg_rate(cfg.pg_url, payloads))
            reset_postgres(cfg.pg_url)
            figs.append(engine_rate(cfg, cfg.pg_url, payloads, groups))
        results.append(Result(NAME, f"Api.ingest_alerts, {label}, PostgreSQL", median(figs), "alerts/s",
                              median(bases), "raw psycopg, a row per alert, same commits",
                              samples=figs, baseline_samples=bases))
    return results
