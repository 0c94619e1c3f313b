"""``itsm audit verify``: check every ticket's hash-chained journal.

Each event's hash covers its content and the previous event's hash, so an
edited, deleted or reordered event breaks the chain at a precise place.  The
ticket row is also checked against its journal (the state a replay ends in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from engine.journal import GENESIS, event_hash, hashed_fields


@dataclass(frozen=True)
class AuditProblem:
    key: str
    seq: int | None
    kind: str  # altered | deleted | reordered | chain | state
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"ticket": self.key, "seq": self.seq, "kind": self.kind, "message": self.message}


def verify_ticket(key: str, state: str, events: Sequence[Mapping[str, Any]],
                  version: int | None = None) -> list[AuditProblem]:
    """Problems of one ticket's journal.  ``version`` is the ticket row's change
    counter, which equals its number of events: it catches the newest events
    being deleted, which leaves no broken link behind."""
    problems: list[AuditProblem] = []
    expected_seq, prev = 1, GENESIS
    replayed: str | None = None
    for e in events:
        seq = e["seq"]
        if seq > expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
            problems.append(AuditProblem(key, expected_seq, "deleted", f"event(s) {missing} missing"))
        if e["prev_hash"] != prev:
            problems.append(AuditProblem(key, seq, "chain",
                                         f"event {seq} does not follow the event before it"))
        fields = hashed_fields(e)
        if event_hash(e["prev_hash"], fields) != e["hash"]:
            moved = _recorded_as(e, [x["seq"] for x in events if x["seq"] != seq])
            if moved is not None:
                problems.append(AuditProblem(key, seq, "reordered",
                                             f"event {seq} was recorded as event {moved}"))
            else:
                problems.append(AuditProblem(key, seq, "altered",
                                             f"event {seq} ({e['action']}) was changed after it was recorded"))
        prev, expected_seq = e["hash"], seq + 1
        if e.get("to_state"):
            replayed = e["to_state"]
    last = events[-1]["seq"] if events else 0
    if version is not None and version > last:
        missing = f"{last + 1}" if version == last + 1 else f"{last + 1}-{version}"
        problems.append(AuditProblem(key, last + 1, "deleted",
                                     f"event(s) {missing} missing (the ticket records {version} changes)"))
    if replayed is not None and replayed != state:
        problems.append(AuditProblem(key, None, "state",
                                     f"ticket is in state '{state}' but its journal ends in '{replayed}'"))
    return problems


def _recorded_as(event: Mapping[str, Any], other_seqs: Iterable[int]) -> int | None:
    for seq in other_seqs:
        fields = hashed_fields(dict(event, seq=seq))
        if event_hash(event["prev_hash"], fields) == event["hash"]:
            return seq
    return None
