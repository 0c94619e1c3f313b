"""Concurrency: actions per second of 1, 2 and 4 agent processes (8 with
``--full``) on one SQLite file, and on PostgreSQL when
``ITSM_BENCH_DATABASE_URL`` is set.

Each agent is an OS process (multiprocessing, "spawn": nothing inherited)
with its own ``Api`` and connection, assigning its own tickets one after the
other (one transaction each) for a fixed time after a common start line; the
contention is the database's, not the tickets'.  The same processes also run
the baseline, the same row writes with the bare driver (bench._raw), in
alternate rounds: raw, engine, raw, engine... and the figure is the median of
the rounds.  Every engine round works tickets no other round touched (cloned
in bulk, bench._load), so journals do not grow from round to round.

No target is set by the issue: information, with the ratio to raw and the
scaling from one process ("x1.00 of 1 process").
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from typing import Any

from bench._load import clone
from bench._util import (
    AGENT, GROUP, Config, Result, median, new_incident, open_api, reset_postgres, skipped, sqlite_url,
)

NAME = "concurrency"
PER_ROUND = 150  # tickets each agent may touch in one engine round (it cycles through them)
RAW_POOL = 40
CTX = mp.get_context("spawn")


def worker(url: str, rounds: list[tuple[str, list[str]]], seconds: float, env: dict[str, str],
           barrier: Any, results: Any) -> None:
    """Run ``rounds`` of (kind, keys), each after the common start line; report
    (round, actions, errors, seconds, error text)."""
    os.environ.clear()
    os.environ.update(env)
    try:
        from datetime import datetime, timezone

        from engine.api import Api
        from engine.errors import ItsmError

        from bench._raw import RawStore

        api = Api.open(db=url, user=AGENT)
        api.store  # noqa: B018 - connect before the start line
        raw = RawStore(url)
        inputs = {"group": GROUP, "assignee": AGENT}
        acts = {"engine": lambda key: api.do(key, "assign", inputs),
                "raw": lambda key: raw.action(key, "assign", "assigned", inputs, datetime.now(timezone.utc))}
        expected = {"engine": (ItsmError,), "raw": (Exception,)}
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        barrier.abort()
        results.put((-1, 0, 0, 0.0, f"{type(exc).__name__}: {exc}"))
        return
    for r, (kind, keys) in enumerate(rounds):
        done = errors = 0
        try:
            barrier.wait(120)
            act = acts[kind]
            start = time.perf_counter()
            deadline = start + seconds
            i = 0
            while time.perf_counter() < deadline:
                try:
                    act(keys[i % len(keys)])
                    done += 1
                except expected[kind]:
                    errors += 1
                i += 1
            results.put((r, done, errors, time.perf_counter() - start, None))
        except BaseException as exc:  # noqa: BLE001
            barrier.abort()
            results.put((r, done, errors, 0.0, f"{type(exc).__name__}: {exc}"))
            return
    raw.close()
    api.store.close()


def phase(url: str, plans: list[list[tuple[str, list[str]]]], seconds: float,
          env: dict[str, str]) -> list[dict[str, Any]]:
    """N agents (one plan each), all rounds; per round: kind, actions, errors, rate."""
    n, n_rounds = len(plans), len(plans[0])
    barrier = CTX.Barrier(n)
    results = CTX.Queue()
    procs = [CTX.Process(target=worker, args=(url, plan, seconds, env, barrier, results)) for plan in plans]
    for p in procs:
        p.start()
    got: list[tuple[int, int, int, float, str | None]] = []
    try:
        for _ in range(n * n_rounds):
            item = results.get(timeout=300)
            if item[4]:
                raise RuntimeError(f"agent failed in round {item[0]}: {item[4]}")
            got.append(item)
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.terminate()
    out = []
    for r in range(n_rounds):
        mine = [g for g in got if g[0] == r]
        done, errors = sum(g[1] for g in mine), sum(g[2] for g in mine)
        wall = max(g[3] for g in mine)
        out.append({"kind": plans[0][r][0], "actions": done, "errors": errors, "seconds": round(wall, 3),
                    "rate": done / wall})
    return out


def measure(cfg: Config, url: str, label: str) -> list[Result]:
    counts = cfg.pick((1, 2, 4), (1, 2, 4), (1, 2, 4, 8))
    seconds = cfg.pick(1.5, 2.5, 3.0)
    reps = cfg.pick(3, 3, 5)
    cfg.apply_env()
    api = open_api(url)
    templates = [new_incident(api, f"Concurrency template {i}") for i in range(3)]
    engine_keys = clone(api, [templates[i % 3] for i in range(sum(counts) * reps * PER_ROUND)],
                        "Concurrency {n}")
    raw_keys = clone(api, [templates[i % 3] for i in range(max(counts) * RAW_POOL)], "Concurrency raw {n}")
    api.store.close()
    env = cfg.env()
    results = []
    first: dict[str, float] = {}
    offset = 0
    for n in counts:
        plans: list[list[tuple[str, list[str]]]] = [[] for _ in range(n)]
        for _ in range(reps):
            for w in range(n):
                plans[w].append(("raw", raw_keys[w * RAW_POOL:(w + 1) * RAW_POOL]))
                plans[w].append(("engine", engine_keys[offset:offset + PER_ROUND]))
                offset += PER_ROUND
        rounds = phase(url, plans, seconds, env)
        figs = [r["rate"] for r in rounds if r["kind"] == "engine"]
        bases = [r["rate"] for r in rounds if r["kind"] == "raw"]
        fig, base = median(figs), median(bases)
        first.setdefault("engine", fig)
        first.setdefault("raw", base)
        errors = sum(r["errors"] for r in rounds if r["kind"] == "engine")
        results.append(Result(
            NAME, f"{n} agent process{'es' if n > 1 else ''}, {label}", fig, "actions/s", base,
            f"{n} raw {'sqlite3' if url.startswith('sqlite') else 'psycopg'} process(es)",
            samples=figs, baseline_samples=bases,
            note=f"x{fig / first['engine']:.2f} of 1 process (raw x{base / first['raw']:.2f})"
                 + (f"; {errors} refused/conflicts" if errors else ""),
            extra={"rounds": rounds, "scaling": fig / first["engine"], "raw_scaling": base / first["raw"]}))
    return results


def run(cfg: Config) -> list[Result]:
    out = measure(cfg, sqlite_url(cfg.scratch("concurrency.db")), "SQLite")
    if cfg.pg_url:
        reset_postgres(cfg.pg_url)
        out += measure(cfg, cfg.pg_url, "PostgreSQL")
    else:
        out.append(skipped(NAME, "agent processes, PostgreSQL", "ITSM_BENCH_DATABASE_URL not set"))
    return out
