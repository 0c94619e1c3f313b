"""The database and the people who use it."""

from __future__ import annotations


from typing import Any

import click

from engine.i18n import said, tr

from commands.common import emit, group, json_mode, output_options, pass_state, State



@group()
def db() -> None:
    """The database: create or migrate its schema."""


@db.command("upgrade")
@click.option("--admin", "admin", metavar="ID",
              help="Make this person the desk's first admin (registered if new; codes/permissions.yaml).")
@click.option("--admin-email", metavar="EMAIL", help="The new admin's e-mail (default: ID@localhost).")
@pass_state
def db_upgrade(state: State, admin: str | None, admin_email: str | None) -> None:
    """Create the database or migrate it to the newest schema; with --admin, make
    the first admin, who then adds people, roles and API keys.

    \b
    Example:
      itsm db upgrade --admin p16.owner
      itsm --db sqlite:///$PWD/branch.db db upgrade
    """
    from commands.operations import rekeyed_text
    from engine.store.db import redact

    api = state.api()
    lang = state.lang
    done = api.upgrade()
    if admin:
        person = api.make_admin(admin, admin_email)
        labels = [(api.defs.role_label(r) or r) for r in person["roles"]]
        click.echo(tr("admin: {user} <{email}> roles: {roles}", lang, user=person["id"], email=person["email"],
                      roles=tr(", ", lang).join(x if isinstance(x, str) else x.get(lang) for x in labels)))
    before, after, keyed = done["before"], done["after"], done["rekey"]
    click.echo(tr("database {url}: schema {before} -> {after}", lang, url=redact(api.db_url),
                  before=before or tr("new", lang), after=after))
    if keyed and "refused" in keyed:
        click.echo("itsm: " + tr("the journal was not re-keyed: {reason}", lang, reason=said(keyed["refused"], lang)), err=True)
    elif keyed:
        click.echo(tr("journal re-keyed: ", lang) + rekeyed_text(keyed, lang), nl=False)


@group()
def user() -> None:
    """People, their roles and support groups."""


@user.command("add")
@click.argument("user_id")
@click.option("--name", help="Display name (default: the id).")
@click.option("--email", required=True, help="E-mail address.")
@click.option("--phone", help="Mobile number for SMS notifications.")
@click.option("--role", "roles", multiple=True, help="A role (repeatable), e.g. service_desk.")
@click.option("--group", "groups", multiple=True, help="A support group (repeatable).")
@click.option("--site", help="Site (e.g. head_office, guangzhou).")
@click.option("--lang", type=click.Choice(["en", "zh"]),
              help="The language of messages to this person (default: the desk's).")
@output_options()
@pass_state
def user_add(state: State, user_id: str, name: str | None, email: str, phone: str | None,
             roles: tuple[str, ...], groups: tuple[str, ...], site: str | None, lang: str | None,
             as_json: bool) -> None:
    """Register a person with roles and groups (needs the admin permission:
    codes/permissions.yaml; the first admin comes from 'itsm db upgrade --admin').

    \b
    Example:
      itsm --as p16.owner user add zhao.min --email zhao.min@example.com --role service_desk --group service_desk
      itsm --as p16.owner user add li.na --email li.na@example.com --lang zh
    """
    json_mode(state, as_json)
    person = state.api().add_user(user_id, name, email, phone, roles, groups, site, lang)
    shown = _named(state)
    emit(state, person, as_json, lambda: tr("added {user} <{email}> roles: {roles}; groups: {groups}", state.lang,
                                            user=person["id"], email=person["email"],
                                            roles=shown.roles(person["roles"]) or "-",
                                            groups=shown.groups(person["groups"]) or "-") + "\n")


class _named:
    """Roles and support groups by their labels in Chinese (ids in English, in
    --json, and in remote mode, where the definitions are the server's)."""

    def __init__(self, state: State) -> None:
        from commands.common import Labels

        self.lab = Labels(state)
        self.sep = tr(", ", state.lang)

    def roles(self, roles: Any) -> str:
        defs, lang = self.lab.defs, self.lab.lang
        labels = [(defs.role_label(r) if defs is not None else None) for r in roles]
        return self.sep.join(label.get(lang) if label is not None else r for r, label in zip(roles, labels))

    def groups(self, groups: Any) -> str:
        return self.sep.join(str(self.lab.code("groups", g)) for g in groups)


@user.command("passwd")
@click.argument("user_id")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@pass_state
def user_passwd(state: State, user_id: str, password_stdin: bool) -> None:
    """Set a person's password for 'itsm login' (stored as an argon2 hash). A
    person sets their own; an admin sets anyone's. Asks twice on a terminal.

    \b
    Example:
      echo 'correct horse battery staple' | itsm --as p16.owner user passwd wang.lei --password-stdin
    """
    import sys

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():  # getpass would echo, warn and abort: say how to give it instead
            from engine.errors import UsageError
            from engine.i18n import N_

            raise UsageError(N_("no terminal to ask for the password: give it on stdin with --password-stdin"))
        password = click.prompt(tr("Password", state.lang), hide_input=True, confirmation_prompt=True)
    done = state.api().set_password(user_id, password)
    click.echo(tr("password of {user} set", state.lang, user=done["user"]))


@user.command("list")
@output_options(listing=True)
@pass_state
def user_list(state: State, as_json: bool, as_csv: bool) -> None:
    """List people with their roles and groups."""
    from engine import render
    from engine.i18n import t

    json_mode(state, as_json)
    people = state.api().list_users()
    lang = state.lang
    shown = _named(state)
    cols = [("id", t("id", lang), lambda r: r["id"]), ("name", t("name", lang), lambda r: r["name"]),
            ("email", t("email", lang), lambda r: r["email"]),
            ("roles", t("roles", lang), lambda r: shown.roles(r["roles"]) if lang != "en" else r["roles"]),
            ("groups", t("groups", lang), lambda r: shown.groups(r["groups"]) if lang != "en" else r["groups"]),
            ("site", t("site", lang), lambda r: r["site"])]
    emit(state, people, as_json, lambda: render.table(people, cols), as_csv,
          lambda: render.to_csv(people, cols))
