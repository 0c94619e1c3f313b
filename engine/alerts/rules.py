"""codes/alert_rules.yaml -> what an alert's ticket gets (pure).

Rules are tried in file order; the first whose conditions all hold decides and
inherits what it leaves out from ``default``.  Conditions look at ``source``,
``status``, ``labels.NAME`` or ``annotations.NAME`` (an absent label is the
empty string, as in Alertmanager): ``match`` compares exactly (or with any of a
list), ``match_re`` with a regular expression over the whole value.  Titles and
descriptions are text with ``{{ expressions }}``, compiled by engine.definitions.expressions
(the sandbox guards use), so lint and intake read them alike.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from engine.definitions.alert_table import OUTCOME_KEYS, PLACEHOLDER, TABLE
from engine.errors import UsageError
from engine.i18n import N_
from engine.definitions.expressions import ExpressionError, compile_expression
from engine.alerts.payload import Alert
from engine.model import CodeTable, Definitions, Duration

DEFAULT_TITLE = "{{ labels.alertname or 'Alert' }}: {{ summary }}"


class _Blank(dict):  # type: ignore[type-arg]
    """Labels in templates: an absent label reads as the empty string."""

    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class Mapped:
    """An alert with its rule.  The ticket fields are worked out only when an
    incident is opened (repeats of a storm never need them)."""

    alert: Alert
    rule: str  # rule id, or "default"
    ignore: bool
    group_fingerprint: str  # what deduplicates it, with its source
    outcome: Mapping[str, Any] = field(repr=False, compare=False)
    own_service: bool = field(repr=False, compare=False, default=False)
    services: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return self.alert.source, self.group_fingerprint

    @cached_property
    def values(self) -> dict[str, Any]:
        """Ticket fields for a new incident: title, description, service, urgency..."""
        o, alert = self.outcome, self.alert
        service = o.get("service") if self.own_service else None
        if service is None and o.get("service_from"):
            candidate = value_at(alert, o["service_from"])
            service = candidate if candidate in self.services else None
        if service is None:
            service = o.get("service")
        values: dict[str, Any] = dict(o.get("fields") or {})
        values.update({k: o[k] for k in ("urgency", "impact", "category", "group") if o.get(k)})
        if service:
            values["service"] = service
        context = template_context(alert)
        values["title"] = (render(o.get("title") or DEFAULT_TITLE, context)
                           or render(DEFAULT_TITLE, context))[:200]
        lead = render(o["description"], context) if o.get("description") else alert.description
        values["description"] = describe(alert, lead)
        return values


@dataclass(frozen=True)
class Rule:
    id: str
    match: tuple[tuple[str, frozenset[str]], ...]
    match_re: tuple[tuple[str, re.Pattern[str]], ...]
    ignore: bool
    outcome: Mapping[str, Any]  # the rule's own keys, default already merged in
    own_service: bool

    def holds(self, alert: Alert) -> bool:
        return all(value_at(alert, path) in allowed for path, allowed in self.match) and \
            all(rx.fullmatch(value_at(alert, path)) for path, rx in self.match_re)


def value_at(alert: Alert, path: str) -> str:
    if path == "source":
        return alert.source
    if path == "status":
        return alert.status
    kind, _, name = path.partition(".")
    return str((alert.labels if kind == "labels" else alert.annotations).get(name, ""))


@dataclass(frozen=True)
class AlertRules:
    process: str
    reporter: str
    repeat_note_every: int  # seconds
    rules: tuple[Rule, ...]
    default: Rule

    @classmethod
    def of(cls, defs: Definitions) -> AlertRules:
        table = defs.codes.get(TABLE)
        if table is None:
            raise UsageError(N_("alert intake needs codes/alert_rules.yaml in the process repository (copy "
                                "it from the defaults: 'itsm init' has one; see docs/operations.md)"))
        key = (table.file, table.sha256)
        if key not in _COMPILED:
            _COMPILED[key] = _compile(table)
        return _COMPILED[key]

    def pick(self, alert: Alert) -> Rule:
        return next((r for r in self.rules if r.holds(alert)), self.default)

    def map(self, alert: Alert, services: Mapping[str, Any]) -> Mapped:
        """``services``: the catalogue, for ``service_from``."""
        rule = self.pick(alert)
        return Mapped(alert, rule.id, rule.ignore, group_fingerprint(alert, rule.outcome.get("group_by")),
                      rule.outcome, rule.own_service, services)


def group_fingerprint(alert: Alert, group_by: Any) -> str:
    if not group_by or group_by == "fingerprint":
        return alert.fingerprint
    picked = [[name, alert.labels.get(name, "")] for name in group_by]
    canonical = json.dumps(picked, ensure_ascii=False, separators=(",", ":"))
    return "by:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]


def template_context(alert: Alert) -> dict[str, Any]:
    return {"labels": _Blank(alert.labels), "annotations": _Blank(alert.annotations),
            "summary": alert.summary, "source": alert.source, "fingerprint": alert.fingerprint,
            "status": alert.status, "starts_at": alert.starts_at or ""}


TEMPLATE_NAMES = frozenset({"labels", "annotations", "summary", "source", "fingerprint", "status",
                            "starts_at"})


def render(template: str, context: dict[str, Any]) -> str:
    """Text with {{ expressions }} filled in; a failing expression leaves nothing
    (the alert must still open its incident)."""
    def one(m: re.Match[str]) -> str:
        try:
            value = compile_expression(m.group(1).strip()).evaluate(context)
        except ExpressionError:
            return ""
        return "" if value is None else str(value)

    return " ".join(PLACEHOLDER.sub(one, template).split())


def describe(alert: Alert, lead: str | None) -> str:
    """The new incident's description: the alert's own words, then its facts."""
    lines = [lead.strip(), ""] if lead and lead.strip() else []
    lines.append(f"Raised from a monitoring alert ({alert.source}, fingerprint {alert.fingerprint}).")
    if alert.starts_at:
        lines.append(f"Firing since: {alert.starts_at}")
    if alert.labels:
        lines.append("Labels: " + ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())))
    if alert.url:
        lines.append(f"Source link: {alert.url}")
    return "\n".join(lines)


_COMPILED: dict[tuple[str, str], AlertRules] = {}


def _compile(table: CodeTable) -> AlertRules:
    extra = table.extra
    default_raw = _plain(extra.get("default") or {})
    default = Rule("default", (), (), False, {k: v for k, v in default_raw.items() if k in OUTCOME_KEYS},
                   bool(default_raw.get("service")))
    rules = []
    for rid, value in table.values.items():
        raw = _plain(dict(value.attrs))
        own = {k: v for k, v in raw.items() if k in OUTCOME_KEYS}
        outcome = {**default.outcome, **own}
        if "fields" in own:
            outcome["fields"] = {**(default.outcome.get("fields") or {}), **own["fields"]}
        match = tuple((p, frozenset(v if isinstance(v, (list, tuple)) else [v]))
                      for p, v in (raw.get("match") or {}).items())
        try:
            match_re = tuple((p, re.compile(v)) for p, v in (raw.get("match_re") or {}).items())
        except re.error as exc:  # lint reports it; a definition with errors is never loaded
            raise UsageError(N_("codes/alert_rules.yaml: rule '{rid}': bad regular expression: {exc}"),
                             values={"rid": rid, "exc": exc}) from None
        rules.append(Rule(rid, match, match_re, bool(raw.get("ignore")), outcome, "service" in own))
    every = extra.get("repeat_note_every")
    seconds = Duration.parse(str(every)).seconds if every else 0
    return AlertRules(str(extra.get("process") or "incident"), str(extra.get("reporter") or ""),
                      seconds, tuple(rules), default)


def _plain(value: Any) -> Any:
    """Frozen maps and tuples of a code table -> dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
