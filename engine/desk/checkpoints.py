"""Signed checkpoints of the desk-wide log (``itsm audit checkpoint``, ``itsm tick``).

A checkpoint states, signed with Ed25519 by a key the database does not hold:
the desk had ``count`` sealed events whose running digest was ``digest_root``,
and which events those were since the previous checkpoint (``leaves``: place,
ticket, sequence number and the start of the content digest, so a later change
can be named even by someone holding the HMAC key who rebuilt every chain).
It is appended as one JSON line to the witness file (outside the database),
copied to ``audit_checkpoints``, and queued to the configured recipients.

The signature covers the line without ``signature`` and ``leaves``; the leaves
are covered by ``leaves_digest``, so a mailed head (without leaves) verifies too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

from engine.desk import signing
from engine.desk.context import Desk
from engine.desk.desklog import DeskLog, Finding
from engine.desk.sealing import seal
from engine.errors import ItsmError, UsageError
from engine.i18n import N_
from engine.journal import GENESIS, canonical, content_digest, desk_link, keyed_hash, ref, root_step

FORMAT = "itsm-checkpoint/1"
REASONS = ("cadence", "manual", "rekey")


def signed_bytes(line: dict[str, Any]) -> bytes:
    head = {k: v for k, v in line.items() if k not in ("signature", "leaves")}
    return json.dumps(head, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def leaves_digest(leaves: list[list[Any]]) -> str:
    return hashlib.sha256(json.dumps(leaves, separators=(",", ":")).encode("utf-8")).hexdigest()


def every(text: str) -> timedelta | None:
    """The checkpoint cadence setting: ``30m``, ``1h``, ``1d``, ``off``."""
    text = text.strip().lower()
    if text in ("off", "never", "0", ""):
        return None
    m = re.fullmatch(r"(\d+)\s*(s|m|h|d)", text)
    if not m:
        raise UsageError(N_("[audit] checkpoint_every: {text!r} is not a duration such as 15m, 1h, 1d or off"),
                         values={"text": text})
    return timedelta(seconds=int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)])


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="seconds")


def checkpoint(desk: Desk, reason: str = "manual", extra: dict[str, Any] | None = None,
               unsigned_ok: bool = False) -> dict[str, Any]:
    """Seal, then sign the desk-wide log's head and write it to the witness file,
    the database and the outbox.  ``unsigned_ok``: without a signing key, record
    an unsigned checkpoint (re-keying does) instead of refusing."""
    audit = desk.settings.audit
    private = signing.load_private(audit.signing_key) if audit.signing_key else None
    if private is None and not unsigned_ok:
        raise UsageError(N_("no signing key: set [audit] signing_key or ITSM_AUDIT_SIGNING_KEY to an Ed25519 "
                            "key ('itsm audit keygen' makes one), on the host that makes checkpoints"))
    sealed = seal(desk)
    ring = desk.keyring()
    now = desk.now()
    with desk.store.write() as repo:
        head = repo.audit.head(lock=True)
        prev = head["checkpoint_count"]
        if reason == "cadence" and head["count"] == prev:  # another tick signed it meanwhile
            return {"count": prev, "leaves": 0, "signed": False, "skipped": True, "sealed": sealed["sealed"],
                    "witness": audit.witness, "queued": 0, "reason": reason}
        prev_root = _root_at(repo, prev)
        leaves: list[list[Any]] = []
        link, name, root = repo.audit.desk_link_at(prev) if prev else GENESIS, "", prev_root
        for e in repo.audit.desk_order(prev, head["count"]):
            n, key, secret = e["desk_seq"], e["ticket_key"], ring.secret(e["key_id"]) if ring else None
            if key is None or secret is None:
                raise ItsmError(N_("desk log #{n} cannot be checked (no ticket or no key): run 'itsm audit "
                                   "verify'"), values={"n": n})
            text = canonical(e, key, e["ticket_process"])
            digest = content_digest(text)
            if n > 1 and not name:
                name = repo.audit.desk_prev_of([n])[n]
            if keyed_hash(secret, e["prev_hash"], text) != e["hash"] \
                    or desk_link(secret, link, n, name, digest) != e["desk_hash"] or n != prev + len(leaves) + 1:
                raise ItsmError(N_("{ref} (desk log #{n}) does not verify: nothing was signed; run 'itsm "
                                   "audit verify'"), values={"ref": ref(key, e['seq']), "n": n})
            link, name, root = e["desk_hash"], ref(key, e["seq"]), root_step(root, digest)
            leaves.append([n, key, e["seq"], digest[:16]])
        if len(leaves) != head["count"] - prev or root != head["digest_root"]:
            raise ItsmError(N_("the desk log's head does not match its events: nothing was signed; run 'itsm "
                               "audit verify'"))
        line: dict[str, Any] = {
            "format": FORMAT, "desk": head["desk_id"], "count": head["count"], "digest_root": root,
            "prev_count": prev, "prev_root": prev_root, "at": _iso(now), "reason": reason,
            "key_id": signing.key_id(signing.public_of(private)) if private else None,
            "leaves_digest": leaves_digest(leaves)}
        line.update(extra or {})
        line["signature"] = signing.sign(private, signed_bytes(line)) if private else None
        line["leaves"] = leaves
        text = json.dumps(line, separators=(",", ":"), ensure_ascii=False)
        if audit.witness:
            append_witness(Path(audit.witness), text)
        repo.audit.add_checkpoint(head["count"], root, now, reason, private is not None, text)
        repo.audit.set_head({"checkpoint_count": head["count"], "checkpoint_at": now})
        queued = _queue(desk, repo, line, now)
    return {"count": head["count"], "digest_root": root, "prev_count": prev, "at": desk.iso(now),
            "reason": reason, "signed": private is not None, "leaves": len(leaves),
            "witness": audit.witness, "queued": queued, "sealed": sealed["sealed"]}


def due(desk: Desk) -> dict[str, Any] | None:
    """``itsm tick``'s checkpoint: made when the cadence says one is due; else a
    line saying why not (no signing key, not due, nothing new)."""
    audit = desk.settings.audit
    cadence = every(audit.checkpoint_every or ("1h" if audit.signing_key else "off"))
    if cadence is None:
        return None
    with desk.store.read() as repo:
        head = repo.audit.head()
    last = head["checkpoint_at"]
    if last is not None and desk.now() - last < cadence:
        return None
    if head["count"] == head["checkpoint_count"]:
        return None  # nothing new to sign (tick sealed what there was just before)
    if not audit.signing_key:  # a cadence set, but no key: say so while there is something to sign
        return {"outcome": "skipped: no signing key configured ([audit] signing_key)"}
    done = checkpoint(desk, "cadence")
    if done.get("skipped"):
        return None
    return {"outcome": f"checkpoint #{done['count']} signed ({done['leaves']} new event(s))", **done}


def _root_at(repo: Any, count: int) -> str:
    """The running digest at the last checkpoint: from its copy in the database, else
    recomputed from the log (the copy was deleted); what follows is checked against
    the head before anything is signed."""
    if count == 0:
        return GENESIS
    for cp in reversed(repo.audit.checkpoints()):
        if cp["count"] == count:
            return str(cp["digest_root"])
    root = GENESIS
    for e in repo.audit.desk_order(0, count):
        if e["ticket_key"] is None:
            raise ItsmError(N_("desk log #{desk_seq} belongs to no ticket: run 'itsm audit verify'"),
                            values={"desk_seq": e['desk_seq']})
        root = root_step(root, content_digest(canonical(e, e["ticket_key"], e["ticket_process"])))
    return root


def append_witness(path: Path, line: str) -> None:
    """Append one line to the witness file (O_APPEND, fsync): make the file
    append-only where the filesystem can (``chattr +a``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _queue(desk: Desk, repo: Any, line: dict[str, Any], now: datetime) -> int:
    head = {k: v for k, v in line.items() if k != "leaves"}
    rows = []
    for to in desk.settings.audit.recipients:
        channel = "webhook" if to == "webhook" else "email"
        rows.append({"ticket_id": None, "event_seq": None, "channel": channel, "recipient": to,
                     "template": "audit_checkpoint", "lang": desk.lang,
                     "payload": {"event": dict(head, kind="audit_checkpoint"),
                                 "note": json.dumps(head, sort_keys=True, ensure_ascii=False)},
                     "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now})
    if rows:
        repo.add_outbox(rows)
    return len(rows)


# -- checking checkpoints ---------------------------------------------------------------------
@dataclass
class Checkpoint:
    line: dict[str, Any]
    where: str  # file:line or "database"


def read_lines(lines: Iterable[str], where: str, findings: list[Finding]) -> list[Checkpoint]:
    out = []
    for n, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
            if not isinstance(line, dict) or line.get("format") != FORMAT:
                raise ValueError("not a checkpoint")
            int(line["count"]), str(line["digest_root"])
        except (ValueError, KeyError, TypeError):
            findings.append(Finding(None, None, "checkpoint", f"{where}:{n}: not an itsm checkpoint line"))
            continue
        out.append(Checkpoint(line, f"{where}:{n}"))
    return out


def check_signatures(cps: list[Checkpoint], public: Any, desk_id: str | None,
                     findings: list[Finding]) -> list[Checkpoint]:
    """The checkpoints whose signature holds (the others are findings); they must
    follow each other (``prev_count``) and be of this desk."""
    good = []
    last = None
    for cp in cps:
        line = cp.line
        if line.get("signature") is None:
            continue  # an unsigned record (re-keying without a signing key) proves nothing
        if public is None:
            findings.append(Finding(None, None, "checkpoint", f"{cp.where}: no public key to check it "
                                    "(--public-key, [audit] public_key)"))
            return []
        if line.get("key_id") != signing.key_id(public) or not signing.verify(public, signed_bytes(line),
                                                                                line["signature"]):
            findings.append(Finding(None, None, "checkpoint", f"{cp.where}: the signature does not hold "
                                    "(forged or changed, or signed by another key)"))
            continue
        if leaves_digest(line.get("leaves") or []) != line.get("leaves_digest"):
            findings.append(Finding(None, None, "checkpoint", f"{cp.where}: its leaves were changed"))
            continue
        if desk_id is not None and line.get("desk") != desk_id:
            findings.append(Finding(None, None, "checkpoint", f"{cp.where}: a checkpoint of another desk "
                                    f"({line.get('desk')})"))
            continue
        if last is not None and line["prev_count"] > last.line["count"]:  # (an overlap is harmless)
            findings.append(Finding(None, None, "checkpoint", f"{cp.where}: follows #{line['prev_count']}, "
                                    f"but the checkpoint before it is #{last.line['count']}: lines missing"))
        good.append(cp)
        last = cp
    return good


def check_start(witness: list[Checkpoint], copies: list[Checkpoint], public: Any, desk_id: str | None,
                source: str, findings: list[Finding]) -> None:
    """A witness file whose first signed checkpoint follows checkpoints that
    ``copies`` (the database's, or an export's) hold signed, and it does not,
    lost its first lines: the lines in the middle that go missing are reported
    by :func:`check_signatures`, the first ones only here."""
    if not witness or not witness[0].line.get("prev_count"):
        return
    first = witness[0]
    held = [cp.line["count"] for cp in check_signatures(copies, public, desk_id, [])
            if cp.line["count"] <= first.line["prev_count"]]
    if held:
        name = first.where.rsplit(":", 1)[0]
        findings.append(Finding(None, None, "checkpoint", f"{first.where}: the first checkpoint of {name} follows "
                                f"#{first.line['prev_count']}; {source} holds signed checkpoint(s) up to "
                                f"#{max(held)} that it lacks: lines removed from its start (a witness file started "
                                "later gets them from 'itsm audit export')"))


def check_against(cps: list[Checkpoint], log: DeskLog, roots: dict[int, str | None],
                  findings: list[Finding]) -> None:
    """Each good checkpoint against the desk-wide log as it is now: the desk still
    has its count, the running digest at its count is its root, each leaf holds."""
    odd: list[tuple[list[Any], int]] = []
    for cp in cps:
        line, count = cp.line, cp.line["count"]
        if count > log.count:
            findings.append(Finding(None, None, "checkpoint", f"{cp.where}: checkpoint #{count} signed {count} "
                                    f"sealed events, the desk now has {log.count}: events removed after it"))
        elif roots.get(count) is not None and roots[count] != line["digest_root"]:
            findings.append(Finding(None, None, "checkpoint", f"{cp.where}: the journal up to desk log "
                                    f"#{count} differs from what this checkpoint signed"))
        for leaf in line.get("leaves") or []:
            n = leaf[0]
            if not (0 < n <= log.count and log.present[n] and log.name(n) == ref(leaf[1], leaf[2])
                    and log.digest[32 * n:32 * n + 8].hex() == leaf[3]):
                odd.append((leaf, count))
    if odd:  # where are those events now?
        wanted = {ref(leaf[1], leaf[2]) for leaf, _ in odd}
        found = {log.name(n): n for n in range(1, log.count + 1) if log.present[n] and log.name(n) in wanted}
        for leaf, count in odd:
            f = leaf_finding(leaf, count, found.get(ref(leaf[1], leaf[2])),
                             lambda n: log.digest[32 * n:32 * n + 8].hex())
            if f is not None:
                findings.append(f)


def leaf_finding(leaf: list[Any], count: int, now_at: int | None, digest16: Any) -> Finding | None:
    """A leaf not found where the checkpoint put it: the event is gone, changed, or
    only moved along because something before it was removed or added (that is
    reported on its own: no finding)."""
    n, key, seq, d16 = leaf
    at = f"desk log #{n}, signed in checkpoint #{count}"
    if now_at is None:
        return Finding(key, seq, "deleted", f"event {seq} is gone ({at})")
    if digest16(now_at) != d16:
        return Finding(key, seq, "altered", f"event {seq} differs from what was signed ({at})")
    return None
