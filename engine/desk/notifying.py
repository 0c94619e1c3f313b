"""A ticket's messages, queued in the writer's transaction, and its status token.

- notify: one outbox row per message and recipient (engine.notify.outbox), with
  the payload templates see: the ticket's public view plus who is who, and the
  reporter's status token for the reporter only;
- the status token: derived from the deployment's secret key when there is one,
  else random; only its SHA-256 is stored (``tickets.token_hash``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import replace
from datetime import datetime
from typing import Any, Mapping, Sequence

from engine.errors import NotFound
from engine.i18n import N_
from engine.model import Definitions, ProcessSpec
from engine.notify.outbox import enqueue
from engine.runtime.context import service_view
from engine.runtime.ticket import Ticket
from engine.settings import Settings
from engine.desk.views import public_view
from engine.desk.context import Desk



def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def ticket_by_token(repo: Any, key: str, token: str | None) -> int:
    """The id of the ticket ``key`` if ``token`` is its status token.  A wrong key
    and a wrong token get the same refusal, and the comparison takes the same
    time, so keys cannot be enumerated."""
    given = token_hash(token or "")
    found = repo.find_ticket_by_token(key.strip().upper())
    stored = found[1] if found and found[1] else "0" * 64
    if not hmac.compare_digest(stored, given) or found is None:
        raise NotFound(N_("no ticket with that key and token"))
    return int(found[0])


def token_for(settings: Settings, key: str) -> str:
    """The reporter's status token: derived from the deployment's secret key when
    one is configured (so every message to the reporter can carry a working
    link), else random and only in the acknowledgement."""
    secret = settings.secret_key
    if not secret:
        return secrets.token_urlsafe(18)
    digest = hmac.new(secret.encode(), f"itsm-status:{key}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:24]


def notify(desk: Desk, repo: Any, spec: ProcessSpec, ticket: Ticket, seq: int | None,
           messages: Sequence[Any], extra: Mapping[str, Any], now: datetime,
           reporter_lang: str | None = None) -> int:
    """Queue messages in this transaction; the payload is what templates see.
    Each message is in its recipient's language: a person's ``lang``, else, for
    the reporter, the language the ticket is written in, else ``reporter_lang``
    (the mailbox's), else the desk's."""
    payload = {"key": ticket.key, "ticket": message_ticket(desk, spec, ticket), **extra}
    reply_to = reply_address(desk.defs, spec.id)
    if reply_to:
        payload["reply_to"] = reply_to
    reporter_lang = written_in(ticket.values) or reporter_lang or desk.lang
    token = payload.pop("token", None) or (token_for(desk.settings, ticket.key)
                                           if desk.settings.secret_key else None)
    total = 0
    mailboxes = group_mailboxes(desk.defs)
    singles = desk.defs.derived.setdefault("notifying.singles", {})  # messages are immutable
    for message in messages:
        for target in message.to:  # the status token goes to the reporter and nobody else
            one = _single(singles, message, target)
            data = dict(payload, token=token) if target == "reporter" and token else payload
            total += enqueue(repo, spec, ticket.id, seq, ticket.values, [one], data, desk.lang, now,
                             mailboxes, reporter_lang if target == "reporter" else None)
    return total


def _single(memo: dict[Any, Any], message: Any, target: str) -> Any:
    """``message`` to ``target`` alone (kept: a replace() costs more than the look-up)."""
    try:
        one = memo.get((message, target))
    except TypeError:  # a message that is not hashable
        return replace(message, to=(target,))
    if one is None:
        if len(memo) >= 4096:
            memo.clear()
        one = memo[message, target] = replace(message, to=(target,))
    return one


def written_in(values: Mapping[str, Any]) -> str | None:
    """'zh' when the ticket's title or description holds Chinese (a Han
    character), 'en' when it has letters and no Chinese, else None."""
    text = f"{values.get('title') or ''} {values.get('description') or ''}"[:2000]
    if _HAN.search(text):
        return "zh"
    return "en" if any(c.isalpha() for c in text) else None


_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")


def reply_address(defs: Definitions, process: str) -> str | None:
    """The address replies to messages about ``process`` tickets go to: its
    first mailbox in codes/mailboxes.yaml (worked out once per definitions)."""
    memo = defs.derived.setdefault("notifying.reply_address", {})
    if process not in memo:
        memo[process] = _reply_address(defs, process)
    return memo[process]


def _reply_address(defs: Definitions, process: str) -> str | None:
    table = defs.codes.get("mailboxes")
    for box in (table.values.values() if table else ()):
        if box.get("process") == process and box.get("address"):
            return str(box.get("address"))
    return None


_MAILBOXES: dict[str, dict[str, str]] = {}  # per definitions hash


def group_mailboxes(defs: Definitions) -> dict[str, str]:
    """Support group -> its shared mailbox (codes/groups.yaml ``email``)."""
    found = _MAILBOXES.get(defs.sha256)
    if found is None:
        table = defs.codes.get("groups")
        found = {g: v.get("email") for g, v in table.values.items() if v.get("email")} if table else {}
        _MAILBOXES.clear()
        _MAILBOXES[defs.sha256] = found
    return found


def message_ticket(desk: Desk, spec: ProcessSpec, ticket: Ticket) -> dict[str, Any]:
    """The ticket as messages show it: public information only."""
    view = public_view(desk.defs, spec, ticket, desk.lang, desk.iso)
    view.update(assignee=ticket.values.get("assignee"), reporter=ticket.values.get("reporter"),
                group=ticket.values.get("group"), reason=ticket.values.get("reason"))
    for fid in spec.user_fields:  # who is who: manager, technical lead, approver...
        view[fid] = ticket.values.get(fid)
    offering = ticket.values.get("offering")
    if offering:
        offerings = (service_view(desk.defs, ticket.values.get("service")) or {}).get("offerings") or {}
        view["offering_label"] = (offerings.get(offering) or {}).get("label") or offering
    return view
