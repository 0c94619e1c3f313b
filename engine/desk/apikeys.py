"""API keys: who a request to the JSON API acts as.

A key is ``itsm_<prefix>_<secret>``: the prefix (random, unique) finds its row,
the SHA-256 of the whole key is all that is stored, and the comparison takes the
same time whether the prefix is unknown or the secret wrong, so keys cannot be
probed.  A key acts as one registered person, whose roles apply exactly as with
``itsm --as``.  People manage their own keys; the process owner (the role that
owns every shipped process) manages everyone's.  Revoked keys, and keys of people
who are no longer active, are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from typing import Any

from engine.errors import ActionRefused, InvalidApiKey, NotFound
from engine.runtime.actions import Actor
from engine.desk.context import Desk


SCHEME = "itsm"
MANAGER_ROLES = ("process_owner",)  # may create, list and revoke anyone's keys
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per key
_FORMAT = re.compile(r"itsm_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})")
_DUMMY_HASH = hashlib.sha256(b"itsm: no such key").hexdigest()


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _may_manage(actor: Actor, user_id: str) -> bool:
    return actor.system or actor.id == user_id or bool(set(actor.roles) & set(MANAGER_ROLES))


def _refuse(actor: Actor, what: str) -> ActionRefused:
    return ActionRefused(f"{actor.id} may not {what}: only the key's own user and "
                         f"{', '.join(MANAGER_ROLES)} may", allowed_roles=MANAGER_ROLES)


def _view(desk: Desk, row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "prefix": f"{SCHEME}_{row['prefix']}", "user": row["user_id"],
            "label": row.get("label"), "created_by": row.get("created_by"),
            "created_at": desk.iso(row["created_at"]), "revoked_at": desk.iso(row.get("revoked_at")),
            "last_used_at": desk.iso(row.get("last_used_at")),
            "active": row.get("revoked_at") is None}


def create(desk: Desk, user: str, label: str | None, actor_id: str | None) -> dict[str, Any]:
    now = desk.now()
    with desk.store.write() as repo:
        actor = desk.actor(repo, actor_id)
        person = repo.find_person(user)
        if person is None:
            raise NotFound(f"no user '{user}' (see 'itsm user list')")
        if not _may_manage(actor, person["id"]):
            raise _refuse(actor, f"create API keys for {person['id']}")
        prefix = secrets.token_hex(6)
        key = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
        key_id = repo.api_keys.add(prefix, key_hash(key), person["id"], label or None,
                                   None if actor.system else actor.id, now)
        view = _view(desk, repo.api_keys.get(key_id))
    view["key"] = key  # shown once: only its hash is kept
    return view


def list_keys(desk: Desk, user: str | None, actor_id: str | None) -> list[dict[str, Any]]:
    with desk.store.read() as repo:
        actor = desk.actor(repo, actor_id)
        manager = actor.system or bool(set(actor.roles) & set(MANAGER_ROLES))
        if user is not None:
            person = repo.find_person(user)
            if person is None:
                raise NotFound(f"no user '{user}' (see 'itsm user list')")
            user = person["id"]
            if not _may_manage(actor, user):
                raise _refuse(actor, f"list the API keys of {user}")
        elif not manager:
            user = actor.id
        return [_view(desk, r) for r in repo.api_keys.list(user)]


def revoke(desk: Desk, key_id: int, actor_id: str | None) -> dict[str, Any]:
    now = desk.now()
    with desk.store.write() as repo:
        actor = desk.actor(repo, actor_id)
        row = repo.api_keys.get(key_id)
        if row is None:
            raise NotFound(f"no API key {key_id} (see 'itsm apikey list')")
        if not _may_manage(actor, row["user_id"]):
            raise _refuse(actor, f"revoke API key {key_id}")
        repo.api_keys.revoke(key_id, now)
        return _view(desk, repo.api_keys.get(key_id))


def authenticate(desk: Desk, key: str | None) -> str:
    """The id of the person the key acts as, or :class:`InvalidApiKey`."""
    return str(_valid_row(desk, key)["user_id"])


def session(desk: Desk, key: str | None) -> dict[str, Any]:
    """Who the key acts as (``itsm whoami``): user, name, roles, the key's id and
    when it expires (None: never)."""
    row = _valid_row(desk, key)
    with desk.store.read() as repo:
        person = repo.find_person(row["user_id"]) or {}
    out = {"user": row["user_id"], "name": person.get("name"), "roles": sorted(person.get("roles") or ()),
           "key_id": row["id"], "expires_at": desk.iso(row.get("expires_at"))}
    if row.get("scopes") is not None:
        out["scopes"] = list(row["scopes"])
    return out


def end_session(desk: Desk, key: str | None) -> None:
    """Revoke the key presented (``itsm logout``): anyone may end their own session."""
    row = _valid_row(desk, key)
    with desk.store.write() as repo:
        repo.api_keys.revoke(row["id"], desk.now())


def _valid_row(desk: Desk, key: str | None) -> dict[str, Any]:
    match = _FORMAT.fullmatch((key or "").strip())
    if match is None:
        raise InvalidApiKey()
    given = key_hash(match.group(0))
    with desk.store.read() as repo:
        row = repo.api_keys.by_prefix(match.group(1))
    stored = row["secret_hash"] if row else _DUMMY_HASH
    if not hmac.compare_digest(stored, given) or row is None:
        raise InvalidApiKey()
    if row.get("revoked_at") is not None or not row.get("user_active", True):
        raise InvalidApiKey()
    now = desk.now()
    last = row.get("last_used_at")
    if last is None or now - last >= TOUCH_EVERY:
        with desk.store.write() as repo:
            repo.api_keys.touch(row["id"], now)
    return row
