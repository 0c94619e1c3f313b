"""Settings of ``itsm serve``: the ``[web]`` table of itsm.toml and ITSM_WEB_*
variables (environment wins), then the command's options.

```toml
[web]
host = "127.0.0.1"              # ITSM_WEB_HOST / --host
port = 8080                     # ITSM_WEB_PORT / --port
trusted_proxies = ["127.0.0.1"] # ITSM_TRUSTED_PROXIES (comma-separated): X-Forwarded-For/-Proto
                                # are believed only from these addresses; none by default
root_path = "/itsm"             # ITSM_ROOT_PATH: the prefix the proxy serves the app under
max_body_bytes = 10485760       # ITSM_WEB_MAX_BODY: larger requests get 413
secure_cookies = true           # ITSM_SECURE_COOKIES=1: the cookies (console and portal) are Secure even
                                # when the app sees plain http (TLS ends at a proxy)
page_size = 50                  # ITSM_WEB_PAGE_SIZE: rows of a page of the console's queues (1-500)
client_clock = false            # ITSM_WEB_CLIENT_CLOCK / --client-clock: believe a client's
                                # X-Itsm-Now (remote --now), for back-filling and tests only
```

The CSRF tokens of the portal's forms are signed with the deployment's
``secret_key`` (ITSM_SECRET_KEY); without one a random key is made per process,
so forms served by one process are refused by another.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from engine.errors import UsageError
from engine.settings import Settings


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    trusted_proxies: tuple[str, ...] = ()
    root_path: str = ""
    max_body_bytes: int = 10 * 1024 * 1024
    secret_key: str = field(default="", repr=False)
    secure_cookies: bool = False  # cookies Secure even over http (TLS ends before the app)
    ephemeral_secret: bool = False  # no secret_key configured: one made up for this process
    client_clock: bool = False  # believe X-Itsm-Now (a remote client's --now)
    page_size: int = 50  # rows of a page of the agent console's queues

    @classmethod
    def load(cls, settings: Settings, host: str | None = None, port: int | None = None,
             client_clock: bool | None = None) -> "WebSettings":
        raw: dict[str, Any] = (settings.raw or {}).get("web") or {}
        if not isinstance(raw, dict):
            raw = {}
        env = os.environ.get
        proxies: Any = env("ITSM_TRUSTED_PROXIES")
        if proxies is not None:
            proxies = [p.strip() for p in proxies.split(",") if p.strip()]
        else:
            proxies = raw.get("trusted_proxies") or []
        if isinstance(proxies, str):
            proxies = [proxies]
        try:
            port_value = int(port if port is not None else env("ITSM_WEB_PORT") or raw.get("port") or 8080)
            max_body = int(env("ITSM_WEB_MAX_BODY") or raw.get("max_body_bytes") or 10 * 1024 * 1024)
            page_size = int(env("ITSM_WEB_PAGE_SIZE") or raw.get("page_size") or 50)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"[web] settings: {exc}") from None
        if not 1 <= page_size <= 500:
            raise UsageError(f"[web] page_size must be between 1 and 500, not {page_size}")
        root = str(env("ITSM_ROOT_PATH") or raw.get("root_path") or "").rstrip("/")
        if root and not root.startswith("/"):
            raise UsageError(f"[web] root_path must start with '/', not {root!r}")
        secure = env("ITSM_SECURE_COOKIES")
        secure_cookies = (secure.strip().lower() in ("1", "true", "yes") if secure is not None
                          else bool(raw.get("secure_cookies", False)))
        secret = settings.secret_key or ""
        if client_clock is None:
            flag = env("ITSM_WEB_CLIENT_CLOCK")
            client_clock = flag.strip().lower() in ("1", "true", "yes") if flag is not None \
                else raw.get("client_clock") is True
        return cls(host=host or env("ITSM_WEB_HOST") or str(raw.get("host") or "127.0.0.1"),
                   port=port_value, trusted_proxies=tuple(str(p) for p in proxies),
                   root_path=root, max_body_bytes=max_body, secure_cookies=secure_cookies,
                   secret_key=secret or secrets.token_urlsafe(32), ephemeral_secret=not secret,
                   client_clock=client_clock, page_size=page_size)
