"""Delivery channels: SMTP e-mail and an HTTP webhook (for SMS/IM gateways).

Each channel sends one outbox row and either returns or raises
:class:`DeliveryFailed`.  Message ids are derived from the outbox row, so a
receiver can drop a duplicate if a crash made us send a row twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Mapping, Protocol

from engine.notify.templates import Rendered
from engine.settings import Settings


class DeliveryFailed(Exception):
    """The channel could not hand the message over; it will be retried."""


class Channel(Protocol):
    def send(self, row: Mapping[str, Any], message: Rendered, settings: Settings) -> str: ...


def message_id(row: Mapping[str, Any], settings: Settings) -> str:
    domain = (settings.smtp.sender.rsplit("@", 1)[-1] or "itsm.local").strip(">")
    return f"<itsm-outbox-{row['id']}@{domain}>"


class SmtpChannel:
    def send(self, row: Mapping[str, Any], message: Rendered, settings: Settings) -> str:
        cfg = settings.smtp
        if not cfg.host:
            raise DeliveryFailed("no SMTP server configured (smtp.host / ITSM_SMTP_HOST)")
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = cfg.sender
        mail["To"] = row["recipient"]
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = message_id(row, settings)
        if row.get("payload", {}).get("key"):
            mail["X-Itsm-Ticket"] = str(row["payload"]["key"])
        mail.set_content(message.text)
        if message.html:
            mail.add_alternative(message.html, subtype="html")
        try:
            if cfg.tls == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout,
                                                        context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            with client:
                if cfg.tls == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if cfg.username:
                    client.login(cfg.username, cfg.password or "")
                refused = client.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"SMTP {cfg.host}:{cfg.port}: {exc}") from None
        if refused:
            raise DeliveryFailed(f"SMTP refused {', '.join(refused)}")
        return mail["Message-ID"]


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel:
    def send(self, row: Mapping[str, Any], message: Rendered, settings: Settings) -> str:
        cfg = settings.webhook
        if not cfg.url:
            raise DeliveryFailed("no webhook configured (webhook.url / ITSM_WEBHOOK_URL)")
        ident = f"itsm-outbox-{row['id']}"
        body = json.dumps({"id": ident, "channel": row["channel"], "to": row["recipient"],
                           "subject": message.subject, "text": message.text,
                           "ticket": row.get("payload", {}).get("key"),
                           "template": row["template"], "lang": row["lang"]},
                          ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": ident,
                   "User-Agent": "itsm"}
        if cfg.secret:
            headers["X-Itsm-Signature"] = signature(cfg.secret, body)
        request = urllib.request.Request(cfg.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=cfg.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"webhook answered HTTP {exc.code}") from None
        except (OSError, urllib.error.URLError) as exc:
            raise DeliveryFailed(f"webhook {cfg.url}: {exc}") from None
        if not 200 <= status < 300:
            raise DeliveryFailed(f"webhook answered HTTP {status}")
        return ident


CHANNELS: dict[str, Channel] = {"email": SmtpChannel(), "sms": WebhookChannel(), "webhook": WebhookChannel()}
