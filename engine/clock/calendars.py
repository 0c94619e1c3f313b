"""Business calendars: working-time arithmetic for SLA clocks and timers.

A calendar (``codes/calendars.yaml``) is a time zone plus either weekly working
periods with holidays and make-up working days (调休), or ``always: true`` (24x7).

Semantics
---------
* **Working instants.**  Each weekday has half-open working periods in local wall
  time, e.g. ``09:00-12:00`` and ``13:00-18:00``: 12:00 itself is not working.
  ``24:00`` ends a period at the next midnight.  A holiday closes its whole local
  date; a make-up working day (``workdays``) is worked with the periods of its
  ``hours_as`` weekday (default ``mon``) and wins over a holiday on the same date.
* **Daylight saving.**  Periods are wall-clock times of each local date, turned
  into real instants day by day, and all counting is in real elapsed time: a
  09:00-17:00 day is 8 hours on a DST day too, a 24x7 day is 23 or 25 hours on the
  nights the clocks change.  A wall time that occurs twice means its first
  occurrence; a wall time skipped by the clocks means the instant of the jump.
* **Plain durations are working time.**  ``15m``, ``4h``, ``2d``, ``PT4H``,
  ``4 business hours``: that much working time (``2d`` is 48 working hours; in a
  24x7 calendar it is 48 hours).  ``add_working`` gives the *earliest* instant at
  which that much working time has elapsed: Friday 17:00 + 4h in a
  09:00-12:00/13:00-18:00 calendar is Monday 12:00, not 13:00.
* **Business days.**  ``N business days`` first moves the start to the next
  working instant (Friday 20:00 becomes Monday 09:00), then takes the same local
  time of day on the N-th working date after it (a date with any working time),
  then moves to the next working instant if that time is not working (a lunch
  break, a shorter day).  Friday 17:00 + 1 business day = Monday 17:00; Friday
  20:00 + 1 business day = Tuesday 09:00.  A duration with business days and hours
  adds the days first, then the hours as working time.

Every public method takes and returns timezone-aware datetimes (naive ones raise
``ValueError``); results are in the calendar's time zone.

Bounds.  One step of arithmetic ends at most ``MAX_REACH_DAYS`` after its start
and walks no further; a calendar has at most ``MAX_HOLIDAY_DATES`` holiday dates.
Beyond them, and after ``MAX_IDLE_DAYS`` in a row without working time, the
arithmetic raises :class:`CalendarError`: a refusal that says which calendar,
never an internal error, and never minutes of work (``itsm lint`` refuses the
definitions that would get there: invalid-calendar and duration-too-long).  Beware that Python
subtracts two datetimes with the *same* ``tzinfo`` by wall clock: use
:meth:`Calendar.working_seconds` (or convert to UTC) to measure elapsed time.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from functools import cached_property
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterator, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import ItsmError
from engine.i18n import N_, message
from engine.model import CodeTable, CodeValue, Duration

__all__ = ["Calendar", "CalendarError", "load_calendars"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_IDLE_DAYS = 3 * 366  # consecutive days without working time before giving up
MAX_REACH_DAYS = 10 * 366  # how far after its start one step of arithmetic may end
MAX_HOLIDAY_DATES = 100_000  # holiday dates of one calendar (ranges included)
TIMELINE_DAYS = 4 * 366  # dates kept flattened per calendar (see Calendar._timeline)

_US = 1_000_000  # instants are integer microseconds since the epoch, so sums are exact
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_ONE_DAY = timedelta(days=1)
_DAY_US = 86400 * _US
_ONE_US = timedelta(microseconds=1)
_PERIOD = re.compile(r"^\s*(\d\d):(\d\d)\s*-\s*(\d\d):(\d\d)\s*$")

Period = tuple[int, int]  # minutes after local midnight, start < end <= 1440
Span = tuple[int, int]  # real instants in microseconds, start < end
Problem = tuple[tuple[str | int, ...], str]  # key path inside a calendar entry, message
_REACH_US = MAX_REACH_DAYS * _DAY_US


class CalendarError(ItsmError, ValueError):
    """Calendar arithmetic that cannot be done: no working time for
    ``MAX_IDLE_DAYS`` days, or an end more than ``MAX_REACH_DAYS`` after the start
    (or past the year 9999).  The action or tick is refused (exit 1) with this
    message; it is never an internal error."""

    kind = "calendar"


class Calendar:
    """One business calendar; build it with :meth:`from_value` or :meth:`from_dict`."""

    def __init__(self, cid: str, tz: ZoneInfo, week: tuple[tuple[Period, ...], ...],
                 holidays: frozenset[date] = frozenset(),
                 workdays: Mapping[date, int] | None = None, always: bool = False) -> None:
        self.id = cid
        self.tz = tz
        self.always = always
        self.week = week
        self.holidays = holidays
        self.workdays = dict(workdays or {})
        self._days: dict[date, tuple[Span, ...]] = {}
        self._line: _Timeline | None = None  # the spans of a range of dates, flattened
        self._shown: dict[int, str] = {}  # iso_seconds's memo: whole seconds -> text
        if not always and not any(week) and not self.workdays:
            raise ValueError(message(N_("calendar {cid!r} has no working time: give working hours "
                                        "for at least one weekday, or always: true"), cid=cid))


    @cached_property
    def standard_day_seconds(self) -> float:
        """Length of the standard (longest) working day, in seconds: what "1
        business day" of an SLA target is in this calendar."""
        if self.always or not any(self.week):
            return 86400.0
        # the weekly hours alone, on any week: holidays and make-up days neither shorten nor
        # lengthen the standard day (a closure over the week looked at made it 24 hours)
        plain = Calendar(self.id, self.tz, self.week)
        start = date(2026, 1, 5)
        return max((sum((b - a).total_seconds() for a, b in plain.intervals(start + timedelta(days=i)))
                    for i in range(7)), default=0.0) or 86400.0

    def __repr__(self) -> str:
        return f"Calendar({self.id!r}, {self.tz.key!r}{', always' if self.always else ''})"

    # -- construction ----------------------------------------------------------

    @classmethod
    def from_value(cls, value: CodeValue) -> "Calendar":
        """The calendar of one value of the ``calendars`` code table."""
        try:
            return cls.from_dict(value.code, value.attrs)
        except ValueError as exc:
            raise ValueError(f"{value.where}: {exc}") from None

    @classmethod
    def from_dict(cls, cid: str, data: Mapping[str, Any]) -> "Calendar":
        """A calendar from a mapping shaped like one entry of ``calendars.yaml``
        (ValueError with the first of :meth:`problems` when it has any)."""
        cal, problems = cls._read(cid, data)
        if cal is None:
            raise ValueError(problems[0][1])
        return cal

    @classmethod
    def problems(cls, cid: str, data: Mapping[str, Any]) -> list[Problem]:
        """Every reason the entry ``data`` cannot be counted in, each with its key
        path inside the entry (what ``itsm lint`` reports): those :meth:`from_dict`
        refuses, and more than MAX_IDLE_DAYS in a row without working time, which
        the arithmetic refuses when it gets there."""
        cal, problems = cls._read(cid, data)
        if cal is not None:
            problems.extend(cal.idle_runs(data))
        return problems

    @classmethod
    def _read(cls, cid: str, data: Mapping[str, Any]) -> tuple["Calendar | None", list[Problem]]:
        problems: list[Problem] = []
        tz = _zone(cid, data.get("timezone"), problems)
        if data.get("always"):
            extra = [k for k in ("hours", "holidays", "workdays") if data.get(k)]
            if extra:
                problems.append(((extra[0],), message(N_("calendar {cid!r} is always open: remove {keys}"), cid=cid, keys=', '.join(extra))))
            if problems or tz is None:
                return None, problems
            return cls(cid, tz, ((),) * 7, always=True), problems
        hours = data.get("hours") or {}
        if not isinstance(hours, Mapping):
            problems.append((("hours",), message(N_("calendar {cid!r}: hours must map mon..sun to working periods"), cid=cid)))
            return None, problems
        unknown = [str(k) for k in hours if k not in WEEKDAYS]
        if unknown:
            problems.append((("hours", unknown[0]), message(N_("calendar {cid!r}: unknown weekday {day!r} in hours: use {days}"),
                                     cid=cid, day=unknown[0], days=', '.join(WEEKDAYS))))
        week = tuple(_periods(cid, day, hours.get(day), problems) for day in WEEKDAYS)
        holidays: set[date] = set()
        for i, item in enumerate(data.get("holidays") or ()):
            if "date" in item:
                day = _date(cid, "holidays", item["date"], ("holidays", i, "date"), problems)
                if day is not None:
                    holidays.add(day)
                continue
            first = _date(cid, "holidays", item.get("from"), ("holidays", i, "from"), problems)
            last = _date(cid, "holidays", item.get("to"), ("holidays", i, "to"), problems)
            if first is None or last is None:
                continue
            if last < first:
                problems.append((("holidays", i, "to"), message(N_("calendar {cid!r}: holiday from {first} to {last} ends before it starts"),
                                         cid=cid, first=first, last=last)))
            elif len(holidays) + (last - first).days >= MAX_HOLIDAY_DATES:
                problems.append((("holidays", i), message(N_("calendar {cid!r}: holidays up to {last} make more than {most:,} holiday "
                                            "dates: check the years"), cid=cid, last=last, most=MAX_HOLIDAY_DATES)))
                break
            else:
                holidays.update(first + timedelta(days=n) for n in range((last - first).days + 1))
        workdays: dict[date, int] = {}
        for i, item in enumerate(data.get("workdays") or ()):
            day = _date(cid, "workdays", item.get("date"), ("workdays", i, "date"), problems)
            hours_as = item.get("hours_as") or "mon"
            at = ("workdays", i, "hours_as") if "hours_as" in item else ("workdays", i, "date")
            if hours_as not in WEEKDAYS:
                problems.append((at, message(N_("calendar {cid!r}: workday {day}: hours_as {hours_as!r} is not one of {days}"),
                                         cid=cid, day=day, hours_as=hours_as, days=', '.join(WEEKDAYS))))
            elif not week[WEEKDAYS.index(hours_as)]:
                # said unless no weekday has hours (below) or that weekday's periods are wrong
                if any(week) and not any(p[0][:2] == ("hours", hours_as) for p in problems):
                    problems.append((at, message(N_("calendar {cid!r}: workday {day} takes the hours of {hours_as}, which has none"),
                                             cid=cid, day=day, hours_as=hours_as)))
            elif day is not None:
                workdays[day] = WEEKDAYS.index(hours_as)
        if not any(week) and not any(p[0][0] == "hours" for p in problems):
            problems.append((("hours",), message(N_("calendar {cid!r} has no working time: give working hours "
                                        "for at least one weekday, or always: true"), cid=cid)))
        if problems or tz is None:
            return None, problems
        return cls(cid, tz, week, frozenset(holidays), workdays), problems

    def idle_runs(self, data: Mapping[str, Any]) -> list[Problem]:
        """Runs of more than MAX_IDLE_DAYS dates without working time (only holidays
        make them: some weekday has working hours), at the holiday that starts one."""
        closed = sorted(day for day in self.holidays if day not in self.workdays)
        out: list[Problem] = []
        i = 0
        while i < len(closed):
            j = i
            while j + 1 < len(closed) and self._idle_between(closed[j], closed[j + 1]):
                j += 1
            first, last = closed[i], closed[j]
            while self._idle(first - _ONE_DAY) and (closed[i] - first).days < 7:
                first -= _ONE_DAY
            while self._idle(last + _ONE_DAY) and (last - closed[j]).days < 7:
                last += _ONE_DAY
            if (last - first).days + 1 > MAX_IDLE_DAYS:
                out.append((self._holiday_path(data, closed[i]),
                            message(N_("calendar {cid!r} has no working time from {first} to {last}, "
                                       "more than {most} days in a row: nothing counted in it "
                                       "across them could ever end"),
                                    cid=self.id, first=first, last=last, most=MAX_IDLE_DAYS)))
            i = j + 1
        return out

    def _idle(self, day: date) -> bool:
        return day not in self.workdays and (day in self.holidays or not self.week[day.weekday()])

    def _idle_between(self, a: date, b: date) -> bool:
        """Whether every date after ``a`` and before ``b`` is without working time."""
        return (b - a).days <= 7 and all(self._idle(a + timedelta(days=n)) for n in range(1, (b - a).days))

    @staticmethod
    def _holiday_path(data: Mapping[str, Any], day: date) -> tuple[str | int, ...]:
        for i, item in enumerate(data.get("holidays") or ()):
            first = str(item.get("date") or item.get("from"))
            last = str(item.get("date") or item.get("to"))
            if first <= day.isoformat() <= last:
                return ("holidays", i)
        return ("holidays",)

    @classmethod
    def always_open(cls, tz: str = "UTC") -> "Calendar":
        """A 24x7 calendar in time zone ``tz``."""
        zone = _zone("always", tz)
        assert zone is not None  # _zone raises without a problems list
        return cls(f"always_{tz}", zone, ((),) * 7, always=True)

    # -- queries ---------------------------------------------------------------

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working intervals of local date ``day``, as aware datetimes."""
        return [(self._out(a), self._out(b)) for a, b in self._spans(day)]

    def is_working(self, t: datetime) -> bool:
        """Whether ``t`` is working time (interval starts count, ends do not)."""
        u = _micros(t)
        if self.always:
            return True
        day = self._local_date(u)
        return any(a <= u < b for d in (day - _ONE_DAY, day, day + _ONE_DAY)
                   for a, b in self._spans(d))

    def next_working(self, t: datetime) -> datetime:
        """The first working instant at or after ``t`` (``t`` itself if working)."""
        u = _micros(t)
        if self.always:
            return self._out(u)
        for a, b in self._spans_from(u):
            if b > u:
                return self._out(max(a, u))
        raise AssertionError("unreachable")  # pragma: no cover

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Working time in ``[start, end)`` in seconds; 0 if ``end <= start``."""
        return self.working_micros(_micros(start), _micros(end)) / _US

    def add_working(self, start: datetime, seconds: float) -> datetime:
        """The earliest instant ``t`` with ``working_seconds(start, t) == seconds``."""
        left = round(seconds * _US)
        if left < 0:
            raise ValueError(f"cannot add negative working time ({seconds} s)")
        return self._out(self.add_working_micros(_micros(start), left))

    # The same on instants in microseconds since the epoch (exact integers), for
    # callers that chain many steps (SLA clocks): see micros() and local().

    def working_micros(self, a: int, b: int) -> int:
        """Working microseconds in ``[a, b)``; 0 if ``b <= a``."""
        if b <= a:
            return 0
        if self.always:
            return b - a
        try:
            line = self._timeline(a, b)
            if line is not None:
                return line.worked(b) - line.worked(a)
            return self._walked_seconds(a, b)
        except OverflowError:  # dates past the year 9999
            raise CalendarError(N_("calendar {id!r}: cannot count working time up to the year 9999"),
                                values={"id": self.id}) from None

    def add_working_micros(self, u: int, left: int) -> int:
        """The earliest instant with ``left`` (>= 0) working microseconds after ``u``;
        :class:`CalendarError` if it lies more than MAX_REACH_DAYS after ``u``."""
        if left == 0:
            return u
        if self.always:
            return self._reached(u, u + left, left)
        try:
            line = self._timeline(u, u)
            while line is not None:
                found = line.reach(line.worked(u) + left)
                if found is not None:
                    return self._reached(u, found, left)
                if line.end - u > _REACH_US:  # what the timeline holds is already too far
                    raise self._too_far(u, left)
                line = self._timeline(u, line.end + (line.end - line.first))  # twice as far
            return self._walked_add(u, left)
        except OverflowError:  # dates past the year 9999
            raise self._too_far(u, left) from None

    def _reached(self, u: int, end: int, left: int) -> int:
        if end - u > _REACH_US:
            raise self._too_far(u, left)
        return end

    def _too_far(self, u: int, left: int | None = None, days: int | None = None) -> CalendarError:
        what = (message(N_("{days} business days"), days=days) if days is not None
                else message(N_("{hours:,.2f} working hours"), hours=left / 3_600_000_000) if left is not None
                else message(N_("it")))
        try:
            since: Any = message(N_(" from {start}"), start=f"{self._out(u):%Y-%m-%d %H:%M}")
        except (OverflowError, ValueError):
            since = ""
        return CalendarError(N_("calendar {id!r}: {what}{since} would end more than {MAX_REACH_DAYS} days "
                                "later (or past the year 9999): check the SLA targets and timers that count "
                                "in it ('itsm lint' reports them)"),
                             values={"id": self.id, "what": what, "since": since, "MAX_REACH_DAYS": MAX_REACH_DAYS})

    @staticmethod
    def micros(t: datetime) -> int:
        """An aware datetime as microseconds since the epoch."""
        return _micros(t)

    def local(self, u: int) -> datetime:
        """Microseconds since the epoch as a datetime in the calendar's time zone."""
        return self._out(u)

    def iso_seconds(self, u: int) -> str:
        """``local(u).isoformat(timespec="seconds")``, without building the
        microseconds (floor division: a datetime's microseconds are never negative)."""
        s = u // _US
        shown = self._shown.get(s)
        if shown is None:
            if len(self._shown) >= 4096:
                self._shown.clear()
            shown = self._shown[s] = datetime.fromtimestamp(s, self.tz).isoformat()
        return shown

    def add(self, start: datetime, duration: Duration) -> datetime:
        """``start`` plus ``duration`` counted in this calendar (see the module doc)."""
        if not duration.business_days:
            return self.add_working(start, duration.seconds)
        if duration.business_days < 0:
            raise ValueError(f"cannot add negative business days ({duration})")
        u = _micros(start)
        try:
            opened = self.next_working(start)
            day, clock = opened.date(), opened.time().replace(tzinfo=None, fold=0)
            last = self._local_date(u) + timedelta(days=MAX_REACH_DAYS)
            for _ in range(duration.business_days):
                day = self._next_working_date(day)
                if day > last:
                    raise self._too_far(u, days=duration.business_days)
            moved = self.next_working(self._out(self._instant(day, clock)))
        except OverflowError:
            raise self._too_far(u, days=duration.business_days) from None
        end = self.add_working(moved, duration.seconds)
        self._reached(u, _micros(end), duration.seconds * _US)
        return end

    # -- internals -------------------------------------------------------------

    def _timeline(self, a: int, b: int) -> "_Timeline | None":
        """The flattened spans covering instants ``a`` to ``b`` (with a day to spare
        on each side), extended as needed; None past TIMELINE_DAYS of dates, where
        the day-by-day walk (and its error for a calendar without working time)
        takes over."""
        line = self._line
        if line is not None and line.first + 2 * _DAY_US <= a and b + 2 * _DAY_US <= line.end:
            return line
        first = self._local_date(a) - timedelta(days=3)
        last = self._local_date(b) + timedelta(days=62)  # SLA targets reach weeks ahead
        if line is not None and (max(last, line.last_day) - min(first, line.first_day)).days <= TIMELINE_DAYS:
            first, last = min(first, line.first_day), max(last, line.last_day)  # grow it
        if (last - first).days > TIMELINE_DAYS:
            return None
        spans: list[Span] = []
        idle = 0
        for i in range((last - first).days + 1):
            day_spans = self._spans(first + timedelta(days=i))
            idle = 0 if day_spans else idle + 1
            if idle > MAX_IDLE_DAYS:  # the walk raises its error there: leave it to the walk
                return None
            spans.extend(day_spans)
        self._line = _Timeline(first, last, spans, self._instant(first, time()), self._instant(last, time()))
        return self._line

    def _walked_seconds(self, a: int, b: int) -> int:
        """working_seconds by walking the days (beyond the timeline)."""
        total = 0
        for x, y in self._spans_from(a):
            if x >= b:
                break
            total += min(y, b) - max(x, a) if y > a else 0
        return total

    def _walked_add(self, u: int, left: int) -> int:
        """add_working by walking the days (beyond the timeline; raises CalendarError
        for a calendar without working time for MAX_IDLE_DAYS, and once the walk is
        MAX_REACH_DAYS past ``u``)."""
        for x, y in self._spans_from(u):
            if y <= u:
                continue
            if x - u > _REACH_US:
                raise self._too_far(u, left)
            lo = max(x, u)
            if left <= y - lo:
                return lo + left
            left -= y - lo
        raise AssertionError("unreachable")  # pragma: no cover

    def _spans(self, day: date) -> tuple[Span, ...]:
        """Working spans of a local date, in real microseconds (cached per date)."""
        spans = self._days.get(day)
        if spans is None:
            if self.always:
                periods: tuple[Period, ...] = ((0, 1440),)
            elif day in self.workdays:
                periods = self.week[self.workdays[day]]
            elif day in self.holidays:
                periods = ()
            else:
                periods = self.week[day.weekday()]
            # A period that lies wholly in a skipped hour is empty: drop it.
            spans = tuple(span for span in ((self._minute(day, s), self._minute(day, e))
                                            for s, e in periods) if span[0] < span[1])
            self._days[day] = spans
        return spans

    def _spans_from(self, u: int) -> Iterator[Span]:
        """Working spans in time order from the local day before ``u``'s date on;
        raises ValueError after MAX_IDLE_DAYS days in a row without working time."""
        day, idle = self._local_date(u) - _ONE_DAY, 0
        while True:
            spans = self._spans(day)
            if spans:
                idle = 0
                yield from spans
            else:
                idle += 1
                if idle > MAX_IDLE_DAYS:
                    raise CalendarError(N_("calendar {id!r} has no working time for {MAX_IDLE_DAYS} days "
                                           "after {value}"),
                                        values={"id": self.id, "MAX_IDLE_DAYS": MAX_IDLE_DAYS, "value": day - timedelta(idle)})
            day += _ONE_DAY

    def _next_working_date(self, day: date) -> date:
        for _ in range(MAX_IDLE_DAYS):
            day += _ONE_DAY
            if self._spans(day):
                return day
        raise CalendarError(N_("calendar {id!r} has no working day for {MAX_IDLE_DAYS} days after {value}"),
                            values={"id": self.id, "MAX_IDLE_DAYS": MAX_IDLE_DAYS, "value": day - timedelta(MAX_IDLE_DAYS)})

    def _minute(self, day: date, minute: int) -> int:
        """The instant of ``minute`` minutes after local midnight (1440: the next one)."""
        if minute >= 1440:
            return self._instant(day + _ONE_DAY, time())
        return self._instant(day, time(minute // 60, minute % 60))

    def _instant(self, day: date, clock: time) -> int:
        """The real instant of a local wall time: its first occurrence if repeated,
        the instant of the jump if the clocks skip it."""
        naive = datetime.combine(day, clock)
        off0 = _offset(naive.replace(tzinfo=self.tz))
        off1 = _offset(naive.replace(tzinfo=self.tz, fold=1))
        wall = ((day.toordinal() - _EPOCH_ORDINAL) * 86400 + clock.hour * 3600
                + clock.minute * 60 + clock.second) * _US + clock.microsecond
        if off0 >= off1:  # an ordinary or a repeated wall time
            return wall - off0 * _US
        # Skipped by a forward jump: the offset is still off0 before the jump and
        # already off1 at it; find that instant to the second.
        lo, hi = (wall - off1 * _US) // _US, (wall - off0 * _US) // _US
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _offset(datetime.fromtimestamp(mid, self.tz)) == off1:
                hi = mid
            else:
                lo = mid
        return hi * _US

    def _local_date(self, u: int) -> date:
        return self._out(u).date()

    def _out(self, u: int) -> datetime:
        return (_EPOCH + timedelta(microseconds=u)).astimezone(self.tz)


class _Timeline:
    """The working spans of the local dates ``first_day`` to ``last_day``, in time
    order, with the working time before each: the working time up to an instant,
    and the instant at which some working time is reached, are binary searches."""

    __slots__ = ("first_day", "last_day", "first", "end", "starts", "ends", "before", "after")

    def __init__(self, first_day: date, last_day: date, spans: list[Span], first: int, end: int) -> None:
        self.first_day, self.last_day = first_day, last_day
        self.first, self.end = first, end  # local midnights starting first_day and last_day
        self.starts = [x for x, _ in spans]
        self.ends = [y for _, y in spans]
        self.before: list[int] = []  # working time of the spans before span i
        self.after: list[int] = []  # ... up to the end of span i
        total = 0
        for x, y in spans:
            self.before.append(total)
            total += y - x
            self.after.append(total)

    def worked(self, u: int) -> int:
        """Working microseconds from the start of the timeline to ``u``."""
        i = bisect_right(self.starts, u) - 1
        if i < 0:
            return 0
        return self.before[i] + min(self.ends[i], u) - self.starts[i]

    def reach(self, total: int) -> int | None:
        """The earliest instant with ``total`` working microseconds before it
        (``total`` > 0); None if that lies past the timeline."""
        j = bisect_left(self.after, total)
        if j == len(self.after):
            return None
        return self.starts[j] + total - self.before[j]


def load_calendars(table: CodeTable) -> dict[str, Calendar]:
    """Every calendar of the ``calendars`` code table, by id."""
    return {code: Calendar.from_value(value) for code, value in table.values.items()}


def _micros(t: datetime) -> int:
    if type(t) is datetime and t.tzinfo is not None:  # the usual case, checked cheaply
        try:
            return (t - _EPOCH) // _ONE_US
        except TypeError:  # a tzinfo that gives no offset: naive after all
            pass
    if not isinstance(t, datetime):
        raise TypeError(f"expected a datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"naive datetime {t.isoformat()}: calendars need timezone-aware "
                         "datetimes (give an offset or a zone)")
    return (t - _EPOCH) // _ONE_US


def _offset(t: datetime) -> int:
    off = t.utcoffset()
    assert off is not None
    return off.days * 86400 + off.seconds


def _zone(cid: str, name: Any, problems: list[Problem] | None = None) -> ZoneInfo | None:
    """The time zone ``name``; a problem (or ValueError without ``problems``) if unknown."""
    if not name or not isinstance(name, str):
        text = message(N_("calendar {cid!r} needs a timezone, e.g. Asia/Shanghai"), cid=cid)
    else:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            text = message(N_("calendar {cid!r}: unknown time zone {name!r}: use an IANA "
                              "name such as Asia/Shanghai or Europe/London"), cid=cid, name=name)
    if problems is None:
        raise ValueError(text)
    problems.append((("timezone",), text))
    return None


def _date(cid: str, where: str, value: Any, path: tuple[str | int, ...],
          problems: list[Problem]) -> date | None:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.append((path, message(N_("calendar {cid!r}: {where}: cannot read date {value!r}: "
                                    "write 'YYYY-MM-DD' (a date that exists)"), cid=cid, where=where, value=value)))
        return None


def _periods(cid: str, day: str, raw: Any, problems: list[Problem]) -> tuple[Period, ...]:
    """Parse one weekday's working periods; sort them and join touching ones."""
    if raw is None:
        return ()
    items = (raw,) if isinstance(raw, str) else tuple(raw)
    out: list[tuple[int, int, int]] = []  # start, end, index in the list
    for i, item in enumerate(items):
        at = ("hours", day) if isinstance(raw, str) else ("hours", day, i)
        m = _PERIOD.match(str(item))
        if not m:
            problems.append((at, message(N_("calendar {cid!r}: {day}: cannot read working period {item!r}: "
                                        "write 'HH:MM-HH:MM', e.g. '09:00-18:00'"), cid=cid, day=day, item=item)))
            continue
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            problems.append((at, message(N_("calendar {cid!r}: {day}: {item!r} is not a time of day (00:00 to 24:00)"),
                                     cid=cid, day=day, item=item)))
            continue
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            problems.append((at, message(N_("calendar {cid!r}: {day}: working period {item!r} ends before "
                                        "it starts: split a night shift at midnight (e.g. mon "
                                        "'22:00-24:00' and tue '00:00-06:00')"), cid=cid, day=day, item=item)))
            continue
        out.append((start, end, i))
    out.sort()
    merged: list[Period] = []
    for start, end, i in out:
        if merged and start < merged[-1][1]:
            problems.append((("hours", day, i), message(N_("calendar {cid!r}: {day}: working periods overlap at {at}"),
                                                  cid=cid, day=day, at=f"{start // 60:02d}:{start % 60:02d}")))
            continue
        if merged and start == merged[-1][1]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)
