"""Full lifecycles: intake -> assign -> start -> resolve -> confirm_for_user (the
desk confirms for the user: ``confirm`` needs the reporter) per incident
through ``engine.api.Api`` (one transaction per step), in tickets per second,
on SQLite (WAL, synchronous=FULL) and on PostgreSQL when
``ITSM_BENCH_DATABASE_URL`` names a throwaway database.

Baseline: the bare driver doing the same row writes per step (bench._raw:
intake, then four versioned updates with journal, due-work and the outbox rows
of the shipped process).  No target is set by the issue: the figure is
information (the performance notes measured Request Tracker at 6-7 lifecycles/s
on this kind of machine).
"""

from __future__ import annotations

import time

from bench._raw import RawStore, lifecycle as raw_lifecycle
from bench._util import (
    AGENT, CONFIRM_FOR_USER, GROUP, RESOLVE, Config, Result, median, new_incident, open_api, reset_postgres, skipped,
    sqlite_url, timed,
)

NAME = "lifecycle"


def engine_lifecycle(api, i: int) -> None:  # type: ignore[no-untyped-def]
    key = new_incident(api, f"Lifecycle {i}")
    api.do(key, "assign", {"group": GROUP, "assignee": AGENT})
    api.do(key, "start", {})
    api.do(key, "resolve", dict(RESOLVE))
    api.do(key, "confirm_for_user", dict(CONFIRM_FOR_USER))


def measure(cfg: Config, url: str, label: str) -> list[Result]:
    n = cfg.pick(30, 50, 100)
    reps = cfg.pick(5, 7, 9)
    cfg.apply_env()
    api = open_api(url)
    engine_lifecycle(api, -1)  # warm-up; registers the definition version
    with api.store.read() as repo:
        version = repo.conn.exec_driver_sql(
            "SELECT version FROM definition_versions WHERE process = 'incident'").scalar()
    raw = RawStore(url)
    raw_lifecycle(raw, -1, version)
    counter = iter(range(10**9))
    figs, bases, cpu_figs, cpu_bases = [], [], [], []

    def cpu_timed(fn):  # type: ignore[no-untyped-def]
        """Wall seconds of fn, and this process's CPU seconds (user + system) in it."""
        cpu = time.process_time()
        wall = timed(fn)
        return wall, time.process_time() - cpu

    for _ in range(reps):
        wall, cpu = cpu_timed(lambda: [raw_lifecycle(raw, next(counter), version) for _ in range(n)])
        bases.append(n / wall)
        cpu_bases.append(cpu / n * 1000)
        wall, cpu = cpu_timed(lambda: [engine_lifecycle(api, next(counter)) for _ in range(n)])
        figs.append(n / wall)
        cpu_figs.append(cpu / n * 1000)
    state = api.show(f"INC-{n * reps + 1:06d}")["state"]
    assert state == "closed", state
    raw.close()
    api.store.close()
    driver = "sqlite3" if url.startswith("sqlite") else "psycopg"
    return [Result(NAME, f"lifecycles, {label} ({n}/rep)", median(figs), "tickets/s", median(bases),
                   f"raw {driver}, same row writes", samples=figs, baseline_samples=bases,
                   note="no target; Request Tracker: 6-7/s (performance notes)"),
            # on a shared machine the wall clock waits for the disk and the other
            # processes; the CPU this process spends per lifecycle moves much less
            Result(NAME, f"CPU per lifecycle, {label}", median(cpu_figs), "ms CPU", median(cpu_bases),
                   f"raw {driver}, same row writes", samples=cpu_figs, baseline_samples=cpu_bases,
                   note="information: user + system CPU of this process (fsync included)")]


def run(cfg: Config) -> list[Result]:
    out = measure(cfg, sqlite_url(cfg.scratch("lifecycle.db")), "SQLite")
    if cfg.pg_url:
        reset_postgres(cfg.pg_url)
        out += measure(cfg, cfg.pg_url, "PostgreSQL")
    else:
        out.append(skipped(NAME, "lifecycles, PostgreSQL", "ITSM_BENCH_DATABASE_URL not set"))
    return out
