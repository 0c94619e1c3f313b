"""Cost that does not grow with history (issue #25): actions on long journals,
and actions and lifecycles on realistic journals in a 100,000-ticket desk.

1. Journal length.  ``Api.do(key, "assign", ...)`` (a reassignment: the state
   stays) on incidents whose journals hold 2, 1,000 and 3,000 events (one of
   each length built through the API: comments and pend/resume pairs, which
   pause and restart the resolution clock; every timed action runs on its own
   clone of it), timed in one run, alternating the lengths; the figure is
   the cost of one action at 3,000 events, the baseline the cost at 2 (target:
   at most 1.3x).  For information, the same action on the 3,000-event ticket
   when its clock state has to be replayed from the journal (its
   ``clock_state`` cleared before each action, as for a ticket written before
   migration 0009): what every action cost before the incremental clocks.
2. A 100,000-ticket desk (10,000 with ``--quick``), loaded with bulk inserts:
   most tickets are one-event intakes (bench/_load.py), and 5,000 (1,000) are
   clones of incidents whose journals hold 10 to 50 events.
   a. ``Api.do assign`` on those realistic tickets against bare ``sqlite3``
      doing the same row writes (bench/_raw.py: the ticket row with its clock
      state, the chained event, the outbox row) on other realistic tickets of
      the same database, with the same durability (WAL, synchronous=FULL);
      target at least 0.5x.
   b. Full lifecycles (intake -> assign -> start -> resolve -> confirm) in
      that desk against the raw lifecycle writing the same rows (information).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from bench._load import clone as clone_intakes
from bench._raw import RawStore, lifecycle as raw_lifecycle
from bench._util import (
    AGENT, GROUP, Config, Result, median, new_incident, open_api, ratio_at_least, ratio_at_most,
    sqlite_url, timed,
)
from bench.lifecycle import engine_lifecycle

NAME = "journals"
ASSIGN = {"group": GROUP, "assignee": AGENT}


def grow(api: Any, events: int, title: str) -> str:
    """An assigned incident whose journal holds exactly ``events`` events (>= 2):
    create, assign, then start, comments and pend/resume pairs, a final assign."""
    key = new_incident(api, title)
    n = 1
    if events > 3:
        api.do(key, "assign", ASSIGN)
        api.do(key, "start", {})
        n = 3
        state = "in_progress"
        while n < events - 1:
            step = n % 4
            if step == 0 and state == "in_progress":
                api.do(key, "pend", {"reason": "waiting for the user"})
                state = "pending"
            elif step == 2 and state == "pending":
                api.do(key, "resume", {})
                state = "in_progress"
            else:
                api.comment(key, f"update {n}")
            n += 1
    api.do(key, "assign", ASSIGN)  # the last event: assigned, as the bench action leaves it
    n += 1
    assert len(api.history(key)) == events, (key, events, len(api.history(key)))
    return key


def clone_journals(api: Any, plan: Sequence[str], title: str = "Realistic {n}") -> list[str]:
    """One clone per entry of ``plan`` (template keys, one key prefix), with the
    template's whole journal re-chained under the clone's key (the chain stays
    valid), its clock state and its due work."""
    import hashlib

    import sqlalchemy as sa

    from engine.journal import GENESIS, canonical, keyed_hash
    from engine.store.schema import due_work, journal, key_sequences, search_text, tickets

    ring = api.desk.write_keys()
    prefix = plan[0].rsplit("-", 1)[0]
    keys: list[str] = []
    with api.store.engine.connect().execution_options(itsm_write=True) as conn, conn.begin():
        rows = {r["key"]: dict(r) for r in conn.execute(
            sa.select(tickets).where(tickets.c.key.in_(sorted(set(plan))))).mappings()}
        ids = [r["id"] for r in rows.values()]
        events: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for r in conn.execute(sa.select(journal).where(journal.c.ticket_id.in_(ids))
                              .order_by(journal.c.ticket_id, journal.c.seq)).mappings():
            events[r["ticket_id"]].append(dict(r))
        dues: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for r in conn.execute(sa.select(due_work).where(due_work.c.ticket_id.in_(ids))).mappings():
            dues[r["ticket_id"]].append(dict(r))
        next_id = conn.execute(sa.select(sa.func.max(tickets.c.id))).scalar_one() + 1
        next_n = conn.execute(sa.select(key_sequences.c.last_value)
                              .where(key_sequences.c.prefix == prefix)).scalar_one() + 1
        t_rows: list[dict[str, Any]] = []
        j_rows: list[dict[str, Any]] = []
        d_rows: list[dict[str, Any]] = []
        s_rows: list[dict[str, Any]] = []

        def flush() -> None:
            conn.execute(tickets.insert(), t_rows)
            conn.execute(journal.insert(), j_rows)
            conn.execute(search_text.insert(), s_rows)
            if d_rows:
                conn.execute(due_work.insert(), d_rows)
            for batch in (t_rows, j_rows, d_rows, s_rows):
                batch.clear()

        for i, template in enumerate(plan):
            src = rows[template]
            tid, n = next_id + i, next_n + i
            key = f"{prefix}-{n:06d}"
            text = title.format(n=n)
            t_rows.append(dict(src, id=tid, key=key, title=text,
                               token_hash=hashlib.sha256(f"bench-token-{key}".encode()).hexdigest()))
            s_rows.append({"ticket_id": tid, "title": text, "description": "", "solution": "",
                           "details": "", "notes": ""})
            prev = GENESIS
            for e in events[src["id"]]:
                ev = dict(e, ticket_id=tid, key_id=ring.current_id, desk_seq=None, desk_hash=None,
                          desk_prev=None, prev_hash=prev)
                del ev["id"]
                if ev["seq"] == 1:
                    ev["changes"] = dict(ev["changes"], title=[None, text])
                ev["hash"] = prev = keyed_hash(ring.current, prev, canonical(ev, key, src["process"]))
                j_rows.append(ev)
            d_rows.extend(dict(d, ticket_id=tid) for d in dues[src["id"]])
            keys.append(key)
            if len(j_rows) >= 20000:
                flush()
        if t_rows:
            flush()
        conn.execute(key_sequences.update().where(key_sequences.c.prefix == prefix)
                     .values(last_value=next_n + len(plan) - 1))
    return keys


def _per_action(api: Any, keys: Sequence[str], before: Callable[[str], None] | None = None) -> float:
    """Seconds per ``assign`` over ``keys`` (``before(key)`` runs untimed first)."""
    total = 0.0
    for key in keys:
        if before is not None:
            before(key)
        start = time.perf_counter()
        api.do(key, "assign", ASSIGN)
        total += time.perf_counter() - start
    return total / len(keys)


def journal_length(cfg: Config) -> list[Result]:
    """Each timed action runs on its own ticket, fresh at its length: the 2-event
    tickets are made through the API, the 1,000- and 3,000-event ones are clones
    (clone_journals) of one ticket of that length made through the API."""
    cfg.apply_env()
    db = cfg.scratch("journals-length.db")
    from engine.api import Api

    Api.open(db=sqlite_url(db)).upgrade_db()
    api = open_api(sqlite_url(db))
    per = cfg.pick(20, 30, 40)  # actions per length and repetition
    reps = cfg.pick(3, 5, 7)
    replayed = max(per // 4, 5)
    count = per * (reps + 1)
    extra = {1000: 0, 3000: replayed * reps}  # 3,000-event clones for the replay row
    pools = {n: clone_journals(api, [grow(api, n, f"Long {n}")] * (count + extra[n]), f"Long {n} {{n}}")
             for n in (1000, 3000)}
    pools[2] = [grow(api, 2, f"Short {i}") for i in range(count)]
    replay_pool = pools[3000][count:]
    samples: dict[int, list[float]] = {2: [], 1000: [], 3000: []}
    replays: list[float] = []

    def drop_state(key: str) -> None:
        with api.store.write() as repo:
            repo.conn.exec_driver_sql("UPDATE tickets SET clock_state = NULL WHERE key = ?", (key,))

    for n in (2, 1000, 3000):  # warm-up
        _per_action(api, pools[n][:per])
    for rep in range(reps):
        batch = slice(per * (rep + 1), per * (rep + 2))
        for n in ([2, 1000, 3000] if rep % 2 == 0 else [3000, 1000, 2]):
            samples[n].append(_per_action(api, pools[n][batch]) * 1000)
        replays.append(_per_action(api, replay_pool[replayed * rep:replayed * (rep + 1)], drop_state) * 1000)
    api.store.close()
    base = median(samples[2])
    return [ratio_at_most(Result(NAME, "Api.do assign, ticket with 3,000 events", median(samples[3000]), "ms",
                                 base, "same action, ticket with 2 events", samples=samples[3000],
                                 baseline_samples=samples[2]), 1.3),
            Result(NAME, "Api.do assign, ticket with 1,000 events", median(samples[1000]), "ms", base,
                   "same action, ticket with 2 events", samples=samples[1000], baseline_samples=samples[2]),
            Result(NAME, "Api.do assign, 3,000 events, clock state replayed (as before #25)",
                   median(replays), "ms", base, "same action, ticket with 2 events", samples=replays,
                   baseline_samples=samples[2],
                   note="the cost of a replay (first touch after migration 0009)")]


def realistic_desk(cfg: Config) -> tuple[Any, list[str], str]:
    """The big desk; returns (api, realistic ticket keys, the incident definition version)."""
    cfg.apply_env()
    db = cfg.scratch("journals-desk.db")
    from engine.api import Api

    Api.open(db=sqlite_url(db)).upgrade_db()
    api = open_api(sqlite_url(db))
    total, realistic = cfg.pick(10_000, 100_000), cfg.pick(1_000, 5_000)
    lengths = list(range(10, 51, 4))  # 10, 14, ..., 50 events
    templates = [grow(api, n, f"Template {n}") for n in lengths]
    intake = new_incident(api, "Intake template")
    started = time.perf_counter()
    clone_intakes(api, [intake] * (total - realistic - len(templates) - 1))
    keys = clone_journals(api, [templates[i % len(templates)] for i in range(realistic)])
    load = time.perf_counter() - started
    with api.store.read() as repo:
        version = repo.conn.exec_driver_sql(
            "SELECT version FROM definition_versions WHERE process = 'incident'").scalar()
        count = repo.conn.exec_driver_sql("SELECT count(*) FROM tickets").scalar()
        events = repo.conn.exec_driver_sql("SELECT count(*) FROM journal").scalar()
    assert count == total, (count, total)
    cfg_note = f"{count:,} tickets, {events:,} events, loaded in {load:.0f} s"
    api.desk_note = cfg_note  # type: ignore[attr-defined]
    return api, keys, version


def desk_actions(cfg: Config, api: Any, keys: list[str]) -> Result:
    from datetime import datetime, timezone

    url = api.desk.db_url
    raw = RawStore(url)
    n = cfg.pick(100, 300)
    reps = cfg.pick(3, 5)
    pool = iter(keys[1:])
    api.do(keys[0], "assign", ASSIGN)  # warm-up of both
    raw.action(next(pool), "assign", "assigned", dict(ASSIGN), datetime.now(timezone.utc))
    figs, bases = [], []
    for _ in range(reps):
        batch = [next(pool) for _ in range(n)]
        bases.append(n / timed(lambda: [raw.action(k, "assign", "assigned", dict(ASSIGN),
                                                   datetime.now(timezone.utc)) for k in batch]))
        batch = [next(pool) for _ in range(n)]
        figs.append(n / timed(lambda: [api.do(k, "assign", ASSIGN) for k in batch]))
    raw.close()
    r = Result(NAME, f"Api.do assign, 10-50-event tickets in the desk ({n}/rep)", median(figs), "actions/s",
               median(bases), "raw sqlite3, same row writes, same durability", samples=figs,
               baseline_samples=bases, note=getattr(api, "desk_note", ""))
    return ratio_at_least(r, 0.5)


def desk_lifecycles(cfg: Config, api: Any, version: str) -> Result:
    raw = RawStore(api.desk.db_url)
    n = cfg.pick(20, 50)
    reps = cfg.pick(3, 5)
    counter = iter(range(10**9))
    engine_lifecycle(api, -1)
    raw_lifecycle(raw, -1, version)
    figs, bases = [], []
    for _ in range(reps):
        bases.append(n / timed(lambda: [raw_lifecycle(raw, next(counter), version) for _ in range(n)]))
        figs.append(n / timed(lambda: [engine_lifecycle(api, next(counter)) for _ in range(n)]))
    raw.close()
    return Result(NAME, f"lifecycles in the desk ({n}/rep)", median(figs), "tickets/s", median(bases),
                  "raw sqlite3, same row writes", samples=figs, baseline_samples=bases,
                  note="no target; " + getattr(api, "desk_note", ""))


def run(cfg: Config) -> list[Result]:
    out = journal_length(cfg)
    api, keys, version = realistic_desk(cfg)
    out.append(desk_actions(cfg, api, keys))
    out.append(desk_lifecycles(cfg, api, version))
    api.store.close()
    return out
