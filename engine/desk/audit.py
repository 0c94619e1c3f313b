"""``itsm audit verify``: the journal against its keys, its desk-wide log, its
checkpoints, and every ticket row against a replay of its journal.

- per ticket (:func:`check_chain`): each event's keyed hash (its content, ticket,
  process and sequence number under the HMAC key), the links between events,
  gaps in the sequence numbers, the change counter of the row;
- per ticket (engine.desk.replay): every column and field the journal derives,
  and the ticket's rows of the links table;
- desk-wide (engine.desk.desklog): gaps, keyed links, events moved between
  tickets, the head; tickets missing from the key sequence;
- checkpoints (engine.desk.checkpoints): signatures, the count and running
  digest each signed, and each event it named.

Each problem names the ticket and the event (sequence number) where it can.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from engine.desk import checkpoints as cpmod
from engine.i18n import N_, message
from engine.desk import signing
from engine.desk.context import Desk
from engine.desk.desklog import DeskLog, Finding
from engine.desk.replay import describe, link_differences, replay
from engine.store.audit import UNREADABLE
from engine.journal import (
    GENESIS, KeyRing, canonical, content_digest, event_hash, hashed_fields, keyed_hash,
)

KINDS = ("altered", "deleted", "reordered", "chain", "state", "column", "link", "moved", "unkeyed", "key",
         "desk", "checkpoint")


@dataclass(frozen=True)
class AuditProblem:
    key: str | None
    seq: int | None
    kind: str  # one of KINDS
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"ticket": self.key, "seq": self.seq, "kind": self.kind, "message": self.message}


@dataclass
class Chain:
    problems: list[AuditProblem] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)  # content digest of each event
    failing: list[Mapping[str, Any]] = field(default_factory=list)  # events whose own hash fails


def _ok(e: Mapping[str, Any], key: str, process: str, ring: KeyRing | None, text: str | None = None
        ) -> bool | None:
    """Does the event's hash hold (None: its key is not in the ring)?  ``text``: its
    canonical text, when already made."""
    if e.get("key_id") is None:
        return event_hash(e["prev_hash"], hashed_fields(e)) == e["hash"]
    secret = ring.secret(e["key_id"]) if ring else None
    if secret is None:
        return None
    return keyed_hash(secret, e["prev_hash"], text or canonical(e, key, process)) == e["hash"]


def check_chain(key: str, process: str, events: Sequence[Mapping[str, Any]], ring: KeyRing | None,
                version: int | None = None) -> Chain:
    """One ticket's chain.  ``version`` is the row's change counter, which equals
    its number of events: it catches the newest events being deleted, which
    leaves no broken link behind (unless it is lowered too: the desk log tells)."""
    out = Chain()
    p = out.problems
    expected_seq, prev = 1, GENESIS
    unkeyed: list[int] = []
    missing_keys: dict[str, int] = {}
    for e in events:
        seq = e["seq"]
        if seq > expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
            p.append(AuditProblem(key, expected_seq, "deleted", f"event(s) {missing} missing"))
        if e["prev_hash"] != prev:
            p.append(AuditProblem(key, seq, "chain", f"event {seq} does not follow the event before it"))
        text = canonical(e, key, process)
        out.digests.append(content_digest(text))
        ok = _ok(e, key, process, ring, text)
        if e.get("key_id") is None:
            unkeyed.append(seq)
        if ok is None:
            missing_keys.setdefault(e["key_id"], seq)
        elif not ok:
            moved = _recorded_as(e, key, process, ring, [x["seq"] for x in events if x["seq"] != seq])
            if moved is not None:
                p.append(AuditProblem(key, seq, "reordered", f"event {seq} was recorded as event {moved}"))
            else:
                p.append(AuditProblem(key, seq, "altered", f"event {seq} ({e['action']}) does not match its "
                                      "keyed hash: changed (or inserted) after it was recorded"))
                out.failing.append(e)
        prev, expected_seq = e["hash"], seq + 1
    last = events[-1]["seq"] if events else 0
    if version is not None and version > last:
        missing = f"{last + 1}" if version == last + 1 else f"{last + 1}-{version}"
        p.append(AuditProblem(key, last + 1, "deleted",
                              f"event(s) {missing} missing (the ticket records {version} changes)"))
    sealed = [e["seq"] for e in events if e.get("desk_seq") is not None]
    for e in events:
        if e.get("desk_seq") is None and sealed and e["seq"] < max(sealed) \
                and not any(x.seq == e["seq"] for x in p):
            p.append(AuditProblem(key, e["seq"], "altered", f"event {e['seq']} is not in the desk log, but "
                                  f"event {max(sealed)} after it is: inserted after they were sealed"))
    for kid, seq in missing_keys.items():
        p.append(AuditProblem(key, seq, "key", f"event {seq} was hashed with key '{kid}', which the key "
                              "ring does not have (add the old key to the key file)"))
    if unkeyed:
        p.append(AuditProblem(key, unkeyed[0], "unkeyed", f"{len(unkeyed)} event(s) from {unkeyed[0]} on have "
                              "only the unkeyed SHA-256 chain (written before the keyed journal, or "
                              "downgraded by hand): run 'itsm audit rekey'"))
    return out


def verify_ticket(key: str, state: str, events: Sequence[Mapping[str, Any]], version: int | None = None,
                  *, process: str = "", ring: KeyRing | None = None) -> list[AuditProblem]:
    """The chain problems of one ticket, and a state that differs from its journal's."""
    problems = check_chain(key, process, events, ring, version).problems
    replayed = next((e["to_state"] for e in reversed(events) if e.get("to_state")), None)
    if replayed is not None and replayed != state:
        problems.append(AuditProblem(key, None, "state",
                                     f"ticket is in state '{state}' but its journal ends in '{replayed}'"))
    return problems


def _recorded_as(event: Mapping[str, Any], key: str, process: str, ring: KeyRing | None,
                 other_seqs: Iterable[int]) -> int | None:
    for seq in other_seqs:
        if _ok(dict(event, seq=seq), key, process, ring):
            return seq
    return None


# -- the whole desk ----------------------------------------------------------------------------
def verify(desk: Desk, checkpoints: str | None = None, public_key: str | None = None) -> dict[str, Any]:
    """Everything ``itsm audit verify`` checks; {tickets, events, problems, sealed,
    unsealed, checkpoints, last_checkpoint, underived}."""
    ring = desk.keyring()
    public = _public_key(desk, public_key)
    problems: list[AuditProblem] = []
    findings: list[Finding] = []
    n_tickets = n_events = underived = 0
    flagged: set[tuple[str, int]] = set()
    failing: list[tuple[str, str, Mapping[str, Any]]] = []
    numbers: dict[str, set[int]] = {}
    with desk.store.read() as repo:
        head = repo.audit.head()
        legacy_through = head["legacy_through"]
        log = DeskLog(head["count"])
        for tickets, events in repo.audit.journals():
            by_ticket: dict[int, list[dict[str, Any]]] = {}
            for e in events:
                by_ticket.setdefault(e["ticket_id"], []).append(e)
            linked = repo.audit.links_between(tickets[0]["id"], tickets[-1]["id"]) if tickets else {}
            for t in tickets:
                evs = by_ticket.pop(t["id"], [])
                n_tickets, n_events = n_tickets + 1, n_events + len(evs)
                key, process = str(t["key"]), str(t["process"])
                prefix, _, number = key.rpartition("-")
                if number.isdigit():
                    numbers.setdefault(prefix, set()).add(int(number))
                damaged = False  # values written by hand that their columns cannot hold
                if any(UNREADABLE in e for e in evs):  # the chain is checked without them (a gap)
                    problems += [AuditProblem(key, e.get("seq"), "altered", _unreadable(
                        e, f"event {e['seq']}" if e.get("seq") is not None else "an event"))
                                 for e in evs if UNREADABLE in e]
                    evs, damaged = [e for e in evs if UNREADABLE not in e], True
                if UNREADABLE in t:
                    problems.append(AuditProblem(key, None, "column", _unreadable(t, "the ticket row")))
                    damaged = True
                chain = check_chain(key, process, evs, ring, t["version"])
                found = list(chain.problems)
                failing += [(key, process, e) for e in chain.failing[:100]]
                if not damaged:  # else no replay to compare the row with: what is said above is the finding
                    row, evs_read = _shaped(t, evs)
                    result = replay(desk, row, evs_read, lambda e: e.get("key_id") is None or (
                        e.get("desk_seq") is not None and e["desk_seq"] <= legacy_through))
                    underived += bool(result.underived)
                    stale = {"version"} if any(p.kind == "deleted" for p in found) else set()
                    for d in result.differences:
                        if d.column == "state":
                            found.append(AuditProblem(key, d.seq, "state", f"ticket is in state '{d.stored}' "
                                                      f"but its journal ends in '{d.derived}' (event {d.seq})"))
                        elif d.column not in stale:
                            found.append(AuditProblem(key, d.seq, "column", describe(d)))
                    found += [AuditProblem(key, seq, "link", text)
                              for text, seq in link_differences(evs_read, linked.get(t["id"], ()))]
                problems += found
                flagged.update((key, p.seq) for p in found if p.seq is not None
                               and p.kind in ("altered", "reordered", "chain", "key", "unkeyed"))
                index = log.ticket_index(key)
                for e, digest in zip(evs, chain.digests):
                    if e.get("desk_seq") is not None:
                        log.add(e["desk_seq"], index, e["seq"], digest, e.get("desk_hash"), e.get("desk_prev"),
                                e.get("key_id"))
            for tid, evs in by_ticket.items():
                n_events += len(evs)
                problems.append(AuditProblem(f"#{tid}", evs[0]["seq"], "deleted", f"{len(evs)} journal event(s) "
                                             f"of ticket id {tid}, whose ticket row is gone"))
        problems += _missing_tickets(repo.audit.key_counters(), numbers)
        problems = _moved(problems, failing, ring, desk)
        cps, source = _checkpoints(repo, checkpoints, findings)
        unchecked = 0
        if public is None and source == "database":  # nothing to check the database's copies with
            unchecked, cps = sum(1 for cp in cps if cp.line.get("signature")), []
        good = cpmod.check_signatures(cps, public, head["desk_id"] or None, findings)
        if checkpoints:  # a witness file: did it lose lines the database's copies still hold?
            copies = cpmod.read_lines([r["line"] for r in repo.audit.checkpoints()], "database", [])
            cpmod.check_start(good, copies, public, head["desk_id"] or None, "the database", findings)
        roots = log.check(ring, head, {cp.line["count"] for cp in good}, flagged, repo.audit.desk_prev_of)
        cpmod.check_against(good, log, roots, findings)
        unsealed = repo.audit.count_unsealed()
    problems += [AuditProblem(f.ticket, f.seq, f.kind, f.message) for f in log.findings + findings]
    return {"tickets": n_tickets, "events": n_events, "problems": [p.to_dict() for p in _unique(problems)],
            "sealed": head["count"], "unsealed": unsealed, "checkpoints": len(good),
            "checkpoint_source": source if cps else None, "checkpoints_unchecked": unchecked,
            "last_checkpoint": good[-1].line["count"] if good else None, "underived": underived}


def _unreadable(row: Mapping[str, Any], what: str) -> str:
    """What a row read with values its columns' types cannot read holds (written by hand)."""
    values = ", ".join(f"{name} = {str(value)[:40]!r}" for name, value in row[UNREADABLE].items())
    return f"{what} holds what its columns cannot hold ({values}): written by hand"


def _shaped(row: dict[str, Any], events: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ticket and its events as the replay reads them: an event's changes or the
    row's fields that are JSON of another shape than an object (a list, a string:
    written by hand, its hash fails) read as empty, so the replay reports what
    differs instead of failing on them."""
    if not isinstance(row.get("fields"), (dict, type(None))):
        row = dict(row, fields={})
    if all(isinstance(e.get("changes"), (dict, type(None))) for e in events):
        return row, events
    return row, [e if isinstance(e.get("changes"), (dict, type(None))) else dict(e, changes={}) for e in events]


def _unique(problems: list[AuditProblem]) -> list[AuditProblem]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for p in problems:
        k = (p.key, p.seq, p.kind)
        if k in seen and p.kind in ("deleted", "moved"):
            continue
        seen.add(k)
        out.append(p)
    return out


def _public_key(desk: Desk, given: str | None) -> Any:
    audit = desk.settings.audit
    if given or audit.public_key:
        return signing.load_public(given or audit.public_key or "")
    if audit.signing_key and Path(audit.signing_key).is_file():
        return signing.public_of(signing.load_private(audit.signing_key))
    return None


def _checkpoints(repo: Any, path: str | None, findings: list[Finding]) -> tuple[list[cpmod.Checkpoint], str]:
    """The checkpoints to hold the journal against: the witness file given, else the
    database's copies (which its administrator could delete, but not forge)."""
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            from engine.errors import UsageError

            raise UsageError(N_("--checkpoints {path}: {strerror}"),
                             values={"path": path, "strerror": message(exc.strerror or str(exc))}) from None
        return cpmod.read_lines(text.splitlines(), path, findings), path
    rows = repo.audit.checkpoints()
    return cpmod.read_lines([r["line"] for r in rows], "database", findings), "database"


def _missing_tickets(counters: Mapping[str, int], numbers: Mapping[str, set[int]]) -> list[AuditProblem]:
    out = []
    for prefix, last in sorted(counters.items()):
        have = numbers.get(prefix, set())
        if len(have) >= last:
            continue
        gone = [n for n in range(1, last + 1) if n not in have]
        for n in gone[:50]:
            key = f"{prefix}-{n:06d}"
            out.append(AuditProblem(key, None, "deleted", f"ticket {key} is missing: {prefix} keys were handed "
                                    f"out up to {prefix}-{last:06d} with no gap"))
    return out


def _moved(problems: list[AuditProblem], failing: list[tuple[str, str, Mapping[str, Any]]],
           ring: KeyRing | None, desk: Desk) -> list[AuditProblem]:
    """An event whose hash fails under its ticket may hold under another ticket
    whose events fail too (journals swapped), or under another process (the
    ticket's process column changed): say so instead of 'altered'."""
    if not failing or ring is None:
        return problems
    candidates = list(dict.fromkeys((k, p) for k, p, _ in failing))[:50]
    processes = list(desk.defs.processes)
    renamed: dict[tuple[str, int], AuditProblem] = {}
    for key, process, e in failing[:2000]:
        secret = ring.secret(e.get("key_id"))
        if secret is None:
            continue
        tries = [(k, p) for k, p in candidates if k != key] + [(key, p) for p in processes if p != process]
        for k, p in tries:
            if keyed_hash(secret, e["prev_hash"], canonical(e, k, p)) == e["hash"]:
                if k != key:
                    renamed[key, e["seq"]] = AuditProblem(key, e["seq"], "moved", f"event {e['seq']} was "
                                                          f"recorded as event {e['seq']} of {k}: moved between tickets")
                else:
                    renamed[key, e["seq"]] = AuditProblem(key, e["seq"], "column", f"process: the ticket says "
                                                          f"'{process}', its journal '{p}' (event {e['seq']})")
                break
    return [renamed.get((p.key, p.seq), p) if p.kind == "altered" and p.key is not None and p.seq is not None
            else p for p in problems]

