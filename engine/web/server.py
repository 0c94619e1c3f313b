"""``itsm serve``: the application under uvicorn, on one address."""

from __future__ import annotations

import sys
from typing import Any

from engine.web.config import WebSettings


def run(api: Any, host: str | None = None, port: int | None = None,
        client_clock: bool | None = None) -> None:
    """Serve until interrupted (SIGINT/SIGTERM end it gracefully)."""
    import uvicorn

    from engine.store.db import redact
    from engine.web.app import configure_logging, create_app

    web = WebSettings.load(api.settings, host, port, client_clock)
    api.serving()
    configure_logging()
    app = create_app(api, web)
    if web.ephemeral_secret:
        print("itsm: no secret_key configured (ITSM_SECRET_KEY): portal forms are signed with a key "
              "made up for this process", file=sys.stderr)
    print(f"itsm: serving the portal and the JSON API on http://{web.host}:{web.port}{web.root_path}/ "
          f"(database {redact(api.db_url)}; proxies trusted: {', '.join(web.trusted_proxies) or 'none'})",
          file=sys.stderr, flush=True)
    if web.client_clock:
        print("itsm: clients may set the time (X-Itsm-Now, --now): for back-filling and tests only",
              file=sys.stderr, flush=True)
    # X-Forwarded-* are handled in the app (only from [web] trusted_proxies), not by uvicorn,
    # whose default would believe 127.0.0.1.
    uvicorn.run(app, host=web.host, port=web.port, proxy_headers=False, access_log=False,
                server_header=False, log_level="warning", root_path=web.root_path)
