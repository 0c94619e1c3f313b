"""Writing notifications to the outbox, in the transaction of the action.

Nothing is sent here: ``itsm outbox deliver`` (or ``itsm tick``) delivers
pending rows later, so an action never waits on a mail server and a message is
never sent for an action that rolled back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from engine.model import Message, ProcessSpec


def recipients(repo: Any, spec: ProcessSpec, values: Mapping[str, Any], message: Message,
               groups: Mapping[str, str] | None = None,
               langs: dict[str, str] | None = None) -> list[str]:
    """Addresses for one message: e-mail addresses, or phone numbers for SMS.
    ``langs`` (when given) gets the language of each address that is a person's
    with one (people.lang)."""
    out: list[str] = []
    sms = message.channel == "sms"

    def add_person(ident: Any) -> None:
        if not ident:
            return
        person = repo.find_person(str(ident))
        if person is not None:
            address = person.get("phone") if sms else person.get("email")
            if address:
                out.append(str(address))
                if langs is not None and person.get("lang"):
                    langs.setdefault(str(address), str(person["lang"]))
        elif "@" in str(ident) and not sms:
            out.append(str(ident))

    for target in message.to:
        if "@" in target:
            out.append(target)
        elif target in ("group", "group_mailbox"):
            mailbox = (groups or {}).get(values.get("group") or "")
            if target == "group_mailbox" and mailbox and not sms:  # codes/groups.yaml email
                out.append(mailbox)
            else:  # every member of the ticket's support group
                for pid in repo.group_members(values.get("group")) if values.get("group") else ():
                    add_person(pid)
        elif target == "reporter" and sms and values.get("reporter_phone"):
            out.append(str(values["reporter_phone"]))  # end users are reached on the ticket's number
        elif target in ("reporter", "assignee") or (target in spec.fields and spec.fields[target].type in ("user", "email")):
            add_person(values.get(target))
        else:  # a role: everyone who holds it
            for pid in repo.people_with_role(target):
                add_person(pid)
    return list(dict.fromkeys(out))


def enqueue(repo: Any, spec: ProcessSpec, ticket_id: int | None, event_seq: int | None,
            values: Mapping[str, Any], messages: Iterable[Message], payload: Mapping[str, Any],
            lang: str, now: datetime, groups: Mapping[str, str] | None = None,
            fallback_lang: str | None = None) -> int:
    """Write one outbox row per recipient of each message; returns how many.
    Each row is in its recipient's language: the person's, else ``fallback_lang``,
    else ``lang``."""
    rows = []
    for message in messages:
        langs: dict[str, str] = {}
        for address in recipients(repo, spec, values, message, groups, langs):
            rows.append({"ticket_id": ticket_id, "event_seq": event_seq, "channel": message.channel,
                         "recipient": address, "template": message.template,
                         "lang": langs.get(address) or fallback_lang or lang,
                         "payload": dict(payload), "status": "pending", "attempts": 0,
                         "next_attempt_at": now, "created_at": now})
    if rows:
        repo.add_outbox(rows)
    return len(rows)
