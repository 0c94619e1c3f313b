"""The journal's audit (issue #19): ``itsm audit verify`` over many events, and
what the keyed hash costs an action.

Verify: a SQLite database of N sealed journal events (1,000,000 in a normal
run, 100,000 with ``--quick``; PostgreSQL, when configured, a tenth of that)
is loaded fast: four template tickets are worked through the engine (``Api``)
with journals of 9 to 11 events, then cloned with bulk inserts, each clone's
journal re-chained under its own key with the desk's HMAC key and sealed into
the desk-wide log in the loader (``engine.journal``'s functions, as the seal
does), the head written to ``audit_state``.  ``Api.audit_verify()`` runs in a fresh
subprocess (time and peak RSS); it must find nothing wrong.  Baseline: bare
``sqlite3`` reading every event once (``ORDER BY ticket_id, seq``), decoding
its changes and hashing its row text with SHA-256: the least any check of
every event does.  No target (the issue asks for the figure).

Keyed hash: ``Api.do(key, "assign")`` on a SQLite file (WAL, synchronous=FULL),
seconds per action, against the keyed hash of that action's event measured in
the same run (``canonical`` + ``keyed_hash`` on the event the action wrote,
median of many calls): target at most 5% of an action.  Also shown: what it
adds over the older unkeyed SHA-256, and what sealing costs per event (in
``itsm tick``, not in the action).
"""

from __future__ import annotations

import hashlib
import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._util import (
    AGENT, CONFIRM_FOR_USER, GROUP, PYTHON, REPO, RESOLVE, Config, Result, median, new_incident, open_api, reset_postgres,
    copy_db, skipped, sqlite_url, timed,
)

NAME = "audit"
CHUNK = 5000


# --- loading N sealed events ----------------------------------------------------------------------------
def templates(api: Any) -> list[str]:
    """Four tickets with journals of 9 to 11 events (as agents work them)."""
    keys = []
    t = new_incident(api, "template 1")
    api.do(t, "assign", {"group": GROUP, "assignee": AGENT})
    api.do(t, "start", {})
    for i in range(3):
        api.comment(t, f"note {i}")
    api.do(t, "resolve", dict(RESOLVE))
    api.do(t, "confirm_for_user", dict(CONFIRM_FOR_USER))
    api.comment(t, "closing note")
    keys.append(t)
    t = new_incident(api, "template 2")
    api.do(t, "assign", {"group": GROUP, "assignee": AGENT})
    api.do(t, "start", {})
    api.do(t, "pend", {"reason": "waiting for the user"})
    api.do(t, "resume", {})
    for i in range(4):
        api.comment(t, f"note {i}")
    api.do(t, "resolve", dict(RESOLVE))
    keys.append(t)
    t = new_incident(api, "template 3")
    for i in range(8):
        api.comment(t, f"note {i}")
    api.do(t, "assign", {"group": GROUP})
    keys.append(t)
    t = new_incident(api, "template 4")
    api.do(t, "assign", {"group": GROUP, "assignee": AGENT})
    api.do(t, "start", {})
    for i in range(6):
        api.comment(t, f"note {i}")
    api.do(t, "resolve", dict(RESOLVE))
    api.do(t, "confirm_for_user", dict(CONFIRM_FOR_USER))
    keys.append(t)
    return keys


def load(api: Any, events_wanted: int) -> dict[str, Any]:
    """Clone the templates until about ``events_wanted`` events exist, all sealed."""
    import sqlalchemy as sa

    from engine.journal import GENESIS, canonical, content_digest, desk_link, head_mac, keyed_hash, ref, root_step
    from engine.store.schema import audit_state, journal, key_sequences, tickets

    api.audit_seal()
    ring = api.desk.write_keys()
    secret, kid = ring.current, ring.current_id
    started = time.perf_counter()
    with api.store.engine.connect().execution_options(itsm_write=True) as conn, conn.begin():
        rows = {r["key"]: dict(r) for r in conn.execute(sa.select(tickets)).mappings()}
        evs: dict[int, list[dict[str, Any]]] = {}
        for r in conn.execute(sa.select(journal).order_by(journal.c.ticket_id, journal.c.seq)).mappings():
            evs.setdefault(r["ticket_id"], []).append(dict(r))
        head = dict(conn.execute(sa.select(audit_state)).mappings().one())
        link, root, prev_name, n = head["desk_hash"], head["digest_root"], head["head_ref"], head["count"]
        plan = [k for k in rows if k.startswith("INC-") and "template" in rows[k]["title"]]
        next_id = max(r["id"] for r in rows.values()) + 1
        next_n = conn.execute(sa.select(key_sequences.c.last_value)
                              .where(key_sequences.c.prefix == "INC")).scalar_one() + 1
        total = sum(len(v) for v in evs.values())
        t_rows: list[dict[str, Any]] = []
        j_rows: list[dict[str, Any]] = []
        i = 0
        while total < events_wanted:
            src = rows[plan[i % len(plan)]]
            tid, num = next_id + i, next_n + i
            key, title = f"INC-{num:06d}", f"Bench audit {num}"
            t_rows.append(dict(src, id=tid, key=key, title=title,
                               token_hash=hashlib.sha256(key.encode()).hexdigest()))
            prev = GENESIS
            for e in evs[src["id"]]:
                ev = dict(e, ticket_id=tid, prev_hash=prev, key_id=kid)
                del ev["id"]
                if ev["seq"] == 1:
                    ev["changes"] = dict(ev["changes"], title=[None, title])
                text = canonical(ev, key, src["process"])
                ev["hash"] = prev = keyed_hash(secret, prev, text)
                digest = content_digest(text)
                n += 1
                link = desk_link(secret, link, n, prev_name, digest)
                root = root_step(root, digest)
                ev.update(desk_seq=n, desk_hash=link, desk_prev=prev_name)
                prev_name = ref(key, ev["seq"])
                j_rows.append(ev)
            total += len(evs[src["id"]])
            i += 1
            if len(j_rows) >= CHUNK:
                conn.execute(tickets.insert(), t_rows)
                conn.execute(journal.insert(), j_rows)
                t_rows.clear()
                j_rows.clear()
        if t_rows:
            conn.execute(tickets.insert(), t_rows)
            conn.execute(journal.insert(), j_rows)
        conn.execute(key_sequences.update().where(key_sequences.c.prefix == "INC").values(last_value=next_n + i - 1))
        head.update(count=n, desk_hash=link, digest_root=root, head_ref=prev_name)
        conn.execute(audit_state.update().values(count=n, desk_hash=link, digest_root=root, head_ref=prev_name,
                                                 head_mac=head_mac(kid, secret, head),
                                                 sealed_id=conn.execute(sa.select(sa.func.max(journal.c.id)))
                                                 .scalar_one()))
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT max(id) FROM tickets))")
    return {"events": total, "tickets": len(rows) + i, "load_seconds": round(time.perf_counter() - started, 1)}


def child(url: str) -> None:
    """Print {seconds, rss_peak_mb, events, problems} of one Api.audit_verify()."""
    from engine.api import Api

    api = Api.open(home=str(REPO), db=url)
    api.store  # noqa: B018 - connect before the clock starts
    start = time.perf_counter()
    result = api.audit_verify()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "events": result["events"], "sealed": result["sealed"],
                      "problems": result["problems"][:5], "n_problems": len(result["problems"])}))


def verify_once(cfg: Config, url: str) -> dict[str, Any]:
    proc = subprocess.run([PYTHON, "-m", "bench.audit", "--child", url], cwd=REPO, env=cfg.env(),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"verify child failed: {proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["n_problems"]:
        raise RuntimeError(f"verify found problems in the loaded journal: {out['problems']}")
    return out


def raw_scan(db: Path) -> float:
    conn = sqlite3.connect(db)
    start = time.perf_counter()
    for row in conn.execute("SELECT * FROM journal ORDER BY ticket_id, seq"):
        json.loads(row[8])
        hashlib.sha256(repr(row).encode()).hexdigest()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def verify_results(cfg: Config) -> list[Result]:
    n = cfg.pick(100_000, 1_000_000)
    reps = cfg.pick(1, 2, 3)
    db = cfg.scratch("audit-verify.db")
    cfg.apply_env()
    api = open_api(sqlite_url(db), now="2026-03-02T09:00:00+08:00")
    templates(api)
    loaded = load(api, n)
    api.store.close()
    figs, bases, rss = [], [], []
    for _ in range(reps):
        bases.append(raw_scan(db))
        out = verify_once(cfg, sqlite_url(db))
        figs.append(out["seconds"])
        rss.append(out["rss_peak_mb"])
    events = loaded["events"]
    out_results = [
        Result(NAME, f"audit verify, {events:,} events of {loaded['tickets']:,} tickets, SQLite", median(figs), "s",
               median(bases), "raw sqlite3 read + SHA-256 of every event", samples=figs, baseline_samples=bases,
               note=f"{events / median(figs):,.0f} events/s; peak RSS {max(rss):.0f} MB; "
                    f"loaded in {loaded['load_seconds']} s"),
    ]
    if cfg.pg_url:
        pg_n = n // 10
        reset_postgres(cfg.pg_url)
        api = open_api(cfg.pg_url, now="2026-03-02T09:00:00+08:00")
        templates(api)
        pg = load(api, pg_n)
        api.store.close()
        got = [verify_once(cfg, cfg.pg_url) for _ in range(reps)]
        secs = [g["seconds"] for g in got]
        out_results.append(Result(NAME, f"audit verify, {pg['events']:,} events, PostgreSQL", median(secs), "s",
                                  samples=secs, note=f"{pg['events'] / median(secs):,.0f} events/s"))
    else:
        out_results.append(skipped(NAME, "audit verify, PostgreSQL", "ITSM_BENCH_DATABASE_URL not set"))
    shutil.rmtree(db.parent / (db.name + "-wal"), ignore_errors=True)
    return out_results


# --- the keyed hash's share of an action -------------------------------------------------------------
def per_call(fn: Any, calls: int) -> float:
    """Median seconds of one call over five rounds of ``calls`` calls."""
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        rounds.append((time.perf_counter() - start) / calls)
    return median(rounds)


def hash_results(cfg: Config) -> list[Result]:
    from engine.journal import canonical, event_hash, hashed_fields, keyed_hash

    n = cfg.pick(200, 500, 1000)
    reps = cfg.pick(5, 7, 9)
    cfg.apply_env()
    template = cfg.scratch("audit-actions-template.db")
    api = open_api(sqlite_url(template))
    keys = [new_incident(api, f"Keyed {i}") for i in range(n + 1)]
    api.store.close()
    actions, hashes, legacy, seals = [], [], [], []
    for rep in range(reps):
        db = cfg.scratch(f"audit-actions-{rep}.db")
        copy_db(template, db)
        api = open_api(sqlite_url(db))
        inputs = {"group": GROUP, "assignee": AGENT}
        api.do(keys[-1], "assign", inputs)  # warm-up
        actions.append(timed(lambda: [api.do(k, "assign", inputs) for k in keys[:-1]]) / n)
        with api.store.read() as repo:
            row = repo.get_ticket(keys[0])
            event = repo.events(row["id"])[-1]
        ring = api.desk.write_keys()
        hashes.append(per_call(lambda: keyed_hash(ring.current, event["prev_hash"],
                                                  canonical(event, row["key"], row["process"])), 20000))
        legacy.append(per_call(lambda: event_hash(event["prev_hash"], hashed_fields(event)), 20000))
        seals.append(timed(api.audit_seal) / (2 * n + 2))  # the intakes' and the assignments' events
        api.store.close()
        db.unlink()
    share = Result(NAME, "keyed hash of an action's event (canonical + HMAC-SHA256)", median(hashes) * 1e6, "µs",
                   median(actions) * 1e6, "Api.do assign, SQLite WAL FULL", samples=[h * 1e6 for h in hashes],
                   baseline_samples=[a * 1e6 for a in actions],
                   note=f"{median(hashes) / median(actions):.2%} of an action")
    share.target, share.ok = "<= 0.05x", median(hashes) / median(actions) <= 0.05
    added = [h - x for h, x in zip(hashes, legacy)]
    return [share,
            Result(NAME, "added over the unkeyed SHA-256 of the older journal", median(added) * 1e6, "µs",
                   median(actions) * 1e6, "Api.do assign", samples=[a * 1e6 for a in added],
                   note=f"{median(added) / median(actions):.2%} of an action"),
            Result(NAME, "sealing, per event (itsm tick, not the action)", median(seals) * 1e6, "µs",
                   samples=[s * 1e6 for s in seals])]


def run(cfg: Config) -> list[Result]:
    return hash_results(cfg) + verify_results(cfg)


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    child(sys.argv[2])
