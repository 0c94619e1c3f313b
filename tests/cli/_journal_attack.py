"""What an intruder with SQL access does to the journal, for the audit's tests.

``Db`` is a transaction on the database as a database administrator has it:
SQLAlchemy Core on reflected tables, no engine code.  ``rebuild`` is what one
who also holds the desk's HMAC key (but not the checkpoints' signing key) does
after tampering: recompute every ticket's chain (renumbering its events), then
the desk-wide log and its head, with the functions of engine/journal.py.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import sqlalchemy as sa


class Db:
    def __init__(self, conn: sa.Connection, meta: sa.MetaData) -> None:
        self.conn = conn
        self.t = meta.tables

    def ticket_id(self, key: str) -> int:
        tickets = self.t["tickets"]
        return self.conn.execute(sa.select(tickets.c.id).where(tickets.c.key == key)).scalar_one()

    def where(self, key: str, seq: int) -> Any:
        j = self.t["journal"]
        return sa.and_(j.c.ticket_id == self.ticket_id(key), j.c.seq == seq)

    def event(self, key: str, seq: int) -> dict[str, Any]:
        j = self.t["journal"]
        return dict(self.conn.execute(sa.select(j).where(self.where(key, seq))).mappings().one())

    def events(self, key: str) -> list[dict[str, Any]]:
        j = self.t["journal"]
        return [dict(r) for r in self.conn.execute(
            sa.select(j).where(j.c.ticket_id == self.ticket_id(key)).order_by(j.c.seq)).mappings()]

    def update_event(self, key: str, at: int, **values: Any) -> None:
        j = self.t["journal"]
        assert self.conn.execute(j.update().where(self.where(key, at)).values(**values)).rowcount == 1

    def update_ticket(self, key: str, **values: Any) -> None:
        tickets = self.t["tickets"]
        assert self.conn.execute(tickets.update().where(tickets.c.key == key).values(**values)).rowcount == 1

    def ticket(self, key: str) -> dict[str, Any]:
        tickets = self.t["tickets"]
        return dict(self.conn.execute(sa.select(tickets).where(tickets.c.key == key)).mappings().one())

    def delete_events(self, key: str, seqs: list[int]) -> None:
        j = self.t["journal"]
        self.conn.execute(j.delete().where(j.c.ticket_id == self.ticket_id(key), j.c.seq.in_(seqs)))

    def delete_ticket(self, key: str) -> None:
        tid = self.ticket_id(key)
        for name in ("journal", "due_work", "due_stale", "fired", "outbox", "search_text", "alert_groups"):
            self.conn.execute(self.t[name].delete().where(self.t[name].c.ticket_id == tid))
        self.conn.execute(self.t["tickets"].delete().where(self.t["tickets"].c.id == tid))

    def swap_seqs(self, key: str, a: int, b: int) -> None:
        """Two events of a ticket exchange places ((ticket_id, seq) is unique: park one first)."""
        self.update_event(key, a, seq=100000)
        self.update_event(key, b, seq=a)
        self.update_event(key, 100000, seq=b)

    def swap_journals(self, a: str, b: str) -> None:
        j = self.t["journal"]
        ia, ib = self.ticket_id(a), self.ticket_id(b)
        self.conn.execute(j.update().where(j.c.ticket_id == ia).values(seq=j.c.seq + 100000))
        self.conn.execute(j.update().where(j.c.ticket_id == ib).values(ticket_id=ia))
        self.conn.execute(j.update().where(j.c.ticket_id == ia, j.c.seq > 100000)
                          .values(ticket_id=ib, seq=j.c.seq - 100000))

    def insert_event(self, key: str, at_seq: int, **values: Any) -> dict[str, Any]:
        """A new event at ``at_seq`` (later events move up one), copied from the
        event before it with ``values``; its hash is left to the caller."""
        j = self.t["journal"]
        tid = self.ticket_id(key)
        self.conn.execute(j.update().where(j.c.ticket_id == tid, j.c.seq >= at_seq).values(seq=j.c.seq + 100000))
        self.conn.execute(j.update().where(j.c.ticket_id == tid, j.c.seq > 100000)
                          .values(seq=j.c.seq - 100000 + 1))
        row = self.event(key, at_seq - 1)
        row.pop("id")
        row.update(seq=at_seq, desk_seq=None, desk_hash=None, desk_prev=None, **values)
        self.conn.execute(j.insert().values(**row))
        self.update_ticket(key, version=self.ticket(key)["version"] + 1)
        return row

    def links(self, key: str) -> list[tuple[str, str]]:
        links = self.t["links"]
        return [(r.relation, r.target) for r in self.conn.execute(
            sa.select(links.c.relation, links.c.target).where(links.c.ticket_id == self.ticket_id(key)))]

    def delete_links(self, key: str, relation: str) -> None:
        links = self.t["links"]
        assert self.conn.execute(links.delete().where(links.c.ticket_id == self.ticket_id(key),
                                                      links.c.relation == relation)).rowcount >= 1

    def insert_link(self, key: str, relation: str, target: str) -> None:
        from datetime import datetime

        self.conn.execute(self.t["links"].insert().values(ticket_id=self.ticket_id(key), relation=relation,
                                                          target=target, created_at=datetime(2026, 3, 2),
                                                          created_by="system"))

    def journal_key(self, key: str) -> tuple[str, str]:
        t = self.ticket(key)
        return t["key"], t["process"]


@contextmanager
def database(db_url: str) -> Iterator[Db]:
    url = sa.make_url(db_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        with engine.begin() as conn:
            yield Db(conn, meta)
    finally:
        engine.dispose()


def rechain_unkeyed(db: Db, key: str, first: int) -> None:
    """Without the key: recompute the ticket's chain from event ``first`` with
    plain SHA-256 (the older journal's hash), keeping its key id."""
    from engine.journal import event_hash, hashed_fields

    events = db.events(key)
    prev = events[first - 2]["hash"] if first > 1 else "0" * 64
    for e in events[first - 1:]:
        h = event_hash(prev, hashed_fields(e))
        db.update_event(key, e["seq"], prev_hash=prev, hash=h)
        prev = h


def rebuild(db: Db, secret: bytes, key_id: str) -> None:
    """With the HMAC key: renumber every ticket's events 1..n, recompute every
    chain and the whole desk-wide log in its order, move the head, and set each
    ticket's version to its number of events."""
    from engine.journal import GENESIS, canonical, content_digest, desk_link, keyed_hash, ref, root_step

    j, tickets, state = db.t["journal"], db.t["tickets"], db.t["audit_state"]
    names = {r.id: (r.key, r.process) for r in db.conn.execute(sa.select(tickets.c.id, tickets.c.key,
                                                                         tickets.c.process))}
    rows = [dict(r) for r in db.conn.execute(sa.select(j).order_by(j.c.ticket_id, j.c.seq)).mappings()]
    db.conn.execute(j.update().values(seq=j.c.seq + 100000, desk_seq=None))
    by_ticket: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by_ticket.setdefault(r["ticket_id"], []).append(r)
    for tid, evs in by_ticket.items():
        key, process = names[tid]
        prev = GENESIS
        for n, e in enumerate(evs, 1):
            e["seq"], e["prev_hash"], e["key_id"] = n, prev, key_id
            e["hash"] = prev = keyed_hash(secret, prev, canonical(e, key, process))
            e["digest"], e["name"] = content_digest(canonical(e, key, process)), ref(key, n)
        db.conn.execute(tickets.update().where(tickets.c.id == tid).values(version=len(evs)))
    order = sorted(rows, key=lambda r: (r["desk_seq"] is None, r["desk_seq"] or 0, r["id"]))
    link, root, prev_name = GENESIS, GENESIS, ""
    for n, e in enumerate(order, 1):
        link = desk_link(secret, link, n, prev_name, e["digest"])
        root = root_step(root, e["digest"])
        db.conn.execute(j.update().where(j.c.id == e["id"]).values(
            seq=e["seq"], prev_hash=e["prev_hash"], hash=e["hash"], key_id=key_id, desk_seq=n,
            desk_hash=link, desk_prev=prev_name))
        prev_name = e["name"]
    from engine.journal import head_mac

    head = dict(db.conn.execute(sa.select(state)).mappings().one(), count=len(order), desk_hash=link,
                digest_root=root, head_ref=prev_name)
    db.conn.execute(state.update().values(count=len(order), desk_hash=link, digest_root=root, head_ref=prev_name,
                                          head_mac=head_mac(key_id, secret, head),
                                          sealed_id=max((r["id"] for r in rows), default=0)))
