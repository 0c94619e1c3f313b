"""Fixtures of the mail tests: a throwaway Dovecot IMAP server and a real SMTP
server (aiosmtpd) on the loopback interface, one of each per module (helpers in
_mailtest.py)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import imaplib
from pathlib import Path
from typing import Iterator

import pytest
from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).parent))
from _mailtest import (IMAP_PASSWORD, IMAP_USER, LOOPBACK, Imap, Smtp, _Handler,  # noqa: E402
                       dovecot_config, free_port, need_dovecot)


@pytest.fixture(scope="module")
def imap_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Imap]:
    binary = need_dovecot()
    # not under pytest's temporary folder: that is private to us (0700), and as
    # root dovecot reads its files as its own user
    base = Path(tempfile.mkdtemp(prefix="itsm-dovecot-"))
    os.chmod(base, 0o755)
    port, tls_port = free_port(), free_port()
    conf = dovecot_config(base, port, tls_port)
    proc = subprocess.Popen([binary, "-F", "-c", str(conf)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    server = Imap(LOOPBACK, port, IMAP_USER, IMAP_PASSWORD, base, tls_port, str(base / "cert.pem"))
    deadline = time.monotonic() + 20
    while True:
        try:
            server.client().logout()
            break
        except (OSError, imaplib.IMAP4.error) as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (base / "dovecot.log").read_text(errors="replace") if (base / "dovecot.log").exists() else ""
                out = proc.stdout.read().decode(errors="replace") if proc.poll() is not None and proc.stdout else ""
                proc.kill()
                pytest.fail(f"dovecot did not start ({exc}):\n{out}\n{log[-3000:]}")
            time.sleep(0.2)
    try:
        yield server
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[Smtp]:
    handler = _Handler()
    port = free_port()
    controller = Controller(handler, hostname=LOOPBACK, port=port, ready_timeout=10)
    controller.start()
    try:
        yield Smtp(LOOPBACK, port, handler)
    finally:
        controller.stop()


