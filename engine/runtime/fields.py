"""Typing and checking field values given on the command line or API.

Text (the command line, the portal's forms) is read as the field's type, and a
value that does not read is refused (ActionRefused).  A value that comes typed,
as JSON does, must also have a type the field can take: ``true`` is not a
count and ``3.7`` is not a whole number, so they are not turned into 1 and 3
but refused as a malformed request (UsageError: exit 2, HTTP 400).
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from typing import Any, Protocol

from engine.errors import ActionRefused, UsageError
from engine.i18n import N_, Said, message, named, names
from engine.model import Definitions, Duration, FieldSpec, Label, ProcessSpec

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = {"true", "yes", "y", "1", "on", "是", "真"}
_FALSE = {"false", "no", "n", "0", "off", "否", "假"}

# The longest value of a short (string) and a long (text) field: what one action
# may make the search index, the journal and every notification carry; a core
# field with a column of its own, that column's size (title 500).  The JSON API's
# own bounds are within them (title 500, description 20,000); mail (title 200,
# text 10,000) stays within them, alerts' text is cut (engine.alerts.groups).
MAX_STRING = 2_000
MAX_TEXT = 100_000
# core fields kept in columns of their own size (engine/store/schema.py tickets)
COLUMN_LIMITS = {"title": 500, "reporter_phone": 40}
# the core fields every ticket keeps (NOT NULL columns): no action may empty them
KEPT = ("title", "reporter")
MAX_EMAIL = 254  # an e-mail address (RFC 5321's path limit; the reporter column's size)
MAX_WHOLE = 10 ** 18  # an int field's values lie strictly between -MAX_WHOLE and MAX_WHOLE

# types and code tables of the core fields
CORE_SPECS: dict[str, FieldSpec] = {
    "title": FieldSpec("title", "string", Label("Title", "标题"), public=True),
    "description": FieldSpec("description", "text", Label("Description", "描述"), public=True),
    "reporter": FieldSpec("reporter", "email", Label("Reporter", "报告人")),
    "reporter_phone": FieldSpec("reporter_phone", "string", Label("Reporter phone", "报告人电话")),
    "assignee": FieldSpec("assignee", "user", Label("Assignee", "处理人")),
    "group": FieldSpec("group", "code", Label("Group", "处理组"), codes="groups", public=True),
    "urgency": FieldSpec("urgency", "code", Label("Urgency", "紧急程度"), codes="urgency", public=True),
    "impact": FieldSpec("impact", "code", Label("Impact", "影响度"), codes="impact", public=True),
    "priority": FieldSpec("priority", "code", Label("Priority", "优先级"), codes="priority", public=True),
    "service": FieldSpec("service", "code", Label("Service", "服务"), codes="services", public=True),
    "category": FieldSpec("category", "code", Label("Category", "类别"), codes="categories"),
    "parent": FieldSpec("parent", "ticket", Label("Parent", "上级工单")),
}


class Lookup(Protocol):
    def person_id(self, ident: str) -> str | None: ...

    def ticket_exists(self, key: str) -> bool: ...


def is_email(text: str) -> bool:
    """Whether ``text`` is an e-mail address, as an ``email`` field takes one."""
    return len(text) <= MAX_EMAIL and _EMAIL.match(text) is not None


def field_spec(spec: ProcessSpec, name: str) -> FieldSpec | None:
    return spec.fields.get(name) or CORE_SPECS.get(name)


def _codes(table: Any, codes: Any) -> Said:
    """Code values for a message: their ids, in Chinese their labels (engine.i18n.named)."""
    return names(named(c, lambda lang, c=c: table.label(str(c), lang)) for c in codes)


def max_length(fs: FieldSpec | None) -> int:
    """The most characters a text value of the field holds (a field unknown: a text's)."""
    if fs is not None and fs.id in COLUMN_LIMITS:
        return COLUMN_LIMITS[fs.id]
    return MAX_STRING if fs is not None and fs.type == "string" else MAX_TEXT


def coerce(defs: Definitions, fs: FieldSpec, raw: Any, lookup: Lookup) -> Any:
    """A value of the field's type, or ActionRefused saying what is wrong."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None

    def bad(why: str) -> ActionRefused:
        return ActionRefused(N_("invalid value {raw!r} for {field}: {why}"), reason=why,
                             values={"raw": raw, "field": named(fs.id, fs.label), "why": message(why)})

    def mistyped(why: str) -> UsageError:
        return UsageError(N_("invalid value {raw} for {field}: {why}"), field=fs.id, reason=why,
                          values={"raw": json.dumps(raw), "field": named(fs.id, fs.label), "why": message(why)})

    text = raw.strip() if isinstance(raw, str) else raw
    kind = fs.type
    if kind in ("string", "text"):
        limit = max_length(fs)
        if len(str(text)) > limit:
            raise UsageError(N_("{field}: at most {limit} characters, not {length}"), field=fs.id,
                             values={"field": named(fs.id, fs.label), "limit": limit, "length": len(str(text))})
        return str(text)
    if kind == "bool":
        if isinstance(text, bool):
            return text
        low = str(text).lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise bad(N_("expected true or false"))
    if kind == "int":
        if isinstance(text, bool):
            raise mistyped(N_("expected a whole number, not true or false"))
        if isinstance(text, float) and not text.is_integer():
            raise mistyped(N_("expected a whole number, not a number with a fraction")
                           if math.isfinite(text) else N_("expected a whole number"))
        try:
            whole = int(text)
        except (TypeError, ValueError, OverflowError):
            raise bad(N_("expected a whole number")) from None
        if abs(whole) >= MAX_WHOLE:  # a count, not a 301-digit number from 1e300
            raise mistyped(N_("expected a whole number of at most 18 digits"))
        return whole
    if kind == "number":
        if isinstance(text, bool):
            raise mistyped(N_("expected a number, not true or false"))
        try:
            number = float(text)
        except (TypeError, ValueError):
            raise bad(N_("expected a number")) from None
        if not math.isfinite(number):  # nan, inf: not a measurement, and JSON has no such number
            raise bad(N_("expected a finite number"))
        return number
    if kind == "code":
        table = defs.codes.get(fs.codes or "")
        if table is None or str(text) not in table.values:
            if not table:
                raise bad(message(N_("not a code of table '{table}'"), table=fs.codes))
            raise bad(message(N_("not a code of table '{table}'; known: {known}"), table=fs.codes,
                              known=_codes(table, table.values)))
        if table.values[str(text)].get("active", True) is False:
            live = [c for c, v in table.values.items() if v.get("active", True) is not False]
            raise bad(message(N_("code '{code}' of table '{table}' is retired (active: false); "
                                 "choose one of: {live}"), code=_codes(table, [text]), table=fs.codes,
                              live=_codes(table, live)))
        return str(text)
    if kind == "date":
        try:
            return date.fromisoformat(str(text)).isoformat()
        except ValueError:
            raise bad(N_("expected a date YYYY-MM-DD")) from None
    if kind == "datetime":
        try:
            value = datetime.fromisoformat(str(text))
        except ValueError:
            raise bad(N_("expected an ISO 8601 time with offset")) from None
        if value.tzinfo is None:
            raise bad(N_("the time needs an offset, e.g. +08:00"))
        return value.isoformat()
    if kind == "duration":
        try:
            return str(Duration.parse(str(text)))
        except ValueError as exc:
            raise bad(message("{error}", error=exc)) from None
    if kind == "email":
        if len(str(text)) > MAX_EMAIL:
            raise UsageError(N_("{field}: at most {limit} characters, not {length}"), field=fs.id,
                             values={"field": named(fs.id, fs.label), "limit": MAX_EMAIL, "length": len(str(text))})
        if not _EMAIL.match(str(text)):
            raise bad(N_("expected an e-mail address"))
        return str(text).lower()
    if kind == "user":
        pid = lookup.person_id(str(text))
        if pid is None:
            raise bad(N_("no such user (see 'itsm user list')"))
        return pid
    if kind == "group":
        table = defs.codes.get("groups")
        if table is None or str(text) not in table.values:
            raise bad(N_("no such support group"))
        return str(text)
    if kind == "ticket":
        key = str(text).upper()
        if not lookup.ticket_exists(key):
            raise bad(N_("no such ticket"))
        return key
    return text

