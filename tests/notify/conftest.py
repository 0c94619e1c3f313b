"""Fixtures of the notification tests: a real SMTP server (aiosmtpd) and a real
HTTP webhook receiver on the loopback interface, and the ``ITSM_*`` settings
that point itsm at them.

Both servers listen on 127.0.0.1 only, on ports the kernel says are free, and
are stopped at teardown.  Every wait in these helpers is bounded.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest
from aiosmtpd.controller import Controller

LOOPBACK = "127.0.0.1"
SENDER = "IT Service Desk <itsm@example.com>"
PORTAL = "https://itsm.example.com/portal"
WEBHOOK_SECRET = "test-webhook-secret-7f3a"

# settings a developer's shell might carry; every test starts without them
NOTIFY_ENV = ("ITSM_SMTP_HOST", "ITSM_SMTP_PORT", "ITSM_SMTP_TLS", "ITSM_SMTP_USERNAME",
              "ITSM_SMTP_PASSWORD", "ITSM_SMTP_FROM", "ITSM_WEBHOOK_URL", "ITSM_WEBHOOK_SECRET",
              "ITSM_NOTIFY_BACKOFF", "ITSM_NOTIFY_MAX_ATTEMPTS", "ITSM_PORTAL_URL",
              "ITSM_SECRET_KEY")


def free_port() -> int:
    """A TCP port on the loopback interface that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


# --- SMTP ------------------------------------------------------------------------------

@dataclass
class Mail:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    received_at: float

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str | None:
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None else None

    @property
    def text(self) -> str:
        return self.part("plain") or ""

    @property
    def html(self) -> str | None:
        return self.part("html")


class MailboxHandler:
    """aiosmtpd handler: keeps every envelope; may wait before answering DATA
    (a slow server, to kill a sender mid-batch)."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.lock = threading.Lock()
        self.delay = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message,  # type: ignore[arg-type]
                                   time.monotonic()))
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on 127.0.0.1; ``stop()`` takes it down (connections
    are refused), ``start()`` brings it back on the same port."""

    def __init__(self) -> None:
        self.handler = MailboxHandler()
        self.host = LOOPBACK
        self.port = free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        if self._controller is not None:
            return
        controller = Controller(self.handler, hostname=self.host, port=self.port, ready_timeout=10)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def mails(self) -> list[Mail]:
        with self.handler.lock:
            return list(self.handler.mails)

    def by_message_id(self) -> dict[str, list[Mail]]:
        out: dict[str, list[Mail]] = {}
        for m in self.mails:
            out.setdefault(m.message_id, []).append(m)
        return out

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.mails if address in m.rcpt_tos]

    def clear(self) -> None:
        with self.handler.lock:
            self.handler.mails.clear()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- HTTP webhook ----------------------------------------------------------------------

@dataclass
class Hook:
    """One request as the webhook receiver got it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


@dataclass
class WebhookServer:
    """A real HTTP server on 127.0.0.1 that records every request; answers 500
    to the first ``fail_first`` requests, 200 afterwards."""

    fail_first: int = 0
    requests: list[Hook] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    httpd: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/itsm/hook"

    def start(self) -> None:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with recorder.lock:
                    status = 500 if len(recorder.requests) < recorder.fail_first else 200
                    recorder.requests.append(Hook(self.command, self.path, dict(self.headers.items()),
                                                  body, status))
                reply = b'{"ok": true}' if status == 200 else b'{"error": "try later"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_PUT = do_POST  # noqa: N815 - recorded too, so a wrong method shows

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        httpd = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        httpd.daemon_threads = True
        httpd.timeout = 5
        self.httpd = httpd
        self.thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="webhook-server", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        if self.thread is not None:
            self.thread.join(timeout=10)
            self.thread = None

    @property
    def received(self) -> list[Hook]:
        with self.lock:
            return list(self.requests)

    @property
    def accepted(self) -> list[Hook]:
        return [r for r in self.received if r.status == 200]


@pytest.fixture
def webhook_server() -> Iterator[WebhookServer]:
    server = WebhookServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- settings ----------------------------------------------------------------------------

@pytest.fixture
def notify_env(monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer,
               webhook_server: WebhookServer) -> dict[str, str]:
    """``ITSM_*`` settings pointing at the loopback servers: a 60 s backoff
    (so a later ``--now`` retries), three attempts, a portal for status links."""
    for name in NOTIFY_ENV:
        monkeypatch.delenv(name, raising=False)
    env = {"ITSM_SMTP_HOST": smtp_server.host, "ITSM_SMTP_PORT": str(smtp_server.port),
           "ITSM_SMTP_TLS": "none", "ITSM_SMTP_FROM": SENDER,
           "ITSM_WEBHOOK_URL": webhook_server.url, "ITSM_WEBHOOK_SECRET": WEBHOOK_SECRET,
           "ITSM_NOTIFY_BACKOFF": "60", "ITSM_NOTIFY_MAX_ATTEMPTS": "3",
           "ITSM_PORTAL_URL": PORTAL}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env
