"""API keys: itsm apikey create / list / revoke, and authentication (on SQLite
and PostgreSQL): only the hash is stored, one refusal for every bad key, revoked
keys refused, only the user themself or the process owner manages a user's keys."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from engine.errors import InvalidApiKey


def _open(db_url: str) -> Any:
    from engine.api import Api

    return Api.open(home=str(Path(__file__).resolve().parents[2]), db=db_url)


def _rows(db_url: str) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from engine.store.schema import api_keys

    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1),
                              poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(api_keys).order_by(api_keys.c.id)).mappings()]
    finally:
        engine.dispose()


def test_create_list_revoke_through_the_cli(itsm: Any, org: Any, db_url: str) -> None:
    created = itsm.json("apikey", "create", "--user", org.desktop.id, "--label", "ticket bot",
                        user=org.owner.id)
    key = created["key"]
    assert key.startswith("itsm_") and created["user"] == org.desktop.id
    assert created["label"] == "ticket bot" and created["created_by"] == org.owner.id
    assert created["active"] and created["revoked_at"] is None

    # only the SHA-256 of the key is stored, never the key
    [row] = _rows(db_url)
    assert row["secret_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in repr(row) and key.split("_", 2)[2] not in repr(row)

    # the key is shown once: listings carry its prefix only
    listed = itsm.json("apikey", "list", user=org.owner.id)
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and listed[0]["prefix"] == "_".join(key.split("_")[:2])
    assert key not in itsm("apikey", "list", user=org.owner.id).stdout

    api = _open(db_url)
    assert api.authenticate(key) == org.desktop.id
    revoked = itsm.json("apikey", "revoke", str(created["id"]), user=org.desktop.id)
    assert revoked["revoked_at"] and not revoked["active"]
    with pytest.raises(InvalidApiKey):
        api.authenticate(key)


def test_who_may_manage_keys(itsm: Any, org: Any) -> None:
    # a user manages their own keys
    own = itsm.json("apikey", "create", "--user", org.agent.id, user=org.agent.id)
    # but not another user's: only the process owner may
    err = itsm.json("apikey", "create", "--user", org.desktop.id, user=org.agent.id, expect=1)
    assert err["error"] == "refused" and err["allowed_roles"] == ["process_owner"]
    theirs = itsm.json("apikey", "create", "--user", org.desktop.id, user=org.owner.id)
    err = itsm.json("apikey", "revoke", str(theirs["id"]), user=org.agent.id, expect=1)
    assert err["allowed_roles"] == ["process_owner"]
    err = itsm.json("apikey", "list", "--user", org.desktop.id, user=org.agent.id, expect=1)
    assert err["error"] == "refused"
    # each sees their own keys; the process owner sees everyone's
    assert [k["id"] for k in itsm.json("apikey", "list", user=org.agent.id)] == [own["id"]]
    assert {k["id"] for k in itsm.json("apikey", "list", user=org.owner.id)} == {own["id"], theirs["id"]}
    assert [k["id"] for k in itsm.json("apikey", "list", "--user", org.desktop.id, user=org.owner.id)] \
        == [theirs["id"]]
    # unknown users and keys; no acting user at all
    assert itsm.json("apikey", "create", "--user", "nobody", user=org.owner.id, expect=4)["error"] == "not_found"
    assert itsm.json("apikey", "revoke", "999", user=org.owner.id, expect=4)["error"] == "not_found"
    itsm("apikey", "create", "--user", org.agent.id, expect=2)
    # an end user known only by e-mail cannot get a key
    itsm("apikey", "create", "--user", org.reporter, user=org.owner.id, expect=4)


def test_every_bad_key_gets_the_same_refusal(itsm: Any, org: Any, db_url: str) -> None:
    key = itsm.json("apikey", "create", "--user", org.agent.id, user=org.agent.id)["key"]
    _, prefix, secret = key.split("_", 2)
    other_secret = ("A" if secret[0] != "A" else "B") + secret[1:]
    unknown_prefix = ("0" if prefix[0] != "0" else "1") + prefix[1:]
    api = _open(db_url)
    messages = set()
    for bad in (None, "", "itsm", "Bearer " + key, key + "x", f"itsm_{prefix}_{other_secret}",
                f"itsm_{unknown_prefix}_{secret}", key.upper(), "itsm_" + "0" * 12 + "_" + "x" * 43):
        with pytest.raises(InvalidApiKey) as caught:
            api.authenticate(bad)
        messages.add((caught.value.message, caught.value.kind, int(caught.value.exit_code)))
    assert len(messages) == 1
    assert api.authenticate(key) == org.agent.id


def test_last_use_is_recorded(itsm: Any, org: Any, db_url: str) -> None:
    key = itsm.json("apikey", "create", "--user", org.agent.id, user=org.agent.id)["key"]
    assert itsm.json("apikey", "list", user=org.agent.id)[0]["last_used_at"] is None
    _open(db_url).authenticate(key)
    assert itsm.json("apikey", "list", user=org.agent.id)[0]["last_used_at"] is not None


def test_apikey_text_output(itsm: Any, org: Any) -> None:
    out = itsm("apikey", "create", "--user", org.agent.id, "--label", "cli", user=org.agent.id).stdout
    key = out.splitlines()[0]
    key_id = out.splitlines()[1].split()[2]
    assert key.startswith("itsm_") and "shown only now" in out
    table = itsm("apikey", "list", user=org.agent.id).stdout
    assert "cli" in table and key not in table
    assert "revoked" in itsm("apikey", "revoke", key_id, user=org.agent.id).stdout
