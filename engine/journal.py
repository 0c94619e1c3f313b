"""The journal's hashes and keys: pure functions shared by the store and the audit.

Three chains cover the journal (docs/auditor-guide.md tells what each proves):

- per ticket, ``hash = HMAC-SHA256(key, prev_hash + canonical)``: the canonical
  text of an event names its ticket, process and sequence number, so an event
  cannot be edited, moved to another ticket or renumbered without the key;
- desk-wide, in the order ``itsm tick`` seals events: ``desk_hash`` links each
  event to the one sealed before it (keyed too), so deleting a ticket or the
  tail of a journal leaves a gap;
- the same order as a plain running digest of each event's ``content_digest``
  (SHA-256 of its canonical text): what signed checkpoints record, checkable
  with no key at all (an exported journal, offline).

Events written before the keyed journal (``key_id`` NULL) carry a plain SHA-256
chain over the older canonical text (:func:`event_hash`), still checked.

Keys come from ``ITSM_AUDIT_KEY`` or a key file (:class:`KeyRing`); they live
outside the database, so a database administrator cannot recompute a chain.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from engine.errors import UsageError
from engine.i18n import N_, message

GENESIS = "0" * 64
# What an event's ``changes`` records besides fields (engine.desk: where a person's
# change came from, a link, an attachment, a mail, an alert; engine.clock.sla: a
# calendar switch, the targets of the clocks it stopped; the priority override).
# The process schema refuses them as field ids (engine/schemas/process.schema.json),
# so a field's change is never taken for one of these records, or one for a field.
RECORD_KEYS = frozenset({"alert", "attachment", "link", "mail", "origin", "priority_overridden",
                         "sla_calendar", "sla_target"})
HASHED = ("seq", "action", "actor", "role", "from_state", "to_state", "changes", "note",
          "public", "definition_version", "effective_at", "recorded_at")


def _utc(value: Any) -> Any:
    if type(value) is datetime and value.tzinfo is None:  # as stored: naive UTC
        return value.isoformat()
    if isinstance(value, datetime):
        if value.tzinfo is timezone.utc:  # the engine's clock: no conversion needed
            value = value.replace(tzinfo=None)
        elif value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat()
    return value


def hashed_fields(event: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of an event the hash covers (everything but ids and the hashes)."""
    return {k: _utc(event.get(k)) for k in HASHED}


_ENCODE = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode


def _dumps(fields: Mapping[str, Any]) -> str:
    return _ENCODE(fields)


def event_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The unkeyed (legacy) hash of an event written before the keyed journal."""
    return hashlib.sha256((prev_hash + _dumps(fields)).encode("utf-8")).hexdigest()


# -- the keyed journal ------------------------------------------------------------------------
def canonical(event: Mapping[str, Any], ticket: str, process: str) -> str:
    """The text every hash of an event covers: its content, its ticket's key and
    process, and its sequence number (JSON, sorted keys, times as naive UTC)."""
    get = event.get
    fields = {k: get(k) for k in HASHED}  # only the two times need converting
    fields["effective_at"] = _utc(fields["effective_at"])
    fields["recorded_at"] = _utc(fields["recorded_at"])
    fields["ticket"] = ticket
    fields["process"] = process
    return _ENCODE(fields)


_KEYED: dict[bytes, Any] = {}  # key -> an HMAC-SHA256 holding it, copied for each event


def keyed_hash(secret: bytes, prev_hash: str, text: str) -> str:
    """The event's link in its ticket's chain.  HMAC-SHA256 from a copy of a
    context that already holds the key: ``hmac.digest`` looks the digest up in
    OpenSSL and sets the key again on every call (11 against 16-19 µs an event
    in an action, where OpenSSL's tables are no longer in the CPU's caches)."""
    base = _KEYED.get(secret)
    if base is None:
        if len(_KEYED) >= 16:  # a ring holds a few keys; tests make many
            _KEYED.clear()
        base = _KEYED[secret] = hmac.new(secret, digestmod=hashlib.sha256)
    h = base.copy()
    h.update((prev_hash + text).encode("utf-8"))
    return h.hexdigest()


def content_digest(text: str) -> str:
    """Plain SHA-256 of the canonical text: recomputable without the key."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ref(ticket: str, seq: int) -> str:
    """How the desk log names an event: ``INC-000001#3``."""
    return f"{ticket}#{seq}"


def desk_link(secret: bytes, prev_desk_hash: str, n: int, prev_ref: str, digest: str) -> str:
    """The ``n``-th link of the desk-wide log; ``prev_ref`` names the event sealed
    before it, so a deleted event is named by the one that followed it."""
    return hmac.digest(secret, f"{prev_desk_hash}|{n}|{prev_ref}|{digest}".encode("utf-8"), "sha256").hex()


def head_mac(key_id: str, secret: bytes, head: Mapping[str, Any]) -> str:
    """The keyed seal of the desk-wide log's head (``KEY_ID:HMAC``): without the key
    no other head can be written, so cutting off the newest sealed events shows."""
    text = f"{head['desk_id']}|{head['count']}|{head['desk_hash']}|{head['digest_root']}|{head['head_ref']}"
    return f"{key_id}:" + hmac.digest(secret, text.encode("utf-8"), "sha256").hex()


def root_step(prev_root: str, digest: str) -> str:
    """One step of the plain running digest that checkpoints sign."""
    return hashlib.sha256((prev_root + digest).encode("ascii")).hexdigest()


# -- keys ----------------------------------------------------------------------------------
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
MIN_SECRET = 16  # bytes


def _b64(text: str) -> bytes | None:
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text
                               else None, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) >= MIN_SECRET else None


def bare_key_id(secret: bytes) -> str:
    """The id of a key given without one: a short digest of it."""
    return "k" + hashlib.sha256(b"itsm-audit-key-id\0" + secret).hexdigest()[:8]


@dataclass(frozen=True)
class KeyRing:
    """The HMAC keys of the journal, newest (current) first; older keys only verify."""

    keys: tuple[tuple[str, bytes], ...]
    source: str  # where they came from, for messages (never the secret)

    def __post_init__(self) -> None:
        if not self.keys:
            raise UsageError(N_("{source}: no audit key in it"), values={"source": self.source})
        ids = [k for k, _ in self.keys]
        if len(set(ids)) != len(ids):
            raise UsageError(N_("{source}: a key id appears twice"), values={"source": self.source})

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    @property
    def current(self) -> bytes:
        return self.keys[0][1]

    def secret(self, key_id: str | None) -> bytes | None:
        for kid, secret in self.keys:
            if kid == key_id:
                return secret
        return None

    @property
    def ids(self) -> list[str]:
        return [k for k, _ in self.keys]


def parse_env(value: str) -> list[tuple[str, bytes]]:
    """``ITSM_AUDIT_KEY``: ``ID:BASE64`` (several, newest first, separated by
    commas or spaces), or one bare secret of at least 16 characters."""
    items = [i for i in re.split(r"[,\s]+", value.strip()) if i]
    parsed = []
    for item in items:
        kid, sep, b64 = item.partition(":")
        secret = _b64(b64) if sep and _ID.match(kid) else None
        if secret is None:
            break
        parsed.append((kid, secret))
    else:
        if parsed:
            return parsed
    raw = value.strip().encode("utf-8")
    if len(raw) < MIN_SECRET:
        raise UsageError(N_("ITSM_AUDIT_KEY: too short; give ID:BASE64 (at least {MIN_SECRET} bytes) or a "
                            "random secret of at least 16 characters ('itsm audit keygen' makes one)"),
                         values={"MIN_SECRET": MIN_SECRET})
    return [(bare_key_id(raw), raw)]


def parse_key_file(text: str, where: str) -> list[tuple[str, bytes]]:
    """A key file: one ``ID SECRET`` (base64) per line, the current key first;
    blank lines and ``#`` comments are ignored."""
    keys = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        secret = _b64(parts[1]) if len(parts) == 2 and _ID.match(parts[0]) else None
        if secret is None:
            raise UsageError(N_("{where}:{n}: expected 'ID SECRET' (SECRET: base64 of at least {MIN_SECRET} "
                                "bytes)"), values={"where": where, "n": n, "MIN_SECRET": MIN_SECRET})
        keys.append((parts[0], secret))
    return keys


def new_key_line() -> str:
    kid = "k" + secrets.token_hex(4)
    return f"{kid} {base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip('=')}\n"


_HEADER = ("# itsm audit keys (HMAC-SHA256): one 'ID SECRET' per line, the current key first;\n"
           "# older keys only verify events written under them.  Keep this file out of the\n"
           "# database's backups and readable by the desk's service account only.\n")


def create_key_file(path: Path) -> bool:
    """Write a new key file unless one exists (O_EXCL: of two processes racing,
    one writes it and the other reads it); True if this call wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(_HEADER + new_key_line())
        f.flush()
        os.fsync(f.fileno())
    return True


def rotate_key_file(path: Path) -> str:
    """Put a new current key at the top of ``path`` (the older keys stay, to verify
    what they signed); returns the new key's id."""
    old = path.read_text(encoding="utf-8")
    parse_key_file(old, str(path))
    line = new_key_line()
    body = "\n".join(x for x in old.splitlines() if not x.startswith("# itsm audit keys")
                     and x not in _HEADER.splitlines())
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(_HEADER + line + body.strip("\n") + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _RINGS.clear()
    _KEYED.clear()  # no key kept for hashing beyond its ring
    return line.split()[0]


_RINGS: dict[tuple[str, str, int, int], KeyRing] = {}  # per source, as of the key file's change time


def load_ring(env_value: str | None, key_file: Path | None, default_file: Path | None,
              create: bool) -> KeyRing | None:
    """The key ring: ``ITSM_AUDIT_KEY`` (plus the keys of a configured key file,
    which then only verify), else the configured key file (which must exist),
    else the default key file of the deployment's state folder, created when
    missing if ``create`` (the first write).  None: no key and none created."""
    path = key_file or default_file
    try:
        st = os.stat(path) if path is not None else None
    except OSError:
        st = None
    cache = (env_value or "", str(path or ""), st.st_mtime_ns if st else 0, st.st_size if st else 0)
    if cache in _RINGS:
        return _RINGS[cache]
    keys: list[tuple[str, bytes]] = []
    source = ""
    if env_value:
        keys, source = parse_env(env_value), "ITSM_AUDIT_KEY"
    if key_file is not None and not key_file.is_file():
        raise UsageError(N_("audit key file {key_file} does not exist: make one with 'itsm audit keygen' (or "
                            "fix ITSM_AUDIT_KEY_FILE / [audit] key_file)"), values={"key_file": key_file})
    if not keys and key_file is None and default_file is not None and not default_file.is_file():
        if not create:
            return None
        create_key_file(default_file)
    if path is not None and path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(N_("cannot read the audit key file {path}: {strerror}"),
                             values={"path": path, "strerror": message(exc.strerror or str(exc))}) from None
        more = parse_key_file(text, str(path))
        known = {k for k, _ in keys}
        keys += [k for k in more if k[0] not in known]
        source = source or str(path)
    if not keys:
        return None
    ring = KeyRing(tuple(keys), source)
    if path is not None and path.is_file():  # cached as of the file it was read from
        st = os.stat(path)
        cache = cache[:2] + (st.st_mtime_ns, st.st_size)
    _RINGS[cache] = ring
    return ring
