"""A value written in an action's ``set:`` or in ``defaults:`` is not a value of
its field's type: ``affected_users: many`` for an ``int`` field, ``maybe`` for a
``bool``, ``true`` for an ``int``, a date that is not ``YYYY-MM-DD``, a retired
code (``active: false``), a list, an empty title or reporter (every ticket keeps
both). The runtime reads ``set:`` values as it reads
``--set`` (engine.runtime.fields ``coerce``), so such an action is refused every
time it is performed; a default would be stored as written, a value its field
cannot hold. A ``"{{ expression }}"`` is checked when the action runs; a code
missing from its table is R001's finding.

Bad::

    fields:
      affected_users: {type: int, label: {en: Affected users, zh: 受影响用户数}}
    actions:
      escalate: {from: new, roles: [service_desk], set: {affected_users: many}}

Good::

    fields:
      affected_users: {type: int, label: {en: Affected users, zh: 受影响用户数}}
    actions:
      escalate: {from: new, roles: [service_desk], set: {affected_users: 100}}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, cast

from engine.definitions.expressions import template_source
from engine.errors import ActionRefused, UsageError
from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.lint.rules._load import error_text
from engine.model import CodeTable, Definitions, ProcessSpec, Where
from engine.runtime.fields import KEPT, coerce, field_spec

ID = "S003"
SLUG = "field-value"
SEVERITY = "error"


@dataclass(frozen=True)
class _Tables:
    """What :func:`coerce` reads of the definitions: the code tables."""

    codes: Mapping[str, CodeTable]


class _AnyOne:
    """People and tickets are in the database, not in the definitions: a literal
    ``user`` or ``ticket`` value is left to the runtime."""

    def person_id(self, ident: str) -> str | None:
        return ident

    def ticket_exists(self, key: str) -> bool:
        return True


def _problem(ctx: LintContext, spec: ProcessSpec, name: str, raw: Any) -> str | None:
    """Why the runtime would not take ``raw`` for field ``name`` (None: it would,
    or lint cannot tell)."""
    fs = field_spec(spec, name)
    if fs is None or template_source(raw) is not None or fs.type in ("user", "ticket"):
        return None  # an undefined field is R001's; an expression is read when the action runs
    if isinstance(raw, (list, dict)):
        return message(N_("the value for {name} is a {kind}, not a single value"), name=name,
                       kind="list" if isinstance(raw, list) else "mapping")
    if fs.id in KEPT and (raw is None or (isinstance(raw, str) and not raw.strip())):
        return message(N_("it empties {name}, which every ticket keeps"), name=name)
    table = fs.codes if fs.type == "code" else "groups" if fs.type == "group" else None
    if table is not None and (not ctx.codes_known(table) or str(raw) not in ctx.codes(table)):
        return None  # an unknown table or code is R001's finding
    tables = _Tables({tid: t for tid, (_, t) in ctx.tables.items()})
    try:
        coerce(cast(Definitions, tables), fs, raw, _AnyOne())
    except (ActionRefused, UsageError) as exc:
        return error_text(exc)
    return None


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, spec in ctx.valid_processes():
        for aid, action in spec.actions.items():
            for name, raw in action.set:
                why = _problem(ctx, spec, name, raw)
                if why is not None:
                    yield ctx.where(doc, ("actions", aid, "set", name), key=False), \
                        message(N_("set: {why}: action '{action}' would be refused every time it is performed"),
                                why=why, action=aid)
        for name, raw in spec.defaults:
            why = _problem(ctx, spec, name, raw)
            if why is not None:
                yield ctx.where(doc, ("defaults", name), key=False), \
                    message(N_("defaults: {why}: every ticket logged without it would get a value its field "
                               "cannot hold"), why=why)
