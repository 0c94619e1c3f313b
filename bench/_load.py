"""Loading many tickets fast: clone tickets the engine made, with bulk inserts
through SQLAlchemy Core into the same tables.

A clone copies its template's ticket row (new id, key, title and token hash),
its create event (``changes`` given the new title, keyed hash recomputed with
``engine.journal`` and the desk's key: the chain stays valid) and its due-work
rows.  The clones' events are left unsealed (``itsm tick`` seals them).  The intake's
outbox rows are not cloned (as if delivered).  Templates must be fresh
intakes (one journal event each).
"""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

CHUNK = 5000


def clone(api: Any, plan: Sequence[str], title: str = "Bench ticket {n}") -> list[str]:
    """One clone per entry of ``plan`` (a template key each); returns the new keys."""
    import sqlalchemy as sa

    from engine.journal import GENESIS, canonical, keyed_hash
    from engine.store.schema import due_work, journal, key_sequences, tickets

    ring = api.desk.write_keys()

    engine = api.store.engine
    prefixes = {k.rsplit("-", 1)[0] for k in plan}
    assert len(prefixes) == 1, f"templates of one key prefix, not {prefixes}"
    prefix = prefixes.pop()
    keys: list[str] = []
    with engine.connect().execution_options(itsm_write=True) as conn, conn.begin():
        wanted = sorted(set(plan))
        rows = {r["key"]: dict(r) for r in conn.execute(
            sa.select(tickets).where(tickets.c.key.in_(wanted))).mappings()}
        ids = [r["id"] for r in rows.values()]
        events: dict[int, dict[str, Any]] = {}
        for r in conn.execute(sa.select(journal).where(journal.c.ticket_id.in_(ids))).mappings():
            assert r["ticket_id"] not in events, f"template {r['ticket_id']} has more than one event"
            events[r["ticket_id"]] = dict(r)
        dues: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for r in conn.execute(sa.select(due_work).where(due_work.c.ticket_id.in_(ids))).mappings():
            dues[r["ticket_id"]].append(dict(r))
        next_id = conn.execute(sa.select(sa.func.max(tickets.c.id))).scalar_one() + 1
        next_n = conn.execute(sa.select(key_sequences.c.last_value)
                              .where(key_sequences.c.prefix == prefix)).scalar_one() + 1
        t_rows: list[dict[str, Any]] = []
        j_rows: list[dict[str, Any]] = []
        d_rows: list[dict[str, Any]] = []

        def flush() -> None:
            conn.execute(tickets.insert(), t_rows)
            conn.execute(journal.insert(), j_rows)
            if d_rows:
                conn.execute(due_work.insert(), d_rows)
            t_rows.clear()
            j_rows.clear()
            d_rows.clear()

        for i, template_key in enumerate(plan):
            src = rows[template_key]
            tid, n = next_id + i, next_n + i
            key = f"{prefix}-{n:06d}"
            text = title.format(n=n)
            t_rows.append(dict(src, id=tid, key=key, title=text,
                               token_hash=hashlib.sha256(f"bench-token-{key}".encode()).hexdigest()))
            ev = dict(events[src["id"]], ticket_id=tid, key_id=ring.current_id, desk_seq=None,
                      desk_hash=None, desk_prev=None)
            del ev["id"]
            ev["changes"] = dict(ev["changes"], title=[None, text])
            ev["hash"] = keyed_hash(ring.current, GENESIS, canonical(ev, key, src["process"]))
            j_rows.append(ev)
            d_rows.extend(dict(d, ticket_id=tid) for d in dues[src["id"]])
            keys.append(key)
            if len(t_rows) >= CHUNK:
                flush()
        if t_rows:
            flush()
        conn.execute(key_sequences.update().where(key_sequences.c.prefix == prefix)
                     .values(last_value=next_n + len(plan) - 1))
        if conn.dialect.name == "postgresql":  # ids were given: move the serial on
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('tickets', 'id'), "
                                 "(SELECT max(id) FROM tickets))")
    return keys


def verify(api: Any, clones: dict[str, str]) -> None:
    """Each sampled clone shows exactly like its template (but key and title),
    and its journal verifies."""
    from engine.desk.audit import verify_ticket

    for key, template in clones.items():
        a, b = api.show(key), api.show(template)
        for v in (a, b):
            v.pop("key"), v.pop("title")
        assert a == b, (key, template, a, b)
        with api.store.read() as repo:
            row = repo.get_ticket(key)
            problems = verify_ticket(key, row["state"], repo.events(row["id"]), row["version"],
                                     process=row["process"], ring=api.desk.keyring())
        assert not problems, problems
