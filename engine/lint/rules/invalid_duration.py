"""A duration that cannot be read, or that mixes business and calendar time
(``1h 2 business days``). Timers, reminders, the communication cadence and the
major-incident window would otherwise fire at the wrong time. A timer's
``remind_before`` must also be shorter than its ``after`` and than each of its
``after_by_priority`` times, and written in the same unit: the runtime takes
business days from business days and hours or minutes from hours or minutes,
so ``remind_before: 1d`` (or ``8h``) against ``after: 3 business days`` puts the
reminder at the instant the timer fires, where it is never sent, and
``remind_before: 2 business hours`` against ``after: 1 business day 1 business
hour`` reminds one hour before, not two (hours are taken from the hour only). A
repeating timer sends no reminder at all.

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
from engine.model import Duration, TimerSpec, Where

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
                yield from _reminder(ctx, doc, timer)


def _reminder(ctx: LintContext, doc: Any, timer: TimerSpec) -> Iterator[tuple[Where, str]]:
    """The reminder falls before the timer fires for every priority (engine.runtime.timers:
    ``after`` minus ``remind_before``, days from days and seconds from seconds)."""
    before = timer.remind_before
    assert before is not None
    where = ctx.where(doc, ("timers", timer.id, "remind_before"), key=False)
    if not before.seconds + before.business_days:
        return
    if timer.repeat and timer.remind:
        yield where, message(N_("timer '{id}' repeats: a repeating timer sends no reminder (remind_before); "
                                "remove it, or send the reminder from a timer of its own"), id=timer.id)
        return
    explicit = "after" in (doc.get(("timers", timer.id)) or {}) or not timer.after_by_priority
    afters = ([(message("after"), timer.after)] if explicit else []) + \
        [(message("after_by_priority {priority}", priority=p), d) for p, d in timer.after_by_priority]
    for name, after in afters:
        if (before.business_days, before.seconds) >= (after.business_days, after.seconds):
            yield where, message(N_("remind_before ({before}) is not shorter than {name} ({after})"),
                                 before=before, name=name, after=after)
            return
        if (before.business_days and not after.business_days) or (before.seconds and not after.seconds) \
                or before.seconds > after.seconds or before.business_days > after.business_days:
            # (1 business day 1 business hour less 2 business hours: the hours cannot go below
            # nothing, so the reminder came 1 hour before the timer, not 2)
            early = before.seconds > after.seconds and after.seconds and after.business_days
            yield where, message(N_("remind_before ({before}) has more hours than {name} ({after}) has beside "
                                    "its business days: the runtime takes business days from business days "
                                    "and hours from hours, so the reminder would not come {before} before the "
                                    "timer; write both in business days, or both in hours or minutes") if early
                                 else N_("remind_before ({before}) and {name} ({after}) count in different units: "
                                         "the runtime takes business days from business days and hours from hours, "
                                         "so the reminder would fall when the timer fires and never be sent; write "
                                         "both in business days, or both in hours or minutes"),
                                 before=before, name=name, after=after)
            return
