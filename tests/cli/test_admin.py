"""Administration needs an admin (#18): the first admin made with the database,
the bootstrap of a desk without one, and `system` never claimed from the CLI."""

from __future__ import annotations

import json
from typing import Any


def test_the_first_admin_and_who_may_add_people(itsm: Any) -> None:
    # a desk without an admin: the operator sets it up, a registered person may not administer
    itsm("user", "add", "chen.jie", "--email", "chen.jie@example.com", "--group", "desktop_support")
    err = itsm.json("user", "add", "evil2", "--email", "evil2@example.com", "--role", "process_owner",
                    user="chen.jie", expect=1)
    assert err["error"] == "refused" and "'admin' permission" in err["message"]
    out = itsm("db", "upgrade", "--admin", "p16.owner", "--admin-email", "p16@example.com").stdout
    assert "admin: p16.owner <p16@example.com> roles: Process owner (P16)" in out
    err = itsm("db", "upgrade", "--admin", "chen.jie", expect=2).stderr
    assert "has admins already (p16.owner)" in err
    # from now on only admins administer
    err = itsm.json("user", "add", "x1", "--email", "x1@example.com", expect=2)
    assert "who is acting" in err["message"]
    itsm.json("user", "add", "x1", "--email", "x1@example.com", "--role", "monitoring", user="p16.owner")
    ids = {p["id"]: p["roles"] for p in itsm.json("user", "list")}
    assert ids == {"chen.jie": [], "p16.owner": ["process_owner"], "x1": ["monitoring"]}


def test_db_upgrade_makes_an_existing_person_admin(itsm: Any) -> None:
    itsm("user", "add", "ma.jun", "--email", "ma.jun@example.com", "--group", "service_desk")
    itsm("db", "upgrade", "--admin", "ma.jun")
    [person] = itsm.json("user", "list")
    assert (person["id"], person["roles"], person["groups"]) == ("ma.jun", ["process_owner"], ["service_desk"])


def test_system_is_never_claimed_from_the_cli(itsm: Any, tmp_path: Any) -> None:
    itsm("db", "upgrade", "--admin", "p16.owner")
    err = itsm.json("new", "incident", "--title", "x", "--reporter", "li.na@example.com", user="system", expect=2)
    assert "'system' is the engine's own actor" in err["message"] and err["error"] == "usage"
    err = itsm.json("list", user=" SYSTEM", expect=2)  # as remote mode (--url) and a batch line say it
    assert "'system' is the engine's own actor" in err["message"]
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps({"new": "incident", "as": "System",
                                 "set": {"title": "x", "reporter": "li.na@example.com"}}) + "\n")
    out = itsm("batch", str(batch), "--json", user="p16.owner", expect=2).stdout
    assert "cannot be claimed" in out
    assert itsm.json("list") == []
