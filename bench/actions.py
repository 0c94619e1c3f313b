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

import json
import re
import sqlite3
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from bench._raw import RawStore
from bench._util import (
    AGENT, GROUP, PYTHON, REPO, Config, Result, median, new_incident, open_api, ratio_at_least,
    copy_db, sqlite_url, timed,
)

NAME = "actions"


def prepare(cfg: Config, tickets: int, name: str = "actions-template.db") -> tuple[Path, list[str]]:
    """A database with the bench agent and ``tickets`` new incidents (+1 for warm-up)."""
    db = cfg.scratch(name)
    cfg.apply_env()
    api = open_api(sqlite_url(db))
    keys = [new_incident(api, f"Throughput {i}") for i in range(tickets + 1)]
    api.store.close()
    con = sqlite3.connect(db)  # the whole WAL into the file, which is copied
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return db, keys


def engine_rate(cfg: Config, template: Path, keys: list[str], rep: int) -> float:
    db = cfg.scratch(f"actions-api-{rep}.db")
    copy_db(template, db)
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
    copy_db(template, db)
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


def batch_rate(cfg: Config, template: Path, keys: list[str], rep: int) -> float:
    """``itsm batch`` in one process over the same assignments: the rate it reports
    (its own work, after start-up), one transaction per line."""
    db = cfg.scratch(f"actions-batch-{rep}.db")
    copy_db(template, db)
    lines = "".join(json.dumps({"do": "assign", "key": k, "set": {"group": GROUP, "assignee": AGENT}}) + "\n"
                    for k in keys[:-1])
    proc = subprocess.run([PYTHON, "-m", "cli", "--db", sqlite_url(db), "--as", AGENT, "batch", "-"],
                          input=lines, capture_output=True, text=True, cwd=REPO, env=cfg.env())
    found = re.search(r"(\d+) done, (\d+) failed in ([\d.]+) s", proc.stderr)
    if proc.returncode != 0 or not found or found.group(2) != "0":
        raise RuntimeError(f"itsm batch failed: {proc.stderr[-2000:]}")
    return int(found.group(1)) / float(found.group(3))


def run(cfg: Config) -> list[Result]:
    n = cfg.pick(200, 500, 1000)
    reps = cfg.pick(5, 7, 9)
    template, keys = prepare(cfg, n)
    figs, bases, batches = [], [], []
    for rep in range(reps):
        bases.append(raw_rate(cfg, template, keys, rep))
        figs.append(engine_rate(cfg, template, keys, rep))
        batches.append(batch_rate(cfg, template, keys, rep))
    r = Result(NAME, f"Api.do assign, SQLite WAL FULL ({n}/rep)", median(figs), "actions/s",
               median(bases), "raw sqlite3, same row writes", samples=figs, baseline_samples=bases)
    b = Result(NAME, f"itsm batch, {n} assign lines, one process", median(batches), "actions/s",
               median(bases), "raw sqlite3, same row writes", samples=batches, baseline_samples=bases)
    return [ratio_at_least(r, 0.5), b]
