"""The desk server's labels, read back for a CLI in remote mode.

In remote mode the definitions are the server's, not the client's; a command
that speaks another language than English shows code values, states, actions,
roles and SLA clocks by their labels (commands.common.Labels), so it asks the
server once for them (``GET /api/v1/labels``: engine.model.label_document) and
reads them as the part of engine.model.Definitions those labels come from.
Only a command in another language asks; English shows ids and asks nothing.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start-up of a remote command)
if TYPE_CHECKING:
    from typing import Any, Mapping

from engine.model import Label, first_role_label

MAX_ITEMS = 100_000  # labels read from one answer (a bound, far above a real desk's)


class LabelsMalformed(ValueError):
    """The server's answer is not a label document."""


class Named:
    """A state, action, SLA clock, timer or criterion: its id and label."""

    __slots__ = ("id", "label")

    def __init__(self, ident: str, label: Label) -> None:
        self.id, self.label = ident, label


class Field:
    """A field's type and, for a code field, its code table."""

    __slots__ = ("type", "codes")

    def __init__(self, type: str, codes: str | None) -> None:  # noqa: A002 - as FieldSpec names it
        self.type, self.codes = type, codes


class Process:
    """What engine.model.ProcessSpec says of the labels of a process."""

    __slots__ = ("id", "title", "states", "actions", "roles", "fields", "clocks", "timers", "criteria")

    def __init__(self, pid: str, doc: Mapping[str, Any], budget: list[int]) -> None:
        self.id = pid
        self.title = _label(doc.get("title"), pid)
        self.states = {s: Named(s, _label(v, s)) for s, v in _items(doc.get("states"), budget)}
        self.actions = {a: Named(a, _label(v, a)) for a, v in _items(doc.get("actions"), budget)}
        self.roles = {r: _label(v, r) for r, v in _items(doc.get("roles"), budget)}
        self.fields = {f: Field(str(_dict(v).get("type") or "string"), _text(_dict(v).get("codes")))
                       for f, v in _items(doc.get("fields"), budget)}
        self.clocks = _named(doc.get("clocks"), budget)
        self.timers = _named(doc.get("timers"), budget)
        self.criteria = _named(doc.get("criteria"), budget)


class Codes:
    """A code table's labels (engine.model.CodeTable.label)."""

    __slots__ = ("id", "labels")

    def __init__(self, tid: str, doc: Any, budget: list[int]) -> None:
        self.id = tid
        self.labels = {code: _label(v, code) for code, v in _items(doc, budget)}

    def label(self, code: str, lang: str = "en") -> str:
        found = self.labels.get(code)
        return found.get(lang) if found is not None else str(code)


class RemoteDefinitions:
    """The server's definitions as far as their labels go: ``processes``,
    ``codes``, ``role_label`` and ``sha256`` (the server's version of them)."""

    def __init__(self, doc: Any) -> None:
        if not isinstance(doc, dict) or not isinstance(doc.get("processes"), dict) \
                or not isinstance(doc.get("codes"), dict):
            raise LabelsMalformed("not a label document")
        budget = [MAX_ITEMS]
        self.sha256 = str(doc.get("version") or "")
        self.processes = {pid: Process(pid, _dict(p), budget) for pid, p in _items(doc["processes"], budget)}
        self.codes = {tid: Codes(tid, t, budget) for tid, t in _items(doc["codes"], budget)}

    def role_label(self, role: str) -> Label | None:
        return first_role_label(self.processes.values(), role)


def _spend(budget: list[int], n: int) -> None:
    budget[0] -= n
    if budget[0] < 0:
        raise LabelsMalformed(f"more than {MAX_ITEMS} labels")


def _items(value: Any, budget: list[int]) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise LabelsMalformed("a mapping was expected")
    _spend(budget, len(value))
    return [(str(k), v) for k, v in value.items()]


def _named(value: Any, budget: list[int]) -> tuple[Named, ...]:
    """A list of {id, label} (clocks, timers, criteria)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise LabelsMalformed("a list of mappings was expected")
    _spend(budget, len(value))
    return tuple(Named(str(v.get("id")), _label(v.get("label"), str(v.get("id")))) for v in value)


def _dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise LabelsMalformed("a mapping was expected")
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _label(value: Any, fallback: str) -> Label:
    """A label {en, zh}; what is missing or not text is the id."""
    value = value if isinstance(value, dict) else {}
    en = value.get("en") if isinstance(value.get("en"), str) and value.get("en") else fallback
    zh = value.get("zh") if isinstance(value.get("zh"), str) and value.get("zh") else en
    return Label(en, zh)
