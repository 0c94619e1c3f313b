"""Logging in to a desk server: login, whoami, logout (remote mode)."""

from __future__ import annotations

import sys

import click

from commands.common import command, emit, json_mode, output_options, pass_state, State
from engine.i18n import N_


def _server(state: State, url: str | None) -> str:
    from engine.errors import UsageError
    from engine.remote.client import normalize_url

    found = url or state.remote_url()
    if not found:
        raise UsageError(N_("which desk server? give its URL (itsm login URL), --url or ITSM_URL, or url in "
                            "itsm.toml"))
    return normalize_url(found)


@command()
@click.argument("url", required=False)
@click.option("--user", "login_user", metavar="ID", help="Your user id or e-mail (default: asked).")
@click.option("--with-token", is_flag=True,
              help="Read an existing token (an API key, itsm_...) from stdin instead of a password.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin (scripts; needs --user).")
@output_options()
@pass_state
def login(state: State, url: str | None, login_user: str | None, with_token: bool, password_stdin: bool,
          as_json: bool) -> None:
    """Log in to a desk server (itsm serve): exchange a password, or an existing
    token read from stdin with --with-token, for a personal token kept in your
    config folder (mode 0600).

    The token is checked with the server before it is kept; later commands
    with --url URL (or ITSM_URL, or url in itsm.toml) use it. ITSM_TOKEN
    overrides the kept token.

    \b
    Example:
      itsm login http://127.0.0.1:8080 --with-token < token.txt
      itsm login http://127.0.0.1:8080 --user wang.lei --password-stdin < password.txt
    """
    import getpass

    from engine.errors import UsageError
    from engine.remote import tokens
    from engine.remote.client import RemoteApi

    json_mode(state, as_json)
    server = _server(state, url)
    if with_token and password_stdin:
        raise UsageError(N_("give either --with-token or --password-stdin, not both"))
    if with_token:
        token = sys.stdin.readline(4096).strip()
        if not token:
            raise UsageError(N_('--with-token: give the token on stdin, e.g. echo "$TOKEN" | itsm login URL '
                                '--with-token'))
    elif password_stdin:
        if not login_user:
            raise UsageError(N_("--password-stdin needs --user ID"))
        password = sys.stdin.readline(4096).rstrip("\r\n")
        answer = RemoteApi(server, None, lang=state.lang).login(login_user, password)
        token = str(answer["token"])
    else:
        if not sys.stdin.isatty() and login_user is None:
            raise UsageError(N_("no terminal to ask for your user and password: give --user ID and the "
                                "password on a terminal, or a token with --with-token"))
        who = login_user or click.prompt("User")
        password = getpass.getpass(f"Password for {who} on {server}: ")
        answer = RemoteApi(server, None, lang=state.lang).login(who, password)
        token = str(answer["token"])
    me = RemoteApi(server, token, lang=state.lang).session()
    path = tokens.put(server, token, me.get("user"))
    emit(state, {"url": server, **me}, as_json,
         lambda: f"logged in to {server} as {me.get('user')}"
         + (f" (token expires {me['expires_at']})" if me.get("expires_at") else "")
         + f"; token kept in {path}\n")


@command()
@output_options()
@pass_state
def whoami(state: State, as_json: bool) -> None:
    """Who you are on the desk server: your user, name, roles and token.

    \b
    Example:
      itsm --url http://127.0.0.1:8080 whoami
    """
    from engine import render

    json_mode(state, as_json)
    server = _server(state, None)
    api = state.api()
    me = api.session()
    emit(state, {"url": server, **me}, as_json,
         lambda: render.pairs([("server", server), ("user", me.get("user")), ("name", me.get("name")),
                               ("roles", ", ".join(me.get("roles") or []) or "-"),
                               ("token", f"key {me.get('key_id')}"),
                               ("expires", me.get("expires_at") or "never"),
                               ("scopes", ", ".join(me["scopes"]) if me.get("scopes") else "all")]))


@command()
@output_options()
@pass_state
def logout(state: State, as_json: bool) -> None:
    """Revoke your token on the desk server and forget it.

    The token is forgotten even when the server cannot be reached (then it
    says so: revoke it later with itsm apikey revoke).

    \b
    Example:
      itsm --url http://127.0.0.1:8080 logout
    """
    from engine.errors import ExitCode, ItsmError
    from engine.remote import tokens

    json_mode(state, as_json)
    server = _server(state, None)
    kept = tokens.get(server)
    api = state.api()
    revoked, problem = False, None
    if api.token:
        try:
            api.end_session()
            revoked = True
        except ItsmError as exc:
            if exc.exit_code not in (ExitCode.INTERNAL, ExitCode.REFUSED):
                raise
            problem = exc.text("en" if as_json else state.lang)
    forgot = tokens.forget(server) if kept else False
    result = {"url": server, "revoked": revoked, "forgotten": forgot, "problem": problem}

    def text() -> str:
        lines = []
        if revoked:
            lines.append(f"revoked your token on {server}")
        elif problem:
            lines.append(f"could not revoke the token on the server ({problem}); "
                         "revoke it later with 'itsm apikey revoke'")
        lines.append(f"forgot the token of {server}" if forgot else f"no token of {server} was kept here")
        return "\n".join(lines) + "\n"

    emit(state, result, as_json, text)
