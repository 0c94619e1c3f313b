"""Report schedules: a small five-field cron matcher and report periods.

A schedule is ``minute hour day-of-month month day-of-week`` in the report's
time zone.  Each field is ``*``, a number, a range ``a-b``, a step ``*/n`` or
``a-b/n``, or a comma-separated list of those; months and weekdays may be
written by name (``jan``, ``mon``); weekday 0 and 7 are Sunday.  As in cron, when
both day fields are restricted a day matches if either does.

A *period* (day, week from Monday, month, quarter) ends at a local midnight.
Run by hand, a report covers the last complete period before now
(:func:`period_bounds`).  A scheduled run (:func:`scheduled_runs`) covers from
the end of the previous run's period to the start of the period it runs in, so
the runs of a schedule cover every hour once: the weekly report scheduled on
Monday 08:00 covers Monday 00:00 to Monday 00:00 of the week before, and the
daily report scheduled Monday to Friday covers Friday 00:00 to Monday 00:00 on
Mondays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Iterator, NamedTuple

from engine.errors import UsageError
from engine.i18n import N_, message
from engine.limits import TIME_RANGE

PERIODS = ("day", "week", "month", "quarter")
_NAMES = {
    3: {n: i + 1 for i, n in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    4: {n: i for i, n in enumerate("sun mon tue wed thu fri sat".split())},
}
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_FIELDS = (N_("minute"), N_("hour"), N_("day of month"), N_("month"), N_("day of week"))


class CronError(UsageError):
    """A schedule that is not a valid five-field cron expression."""


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day-of-month field is '*'
    any_weekday: bool  # day-of-week field is '*'

    def day_matches(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        dom, dow = d.day in self.days, (d.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def matches(self, t: datetime) -> bool:
        return t.minute in self.minutes and t.hour in self.hours and self.day_matches(t.date())


def _value(text: str, index: int) -> int:
    lo, hi = _BOUNDS[index]
    names = _NAMES.get(index, {})
    low = text.lower()
    if low in names:
        return names[low]
    if not text.isdigit():
        if names:
            raise CronError(N_("{field}: {text!r} is not a number or a name ({names})"),
                            values={"field": message(_FIELDS[index]), "text": text, "names": ", ".join(names)})
        raise CronError(N_("{field}: {text!r} is not a number"),
                        values={"field": message(_FIELDS[index]), "text": text})
    value = int(text)
    if not lo <= value <= hi:
        raise CronError(N_("{field}: {value} is outside {lo}-{hi}"),
                        values={"field": message(_FIELDS[index]), "value": value, "lo": lo, "hi": hi})
    return value


def _field(text: str, index: int) -> frozenset[int]:
    lo, hi = _BOUNDS[index]
    out: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(N_("{field}: step {step_text!r} must be a positive number"),
                                values={"field": message(_FIELDS[index]), "step_text": step_text})
            step = int(step_text)
        if body == "*":
            first, last = lo, hi
        elif "-" in body:
            a, _, b = body.partition("-")
            first, last = _value(a, index), _value(b, index)
            if first > last:
                raise CronError(N_("{field}: range {body!r} runs backwards"),
                                values={"field": message(_FIELDS[index]), "body": body})
        else:
            first = _value(body, index)
            last = hi if step_text else first
        out.update(range(first, last + 1, step))
    if index == 4 and 7 in out:
        out = (out - {7}) | {0}
    return frozenset(out)


@lru_cache(maxsize=64)
def parse(expr: str) -> Cron:
    fields = expr.split()
    if len(fields) != 5:
        raise CronError(N_("schedule {expr!r}: write five fields, minute hour day month weekday (e.g. '0 8 * "
                           "* mon' for Mondays at 08:00)"), values={"expr": expr})
    parsed = [_field(f, i) for i, f in enumerate(fields)]
    return Cron(*parsed, any_day=fields[2] == "*", any_weekday=fields[4] == "*")


def last_fire(expr: str, now: datetime, tz: tzinfo, horizon_days: int = 400) -> datetime | None:
    """The latest moment at or before ``now`` the schedule names, or None."""
    cron = parse(expr)
    local = now.astimezone(tz)
    for back in range(horizon_days + 1):
        day = local.date() - timedelta(days=back)
        if not cron.day_matches(day):
            continue
        for hour in sorted(cron.hours, reverse=True):
            for minute in sorted(cron.minutes, reverse=True):
                t = datetime.combine(day, time(hour, minute), tz)
                if t <= now:
                    return t
    return None


class Run(NamedTuple):
    """One scheduled run of a report: the period [start, end) it covers and the
    moment of the schedule it answers."""

    start: datetime
    end: datetime
    scheduled: datetime


def _first_fires(c: Cron, now: datetime, tz: tzinfo, horizon_days: int) -> Iterator[datetime]:
    """The first moment the schedule names on each day, newest day first, from the
    last day with one at or before ``now``; stops after ``horizon_days`` days
    without one (or at the start of :data:`engine.limits.TIME_RANGE`)."""
    first = time(min(c.hours), min(c.minutes))
    day, floor = now.astimezone(tz).date(), TIME_RANGE[0].date()
    quiet = 0
    while quiet <= horizon_days and day > floor:
        if c.day_matches(day):
            t = datetime.combine(day, first, tz)
            if t <= now:
                yield t
                quiet = -1
        day -= timedelta(days=1)
        quiet += 1


def scheduled_runs(expr: str, period: str, now: datetime, tz: tzinfo,
                   horizon_days: int = 400) -> Iterator[Run]:
    """The runs of a report scheduled by ``expr`` at or before ``now``, newest first.

    A run ends at the start of the ``period`` its moment falls in and starts where
    the run before it ended, so the runs cover every hour once, whatever the
    schedule: Monday's run of a daily report scheduled Monday to Friday covers
    Friday 00:00 to Monday 00:00; a schedule naming several moments in one period
    runs it once, at the first of them.  Boundaries are local midnights of ``tz``
    (a day across a change of the clocks is 23 or 25 hours).  The oldest run
    found, with no moment before it within ``horizon_days``, covers the last
    complete period before it."""
    c = parse(expr)
    end: date | None = None  # the newest run not yet given: its end and moment
    scheduled: datetime | None = None
    for fired in _first_fires(c, now, tz, horizon_days):
        ends = _start_of(period, fired.date())
        if end is not None and scheduled is not None and ends != end:
            yield Run(_midnight(ends, tz), _midnight(end, tz), scheduled)
        end, scheduled = ends, fired  # an earlier moment of the same period runs it
    if end is not None and scheduled is not None:
        yield Run(_midnight(_step_back(period, end), tz), _midnight(end, tz), scheduled)


def due(expr: str, last_run: datetime | None, now: datetime, tz: tzinfo) -> bool:
    """True when the schedule names a moment after ``last_run`` and not after ``now``."""
    fire = last_fire(expr, now, tz)
    return fire is not None and (last_run is None or last_run < fire)


def _start_of(period: str, d: date) -> date:
    if period == "day":
        return d
    if period == "week":
        return d - timedelta(days=d.weekday())
    if period == "month":
        return d.replace(day=1)
    if period == "quarter":
        return d.replace(month=(d.month - 1) // 3 * 3 + 1, day=1)
    raise UsageError(N_("unknown period {period!r}; use one of {PERIODS}"),
                     values={"period": period, "PERIODS": ', '.join(PERIODS)})


def _step_back(period: str, d: date) -> date:
    """The start of the period before the one starting on ``d``."""
    if period == "day":
        return d - timedelta(days=1)
    if period == "week":
        return d - timedelta(days=7)
    months = 1 if period == "month" else 3
    index = d.year * 12 + d.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _midnight(d: date, tz: tzinfo) -> datetime:
    return datetime.combine(d, time(0), tz)


def period_bounds(period: str, at: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """The last complete period before ``at``: [start, end) at local midnights."""
    end = _start_of(period, at.astimezone(tz).date())
    return _midnight(_step_back(period, end), tz), _midnight(end, tz)


def current_period(period: str, at: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """The period ``at`` falls in (this day, week, month, quarter): [start, end)."""
    start = _start_of(period, at.astimezone(tz).date())
    return _midnight(start, tz), _midnight(_step_forward(period, start), tz)


def _step_forward(period: str, d: date) -> date:
    if period in ("day", "week"):
        return d + timedelta(days=1 if period == "day" else 7)
    index = d.year * 12 + d.month - 1 + (1 if period == "month" else 3)
    return date(index // 12, index % 12 + 1, 1)


def previous_period(period: str | None, start: datetime, end: datetime,
                    tz: tzinfo) -> tuple[datetime, datetime]:
    """The period just before [start, end): the previous calendar period when
    [start, end) is exactly one ``period``, else as long a span right before it;
    never before :data:`engine.limits.TIME_RANGE` (a long span near its start
    has a shorter, or empty, previous period instead of overflowing)."""
    floor = TIME_RANGE[0]
    if start <= floor:
        return start, start
    if period in PERIODS:
        first = start.astimezone(tz).date()
        aligned = start == _midnight(_start_of(period, first), tz)  # type: ignore[arg-type]
        if aligned and end == _midnight(_step_forward(period, first), tz):  # type: ignore[arg-type]
            return max(_midnight(_step_back(period, first), tz), floor), start  # type: ignore[arg-type]
    span = end - start
    return (start - span if start - floor >= span else floor), start
