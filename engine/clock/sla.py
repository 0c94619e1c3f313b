"""SLA clocks computed from a ticket's state history (design 5.3).

Pure functions: given the process's clock declarations, the ticket's
transitions (from the journal), its current priority and service, and "now",
return each clock's record.  Because nothing is stored incrementally, a change
of priority, service or policy mid-flight gives an exact answer: elapsed time
is kept, the target (and so the due date) moves.

Semantics of a clock:
- it starts when a transition enters a state matching ``start`` (or performs
  one of its actions); a ticket created in such a state starts it at creation;
- it stops when a transition enters a state matching ``stop``; the result
  (``met``) is recorded; a stopped clock runs again, with the time already
  counted, only when ``resume`` matches (e.g. the ``reopen`` action);
- time does not count while the state matches ``pause``;
- ``reset`` sets the counted time back to zero.

Time counts in a business calendar the clock declares (``calendar:``):
``service`` (the default), the calendar of the service's SLA policy;
``group``, the working group's calendar (codes/groups.yaml); ``reporter_site``,
the calendar named by the reporter's site.  The desk journals which calendar a
``group`` or ``reporter_site`` clock follows (``sla_calendar`` in an event's
changes: ``{clock: [old, new]}``, None meaning the service's) when a ticket is
logged and whenever a reassignment changes it; :func:`moves` reads those
switches from the journal, so a switch is one more move of the clock.  At a
switch the time already counted stays counted and the rest runs on the new
calendar's hours (docs/process-design.md, "Local hours").  A target of "N
business days" is N standard working days of the calendar the clock follows
now (its longest working day, e.g. 8 hours at head office, 7.5 at the
Guangzhou branch), so pauses and recomputation stay exact.

One definition of "breached": a threshold (the target, or its warning share)
is **reached at the instant the counted time equals it** (:func:`reached`), so
a clock is breached at its due instant, wherever that falls.  A target that
runs out at closing time is breached from then on, although the counted time
stays equal to the target until the next opening, and a clock stopped at or
after its due instant records ``met: false``.  ``breached``/``warned`` in a
record, ``due <= now`` in ``itsm tick`` and ``itsm list --breached``, and the
KPIs that read the recorded ``met`` all follow from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping

from engine.clock.calendars import Calendar, load_calendars

_US = 1_000_000
from engine.model import ClockSpec, CodeValue, Condition, Definitions, Duration, ProcessSpec


SWITCH = "sla_calendar"  # the journaled calendar switch in an event's changes
CALENDAR_KINDS = ("service", "group", "reporter_site")


@dataclass(frozen=True)
class Transition:
    at: datetime
    from_state: str | None
    to_state: str
    action: str
    # clock id -> the calendar id it follows from this move on (None: the service's)
    calendars: Mapping[str, str | None] | None = None
    moved: bool = True  # False: a journaled calendar switch without a change of state


def journaled_switch(changes: Mapping[str, Any] | None) -> dict[str, str | None] | None:
    """The calendar switch an event's changes journal (clock id -> new calendar id)."""
    raw = (changes or {}).get(SWITCH)
    if not isinstance(raw, Mapping):
        return None
    return {str(k): (v[1] if isinstance(v, list) and len(v) == 2 else None) for k, v in raw.items()}


def moves(events: Iterable[Mapping[str, Any]], aware: Any = None) -> list[Transition]:
    """The clocks' moves of a journal (events in order): its changes of state and
    its calendar switches (a switch without a change of state moves no clock
    between states).  ``aware``: turns a stored time into an aware one."""
    out: list[Transition] = []
    for e in events:
        switch = journaled_switch(e.get("changes"))
        at = e["effective_at"] if aware is None else aware(e["effective_at"])
        if e.get("to_state") is not None:
            out.append(Transition(at, e.get("from_state"), e["to_state"], e["action"], switch))
        elif switch and e.get("from_state"):
            out.append(Transition(at, e["from_state"], e["from_state"], e["action"], switch, False))
    return out


def calendars_in_force(transitions: Iterable[Transition]) -> dict[str, str | None]:
    """Clock id -> the calendar the journal says it follows now (None: the service's)."""
    out: dict[str, str | None] = {}
    for tr in transitions:
        if tr.calendars:
            out.update(tr.calendars)
    return out


def declared_calendar(defs: Definitions, clock: ClockSpec, values: Mapping[str, Any],
                      site: str | None = None) -> str | None:
    """The calendar id a ``group`` or ``reporter_site`` clock follows for these
    ticket values (``site``: the reporter's site, read at intake); None: the
    service's (a ``service`` clock, no group yet, a group or site outside the
    clock's ``sites``, or without a known calendar)."""
    cals = calendars(defs)
    if clock.calendar == "group":
        groups = defs.codes.get("groups")
        group = groups.values.get(values.get("group") or "") if groups else None
        cid, where = (group.get("calendar"), group.get("site")) if group else (None, None)
    elif clock.calendar == "reporter_site":
        cid = where = site  # a site's hours: the calendar of the same id
    else:
        return None
    if clock.sites and where not in clock.sites:
        return None
    return cid if cid in cals else None


def switch_for(defs: Definitions, spec: ProcessSpec, history: Iterable[Transition],
               values: Mapping[str, Any]) -> dict[str, list[str | None]]:
    """What an action with outcome ``values`` switches (``{clock: [old, new]}``,
    journaled as ``sla_calendar``): the ``group`` clocks whose group's calendar
    differs from the one the journal says they follow."""
    now_in = calendars_in_force(history)
    out: dict[str, list[str | None]] = {}
    for clock in spec.clocks:
        if clock.calendar != "group":
            continue
        new = declared_calendar(defs, clock, values)
        if new != now_in.get(clock.id):
            out[clock.id] = [now_in.get(clock.id), new]
    return out


_CAL_CACHE: dict[str, dict[str, Calendar]] = {}


def calendars(defs: Definitions) -> dict[str, Calendar]:
    cals = _CAL_CACHE.get(defs.sha256)
    if cals is None:
        table = defs.codes.get("calendars")
        cals = load_calendars(table) if table else {}
        _CAL_CACHE.clear()
        _CAL_CACHE[defs.sha256] = cals
    return cals


def policy_for(defs: Definitions, service: str | None) -> CodeValue | None:
    table = defs.codes.get("sla")
    if table is None:
        return None
    services = defs.codes.get("services")
    svc = services.values.get(service) if services and service else None
    pid = (svc.get("sla_policy") if svc else None) or table.extra.get("default")
    return table.values.get(pid) if pid else None


def calendar_for_policy(defs: Definitions, policy: CodeValue | None) -> Calendar:
    cid = policy.get("calendar") if policy else None
    cal = calendars(defs).get(cid) if cid else None
    return cal or Calendar.always_open()


def day_seconds(cal: Calendar) -> float:
    """Length of the calendar's standard (longest) working day (worked out once
    per calendar object; calendars are cached per definitions)."""
    return cal.standard_day_seconds


def target_seconds(duration: Duration, cal: Calendar) -> float:
    return duration.business_days * day_seconds(cal) + duration.seconds


def _matches_state(cond: Condition, state: str, category: str) -> bool:
    return state in cond.states or category in cond.categories


def _matches(cond: Condition, state: str, category: str, action: str) -> bool:
    return _matches_state(cond, state, category) or action in cond.actions


def _percent(value: Any) -> float | None:
    if value is None:
        return None
    return float(str(value).rstrip("%"))


def reached(elapsed_us: int, threshold_us: int | None) -> bool:
    """Has a clock that counted ``elapsed_us`` reached ``threshold_us`` (its
    target, or the warning share of it)?  The one definition: at the instant
    the counted time equals the threshold, not a moment after it."""
    return threshold_us is not None and elapsed_us >= threshold_us


def compute_clock(clock: ClockSpec, transitions: Iterable[Transition], target: float | None, cal: Calendar,
                  warning: float | None, now: datetime, categories: Mapping[str, str],
                  switches: Mapping[int, Calendar] | None = None) -> dict[str, Any]:
    """One clock's record.  Time is counted in whole microseconds (exact integer
    sums); ``categories``: the status category of every state the transitions
    enter; ``switches``: the calendar the clock follows from the transition of
    that index on (``cal`` until the first; the time counted before a switch
    stays counted).  The record is in the calendar followed at the end."""
    switches = switches or {}
    transitions = list(transitions)
    if 0 in switches:
        cal = switches[0]
    final = cal
    for i in sorted(switches):
        final = switches[i]
    micros = final.micros
    status, elapsed = "not_started", 0
    run_since: int | None = None
    started_at = stopped_at = breach_at = warning_at = None  # microseconds
    target_us = None if target is None else round(target * _US)
    warn_us = round(target * warning / 100 * _US) if (target is not None and warning) else None

    def account(until: int) -> None:
        nonlocal elapsed, breach_at, warning_at
        if status != "running" or run_since is None or until <= run_since:
            return
        span = cal.working_micros(run_since, until)
        if target_us is not None and breach_at is None and elapsed < target_us <= elapsed + span:
            breach_at = cal.add_working_micros(run_since, target_us - elapsed)
        if warn_us is not None and warning_at is None and elapsed < warn_us <= elapsed + span:
            warning_at = cal.add_working_micros(run_since, warn_us - elapsed)
        elapsed += span

    for i, tr in enumerate(transitions):
        at = micros(tr.at)
        account(at)
        if i in switches:
            cal = switches[i]
        if not tr.moved:  # a calendar switch alone: counted up to here, on the new hours from here
            run_since = at
            continue
        cat = categories[tr.to_state]
        paused = _matches_state(clock.pause, tr.to_state, cat)
        if status != "not_started" and _matches(clock.reset, tr.to_state, cat, tr.action) \
                and tr.from_state is not None:
            elapsed, breach_at, warning_at = 0, None, None
        if status == "not_started":
            if _matches(clock.start, tr.to_state, cat, tr.action) \
                    and not _matches(clock.stop, tr.to_state, cat, tr.action):
                status, started_at = ("paused" if paused else "running"), at
        elif status in ("running", "paused"):
            if _matches(clock.stop, tr.to_state, cat, tr.action):
                status, stopped_at = "stopped", at
            else:
                status = "paused" if paused else "running"
        elif status == "stopped" and _matches(clock.resume, tr.to_state, cat, tr.action) \
                and not _matches(clock.stop, tr.to_state, cat, tr.action):
            status, stopped_at = ("paused" if paused else "running"), None
        run_since = at
        if status in ("running", "paused"):  # a zero threshold is reached as the clock starts
            if breach_at is None and reached(elapsed, target_us):
                breach_at = at
            if warning_at is None and reached(elapsed, warn_us):
                warning_at = at
    now_us = micros(now)
    account(now_us)

    remaining = None if target_us is None else target_us - elapsed
    due: int | None = None
    if target_us is not None and status != "not_started":
        if remaining is not None and remaining > 0:
            base = stopped_at if status == "stopped" else now_us
            due = cal.add_working_micros(base, remaining)  # type: ignore[arg-type]
        else:
            due = breach_at
    if warn_us is not None and warning_at is None and status in ("running", "paused") \
            and elapsed < warn_us:
        warning_at = cal.add_working_micros(now_us, warn_us - elapsed)
    started = status != "not_started"
    breached = started and reached(elapsed, target_us)
    iso = final.iso_seconds
    return {
        "state": status,
        "target_seconds": None if target is None else int(round(target)),
        "elapsed_seconds": int(round(elapsed / _US)),
        "remaining_seconds": None if remaining is None else int(round(remaining / _US)),
        "due": iso(due) if due is not None else None,
        "warning_at": iso(warning_at) if warning_at is not None else None,
        "paused": status == "paused",
        "breached": breached,
        "warned": started and reached(elapsed, warn_us),
        "met": (not breached) if status == "stopped" and target is not None else None,
        "started_at": iso(started_at) if started_at is not None else None,
        "stopped_at": iso(stopped_at) if stopped_at is not None else None,
        "calendar": final.id,
    }


def _category(spec: ProcessSpec, defs: Definitions, state: str) -> str:
    st = spec.states.get(state)
    return defs.category_of(st.status) if st else "active"


def compute(spec: ProcessSpec, defs: Definitions, transitions: list[Transition],
            values: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Every clock of the ticket, keyed by clock id."""
    policy = policy_for(defs, values.get("service"))
    cal = calendar_for_policy(defs, policy)
    targets = (policy.get("targets") or {}).get(values.get("priority") or "", {}) if policy else {}
    warning = _percent(policy.get("warning")) if policy else None
    out: dict[str, Any] = {}
    categories = {tr.to_state: _category(spec, defs, tr.to_state) for tr in transitions}
    cals = calendars(defs)
    for clock in spec.clocks:
        switches: dict[int, Calendar] = {}
        if clock.calendar != "service":
            for i, tr in enumerate(transitions):
                if tr.calendars and clock.id in tr.calendars:
                    cid = tr.calendars[clock.id]
                    switches[i] = cals.get(cid, cal) if cid else cal
        final = switches[max(switches)] if switches else cal
        raw = targets.get(clock.target) if targets else None
        target = target_seconds(Duration.parse(str(raw)), final) if raw is not None else None
        rec = compute_clock(clock, transitions, target, cal,
                            clock.warning if clock.warning is not None else warning, now, categories,
                            switches)
        rec["policy"] = policy.code if policy else None
        out[clock.id] = rec
    return out


def home_zone(defs: Definitions) -> Any:
    """The desk's own time zone from the definitions: that of the default SLA
    policy's calendar (the head office's); None without one."""
    policy = policy_for(defs, None)
    cid = policy.get("calendar") if policy else None
    cal = calendars(defs).get(cid) if cid else None
    return cal.tz if cal is not None else None


def calendar_for(defs: Definitions, calendar_id: str | None, service: str | None) -> Calendar:
    """A timer's calendar: its own, else the service's, else the default policy's."""
    cals = calendars(defs)
    if calendar_id and calendar_id in cals:
        return cals[calendar_id]
    services = defs.codes.get("services")
    svc = services.values.get(service) if services and service else None
    if svc is not None and svc.get("calendar") in cals:
        return cals[svc.get("calendar")]
    return calendar_for_policy(defs, policy_for(defs, None))
