"""Delivery channels: SMTP e-mail and an HTTP webhook (for SMS/IM gateways).

Each channel sends one outbox row and either returns or raises
:class:`DeliveryFailed`.  Message ids are derived from the outbox row, so a
receiver can drop a duplicate if a crash made us send a row twice.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Mapping, Protocol

from engine.i18n import N_
from engine.mail import thread
from engine.notify.templates import Rendered, header_text
from engine.settings import Settings


class DeliveryFailed(Exception):
    """The channel could not hand the message over; it will be retried.
    ``channel_failed``: the channel itself failed (the server down, our login or
    sender refused), which counts for the breaker; False when only this message
    was refused (its recipient unknown, its content rejected): the others go on."""

    def __init__(self, text: str, channel_failed: bool = True) -> None:
        super().__init__(text)
        self.channel_failed = channel_failed


# why a send failed, recorded in English (last_error) and said in the reader's
# language with engine.i18n.retell (itsm outbox deliver)
ERRORS = (N_("no SMTP server configured (smtp.host / ITSM_SMTP_HOST)"), N_("SMTP {server}: {error}"),
          N_("SMTP refused {recipients}"), N_("no webhook configured (webhook.url / ITSM_WEBHOOK_URL)"),
          N_("webhook answered HTTP {status}"), N_("webhook {url}: {error}"), N_("unknown channel {channel}"))


class Channel(Protocol):
    def send(self, row: Mapping[str, Any], message: Rendered, settings: Settings) -> str: ...


def message_id(row: Mapping[str, Any], settings: Settings) -> str:
    return f"<itsm-outbox-{row['id']}@{thread.domain_of(settings.smtp.sender)}>"


class SmtpChannel:
    def send(self, row: Mapping[str, Any], message: Rendered, settings: Settings) -> str:
        cfg = settings.smtp
        if not cfg.host:
            raise DeliveryFailed(ERRORS[0])
        # Header values are one clean line each: the e-mail library refuses a
        # value with any line break (U+2028, NEL, form feed... too) with an error.
        recipient = header_text(str(row["recipient"]))
        payload = row.get("payload") or {}
        key = str(payload.get("key") or "")
        mail = EmailMessage()
        mail["Subject"] = header_text(thread.tagged(message.subject, key) if key else message.subject)
        mail["From"] = header_text(cfg.sender)
        mail["To"] = recipient
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = header_text(message_id(row, settings))
        if key:  # every message about the ticket threads under its root id
            root = thread.root_id(key, thread.domain_of(cfg.sender))
            mail["In-Reply-To"] = root
            mail["References"] = root
            mail["X-Itsm-Ticket"] = header_text(key)
        if payload.get("reply_to"):
            mail["Reply-To"] = header_text(thread.reply_address(str(payload["reply_to"]), key,
                                                                settings.secret_key) if key
                                           else str(payload["reply_to"]))
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-reply loops with us
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
                # the row's recipient only, whatever the To header parses into
                refused = client.send_message(mail, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:  # this recipient (550 user unknown): not the server
            raise DeliveryFailed(ERRORS[2].format(recipients=", ".join(exc.recipients) or recipient),
                                 channel_failed=False) from None
        except smtplib.SMTPDataError as exc:
            # 5xx to DATA: this message was rejected (content, size); 4xx: the server, for now
            raise DeliveryFailed(ERRORS[1].format(server=f"{cfg.host}:{cfg.port}", error=exc),
                                 channel_failed=not 500 <= exc.smtp_code < 600) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(ERRORS[1].format(server=f"{cfg.host}:{cfg.port}", error=exc)) from None
        if refused:
            raise DeliveryFailed(ERRORS[2].format(recipients=", ".join(refused)), channel_failed=False)
        return mail["Message-ID"]


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel:
    def send(self, row: Mapping[str, Any], message: Rendered, settings: Settings) -> str:
        cfg = settings.webhook
        if not cfg.url:
            raise DeliveryFailed(ERRORS[3])
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
            raise DeliveryFailed(ERRORS[4].format(status=exc.code)) from None
        except (OSError, urllib.error.URLError, ValueError) as exc:  # ValueError: not a URL
            raise DeliveryFailed(ERRORS[5].format(url=cfg.url, error=exc)) from None
        except http.client.HTTPException as exc:  # garbage instead of an HTTP answer
            raise DeliveryFailed(f"webhook {cfg.url}: not an HTTP answer "
                                 f"({type(exc).__name__}: {exc})") from None
        if not 200 <= status < 300:
            raise DeliveryFailed(ERRORS[4].format(status=status))
        return ident


CHANNELS: dict[str, Channel] = {"email": SmtpChannel(), "sms": WebhookChannel(), "webhook": WebhookChannel()}
