"""The desk-wide log as ``itsm audit verify`` rebuilds it from the journal rows.

While every ticket is checked, each sealed event adds its place (``desk_seq``),
its content digest, its stored link and the name of the event sealed before it
(``desk_prev``) to a :class:`DeskLog`, kept compactly (a million events take
about 90 MB).  :meth:`DeskLog.check` then walks the log in order: gaps (deleted
events, named by the entry after them), broken keyed links, entries moved to
another ticket, entries beyond the recorded head; and it recomputes the plain
running digest at every count a checkpoint names.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.journal import GENESIS, KeyRing, desk_link, head_mac, ref, root_step


@dataclass
class Finding:
    ticket: str | None
    seq: int | None
    kind: str
    message: str


@dataclass
class DeskLog:
    count: int  # the head's count (audit_state)
    tickets: list[str] = field(default_factory=list)  # ticket index -> key
    findings: list[Finding] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.count + 1
        self.present = bytearray(n)
        self.digest = bytearray(32 * n)
        self.link = bytearray(32 * n)
        self.prev = array("q", bytes(8 * n))  # hash() of the stored desk_prev
        self.owner = array("l", bytes(array("l").itemsize * n))
        self.seq = array("l", bytes(array("l").itemsize * n))
        self.key = array("h", bytes(2 * n))  # index in key_ids, -1: not in the ring
        self.key_ids: list[str] = []
        self.beyond: list[int] = []

    def ticket_index(self, key: str) -> int:
        self.tickets.append(key)
        return len(self.tickets) - 1

    def add(self, desk_seq: int, ticket: int, seq: int, digest: str, link: str | None,
            prev: str | None, key_id: str | None) -> None:
        name = self.tickets[ticket]
        if desk_seq < 1 or desk_seq > self.count:
            self.beyond.append(desk_seq)
            self.findings.append(Finding(name, seq, "desk", f"event {seq} is at desk log #{desk_seq}, beyond "
                                         f"its head (#{self.count}): the head was moved back"))
            return
        if self.present[desk_seq]:
            other = self.tickets[self.owner[desk_seq]]
            self.findings.append(Finding(name, seq, "desk", f"event {seq} and {ref(other, self.seq[desk_seq])} "
                                         f"both claim desk log #{desk_seq}"))
            return
        self.present[desk_seq] = 1
        self.digest[32 * desk_seq:32 * desk_seq + 32] = bytes.fromhex(digest)
        if link and len(link) == 64:
            try:
                self.link[32 * desk_seq:32 * desk_seq + 32] = bytes.fromhex(link)
            except ValueError:
                pass
        self.prev[desk_seq] = hash(prev or "")
        self.owner[desk_seq] = ticket
        self.seq[desk_seq] = seq
        key_id = key_id or ""  # NULL (an unkeyed event, or a key id removed by hand) is ""
        if key_id not in self.key_ids:
            self.key_ids.append(key_id)
        self.key[desk_seq] = self.key_ids.index(key_id)

    def name(self, n: int) -> str:
        return ref(self.tickets[self.owner[n]], self.seq[n])

    def check(self, ring: KeyRing | None, head: dict[str, Any], want_roots: set[int],
              flagged: set[tuple[str, int]], prev_of: Callable[[list[int]], dict[int, str]]
              ) -> dict[int, str | None]:
        """Walk the log; returns the running digest at each count of ``want_roots``
        (None where a gap makes it unknowable).  ``flagged``: events the per-ticket
        check already reported (their broken links say nothing new); ``prev_of``
        reads the stored ``desk_prev`` of the given desk seqs (to name what a gap
        deleted)."""
        roots: dict[int, str | None] = {0: GENESIS} if 0 in want_roots else {}
        secrets = [ring.secret(k) if ring else None for k in self.key_ids]
        root: str | None = GENESIS
        gaps: list[tuple[int, int]] = []
        start = None
        prev_link, prev_name = GENESIS, ""
        moved: list[int] = []
        for n in range(1, self.count + 1):
            if not self.present[n]:
                start = n if start is None else start
                root = None
                prev_link, prev_name = "", ""
                if n in want_roots:
                    roots[n] = None
                continue
            if start is not None:
                gaps.append((start, n - 1))
                start = None
            digest = self.digest[32 * n:32 * n + 32].hex()
            name = self.name(n)
            ticket, seq = self.tickets[self.owner[n]], self.seq[n]
            if root is not None:
                root = root_step(root, digest)
            if n in want_roots:
                roots[n] = root
            renamed = bool(prev_name) and self.prev[n] != hash(prev_name)
            if renamed:  # the entry before was sealed as another event: its link says nothing more
                moved.append(n)
            secret = secrets[self.key[n]]
            if prev_link and not renamed and (ticket, seq) not in flagged:
                if secret is None:
                    self.findings.append(Finding(ticket, seq, "key", f"desk log #{n} is linked with key "
                                                 f"'{self.key_ids[self.key[n]]}', not in the key ring"))
                elif desk_link(secret, prev_link, n, prev_name, digest) != self.link[32 * n:32 * n + 32].hex():
                    self.findings.append(Finding(ticket, seq, "desk", f"event {seq} (desk log #{n}) does not "
                                                 "match its keyed desk link: changed, moved or renumbered"))
            prev_link, prev_name = self.link[32 * n:32 * n + 32].hex(), name
        if start is not None:
            gaps.append((start, self.count))
        after = prev_of([b + 1 for _, b in gaps if b < self.count] + moved)
        for n in moved:
            self.findings.append(Finding(self.tickets[self.owner[n - 1]], self.seq[n - 1], "moved",
                                         f"desk log #{n - 1} was sealed as {after.get(n) or '?'} and now holds "
                                         f"{self.name(n - 1)}: moved to another ticket or renumbered"))
        self._name_gaps(gaps, head, after)
        if self.count and self.present[self.count] and not head.get("missing"):
            if self.link[32 * self.count:32 * self.count + 32].hex() != head["desk_hash"] \
                    or self.name(self.count) != head["head_ref"]:
                self.findings.append(Finding(self.tickets[self.owner[self.count]], self.seq[self.count], "desk",
                                             f"the desk log's head does not match its last entry #{self.count}"))
            if root is not None and root != head["digest_root"] and not flagged and not self.findings:
                self.findings.append(Finding(None, None, "desk", "the desk log's running digest does not "
                                             f"match its head at #{self.count}"))
        self._check_mac(ring, head)
        return roots

    def _check_mac(self, ring: KeyRing | None, head: dict[str, Any]) -> None:
        """The head must carry the keyed seal itsm wrote: else it was set back by hand
        (and the newest sealed events may have been cut off with it)."""
        if not self.count or head.get("missing"):
            if head.get("missing"):
                self.findings.append(Finding(None, None, "desk", "the desk log's head (audit_state) is missing"))
            return
        key_id, _, _ = (head.get("head_mac") or "").partition(":")
        secret = ring.secret(key_id) if ring else None
        if secret is None:
            self.findings.append(Finding(None, None, "key", f"the desk log's head is sealed with key "
                                         f"'{key_id}', not in the key ring"))
        elif head_mac(key_id, secret, head) != head.get("head_mac"):
            self.findings.append(Finding(None, None, "desk", f"the desk log's head (#{self.count}, "
                                         f"{head['head_ref']}) is not one itsm sealed: set back by hand, "
                                         "the newest sealed events may have been cut off (a checkpoint names them)"))

    def _name_gaps(self, gaps: list[tuple[int, int]], head: dict[str, Any], after: dict[int, str]) -> None:
        for a, b in gaps:
            named = after.get(b + 1) if b < self.count else head.get("head_ref")
            ticket, _, seq = (named or "").rpartition("#")
            many = f"#{a}-{b}" if b > a else f"#{a}"
            what = f"; the last of them was {named}" if named else ""
            self.findings.append(Finding(ticket or None, int(seq) if seq.isdigit() else None, "deleted",
                                         f"desk log {many} missing: {b - a + 1} sealed event(s) deleted{what}"))
