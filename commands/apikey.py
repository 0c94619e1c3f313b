"""API keys of the JSON API: apikey create, list, revoke."""

from __future__ import annotations

import click

from engine.i18n import N_, tr

from commands.common import heads, emit, group, json_mode, output_options, pass_state, State


@group()
def apikey() -> None:
    """API keys for agents and integrations using the JSON API (itsm serve).

    A key acts as one registered user, with that user's roles. People manage
    their own keys; holders of the admin permission everyone's. A key's scopes
    (read, write, alerts) are capped by its user's roles (codes/permissions.yaml).
    """


@apikey.command("create")
@click.option("--user", "user_id", required=True, metavar="USER",
              help="The user (id or e-mail) the key acts as.")
@click.option("--label", metavar="TEXT", help="What the key is for (e.g. the integration's name).")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(["read", "write", "alerts"]),
              help="What the key may do (repeatable; default all three), capped by USER's roles.")
@output_options()
@pass_state
def apikey_create(state: State, user_id: str, label: str | None, scopes: tuple[str, ...], as_json: bool) -> None:
    """Create an API key acting as USER. The key is printed once and never
    again: only its hash is stored. Only USER themself and an admin may create it.

    \b
    Example:
      itsm --as p16.owner apikey create --user prometheus --label "Alertmanager webhook" --scope alerts
    """
    json_mode(state, as_json)
    key = state.api().create_api_key(user_id, label, scopes=scopes or None)
    emit(state, key, as_json,
         lambda: f"{key['key']}\n"
                 + tr("API key {id} for {user} created; it is shown only now: "
                      "store it in the integration's secret store.", state.lang, id=key["id"], user=key["user"])
                 + "\n")


@apikey.command("list")
@click.option("--user", "user_id", metavar="USER", help="Only this user's keys.")
@output_options(listing=True)
@pass_state
def apikey_list(state: State, user_id: str | None, as_json: bool, as_csv: bool) -> None:
    """List API keys (never their secrets): your own, or everyone's for an admin.

    \b
    Example:
      itsm --as p16.owner apikey list --user prometheus
    """
    from engine import render

    json_mode(state, as_json)
    rows = state.api().api_keys(user_id)
    cols = [("id", N_("Id"), lambda r: r["id"]), ("prefix", N_("Prefix"), lambda r: r["prefix"]),
            ("user", N_("User"), lambda r: r["user"]), ("label", N_("Label"), lambda r: r["label"] or ""),
            ("created_at", N_("Created"), lambda r: render.when(r["created_at"])),
            ("scopes", N_("Scopes"), lambda r: ",".join(r["scopes"])),
            ("expires_at", N_("Expires"), lambda r: render.when(r["expires_at"])),
            ("last_used_at", N_("Last used"), lambda r: render.when(r["last_used_at"])),
            ("revoked_at", N_("Revoked"), lambda r: render.when(r["revoked_at"]))]
    cols = heads(cols, state.lang)
    emit(state, rows, as_json, lambda: render.table(rows, cols) if rows else tr("no API keys", state.lang) + "\n",
         as_csv, lambda: render.to_csv(rows, cols))


@apikey.command("revoke")
@click.argument("key_id", metavar="ID", type=int)
@output_options()
@pass_state
def apikey_revoke(state: State, key_id: int, as_json: bool) -> None:
    """Revoke an API key: every later request with it is refused.

    \b
    Example:
      itsm --as p16.owner apikey revoke 3
    """
    json_mode(state, as_json)
    key = state.api().revoke_api_key(key_id)
    emit(state, key, as_json, lambda: tr("API key {id} ({prefix}, {user}) revoked at {at}", state.lang,
                                         id=key["id"], prefix=key["prefix"], user=key["user"],
                                         at=key["revoked_at"]) + "\n")
