"""Ed25519 signatures of the journal's checkpoints (the only importer of
``cryptography``): key pairs in PEM files, signing and verifying bytes.

The signing key belongs on the one host that makes checkpoints, the public key
with the auditors; neither is in the database, and the desk's HMAC key is not
enough to sign (docs/auditor-guide.md).
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from engine.errors import UsageError
from engine.i18n import N_, message


def generate() -> tuple[bytes, bytes]:
    """A new key pair as (private PEM, public PEM)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def write_new(path: Path, data: bytes, mode: int) -> None:
    """Write a key file that must not exist yet (never overwrite a key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise UsageError(N_("{path} exists: itsm never overwrites a key (move it away first)"),
                         values={"path": path}) from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _read(path: str | Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(N_("cannot read the {what} {path}: {strerror}"),
                         values={"what": message(what), "path": path, "strerror": exc}) from None


def load_private(path: str | Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path, N_("signing key")), password=None)
    except (ValueError, TypeError) as exc:
        raise UsageError(N_("{path}: not an unencrypted PEM private key ({exc})"),
                         values={"path": path, "exc": exc}) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(N_("{path}: not an Ed25519 key"), values={"path": path})
    return key


def load_public(path: str | Path) -> Ed25519PublicKey:
    data = _read(path, N_("public key"))
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:  # a private key file gives its public key too
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise UsageError(N_("{path}: not a PEM public key"), values={"path": path}) from None
        key = private.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(N_("{path}: not an Ed25519 key"), values={"path": path})
    return key


def public_of(private: Ed25519PrivateKey) -> Ed25519PublicKey:
    return private.public_key()


def key_id(public: Ed25519PublicKey) -> str:
    """A short name of a public key: the start of the SHA-256 of its raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(private: Ed25519PrivateKey, data: bytes) -> str:
    return base64.b64encode(private.sign(data)).decode("ascii")


def verify(public: Ed25519PublicKey, data: bytes, signature: str) -> bool:
    try:
        public.verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True
