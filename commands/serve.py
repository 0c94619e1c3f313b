"""The self-service portal and the JSON API: serve."""

from __future__ import annotations

import click

from commands.common import command, pass_state, State
from engine.i18n import N_


@command()
@click.option("--host", metavar="ADDRESS",
              help="Address to listen on (default: [web] host in itsm.toml, $ITSM_WEB_HOST, else 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), metavar="PORT",
              help="Port to listen on (default: [web] port, $ITSM_WEB_PORT, else 8080).")
@click.option("--client-clock", is_flag=True, default=None,
              help="Let remote clients set the time (their --now, sent as X-Itsm-Now): for "
                   "back-filling and tests, never on a live desk ([web] client_clock).")
@pass_state
def serve(state: State, host: str | None, port: int | None, client_clock: bool | None) -> None:
    """Run the self-service portal (report an incident or request, follow its
    status, confirm or reopen) and the JSON API for agents, integrations and
    monitoring (/api/v1, described at /openapi.json). Put it behind a reverse
    proxy for TLS; access logs go to stderr as JSON lines.

    \b
    Example:
      ITSM_SECRET_KEY=$(cat /etc/itsm/secret) itsm serve --host 127.0.0.1 --port 8080
    """
    from engine.web.server import run

    from engine.errors import UsageError

    if state.url:
        raise UsageError(N_("itsm serve runs on the database: give --db (or ITSM_DATABASE_URL), not --url"))
    run(state.api(), host, port, client_clock or None)
