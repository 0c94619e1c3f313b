"""A duration so long that counting it is absurd: an SLA target, a timer, the
major-incident window or the alert note interval that ends more than five years
after it starts (1830 days), counted in its business calendar. ``99999999999m``
is a typo, not a target; and in a calendar with little working time even
``2000 business hours`` lasts decades. The engine refuses to count more than ten
years ahead at run time (the work of every ticket's SLA arithmetic stays
bounded), so such a definition would refuse every ticket.

The calendar of an SLA target is its policy's; a timer counts in its own
``calendar``, else in that of the ticket's service (any service's), else in the
default policy's. Holidays are counted as they are listed.

Bad::

    silver:
      calendar: head_office
      targets:
        P1: {response: 15 business minutes, resolution: 99999999999m}

Good::

    silver:
      calendar: head_office
      targets:
        P1: {response: 15 business minutes, resolution: 4 business hours}
"""

from __future__ import annotations

import math
import weakref
from datetime import date, datetime, time, timedelta
from typing import Any, Callable, Iterator

from engine.i18n import N_, message
from engine.clock.calendars import MAX_REACH_DAYS, Calendar, CalendarError
from engine.lint.context import LintContext
from engine.definitions.loader import Document
from engine.model import CodeTable, Duration, Where
from engine.clock.sla import target_seconds

ID = "T007"
SLUG = "duration-too-long"
SEVERITY = "error"

LIMIT_DAYS = MAX_REACH_DAYS // 2  # half the run-time bound: room for repeats and rounding
_DAY_US = 86_400_000_000
_SAMPLES = 200  # start days tried across the listed holidays (see _worst_reach)
_ALWAYS = Calendar.always_open()

Path = tuple[str | int, ...]
# where a duration is written, what to call it, the duration, the calendars it may count
# in, and whether it counts as SLA clocks count (else as timers do)
Use = tuple[Document, Path, str, Duration, tuple[Calendar, ...], bool]


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    cals = _calendars(ctx.table("calendars"))
    for doc, path, what, duration, calendars, working in _uses(ctx, cals):
        for cal in calendars:
            days = reach_days(cal, duration, working)
            if days is None or days > LIMIT_DAYS:
                counted = message(N_(" in calendar '{id}'"), id=cal.id) if cal is not _ALWAYS else ""
                far = (message(N_("more than five years{counted}"), counted=counted) if days is None
                       else message(N_("up to {days} days{counted}, more than five years"),
                                    days=math.ceil(days), counted=counted))
                yield ctx.where(doc, path, key=False), \
                    (message(N_("{what} ({duration}) lasts {far}: check the number and the unit (at most {LIMIT_DAYS} days)"),
                             what=what, duration=duration, far=far, LIMIT_DAYS=LIMIT_DAYS))
                break


def _calendars(table: CodeTable | None) -> dict[str, Calendar]:
    """The calendars that can be counted in (invalid-calendar reports the others)."""
    out: dict[str, Calendar] = {}
    for code, value in (table.values.items() if table else ()):
        if not Calendar.problems(code, value.attrs):
            out[code] = Calendar.from_dict(code, value.attrs)
    return out


def _uses(ctx: LintContext, cals: dict[str, Calendar]) -> Iterator[Use]:
    sla = ctx.tables.get("sla")
    default_cal = _ALWAYS
    if sla is not None:
        doc, table = sla
        default = table.values.get(str(table.extra.get("default")))
        default_cal = cals.get(str(default.get("calendar")), _ALWAYS) if default else _ALWAYS
        for code, policy in table.values.items():
            cal = cals.get(str(policy.get("calendar")), _ALWAYS)
            for prio, targets in (policy.get("targets") or {}).items():
                for clock, raw in (targets or {}).items():
                    duration = _parse(raw)
                    if duration is not None:
                        yield (doc, ("values", code, "targets", prio, clock),
                               message(N_("the response target of SLA policy '{code}' for {prio}")
                                       if clock == "response" else
                                       N_("the resolution target of SLA policy '{code}' for {prio}")
                                       if clock == "resolution" else
                                       N_("the {clock} target of SLA policy '{code}' for {prio}"),
                                       clock=clock, code=code, prio=prio), duration,
                               (cal,), True)
    services = ctx.table("services")
    service_cals = {cals[c] for c in (v.get("calendar") for v in services.values.values())
                    if c in cals} if services else set()
    anywhere = tuple(sorted(service_cals | {default_cal}, key=lambda c: c.id))
    for doc, spec in ctx.valid_processes():
        for timer in spec.timers:
            calendars = (cals[timer.calendar],) if timer.calendar in cals else anywhere
            after = ("timers", timer.id, "after")
            durations: list[tuple[Path, Any]] = [(after, doc.get(after))]
            durations += [(("timers", timer.id, "after_by_priority", p), raw) for p, raw in
                          (doc.get(("timers", timer.id, "after_by_priority")) or {}).items()]
            for path, raw in durations:
                duration = _parse(raw)
                if duration is not None:
                    yield doc, path, message(N_("timer '{id}'"), id=timer.id), duration, calendars, False
        window = _parse(doc.get(("criteria", "window")))
        if window is not None:  # wall-clock time: its seconds
            yield doc, ("criteria", "window"), message(N_("the criteria window")), window, (_ALWAYS,), True
    alerts = ctx.tables.get("alert_rules")
    if alerts is not None:
        doc, table = alerts
        every = _parse(table.extra.get("repeat_note_every"))
        if every is not None:
            yield doc, ("repeat_note_every",), "repeat_note_every", every, (_ALWAYS,), True


def _parse(raw: Any) -> Duration | None:
    if raw is None:
        return None
    try:
        return Duration.parse(str(raw))
    except ValueError:
        return None  # invalid-duration or sla-targets reports it


def reach_days(cal: Calendar, duration: Duration, working: bool) -> float | None:
    """The longest a duration can take in ``cal``, in days (None: more than
    LIMIT_DAYS, known without working it out, or beyond the run-time bound).
    ``working``: counted as SLA clocks count (business days as standard working
    days of the calendar, then working time); else as timers count
    (:meth:`Calendar.add`)."""
    if duration.seconds > LIMIT_DAYS * 86_400 or duration.business_days > LIMIT_DAYS:
        return None  # working time is never more than the time it takes, a business day a day
    arith: Callable[[Calendar, int], int]
    if working:
        total = round(target_seconds(duration, cal) * 1_000_000)
        if cal.always:
            return total / _DAY_US
        arith = lambda c, u: c.add_working_micros(u, total)  # noqa: E731
    else:
        if cal.always and not duration.business_days:
            return duration.seconds / 86_400
        arith = lambda c, u: c.micros(c.add(c.local(u), duration))  # noqa: E731
    try:
        return _worst_reach(cal, arith) / _DAY_US
    except CalendarError:
        return None


def _worst_reach(cal: Calendar, arith: Callable[[Calendar, int], int]) -> int:
    """The longest ``arith(cal, u) - u`` over every start ``u``, to within a day
    (and a few DST hours), in microseconds.

    A start later in a day never ends after the next day's start does, so day
    starts suffice (plus a day). Without holidays the calendar repeats weekly:
    seven starts give the longest, ``P``. Each holiday date delays the end by at
    most a week (the working time or working date it takes away comes back
    within a week), so with ``H`` holiday dates no start needs more than
    ``P + 7 (H + 1)`` days. Only when that exceeds the limit are start days
    across the listed holidays tried, at most _SAMPLES of them, evenly spaced
    (a start at most ``gap`` days before a tried one ends no later than it
    does: ``gap`` is added)."""
    plain = cal if cal.always else _plain(cal)
    monday = date(2026, 1, 5)
    weekly = max(_from(plain, monday + timedelta(days=i), arith) for i in range(7)) + _DAY_US
    closed = sorted(d for d in cal.holidays if d not in cal.workdays)
    bound = weekly + (7 * (len(closed) + 1) * _DAY_US if closed else 0)
    if bound <= LIMIT_DAYS * _DAY_US:
        return bound
    if weekly > LIMIT_DAYS * _DAY_US:
        return weekly
    first = closed[0] - timedelta(days=math.ceil(weekly / _DAY_US) + 1)
    span = (closed[-1] - first).days + 1
    gap = max(1, math.ceil(span / _SAMPLES))
    worst = weekly
    for i in range(0, span + gap, gap):
        worst = max(worst, _from(cal, first + timedelta(days=i), arith) + gap * _DAY_US)
        if worst > LIMIT_DAYS * _DAY_US:
            break
    return worst


_PLAIN: "weakref.WeakKeyDictionary[Calendar, Calendar]" = weakref.WeakKeyDictionary()


def _plain(cal: Calendar) -> Calendar:
    """``cal``'s weekly pattern alone (remembered per calendar: its spans are
    computed once)."""
    plain = _PLAIN.get(cal)
    if plain is None:
        plain = _PLAIN[cal] = Calendar(cal.id, cal.tz, cal.week)
    return plain


def _from(cal: Calendar, day: date, arith: Callable[[Calendar, int], int]) -> int:
    u = cal.micros(datetime.combine(day, time(), cal.tz))
    return arith(cal, u) - u
