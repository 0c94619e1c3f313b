"""People: the staff and end users tickets name, with their roles and support groups.

A user id is a login name (:data:`USER_ID`): it is typed after ``--as``, shown
in listings, reports and messages and written into the journal, so it holds no
markup, spaces or ``@`` (an ``@`` names an end user by e-mail). A role must be
one of the processes' roles, a group one of codes/groups.yaml.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from engine.errors import UsageError
from engine.model import LANGS
from engine.desk.context import Desk

USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # 64: the people.id column
RESERVED_IDS = ("system",)  # the engine's own actions (timers, cascades) act as 'system'


def check_user_id(pid: str) -> None:
    """UsageError unless ``pid`` can be a user id."""
    if not USER_ID.fullmatch(pid):
        raise UsageError(f"user id {pid!r} is not valid: use 1 to 64 letters (a-z, A-Z), digits, "
                         "'.', '_' and '-', beginning with a letter or digit, e.g. wang.lei")
    if pid.lower() in RESERVED_IDS:
        raise UsageError(f"user id {pid!r} is reserved for the engine's own actions")


def add_user(desk: Desk, pid: str, name: str | None, email: str, phone: str | None,
             roles: Sequence[str], groups: Sequence[str], site: str | None,
             lang: str | None = None) -> dict[str, Any]:
    check_user_id(pid)
    if lang is not None and lang not in LANGS:
        raise UsageError(f"language {lang!r} is not one of {', '.join(LANGS)}")
    known_roles = {r for p in desk.defs.processes.values() for r in p.roles}
    unknown = [r for r in roles if r not in known_roles]
    if unknown:
        raise UsageError(f"unknown role(s) {', '.join(unknown)}; roles of the processes: "
                         f"{', '.join(sorted(known_roles))}")
    group_table = desk.defs.codes.get("groups")
    bad = [g for g in groups if group_table is None or g not in group_table.values]
    if bad:
        raise UsageError(f"unknown group(s) {', '.join(bad)} (see codes/groups.yaml)")
    with desk.store.write() as repo:
        repo.add_person(pid, name or pid, email.lower(), phone, site, roles, groups, desk.now(), lang)
        return person_view(desk, repo.find_person(pid))


def list_users(desk: Desk) -> list[dict[str, Any]]:
    with desk.store.read() as repo:
        return [person_view(desk, p) for p in repo.list_people()]


def person_view(desk: Desk, person: dict[str, Any]) -> dict[str, Any]:
    return dict(person, created_at=desk.iso(person.get("created_at")))
