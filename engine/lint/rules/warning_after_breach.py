"""An SLA warning threshold at or above 100% fires with the breach or after it, so
nobody is warned in time. Checked for each clock's ``warning`` and each policy's
``warning`` in codes/sla.yaml.

Bad::

    sla:
      resolution: {target: resolution, start: {states: [new]}, stop: {states: [resolved]}, warning: 100%}

Good::

    sla:
      resolution: {target: resolution, start: {states: [new]}, stop: {states: [resolved]}, warning: 75%}
"""

from __future__ import annotations

from typing import Any, Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.model import Where

ID = "T004"
SLUG = "warning-after-breach"
SEVERITY = "error"


def _percent(value: Any) -> float | None:
    try:
        return float(str(value).strip().rstrip("%"))
    except ValueError:
        return None


def _message(value: Any, whose: str) -> str:
    return message(N_("the warning of {whose} ({value}) is not before the breach (100%): "
                      "nobody is warned in time; use e.g. 75%"), whose=whose, value=value)


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, spec in ctx.valid_processes():
        for clock in spec.clocks:
            raw = doc.get(("sla", clock.id, "warning"))
            percent = _percent(raw) if raw is not None else None
            if percent is not None and percent >= 100:
                yield ctx.where(doc, ("sla", clock.id, "warning"), key=False), \
                    _message(raw, message(N_("clock '{id}'"), id=clock.id))
    entry = ctx.tables.get("sla")
    if entry is not None:
        doc, table = entry
        for code, policy in table.values.items():
            raw = policy.get("warning")
            percent = _percent(raw) if raw is not None else None
            if percent is not None and percent >= 100:
                yield ctx.where(doc, ("values", code, "warning"), key=False), \
                    _message(raw, message(N_("SLA policy '{id}'"), id=code))
