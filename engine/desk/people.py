"""People: the staff and end users tickets name, with their roles and support groups.

A user id is a login name (:data:`USER_ID`): it is typed after ``--as``, shown
in listings, reports and messages and written into the journal, so it holds no
markup, spaces or ``@`` (an ``@`` names an end user by e-mail). A role must be
one of the processes' roles (or one codes/permissions.yaml names), a group one
of codes/groups.yaml.  Adding people needs the ``admin`` permission
(:func:`check_admin`); the first admin is made with the database
(``itsm db upgrade --admin ID``: :func:`make_admin`).
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from engine.i18n import N_, message
from engine.errors import UsageError
from engine.desk import permissions
from engine.model import LANGS
from engine.runtime.fields import is_email
from engine.desk.context import Desk

USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # 64: the people.id column
RESERVED_IDS = ("system",)  # the engine's own actions (timers, cascades) act as 'system'


def check_user_id(pid: str) -> None:
    """UsageError unless ``pid`` can be a user id."""
    if not USER_ID.fullmatch(pid):
        raise UsageError(N_("user id {pid!r} is not valid: use 1 to 64 letters (a-z, A-Z), digits, '.', '_' "
                            "and '-', beginning with a letter or digit, e.g. wang.lei"), values={"pid": pid})
    if pid.lower() in RESERVED_IDS:
        raise UsageError(N_("user id {pid!r} is reserved for the engine's own actions"), values={"pid": pid})


def admins(desk: Desk, repo: Any) -> list[str]:
    """The people who hold the admin permission."""
    return sorted({p for r in permissions.roles_with(desk.defs, "admin") for p in repo.people_with_role(r)})


def check_admin(desk: Desk, repo: Any, actor_id: str | None, what: str) -> None:
    """ActionRefused unless the acting person holds the admin permission.  Before
    the first admin exists, a command that names no registered person (the
    operator setting up the database, who holds its data already; the JSON API
    adds no people) may administer: the bootstrap of a database made before
    admins.  A registered person without the permission is refused even then.
    ``itsm db upgrade --admin ID`` makes the first admin; from then on only admins
    administer."""
    ident = actor_id or desk.user
    if (not ident or ("@" not in ident and repo.find_person(ident) is None)) and not admins(desk, repo):
        return
    permissions.require(desk.defs, desk.actor(repo, actor_id), "admin", what)


def add_user(desk: Desk, pid: str, name: str | None, email: str, phone: str | None,
             roles: Sequence[str], groups: Sequence[str], site: str | None,
             lang: str | None = None, actor_id: str | None = None) -> dict[str, Any]:
    check_user_id(pid)
    if not is_email(email.strip()):  # messages go there: the desk's mail would bounce
        raise UsageError(N_("{email!r} is not an e-mail address (e.g. wang.lei@example.com; at most 254 "
                            "characters)"), values={"email": email})
    email = email.strip()
    if lang is not None and lang not in LANGS:
        raise UsageError(N_("language {lang!r} is not one of {LANGS}"),
                         values={"lang": lang, "LANGS": ', '.join(LANGS)})
    known_roles = permissions.known_roles(desk.defs)
    unknown = [r for r in roles if r not in known_roles]
    if unknown:
        raise UsageError(N_("unknown role(s) {unknown}; roles of the processes: {known_roles}"),
                         values={"unknown": ', '.join(unknown), "known_roles": ', '.join(sorted(known_roles))})
    group_table = desk.defs.codes.get("groups")
    bad = [g for g in groups if group_table is None or g not in group_table.values]
    if bad:
        raise UsageError(N_("unknown group(s) {bad} (see codes/groups.yaml)"), values={"bad": ', '.join(bad)})
    with desk.store.write() as repo:
        check_admin(desk, repo, actor_id, message(N_("add people ({user})"), user=pid))
        repo.add_person(pid, name or pid, email.lower(), phone, site, roles, groups, desk.now(), lang)
        return person_view(desk, repo.find_person(pid))


def make_admin(desk: Desk, pid: str, email: str | None, name: str | None = None) -> dict[str, Any]:
    """The first admin, made with the database (``itsm db upgrade --admin ID``):
    registers ``pid`` (e-mail ``email``, default ``pid@localhost``) with the first
    role that holds the admin permission, or gives an existing person that role.
    Only the operator (direct mode) does this; once an admin exists, admins add others."""
    check_user_id(pid)
    roles = permissions.roles_with(desk.defs, "admin")
    if not roles:
        raise UsageError(N_("no role holds the 'admin' permission (codes/permissions.yaml)"))
    with desk.store.write() as repo:
        existing = admins(desk, repo)
        person = repo.find_person(pid)
        if existing and pid not in existing:
            raise UsageError(N_("the desk has admins already ({existing}): one of them adds people with "
                                "'itsm --as {admin} user add'"),
                             values={"existing": ', '.join(existing), "admin": existing[0]})
        if person is None:
            repo.add_person(pid, name or pid, (email or f"{pid}@localhost").lower(), None, None, [roles[0]], [],
                            desk.now())
        elif not set(person["roles"]) & set(roles):
            repo.set_roles(person["id"], [roles[0]], [])
        return person_view(desk, repo.find_person(pid))


def find_user(desk: Desk, ident: str) -> dict[str, Any]:
    """One person by id or e-mail, with roles, groups and permissions (NotFound otherwise)."""
    from engine.errors import NotFound

    with desk.store.read() as repo:
        person = repo.find_person(ident)
    if person is None:
        raise NotFound(N_("no user '{user}' (see 'itsm user list')"), values={"user": ident})
    view = person_view(desk, person)
    view["permissions"] = sorted(permissions.of_person(desk.defs, person["roles"], person["groups"]))
    return view


def find_caller(desk: Desk, ident: str) -> dict[str, Any]:
    """A caller at the hotline: a person by id, e-mail or phone number (NotFound otherwise)."""
    with desk.store.read() as repo:
        found = repo.find_person(ident) is not None or repo.person_by_phone(ident)
    if isinstance(found, str):
        ident = found
    return find_user(desk, ident)


def list_users(desk: Desk) -> list[dict[str, Any]]:
    with desk.store.read() as repo:
        return [person_view(desk, p) for p in repo.list_people()]


def person_view(desk: Desk, person: dict[str, Any]) -> dict[str, Any]:
    return dict(person, created_at=desk.iso(person.get("created_at")))
