"""The desk-wide log: sealing new events into it, and re-keying the journal.

Like Trillian's sequencer, sealing is a step of its own, so concurrent agents
never wait on one row: an action appends its event to its ticket's keyed chain
only; :func:`seal` (run by every ``itsm tick``) gives committed events their
place in the desk-wide log in one transaction that locks the log's head
(``audit_state``), chaining ``desk_hash = HMAC(key, previous desk_hash, place,
previous event's name, content digest)`` and the plain running digest that
checkpoints sign.

:func:`rekey` (``itsm audit rekey``, run by ``itsm db upgrade``) puts every
event under the current key: events of the unkeyed journal of older desks, and
events of a retired key.  It checks the chains first and refuses a broken one
(re-keying it would launder the damage), then seals again from the first event
it changed, and records a checkpoint with reason ``rekey``.
"""

from __future__ import annotations

from typing import Any

from engine.desk.context import Desk
from engine.errors import ActionRefused, ItsmError
from engine.i18n import N_, joined, message
from engine.journal import (
    GENESIS, KeyRing, canonical, content_digest, desk_link, event_hash, hashed_fields, head_mac, keyed_hash,
    ref, root_step,
)

SEAL_BATCH = 5000  # events per transaction


def seal_rows(repo: Any, ring: KeyRing, head: dict[str, Any], rows: list[dict[str, Any]],
              seen: set[int] | None = None) -> tuple[dict[str, Any], str | None]:
    """Seal ``rows`` (unsealed events in id order) after ``head``; returns the new
    head and why it stopped early (an unkeyed event, a key not in the ring, an event
    of no ticket), or None.  ``seen`` collects the ids of legacy events sealed."""
    n, link, root, prev = head["count"], head["desk_hash"], head["digest_root"], head["head_ref"]
    sealed_id = head["sealed_id"]
    updates: list[dict[str, Any]] = []
    stop = None
    for r in rows:
        secret = ring.secret(r["key_id"])
        if r["key_id"] is None:
            stop = message(N_("unkeyed events (written before the keyed journal): run 'itsm audit rekey'"))
        elif secret is None:
            stop = message(N_("an event hashed with key '{key}', which the key ring does not have"), key=r["key_id"])
        elif r["ticket_key"] is None:
            stop = message(N_("journal row {row} belongs to no ticket (ticket id {id})"), row=r["id"], id=r["ticket_id"])
        if stop:
            break
        assert secret is not None
        digest = content_digest(canonical(r, r["ticket_key"], r["ticket_process"]))
        n += 1
        link = desk_link(secret, link, n, prev, digest)
        root = root_step(root, digest)
        updates.append({"b_id": r["id"], "desk_seq": n, "desk_hash": link, "desk_prev": prev})
        prev = ref(r["ticket_key"], r["seq"])
        sealed_id = max(sealed_id, r["id"])
        if seen is not None and r["id"] in seen:
            head["legacy_through"] = n
    if updates:
        repo.audit.seal(updates)
    new = dict(head, count=n, desk_hash=link, digest_root=root, head_ref=prev, sealed_id=sealed_id)
    new["head_mac"] = head_mac(ring.current_id, ring.current, new)
    return new, stop


def seal(desk: Desk) -> dict[str, Any]:
    """Seal every committed event not yet in the desk-wide log (``itsm tick``):
    {sealed, count, stopped}.  Cheap when nothing is new (one indexed read)."""
    ring = desk.keyring()
    sealed, stop = 0, None
    while True:
        with desk.store.write() as repo:
            head = repo.audit.head(lock=True)
            rows = repo.audit.unsealed(head["sealed_id"], SEAL_BATCH)
            if not rows:
                break
            if ring is None:
                stop = message(N_("no audit key is configured (ITSM_AUDIT_KEY, a key file): nothing can be sealed"))
                break
            new, stop = seal_rows(repo, ring, head, rows)
            if new["count"] != head["count"]:
                repo.audit.set_head(new)
            sealed += new["count"] - head["count"]
        if stop or len(rows) < SEAL_BATCH:
            break
    with desk.store.read() as repo:
        count = repo.audit.head()["count"]
    return {"sealed": sealed, "count": count, "stopped": stop}


def rekey(desk: Desk, force: bool = False) -> dict[str, Any]:
    """Re-chain every unkeyed or old-key event under the current key and seal;
    {rechained, tickets, from_keys, key_id, sealed, count, problems}."""
    ring = desk.keyring(create=True)
    assert ring is not None
    with desk.store.write() as repo:
        head = repo.audit.head(lock=True)
        problems: list[str] = []
        updates: list[dict[str, Any]] = []
        legacy: set[int] = set()
        first_desk: int | None = None
        placed: dict[int, tuple[str, str, int, str]] = {}  # desk seq -> (digest, name, id, key id)
        touched: set[str] = set()
        from_keys: set[str] = set()
        for tickets, events in repo.audit.journals():
            by_ticket: dict[int, list[dict[str, Any]]] = {}
            for e in events:
                by_ticket.setdefault(e["ticket_id"], []).append(e)
            for t in tickets:
                evs = by_ticket.pop(t["id"], [])
                changed = _rechain(ring, t["key"], t["process"], evs, problems, updates, legacy, from_keys)
                if changed:
                    touched.add(t["key"])
                for e in evs:
                    if e["desk_seq"] is not None:
                        placed[e["desk_seq"]] = (content_digest(canonical(e, t["key"], t["process"])),
                                                 ref(t["key"], e["seq"]), e["id"],
                                                 ring.current_id if e["id"] in changed else e["key_id"])
                        if e["id"] in changed and (first_desk is None or e["desk_seq"] < first_desk):
                            first_desk = e["desk_seq"]
            for tid, evs in by_ticket.items():
                problems.append(message(N_("{count} journal event(s) of ticket id {id}, which does not exist"),
                                        count=len(evs), id=tid))
        if problems and not force:
            raise ActionRefused(N_("the journal is damaged, so re-keying would hide it:\n  {problems}\n"
                                   "see 'itsm audit verify'; 'itsm audit rekey --force' re-keys anyway "
                                   "and records the problems in its checkpoint"), reason="damaged journal",
                                values={"problems": joined(problems[:20] + (["..."] if len(problems) > 20 else []),
                                                           sep="\n  ")})
        repo.audit.rechain(updates)
        if first_desk is not None:  # the desk links from there on used the old hashes' keys
            head = _relink(repo, ring, head, first_desk, placed)
        sealed_before = head["count"]
        stop = None
        while True:
            rows = repo.audit.unsealed(head["sealed_id"] if not legacy else 0, SEAL_BATCH)
            if not rows:
                break
            head, stop = seal_rows(repo, ring, head, rows, legacy)
            if stop or len(rows) < SEAL_BATCH:
                break
        repo.audit.set_head(head)
    return {"rechained": len(updates), "tickets": len(touched), "from_keys": sorted(from_keys),
            "key_id": ring.current_id, "sealed": head["count"] - sealed_before, "count": head["count"],
            "legacy_through": head["legacy_through"], "problems": problems, "stopped": stop}


def _rechain(ring: KeyRing, key: str, process: str, events: list[dict[str, Any]], problems: list[str],
             updates: list[dict[str, Any]], legacy: set[int], from_keys: set[str]) -> set[int]:
    """Check one ticket's chain as it stands and re-chain it under the current key
    from its first event of another key; returns the ids of the events changed."""
    changed: set[int] = set()
    prev, new_prev, expected = GENESIS, GENESIS, 1
    rechaining = False
    for e in events:
        text = canonical(e, key, process)
        if e["seq"] != expected:
            problems.append(message(N_("{key}: event(s) {first}-{last} missing"), key=key, first=expected,
                                    last=e["seq"] - 1))
        if e["prev_hash"] != prev:
            problems.append(message(N_("{key} #{seq}: does not follow the event before it"), key=key, seq=e["seq"]))
        if e["key_id"] is None:
            ok = event_hash(e["prev_hash"], hashed_fields(e)) == e["hash"]
            if ok:
                legacy.add(e["id"])
            else:  # keyed, its key id lost (a schema downgraded and upgraded again)
                ok = any(keyed_hash(s, e["prev_hash"], text) == e["hash"] for _, s in ring.keys)
        else:
            secret = ring.secret(e["key_id"])
            if secret is None:
                problems.append(message(N_("{key} #{seq}: hashed with key '{key_id}', not in the key ring"), key=key,
                                        seq=e["seq"], key_id=e["key_id"]))
                ok = True  # cannot tell; reported above
            else:
                ok = keyed_hash(secret, e["prev_hash"], text) == e["hash"]
        if not ok:
            problems.append(message(N_("{key} #{seq}: changed after it was recorded"), key=key, seq=e["seq"]))
        rechaining = rechaining or e["key_id"] != ring.current_id
        prev, expected = e["hash"], e["seq"] + 1
        if rechaining:
            if e["key_id"] != ring.current_id:
                from_keys.add(e["key_id"] or "(unkeyed)")
            digest = keyed_hash(ring.current, new_prev, text)
            updates.append({"b_id": e["id"], "key_id": ring.current_id, "prev_hash": new_prev, "hash": digest})
            changed.add(e["id"])
            new_prev = digest
        else:
            new_prev = e["hash"]
    return changed


def _relink(repo: Any, ring: KeyRing, head: dict[str, Any], first: int,
            placed: dict[int, tuple[str, str, int, str]]) -> dict[str, Any]:
    """New desk links from place ``first`` on, in the same order (the content and so
    the running digest and every checkpoint stay valid; only the keyed links change)."""
    link = repo.audit.desk_link_at(first - 1) if first > 1 else GENESIS
    name = placed[first - 1][1] if first > 1 and first - 1 in placed else ""
    rows = []
    for n in range(first, head["count"] + 1):
        if n not in placed:
            raise ItsmError(N_("the desk log has no event #{n}: see 'itsm audit verify' (re-keying stops "
                               "here)"), values={"n": n})
        digest, me, jid, key_id = placed[n]
        secret = ring.secret(key_id)
        if secret is None:
            raise ItsmError(N_("desk log #{n} ({me}) is under key '{key_id}', not in the key ring"),
                            values={"n": n, "me": me, "key_id": key_id})
        link = desk_link(secret, link, n, name, digest)
        rows.append({"b_id": jid, "desk_hash": link})
        name = me
    repo.audit.seal(rows)
    new = dict(head, desk_hash=link)
    new["head_mac"] = head_mac(ring.current_id, ring.current, new)
    return new
