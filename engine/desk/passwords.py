"""Passwords and logins: ``itsm user passwd`` and ``POST /api/v1/session``.

The only importer of argon2 (argon2-cffi): a password is kept as its argon2id
hash, never in plain text, in ``person_passwords`` (apart from people, so no
listing reads it).  A login exchanges a person's password for a personal token:
an API key (engine.desk.apikeys) labelled ``login`` that expires after
``[security] token_days`` (ITSM_TOKEN_DAYS, 30 by default).  An unknown person
and a wrong password get the same answer, after the same work.  Failed logins
are throttled by the web layer (engine/web/limits.py).
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from engine.errors import InvalidApiKey, NotFound, UsageError
from engine.i18n import N_, message
from engine.desk import apikeys, permissions
from engine.desk.context import Desk

MIN_LENGTH, MAX_LENGTH = 8, 1024
LOGIN_FAILED = N_("user or password is wrong")


@cache
def hasher() -> Any:
    """argon2id with the library's recommended parameters (imported on first use:
    every command imports this module, few hash a password)."""
    from argon2 import PasswordHasher

    return PasswordHasher()


@cache
def _dummy() -> str:
    """A hash verified against for an unknown person, so both take the same work."""
    return str(hasher().hash("itsm: no such person"))


def _verify(stored: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(hasher().verify(stored, password))
    except (VerificationError, InvalidHashError):  # VerifyMismatchError is a VerificationError
        return False


def check_password(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise UsageError(N_("a password needs {min} to {max} characters"),
                         values={"min": MIN_LENGTH, "max": MAX_LENGTH})


def set_password(desk: Desk, user: str, password: str, actor_id: str | None) -> dict[str, Any]:
    """Set ``user``'s password: a person sets their own, an admin anyone's."""
    check_password(password)
    hashed = hasher().hash(password)
    with desk.store.write() as repo:
        actor = desk.actor(repo, actor_id)
        person = repo.find_person(user)
        if person is None:
            raise NotFound(N_("no user '{user}' (see 'itsm user list')"), values={"user": user})
        if actor.id != person["id"]:
            permissions.require(desk.defs, actor, "admin", message(N_("set the password of {user}"),
                                                                   user=person["id"]))
        repo.api_keys.set_password_hash(person["id"], hashed, desk.now())
        return {"user": person["id"], "password_set": True}


def login(desk: Desk, user: str, password: str) -> dict[str, Any]:
    """A personal token for ``user``: InvalidApiKey (401) for an unknown person,
    a person without a password, an inactive one or a wrong password alike."""
    if not isinstance(user, str) or not isinstance(password, str) or len(password) > MAX_LENGTH \
            or len(user) > 254:
        raise InvalidApiKey(LOGIN_FAILED)
    with desk.store.read() as repo:
        person = repo.find_person(user)
        stored = repo.api_keys.password_hash(person["id"]) if person else None
    ok = _verify(stored or _dummy(), password) and stored is not None
    if not ok or person is None or not person.get("active", True):
        raise InvalidApiKey(LOGIN_FAILED)
    days = token_days(desk)
    key = apikeys.issue(desk, person["id"], "login", person["id"],
                        desk.now() + timedelta(days=days) if days else None)
    if stored and hasher().check_needs_rehash(stored):
        with desk.store.write() as repo:
            repo.api_keys.set_password_hash(person["id"], hasher().hash(password), desk.now())
    return {"token": key["key"], "user": person["id"], "expires_at": key["expires_at"]}


def token_days(desk: Desk) -> int:
    """How long a login's token lives, in days (0: until revoked)."""
    return desk.settings.security.token_days
