"""Logging in to a desk server: login, whoami, logout (remote mode)."""

from __future__ import annotations

import sys

import click

from commands.common import command, emit, json_mode, output_options, pass_state, State
from engine.i18n import N_, tr

SCOPES = {"read": N_("read"), "write": N_("write"), "alerts": N_("alerts")}  # engine.desk.permissions.SCOPES


def _server(state: State, url: str | None) -> str:
    from engine.errors import UsageError
    from engine.remote.client import normalize_url

    found = url or state.remote_url()
    if not found:
        raise UsageError(N_("which desk server? give its URL (itsm login URL), --url or ITSM_URL, "
                            "or url in itsm.toml"), values={})
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

    from engine import render
    from engine.errors import UsageError
    from engine.remote import tokens
    from engine.remote.client import RemoteApi

    json_mode(state, as_json)
    server = _server(state, url)
    if with_token and password_stdin:
        raise UsageError(N_("give either --with-token or --password-stdin, not both"), values={})
    if with_token:
        token = sys.stdin.readline(4096).strip()
        if not token:
            raise UsageError(N_("--with-token: give the token on stdin, e.g. "
                                "echo \"$TOKEN\" | itsm login URL --with-token"), values={})
    elif password_stdin:
        if not login_user:
            raise UsageError(N_("--password-stdin needs --user ID"), values={})
        password = sys.stdin.readline(4096).rstrip("\r\n")
        answer = RemoteApi(server, None, lang=state.lang).login(login_user, password)
        token = str(answer["token"])
    else:
        if not sys.stdin.isatty() and login_user is None:
            raise UsageError(N_("no terminal to ask for your user and password: give --user ID and the "
                                "password on a terminal, or a token with --with-token"), values={})
        who = login_user or click.prompt(tr("User", state.lang))
        password = getpass.getpass(tr("Password for {user} on {server}: ", state.lang, user=who, server=server))
        answer = RemoteApi(server, None, lang=state.lang).login(who, password)
        token = str(answer["token"])
    me = RemoteApi(server, token, lang=state.lang).session()
    path = tokens.put(server, token, me.get("user"))
    lang = state.lang
    emit(state, {"url": server, **me}, as_json,
         lambda: (tr("logged in to {server} as {user} (token expires {expires}); token kept in {path}", lang,
                     server=server, user=me.get("user"), expires=render.when(me["expires_at"]), path=path)
                  if me.get("expires_at") else
                  tr("logged in to {server} as {user}; token kept in {path}", lang, server=server,
                     user=me.get("user"), path=path)) + "\n")


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
    from engine.i18n import t

    json_mode(state, as_json)
    server = _server(state, None)
    api = state.api()
    me = api.session()
    lang = state.lang
    labels = me.get("role_labels") or {}
    roles = [labels[r].get(lang) or r if r in labels else r for r in me.get("roles") or []]
    scopes = [tr(SCOPES[s], lang) if s in SCOPES else s for s in me.get("scopes") or []]
    emit(state, {"url": server, **me}, as_json,
         lambda: render.pairs([(tr("Server", lang), server), (tr("User", lang), me.get("user")),
                               (t("name", lang), me.get("name")),
                               (t("roles", lang), tr(", ", lang).join(roles) or "-"),
                               (tr("Token", lang), tr("key {id}", lang, id=me.get("key_id"))),
                               (tr("Expires", lang), render.when(me["expires_at"]) if me.get("expires_at")
                                else tr("never", lang)),
                               (tr("Scopes", lang), tr(", ", lang).join(scopes) if scopes else tr("all", lang))]))


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
    revoked, problem, problem_text = False, None, ""
    if api.token:
        try:
            api.end_session()
            revoked = True
        except ItsmError as exc:
            if exc.exit_code not in (ExitCode.INTERNAL, ExitCode.REFUSED):
                raise
            problem, problem_text = str(exc), exc.text(state.lang)
    forgot = tokens.forget(server) if kept else False
    result = {"url": server, "revoked": revoked, "forgotten": forgot, "problem": problem}

    lang = state.lang

    def text() -> str:
        lines = []
        if revoked:
            lines.append(tr("revoked your token on {server}", lang, server=server))
        elif problem:
            lines.append(tr("could not revoke the token on the server ({problem}); "
                            "revoke it later with 'itsm apikey revoke'", lang, problem=problem_text))
        lines.append(tr("forgot the token of {server}", lang, server=server) if forgot
                     else tr("no token of {server} was kept here", lang, server=server))
        return "\n".join(lines) + "\n"

    emit(state, result, as_json, text)
