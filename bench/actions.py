"""Action throughput in process: ``Api.do(key, "assign", ...)`` on a SQLite file
(WAL, synchronous=FULL: every commit durable), one transaction per action,
against bare ``sqlite3`` doing the same row writes per action (read the ticket,
versioned update, journal insert with its hash, outbox insert) on a copy of
the same database.  Target: at least 0.5x of raw.

Each repetition starts from a fresh copy of one prepared database of open
incidents and moves each of them once (new -> assigned, which notifies the
group), so journals do not grow from one repetition to the next.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

from bench._raw import RawStore
from bench._util import (
    AGENT, GROUP, Config, Result, median, new_incident, open_api, ratio_at_least, sqlite_url, timed,
)

NAME = "actions"


def prepare(cfg: Config, tickets: int, name: str = "actions-template.db") -> tuple[Path, list[str]]:
    """A database with the bench agent and ``tickets`` new incidents (+1 for warm-up)."""
    db = cfg.scratch(name)
    cfg.apply_env()
    api = open_api(sqlite_url(db))
    keys = [new_incident(api, f"Throughput {i}") for i in range(tickets + 1)]
    api.store.close()  # the last connection checkpoints the WAL into the file
    return db, keys


def engine_rate(cfg: Config, template: Path, keys: list[str], rep: int) -> float:
    db = cfg.scratch(f"actions-api-{rep}.db")
    shutil.copyfile(template, db)
    api = open_api(sqlite_url(db))
    inputs = {"group": GROUP, "assignee": AGENT}
    api.do(keys[-1], "assign", inputs)  # warm-up: connection, statement caches
    work = keys[:-1]

    def go() -> None:
        for key in work:
            api.do(key, "assign", inputs)

    elapsed = timed(go)
    api.store.close()
    return len(work) / elapsed


def raw_rate(cfg: Config, template: Path, keys: list[str], rep: int) -> float:
    db = cfg.scratch(f"actions-raw-{rep}.db")
    shutil.copyfile(template, db)
    raw = RawStore(sqlite_url(db))
    values = {"group": GROUP, "assignee": AGENT}
    now = datetime.now(timezone.utc)
    raw.action(keys[-1], "assign", "assigned", values, now)
    work = keys[:-1]

    def go() -> None:
        for key in work:
            raw.action(key, "assign", "assigned", values, datetime.now(timezone.utc))

    elapsed = timed(go)
    raw.close()
    return len(work) / elapsed


def run(cfg: Config) -> list[Result]:
    n = cfg.pick(200, 500, 1000)
    reps = cfg.pick(5, 7, 9)
    template, keys = prepare(cfg, n)
    figs, bases = [], []
    for rep in range(reps):
        bases.append(raw_rate(cfg, template, keys, rep))
        figs.append(engine_rate(cfg, template, keys, rep))
    r = Result(NAME, f"Api.do assign, SQLite WAL FULL ({n}/rep)", median(figs), "actions/s",
               median(bases), "raw sqlite3, same row writes", samples=figs, baseline_samples=bases)
    return [ratio_at_least(r, 0.5)]
