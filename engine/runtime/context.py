"""The plain-dict snapshot guards and criteria are evaluated against (design 5.2)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any, Mapping

from engine.model import CodeTable, Definitions, FrozenMap, ProcessSpec
from engine.runtime.fields import CORE_SPECS

_CODES_CACHE: dict[str, dict[str, Any]] = {}


def _plain(value: Any) -> Any:
    if isinstance(value, (FrozenMap, dict)):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _table_view(table: CodeTable) -> dict[str, Any]:
    return {code: dict(_plain(v.attrs), id=code, label=v.label.en, rank=v.rank)
            for code, v in table.values.items()}


def codes_view(defs: Definitions) -> dict[str, Any]:
    """Every code table as plain dicts: codes.closure['solved'].resolved."""
    view = _CODES_CACHE.get(defs.sha256)
    if view is None:
        view = {tid: _table_view(t) for tid, t in defs.codes.items()}
        _CODES_CACHE.clear()
        _CODES_CACHE[defs.sha256] = view
    return view


def service_view(defs: Definitions, service: str | None) -> dict[str, Any] | None:
    if not service:
        return None
    return codes_view(defs).get("services", {}).get(service)


def sla_view(spec: ProcessSpec, sla: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for clock in spec.clocks:
        rec = dict(sla.get(clock.id) or {})
        rec.setdefault("met", None)
        rec.setdefault("breached", False)
        rec.setdefault("warned", False)
        rec.setdefault("due", None)
        rec.setdefault("paused", False)
        rec.setdefault("elapsed_seconds", 0)
        out[clock.id] = rec
    return out


_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {}


def field_defaults(spec: ProcessSpec) -> dict[str, Any]:
    """Every field of the process, None (a fresh dict; the names are worked out once)."""
    key = (spec.id, spec.sha256)
    names = _DEFAULTS.get(key)
    if names is None:
        if len(_DEFAULTS) >= 64:
            _DEFAULTS.clear()
        names = _DEFAULTS[key] = {name: None for name in (*CORE_SPECS, *spec.fields)}
    return dict(names)


def build(defs: Definitions, spec: ProcessSpec, values: Mapping[str, Any],
          before: Mapping[str, Any], given: Mapping[str, Any], *, actor: str, action: str,
          now: datetime, sla: Mapping[str, Any], status_category: str,
          extra: Mapping[str, Any] | None = None, tz: tzinfo | None = None) -> dict[str, Any]:
    """``now`` is shown in ``tz``, the desk's time zone (the same instant): ``now.hour``
    reads the desk's local time however the time was given (the wall clock is UTC,
    --now keeps the offset it was written with)."""
    ctx = field_defaults(spec)
    ctx.update(values)
    ctx.update(
        ticket=dict(field_defaults(spec), **before), input=dict(field_defaults(spec), **given),
        service=service_view(defs, values.get("service")), codes=codes_view(defs),
        sla=sla_view(spec, sla), now=now.astimezone(tz) if tz is not None else now,
        actor=actor, action=action,
        status_category=status_category)
    if extra:
        ctx.update(extra)
    return ctx
