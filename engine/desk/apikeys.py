"""API keys: who a request to the JSON API acts as.

A key is ``itsm_<prefix>_<secret>``: the prefix (random, unique) finds its row,
the SHA-256 of the whole key is all that is stored, and the comparison takes the
same time whether the prefix is unknown or the secret wrong, so keys cannot be
probed.  A key acts as one registered person, whose roles apply exactly as with
``itsm --as``.  People manage their own keys; holders of the ``admin`` permission
(codes/permissions.yaml) manage everyone's.  Revoked and expired keys, and keys
of people who are no longer active, are refused.

A key carries scopes (``read``, ``write``, ``alerts``); what it may do is its
scopes capped by the permissions of its person's roles (engine.desk.permissions),
so a key of a person without roles does nothing.  A login's personal token
(engine.desk.passwords) is a key labelled ``login`` with an expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import Any, Mapping

from engine.i18n import N_, message
from engine.limits import MAX_ROW_ID
from engine.errors import InvalidApiKey, NotFound, UsageError
from engine.runtime.actions import Actor
from engine.desk import permissions
from engine.desk.context import Desk


SCHEME = "itsm"
EXPIRED = N_("token expired; run itsm login again")
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per key
_FORMAT = re.compile(r"itsm_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})")
_DUMMY_HASH = hashlib.sha256(b"itsm: no such key").hexdigest()


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check_manage(desk: Desk, actor: Actor, user_id: str, what: str) -> None:
    """A person manages their own keys; the admin permission everyone's."""
    if actor.id != user_id:
        permissions.require(desk.defs, actor, "admin", what)


def parse_scopes(scopes: Any) -> str | None:
    """Scopes as stored: comma-separated, in the order of SCOPES; None: all."""
    if scopes is None:
        return None
    given = [s.strip() for s in (scopes.split(",") if isinstance(scopes, str) else scopes) if s.strip()]
    bad = [s for s in given if s not in permissions.SCOPES]
    if bad or not given:
        raise UsageError(N_("scopes {value}: choose from {SCOPES}"),
                         values={"value": ', '.join(bad) or '(none)', "SCOPES": ', '.join(permissions.SCOPES)})
    return ",".join(s for s in permissions.SCOPES if s in given)


def scopes_of(row: dict[str, Any]) -> list[str]:
    return (row.get("scopes") or ",".join(permissions.SCOPES)).split(",")


def _view(desk: Desk, row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "prefix": f"{SCHEME}_{row['prefix']}", "user": row["user_id"],
            "label": row.get("label"), "created_by": row.get("created_by"),
            "created_at": desk.iso(row["created_at"]), "revoked_at": desk.iso(row.get("revoked_at")),
            "last_used_at": desk.iso(row.get("last_used_at")),
            "expires_at": desk.iso(row.get("expires_at")), "scopes": scopes_of(row),
            "active": row.get("revoked_at") is None
                      and (row.get("expires_at") is None or row["expires_at"] > desk.now())}


def create(desk: Desk, user: str, label: str | None, actor_id: str | None,
           scopes: Any = None, expires_at: datetime | None = None) -> dict[str, Any]:
    now = desk.now()
    stored_scopes = parse_scopes(scopes)
    with desk.store.write() as repo:
        actor = desk.actor(repo, actor_id)
        person = repo.find_person(user)
        if person is None:
            raise NotFound(N_("no user '{user}' (see 'itsm user list')"), values={"user": user})
        _check_manage(desk, actor, person["id"], message(N_("create API keys for {user}"), user=person["id"]))
        return _insert(desk, repo, person["id"], label, None if actor.system else actor.id, now,
                       expires_at, stored_scopes)


def issue(desk: Desk, user_id: str, label: str, created_by: str | None,
          expires_at: datetime | None) -> dict[str, Any]:
    """A key for ``user_id`` without a check of who asks (a login, which checked the password)."""
    with desk.store.write() as repo:
        return _insert(desk, repo, user_id, label, created_by, desk.now(), expires_at, None)


def _insert(desk: Desk, repo: Any, user_id: str, label: str | None, created_by: str | None,
            now: datetime, expires_at: datetime | None, scopes: str | None) -> dict[str, Any]:
    prefix = secrets.token_hex(6)
    key = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    key_id = repo.api_keys.add(prefix, key_hash(key), user_id, label or None, created_by, now,
                               expires_at, scopes)
    view = _view(desk, repo.api_keys.get(key_id))
    view["key"] = key  # shown once: only its hash is kept
    return view


def list_keys(desk: Desk, user: str | None, actor_id: str | None) -> list[dict[str, Any]]:
    with desk.store.read() as repo:
        actor = desk.actor(repo, actor_id)
        manager = permissions.holds(desk.defs, actor, "admin")
        if user is not None:
            person = repo.find_person(user)
            if person is None:
                raise NotFound(N_("no user '{user}' (see 'itsm user list')"), values={"user": user})
            user = person["id"]
            _check_manage(desk, actor, user, message(N_("list the API keys of {user}"), user=user))
        elif not manager:
            user = actor.id
        return [_view(desk, r) for r in repo.api_keys.list(user)]


def revoke(desk: Desk, key_id: int, actor_id: str | None) -> dict[str, Any]:
    now = desk.now()
    with desk.store.write() as repo:
        actor = desk.actor(repo, actor_id)
        row = repo.api_keys.get(key_id) if 0 < key_id <= MAX_ROW_ID else None  # larger: no database integer
        if row is None:
            raise NotFound(N_("no API key {key_id} (see 'itsm apikey list')"), values={"key_id": key_id})
        _check_manage(desk, actor, row["user_id"], message(N_("revoke API key {key}"), key=key_id))
        repo.api_keys.revoke(key_id, now)
        return _view(desk, repo.api_keys.get(key_id))


def session(desk: Desk, key: Mapping[str, Any]) -> dict[str, Any]:
    """Who a key acts as (``itsm whoami``), from what :func:`authenticate` found:
    user, name, roles (and their labels: role_labels), the key's id, when it expires
    (None: never) and its scopes."""
    with desk.store.read() as repo:
        person = repo.find_person(key["user"]) or {}
    roles = sorted(person.get("roles") or ())
    labels = {r: {"en": label.en, "zh": label.zh} for r in roles if (label := desk.defs.role_label(r)) is not None}
    return {"user": key["user"], "name": person.get("name"), "roles": roles, "role_labels": labels,
            "key_id": key["key_id"], "expires_at": key.get("expires_at"), "scopes": list(key.get("scopes") or [])}


def end_session(desk: Desk, key: Mapping[str, Any]) -> None:
    """Revoke the key a request presented (``itsm logout``): anyone may end their own."""
    with desk.store.write() as repo:
        repo.api_keys.revoke(key["key_id"], desk.now())


def authenticate(desk: Desk, key: str | None) -> dict[str, Any]:
    """What the key may do: {user, key_id, label, scopes (capped by the person's
    roles), expires_at}, or :class:`InvalidApiKey`."""
    match = _FORMAT.fullmatch((key or "").strip())
    if match is None:
        raise InvalidApiKey()
    given = key_hash(match.group(0))
    with desk.store.read() as repo:
        row = repo.api_keys.by_prefix(match.group(1))
        person = repo.find_person(row["user_id"]) if row else None
    stored = row["secret_hash"] if row else _DUMMY_HASH
    if not hmac.compare_digest(stored, given) or row is None or person is None:
        raise InvalidApiKey()
    if row.get("revoked_at") is not None or not row.get("user_active", True):
        raise InvalidApiKey()
    now = desk.now()
    if row.get("expires_at") is not None and row["expires_at"] <= now:
        raise InvalidApiKey(EXPIRED)
    last = row.get("last_used_at")
    if last is None or now - last >= TOUCH_EVERY:
        with desk.store.write() as repo:
            repo.api_keys.touch(row["id"], now)
    held = permissions.of_person(desk.defs, person["roles"], person["groups"])
    return {"user": str(row["user_id"]), "key_id": row["id"], "label": row.get("label"),
            "scopes": [s for s in scopes_of(row) if s in held], "expires_at": desk.iso(row.get("expires_at")),
            "permissions": sorted(held)}
