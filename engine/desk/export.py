"""The journal for an auditor's offline check, and the keys of the journal.

``itsm audit export FILE`` writes JSON lines: a header, every sealed event in
desk order (its canonical content: what its content digest covers), then every
checkpoint.  ``itsm audit verify --export FILE --public-key K`` checks it with
no database and no HMAC key: each checkpoint's signature, the running digest
of the events at each checkpoint's count, each event a checkpoint named, and
that every ticket's events follow each other (1, 2, 3...).  What it proves is
what the checkpoints signed; events sealed after the last checkpoint are
counted but proven by nothing yet.

``itsm audit keygen`` writes the HMAC key file and an Ed25519 key pair.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from engine.desk import checkpoints as cpmod
from engine.desk import signing
from engine.desk.context import Desk
from engine.desk.desklog import Finding
from engine.errors import UsageError
from engine.i18n import N_, message
from engine.journal import (
    GENESIS, content_digest, create_key_file, hashed_fields, ref, root_step, rotate_key_file,
)

FORMAT = "itsm-journal-export/1"


def _dumps(fields: dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def export(desk: Desk, path: str) -> dict[str, Any]:
    """Write the sealed journal and the checkpoints to ``path`` (``-``: stdout is the caller's)."""
    out = Path(path)
    tmp = out.with_name(out.name + ".part")
    n = 0
    try:
        f = open(tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise UsageError(N_("cannot write {path}: {error}"), values={"path": path, "error": exc}) from None
    with desk.store.read() as repo, f:
        head = repo.audit.head()
        cps = repo.audit.checkpoints()
        f.write(json.dumps({"format": FORMAT, "desk": head["desk_id"], "count": head["count"],
                            "checkpoints": len(cps), "digest_root": head["digest_root"],
                            "exported_at": desk.iso(desk.now()), "unsealed": repo.audit.count_unsealed()}) + "\n")
        for e in repo.audit.desk_order():
            fields = hashed_fields(e)
            fields["ticket"], fields["process"] = e["ticket_key"], e["ticket_process"]
            f.write(json.dumps({"desk_seq": e["desk_seq"], "event": fields}, ensure_ascii=False,
                               separators=(",", ":"), default=str) + "\n")
            n += 1
        for cp in cps:
            f.write(json.dumps({"checkpoint": json.loads(cp["line"])}, ensure_ascii=False,
                               separators=(",", ":")) + "\n")
    os.replace(tmp, out)
    return {"path": str(out), "events": n, "checkpoints": len(cps), "count": head["count"]}


def verify_export(path: str, public_key: str, witness: str | None = None) -> dict[str, Any]:
    """Check an export offline; {events, tickets, checkpoints, last_checkpoint, unproven, problems}."""
    public = signing.load_public(public_key)
    findings: list[Finding] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(N_("--export {path}: {strerror}"),
                         values={"path": path, "strerror": message(exc.strerror or str(exc))}) from None
    try:
        header = json.loads(lines[0]) if lines else {}
    except ValueError:
        header = {}
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise UsageError(N_("{path} is not an itsm journal export (itsm audit export FILE)"),
                         values={"path": path})
    names, digests = [""], [""]
    expected = 1  # the desk log place the next event line should hold
    roots: list[str] = [GENESIS]
    last_seq: dict[str, int] = {}
    cp_lines: list[str] = []
    for n, text in enumerate(lines[1:], 2):
        try:
            row = json.loads(text)
        except ValueError:
            findings.append(Finding(None, None, "altered", f"{path}:{n}: not JSON"))
            continue
        if isinstance(row, dict) and "checkpoint" in row:
            cp_lines.append(json.dumps(row["checkpoint"]))
            continue
        e = row.get("event") if isinstance(row, dict) else None
        if not isinstance(e, dict):  # JSON, but no line export writes ([1], null, an event that is a list)
            findings.append(Finding(None, None, "altered", f"{path}:{n}: not an event of the journal"))
            continue
        key, seq = e.get("ticket"), e.get("seq")
        at = row.get("desk_seq")
        if not isinstance(at, int) or at > expected:  # a gap: named once, not on every line after it
            many = f"#{expected}" if at == expected + 1 or not isinstance(at, int) else f"#{expected}-{at - 1}"
            findings.append(Finding(key, seq, "deleted", f"desk log {many} missing from the export "
                                    f"(the next line is #{at})"))
        elif at < expected:
            findings.append(Finding(key, seq, "reordered", f"desk log #{at} comes after #{expected - 1} in the "
                                    "export"))
        expected = max(expected, at + 1) if isinstance(at, int) else expected + 1
        if isinstance(seq, int) and seq != last_seq.get(key, 0) + 1:
            findings.append(Finding(key, seq, "deleted" if seq > last_seq.get(key, 0) else "reordered",
                                    f"event {seq} follows event {last_seq.get(key, 0)} of {key}"))
        last_seq[str(key)] = seq if isinstance(seq, int) else 0
        digest = content_digest(_dumps(e))
        names.append(ref(str(key), seq if isinstance(seq, int) else 0))
        digests.append(digest)
        roots.append(root_step(roots[-1], digest))
    count = len(names) - 1
    _check_header(header, count, len(cp_lines), findings)
    if witness:
        try:
            lines = Path(witness).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(N_("--checkpoints {witness}: {strerror}"),
                             values={"witness": witness, "strerror": message(exc.strerror or str(exc))}) from None
        cps = cpmod.check_signatures(cpmod.read_lines(lines, witness, findings), public, header.get("desk"), findings)
        cpmod.check_start(cps, cpmod.read_lines(cp_lines, path, []), public, header.get("desk"), "the export",
                          findings)
    else:
        cps = cpmod.check_signatures(cpmod.read_lines(cp_lines, path, findings), public, header.get("desk"), findings)
    if count and not cps:
        findings.append(Finding(None, None, "checkpoint", f"{witness or path}: no signed checkpoint to hold the "
                                f"{count} event(s) against: nothing in the export is proven"))
    where: dict[str, int] | None = None
    for cp in cps:
        c = cp.line["count"]
        if c > count:  # its leaves still name the events that are gone
            findings.append(Finding(None, None, "checkpoint", f"{cp.where}: checkpoint #{c} signed {c} events, "
                                    f"the export has {count}: events removed"))
        elif roots[c] != cp.line["digest_root"]:
            findings.append(Finding(None, None, "checkpoint", f"{cp.where}: the journal up to desk log #{c} "
                                    "differs from what this checkpoint signed"))
        for leaf in cp.line.get("leaves") or []:
            n = leaf[0]
            if not (0 < n <= count and names[n] == ref(leaf[1], leaf[2]) and digests[n][:16] == leaf[3]):
                where = where or {name: i for i, name in enumerate(names) if i}
                f = cpmod.leaf_finding(leaf, c, where.get(ref(leaf[1], leaf[2])), lambda i: digests[i][:16])
                if f is not None:
                    findings.append(f)
    last = cps[-1].line["count"] if cps else 0
    problems = [{"ticket": f.ticket, "seq": f.seq, "kind": f.kind, "message": f.message} for f in findings]
    return {"events": count, "tickets": len(last_seq), "checkpoints": len(cps), "last_checkpoint": last or None,
            "unproven": max(0, count - last), "problems": problems}


def _check_header(header: dict[str, Any], events: int, checkpoints: int, findings: list[Finding]) -> None:
    """The header's counts against the lines the export holds: the newest events
    or the checkpoint lines cut off show, even when no checkpoint signed them
    (an export written before the header counted its checkpoints has no such count)."""
    declared = header.get("count")
    if isinstance(declared, int) and declared != events:
        findings.append(Finding(None, None, "deleted" if events < declared else "altered",
                                f"the export's header counts {declared} sealed events, the export holds {events}"))
    declared = header.get("checkpoints")
    if isinstance(declared, int) and declared != checkpoints:
        findings.append(Finding(None, None, "checkpoint", f"the export's header counts {declared} checkpoint(s), "
                                f"the export holds {checkpoints}"))


def keygen(desk: Desk, folder: str | None, rotate: bool) -> dict[str, Any]:
    """Write ``audit.key`` (HMAC, 0600), ``audit-signing.pem`` (Ed25519 private, 0600)
    and ``audit-signing.pub.pem`` into ``folder`` (default: the state folder);
    ``rotate``: put a new current key in front of the key file's old ones."""
    base = Path(folder) if folder else desk.state_dir
    audit = desk.settings.audit
    key_file = Path(audit.key_file) if audit.key_file and not folder else base / "audit.key"
    if rotate:
        if not key_file.is_file():
            raise UsageError(N_("{key_file} does not exist: 'itsm audit keygen' makes it first"),
                             values={"key_file": key_file})
        try:
            return {"key_file": str(key_file), "key_id": rotate_key_file(key_file), "rotated": True}
        except OSError as exc:
            raise UsageError(N_("cannot write {path}: {error}"), values={"path": key_file, "error": exc}) from None
    if key_file.exists():
        raise UsageError(N_("{key_file} exists: itsm never overwrites a key ('--rotate' adds a new one)"),
                         values={"key_file": key_file})
    private, public = signing.generate()
    signing_file, public_file = base / "audit-signing.pem", base / "audit-signing.pub.pem"
    try:  # a folder that cannot be made (a file on the way), no permission: the user's to fix
        base.mkdir(parents=True, exist_ok=True)
        signing.write_new(signing_file, private, 0o600)
        signing.write_new(public_file, public, 0o644)
        create_key_file(key_file)
    except OSError as exc:
        raise UsageError(N_("cannot write {path}: {error}"),
                         values={"path": exc.filename or base, "error": exc}) from None
    return {"key_file": str(key_file), "signing_key": str(signing_file), "public_key": str(public_file),
            "public_key_id": signing.key_id(signing.load_public(public_file)), "rotated": False}
