"""Permissions: what a person may do besides the actions of the processes.

The process repository declares them in ``codes/permissions.yaml``, each granted
to roles (docs/security.md): ``admin`` (people, roles, groups, API keys,
``migrate --apply``), ``impersonate`` (act for another person over the API),
``read``, ``write`` and ``alerts`` (which also cap an API key's scopes) and
``internal_notes``.  A repository without the table gets :data:`DEFAULTS`, the
shipped table.  The engine itself (``system``) holds every permission.  The
role ``group_member`` stands for a member of any support group (codes/groups.yaml),
who works tickets without a role of their own; the table's ``roles:`` declares
roles no process has (``monitoring``), which people may hold (lint C004).
"""

from __future__ import annotations

from typing import Iterable

from engine.errors import ActionRefused
from engine.i18n import N_, named, names, Said
from engine.model import Definitions
from engine.runtime.actions import Actor

PERMISSIONS = ("admin", "impersonate", "read", "write", "alerts", "internal_notes")
SCOPES = ("read", "write", "alerts")  # the permissions an API key carries as scopes
_STAFF = ("process_owner", "service_desk", "incident_manager", "major_incident_manager", "fulfiller",
          "group_member")
DEFAULTS: dict[str, tuple[str, ...]] = {
    "admin": ("process_owner",), "impersonate": ("process_owner",),
    "read": (*_STAFF, "approver"), "write": (*_STAFF, "approver"),
    "alerts": ("process_owner", "service_desk", "incident_manager", "monitoring"), "internal_notes": _STAFF}


def granted(defs: Definitions) -> dict[str, tuple[str, ...]]:
    """Permission -> the roles that hold it."""
    table = defs.codes.get("permissions")
    if table is None:
        return dict(DEFAULTS)
    return {p: tuple(table.values[p].get("roles") or ()) if p in table.values else () for p in PERMISSIONS}


def roles_with(defs: Definitions, permission: str) -> tuple[str, ...]:
    return granted(defs).get(permission, ())


def of_person(defs: Definitions, roles: Iterable[str], groups: Iterable[str] = ()) -> frozenset[str]:
    """The permissions of a person with these roles and support groups."""
    held = set(roles) | ({"group_member"} if any(True for _ in groups) else set())
    return frozenset(p for p, rs in granted(defs).items() if held & set(rs))


def holds(defs: Definitions, actor: Actor, permission: str) -> bool:
    return actor.system or permission in of_person(defs, actor.roles, actor.groups)


def known_roles(defs: Definitions) -> set[str]:
    """The roles a person may hold: the processes' and those the permissions name."""
    roles = {r for p in defs.processes.values() for r in p.roles}
    table = defs.codes.get("permissions")
    roles.update((table.extra.get("roles") or {}) if table is not None else ("monitoring",))
    return roles


def require(defs: Definitions, actor: Actor, permission: str, what: str) -> None:
    """ActionRefused (403 over the API) unless ``actor`` holds ``permission``."""
    refused = refusal(defs, actor, permission, what)
    if refused is not None:
        raise refused


def refusal(defs: Definitions, actor: Actor, permission: str, what: str) -> ActionRefused | None:
    """The refusal :func:`require` raises when ``actor`` lacks ``permission`` (None: they hold it)."""
    if holds(defs, actor, permission):
        return None
    roles = roles_with(defs, permission)
    return ActionRefused(N_("{actor} may not {what}: it needs the '{permission}' permission (roles: {roles}; "
                            "codes/permissions.yaml)"),
                         allowed_roles=roles or (permission,),
                         values={"actor": actor.id, "what": what, "permission": permission,
                                 "roles": role_names(defs, roles)})


CONSOLE_REFUSALS = {  # the agent console (engine/web/console.py) to a key without the scope
    "read": N_("{user} may not read tickets in the agent console: the roles of this account do not allow it "
               "(codes/permissions.yaml)"),
    "write": N_("{user} may not act on tickets in the agent console: the roles of this account do not allow "
                "it (codes/permissions.yaml)"),
}


def console_refusal(user: str, scopes: Iterable[str], need: str) -> ActionRefused | None:
    """Why a signed-in person whose key lacks ``need`` (read or write: the scopes of
    engine.desk.apikeys, capped by the person's roles) is refused the console's page
    or form; None when the key has it."""
    if need in scopes:
        return None
    return ActionRefused(CONSOLE_REFUSALS[need], values={"user": user}, allowed_roles=[need])


def role_names(defs: Definitions, roles: Iterable[str]) -> Said:
    """Roles by their labels (where a process declares one), for a message."""
    labels = {r: lab for p in defs.processes.values() for r, lab in p.roles.items()}
    return names(named(r, labels.get(r)) for r in roles)
