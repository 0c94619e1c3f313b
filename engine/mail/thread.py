"""Threading: the subject tag, our Message-IDs, and the headers outgoing mail carries.

Every message about a ticket refers to the ticket's root id
``<KEY.itsm@domain>``; each outbox row has its own id
``<itsm-outbox-N@domain>``.  A reply names one of them in In-Reply-To or
References, or keeps the subject tag ``[KEY]``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Iterable

KEY = r"[A-Z][A-Z0-9]{0,15}-\d{1,12}"
TAG = re.compile(r"[\[【](" + KEY + r")[\]】]")
ROOT_ID = re.compile(r"<(" + KEY + r")\.itsm@([^>\s]+)>")
OUTBOX_ID = re.compile(r"<itsm-outbox-(\d{1,18})@([^>\s]+)>")
MSGID = re.compile(r"<[^<>\s]{1,250}>")


def domain_of(address: str) -> str:
    return (address.rsplit("@", 1)[-1] or "itsm.local").strip("<> ") or "itsm.local"


def root_id(key: str, domain: str) -> str:
    """The Message-ID every message about ``key`` refers to (the thread's root)."""
    return f"<{key}.itsm@{domain}>"


def tag(key: str) -> str:
    return f"[{key}]"


def tagged(subject: str, key: str) -> str:
    """``subject`` with the ticket's tag ``[KEY]`` in front, once (a Chinese
    template's 【KEY】 becomes the tag)."""
    if tag(key) in subject:
        return subject
    if f"【{key}】" in subject:
        return subject.replace(f"【{key}】", tag(key) + " ", 1).replace("  ", " ")
    return f"{tag(key)} {subject}".strip()


MAX_IDS = 50


def ids(*headers: str | None) -> list[str]:
    """Message-IDs named in In-Reply-To / References values, in order, at most
    MAX_IDS: the first ones (In-Reply-To, then the thread's root, which clients
    keep first in References) and the last ones."""
    out: list[str] = []
    for h in headers:
        out.extend(MSGID.findall(h or ""))
    found = list(dict.fromkeys(out))
    return found if len(found) <= MAX_IDS else found[: MAX_IDS // 2] + found[-(MAX_IDS // 2):]


def _ours(domain: str, domains: Iterable[str] | None) -> bool:
    return domains is None or domain.lower() in domains


def keys_in_ids(message_ids: Iterable[str], domains: Iterable[str] | None = None) -> list[str]:
    """Ticket keys of our root ids among ``message_ids`` (of one of ``domains``, lower
    case, when given: another desk running itsm writes the same shape under its own)."""
    return [m.group(1) for m in (ROOT_ID.fullmatch(i) for i in message_ids) if m and _ours(m.group(2), domains)]


def outbox_ids(message_ids: Iterable[str], domains: Iterable[str] | None = None) -> list[int]:
    return [int(m.group(1)) for m in (OUTBOX_ID.fullmatch(i) for i in message_ids)
            if m and _ours(m.group(2), domains)]


def subject_key(subject: str) -> str | None:
    found = TAG.search(subject or "")
    return found.group(1) if found else None


PLUS = re.compile(r"^([^+@]+)\+(" + KEY + r")-([a-z2-7]{10})@(.+)$", re.IGNORECASE)


def _signature(secret: str, key: str) -> str:
    digest = hmac.new(secret.encode(), f"itsm-reply:{key.upper()}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:10]


def reply_address(mailbox: str, key: str, secret: str | None) -> str:
    """The address replies about ``key`` go to: ``desk+KEY-signature@domain``
    when a secret is configured (a reply to it threads whoever sends it), else
    the mailbox itself."""
    if not secret or "@" not in mailbox:
        return mailbox
    local, domain = mailbox.rsplit("@", 1)
    return f"{local}+{key}-{_signature(secret, key)}@{domain}"


def base_address(address: str) -> str:
    """``desk+anything@domain`` -> ``desk@domain`` (lower case)."""
    local, _, domain = address.lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}" if local else address.lower()


def keys_in_addresses(addresses: Iterable[str], secret: str | None) -> list[str]:
    """Ticket keys of signed reply addresses among ``addresses`` (checked against ``secret``)."""
    if not secret:
        return []
    out = []
    for address in addresses:
        found = PLUS.match(address)
        if found and hmac.compare_digest(found.group(3).lower(), _signature(secret, found.group(2))):
            out.append(found.group(2).upper())
    return out
