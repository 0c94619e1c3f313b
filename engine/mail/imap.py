"""Fetching mail from an IMAP mailbox (stdlib ``imaplib``).

:func:`poll` takes each unseen message of the folder in turn, hands its bytes
to ``handle`` (which commits its own transaction), and only then marks it: moved
to ``done_folder`` when one is configured, else flagged ``\\Seen``.  A poller
killed between the two leaves the message unseen, to be handled again on the
next poll; the store's Message-ID record makes that second handling a no-op.
"""

from __future__ import annotations

import imaplib
import os
import ssl
import time
from dataclasses import dataclass
from typing import Callable

from engine.i18n import N_, message


HEADER_BYTES = 64 * 1024  # of a message over the size limit, what is fetched: its header, at most this


class MailboxUnavailable(Exception):
    """The IMAP server could not be reached, or refused us."""


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int = 993
    tls: str = "ssl"  # ssl | starttls | none (loopback only)
    username: str = ""
    password: str = ""
    folder: str = "INBOX"
    done_folder: str | None = None
    timeout: float = 30.0
    verify: bool = True  # check the server's certificate
    ca_file: str | None = None  # the CA that signed it (an internal CA), else the system's


def _connect(account: ImapAccount) -> imaplib.IMAP4:
    context = ssl.create_default_context(cafile=account.ca_file)
    if not account.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if account.tls == "ssl":
        client: imaplib.IMAP4 = imaplib.IMAP4_SSL(account.host, account.port, ssl_context=context,
                                                  timeout=account.timeout)
    else:
        client = imaplib.IMAP4(account.host, account.port, timeout=account.timeout)
        if account.tls == "starttls":
            client.starttls(ssl_context=context)
        elif account.host not in ("127.0.0.1", "::1", "localhost"):
            raise MailboxUnavailable(message(N_("IMAP without TLS is allowed on loopback only, not {host}"),
                                             host=account.host))
    client.login(account.username, account.password)
    return client


def poll(account: ImapAccount, handle: Callable[[bytes], object], limit: int = 500,
         max_bytes: int = 25 * 1024 * 1024) -> list[object]:
    """Handle up to ``limit`` unseen messages; returns what ``handle`` returned for each."""
    try:
        client = _connect(account)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxUnavailable(message("IMAP {host}:{port}: {error}", host=account.host, port=account.port,
                                         error=exc)) from None
    pause = float(os.environ.get("ITSM_TEST_MAIL_POLL_PAUSE") or 0)  # tests: kill mid-batch
    results: list[object] = []
    try:
        status, _ = client.select(_quote(account.folder))
        if status != "OK":
            raise MailboxUnavailable(message(N_("IMAP folder {folder!r} cannot be opened"),
                                             folder=account.folder))
        status, found = client.uid("SEARCH", None, "UNSEEN")
        uids = (found[0] or b"").split()[:limit] if status == "OK" else []
        for uid in uids:
            status, sized = client.uid("FETCH", uid, "(RFC822.SIZE)")
            size = _size(sized)
            if size is not None and size > max_bytes:  # its header only, so the log says whose
                # it was and the next one of the same size is no "duplicate" of it
                try:
                    status, head = client.uid("FETCH", uid, f"(BODY.PEEK[HEADER]<0.{HEADER_BYTES}>)")
                except imaplib.IMAP4.abort:
                    raise
                except imaplib.IMAP4.error:  # a server that will not fetch part of a header (BAD)
                    status, head = "NO", None
                header = next((part[1] for part in head or () if isinstance(part, tuple)), None) \
                    if status == "OK" else None
                results.append(handle(b"X-Itsm-Too-Large: " + str(size).encode() + b"\r\n"
                                      + (bytes(header) if header else  # two of one size: two digests
                                         b"X-Itsm-Imap-Uid: " + bytes(uid) + b"\r\n\r\n")))
            else:
                status, data = client.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next((part[1] for part in data or () if isinstance(part, tuple)), None)
                if status != "OK" or raw is None:
                    continue
                results.append(handle(bytes(raw)))  # commits before the message is marked
            if pause:
                time.sleep(pause)
            _done(client, account, uid)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxUnavailable(message("IMAP {host}:{port}: {error}", host=account.host, port=account.port,
                                         error=exc)) from None
    finally:
        try:
            client.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
    return results


def _size(data: list | None) -> int | None:
    for part in data or ():
        text = part if isinstance(part, bytes) else part[0] if isinstance(part, tuple) else b""
        marker = text.find(b"RFC822.SIZE ")
        if marker >= 0:
            digits = text[marker + 12:].split(b")")[0].split()[0]
            return int(digits) if digits.isdigit() else None
    return None


def _done(client: imaplib.IMAP4, account: ImapAccount, uid: bytes) -> None:
    if account.done_folder:
        status, _ = client.uid("COPY", uid, _quote(account.done_folder))
        if status == "OK":
            client.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted \Seen)")
            client.expunge()
            return
    client.uid("STORE", uid, "+FLAGS.SILENT", r"(\Seen)")


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def append(account: ImapAccount, raw: bytes) -> None:
    """Put one message into the folder (IMAP APPEND): for tests and imports."""
    client = _connect(account)
    try:
        client.append(_quote(account.folder), "", imaplib.Time2Internaldate(time.time()), raw)
    finally:
        client.logout()
