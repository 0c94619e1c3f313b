"""A duration that cannot be read, or that mixes business and calendar time
(``1h 2 business days``). Timers, reminders, the communication cadence and the
major-incident window would otherwise fire at the wrong time.

Bad::

    timers:
      auto_close: {states: [resolved], after: 1h 2 business days, action: auto_close}

Good::

    timers:
      auto_close: {states: [resolved], after: 3 business days, action: auto_close}
"""

from __future__ import annotations

from typing import Any, Iterator

from engine.lint.rules._load import error_text
from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.model import Duration, Where

ID = "T001"
SLUG = "invalid-duration"
SEVERITY = "error"


def _paths(data: dict[str, Any]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    for tid, timer in (data.get("timers") or {}).items():
        if not isinstance(timer, dict):
            continue
        for key in ("after", "remind_before"):
            if key in timer:
                yield ("timers", tid, key), timer[key]
        for prio, value in (timer.get("after_by_priority") or {}).items():
            yield ("timers", tid, "after_by_priority", prio), value
    crit = data.get("criteria")
    if isinstance(crit, dict) and "window" in crit:
        yield ("criteria", "window"), crit["window"]


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, spec in ctx.valid_processes():
        for path, value in _paths(doc.data if isinstance(doc.data, dict) else {}):
            try:
                Duration.parse(str(value))
            except ValueError as exc:
                yield ctx.where(doc, path, key=False), error_text(exc)
        for timer in spec.timers:
            if timer.remind_before is not None:
                before, after = timer.remind_before, timer.after
                if (before.business_days, before.seconds) >= (after.business_days, after.seconds) \
                        and before.seconds + before.business_days > 0:
                    yield ctx.where(doc, ("timers", timer.id, "remind_before"), key=False), \
                        message(N_("remind_before ({before}) is not shorter than after ({after})"),
                                before=before, after=after)
