"""Helpers of the mail tests (fixtures in conftest.py): a throwaway Dovecot IMAP server and a real SMTP
server (aiosmtpd), both on the loopback interface, one of each per module.

Dovecot runs from its own configuration under a temporary folder: plaintext
login allowed (loopback only), users in a passwd-file, maildirs in the folder.
Without Dovecot the IMAP tests are skipped, unless CI is set (CI=true): there
they fail, since .ci/run installs it.
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import os
import pwd
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

LOOPBACK = "127.0.0.1"
DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
CORPUS = Path(__file__).parent / "corpus"
IMAP_USER, IMAP_PASSWORD = "servicedesk", "imap-test-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def need_dovecot() -> str:
    if DOVECOT:
        return DOVECOT
    if os.environ.get("CI"):
        pytest.fail("dovecot is not installed (apt-get install dovecot-imapd; .ci/run does it)")
    pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    raise AssertionError  # pragma: no cover


@dataclass
class Imap:
    host: str
    port: int  # plaintext (loopback)
    user: str
    password: str
    folder: Path
    tls_port: int = 0  # IMAPS, with the self-signed certificate ``ca_file``
    ca_file: str = ""

    def client(self) -> imaplib.IMAP4:
        c = imaplib.IMAP4(self.host, self.port, timeout=10)
        c.login(self.user, self.password)
        return c

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        c = self.client()
        try:
            status, _ = c.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            assert status == "OK"
        finally:
            c.logout()

    def unseen(self, folder: str = "INBOX") -> int:
        c = self.client()
        try:
            c.select(folder)
            _, found = c.search(None, "UNSEEN")
            return len((found[0] or b"").split())
        finally:
            c.logout()

    def clear(self, folder: str = "INBOX") -> None:
        c = self.client()
        try:
            c.select(folder)
            c.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
            c.expunge()
        except imaplib.IMAP4.error:
            pass
        finally:
            c.logout()


def self_signed(base: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (cryptography, a dependency of itsm)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "itsm test IMAP")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = base / "cert.pem", base / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(key_file, 0o600)
    return cert_file, key_file


def dovecot_config(base: Path, port: int, tls_port: int) -> Path:
    root = os.geteuid() == 0
    if root:  # dovecot will not deliver mail as root: the mail belongs to its own user
        mail_user = pwd.getpwnam("dovecot") if _user_exists("dovecot") else pwd.getpwnam("nobody")
        login_user = "dovenull" if _user_exists("dovenull") else mail_user.pw_name
        internal = mail_user.pw_name
    else:
        mail_user = pwd.getpwuid(os.getuid())
        login_user = internal = mail_user.pw_name
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    for sub in ("run", "state"):
        (base / sub).mkdir(exist_ok=True)
    if root:
        os.chown(home, mail_user.pw_uid, mail_user.pw_gid)
    (base / "passwd").write_text(f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}::::::\n", encoding="utf-8")
    cert_file, key_file = self_signed(base)
    conf = base / "dovecot.conf"
    conf.write_text(f"""
protocols = imap
listen = {LOOPBACK}
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
ssl = yes
ssl_cert = <{cert_file}
ssl_key = <{key_file}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal}
first_valid_uid = {mail_user.pw_uid}
last_valid_uid = {mail_user.pw_uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={home}/%u
}}
mail_location = maildir:{home}/%u/Maildir
namespace inbox {{
  inbox = yes
  mailbox Done {{
    auto = create
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = {LOOPBACK}
    port = {port}
  }}
  inet_listener imaps {{
    address = {LOOPBACK}
    port = {tls_port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""", encoding="utf-8")
    return conf


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


# --- SMTP ------------------------------------------------------------------------------

class _Handler:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(),
                                           policy=email.policy.default)
        message["X-Test-Rcpt"] = ",".join(envelope.rcpt_tos)
        with self.lock:
            self.mails.append(message)  # type: ignore[arg-type]
        return "250 accepted"


@dataclass
class Smtp:
    host: str
    port: int
    handler: _Handler

    @property
    def mails(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.mails)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.mails if address in str(m["X-Test-Rcpt"])]


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()
