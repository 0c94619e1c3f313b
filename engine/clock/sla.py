"""SLA clocks computed from a ticket's state history (design 5.3).

Pure functions: given the process's clock declarations, the ticket's
transitions (from the journal), its current priority and service, and "now",
return each clock's record.  The replay of the whole history (:func:`compute`)
is the definition.  It is a fold: :func:`step` moves each clock's
:class:`ClockRun` over one move and :func:`record` reads the record off a run
at "now", so a ticket keeps its runs and an action continues them
(engine.desk.clockstate).  A run is continued only with the basis it was
computed with (calendar, target, warning threshold): a change of priority,
service or policy mid-flight replays the history, so the answer stays exact:
elapsed time is kept, the target (and so the due date) moves.

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

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

from engine.clock.calendars import Calendar, load_calendars

_US = 1_000_000
from engine.model import ClockSpec, CodeValue, Condition, Definitions, Duration, ProcessSpec


SWITCH = "sla_calendar"  # the journaled calendar switch in an event's changes
JUDGED = "sla_target"  # the targets (seconds) the clocks an event stops were judged against
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
    # clock id -> the target (seconds) in force when this move stopped it (JUDGED)
    judged: Mapping[str, float] | None = None


def journaled_switch(changes: Mapping[str, Any] | None) -> dict[str, str | None] | None:
    """The calendar switch an event's changes journal (clock id -> new calendar id)."""
    raw = (changes or {}).get(SWITCH)
    if not isinstance(raw, Mapping):
        return None
    return {str(k): (v[1] if isinstance(v, list) and len(v) == 2 else None) for k, v in raw.items()}


def journaled_targets(changes: Mapping[str, Any] | None) -> dict[str, float] | None:
    """The targets an event's changes journal for the clocks it stopped (clock id ->
    seconds); None when it journals none (it stopped no clock, or an earlier
    version wrote it)."""
    raw = (changes or {}).get(JUDGED)
    if not isinstance(raw, Mapping):
        return None
    return {str(k): v for k, v in raw.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)} or None


def judged_targets(before: Mapping[str, ClockRun], after: Mapping[str, ClockRun],
                   sets: Mapping[str, Setting]) -> dict[str, float]:
    """The targets to journal with a move that took the runs ``before`` to
    ``after``: those of the clocks it stopped (clock id -> seconds, whole when
    whole), which judge them from then on."""
    out: dict[str, float] = {}
    for cid, run in after.items():
        target = sets[cid].target
        if run.status == "stopped" and before[cid].status in ("running", "paused") and target is not None:
            out[cid] = int(target) if float(target).is_integer() else target
    return out


def judge(runs: Mapping[str, ClockRun], judged: Mapping[str, float]) -> None:
    """Give the clocks a move stopped the targets they are judged against
    (:func:`judged_targets`), as folding that move again with ``judged`` would."""
    for cid, target in judged.items():
        runs[cid].judged = round(target * _US)


def moves(events: Iterable[Mapping[str, Any]], aware: Any = None) -> list[Transition]:
    """The clocks' moves of a journal (events in order): its changes of state and
    its calendar switches (a switch without a change of state moves no clock
    between states), with the targets of the clocks a move stopped.  ``aware``:
    turns a stored time into an aware one."""
    out: list[Transition] = []
    for e in events:
        switch = journaled_switch(e.get("changes"))
        at = e["effective_at"] if aware is None else aware(e["effective_at"])
        if e.get("to_state") is not None:
            out.append(Transition(at, e.get("from_state"), e["to_state"], e["action"], switch,
                                  judged=journaled_targets(e.get("changes"))))
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
    return switch_from(defs, spec, calendars_in_force(history), values)


def switch_from(defs: Definitions, spec: ProcessSpec, now_in: Mapping[str, str | None],
                values: Mapping[str, Any]) -> dict[str, list[str | None]]:
    """:func:`switch_for` from the calendars in force (clock id -> calendar id)."""
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


@dataclass
class ClockRun:
    """Where one clock stands after a run of moves: everything
    :func:`compute_clock` needs to go on from there.  Times are whole
    microseconds (Calendar.micros); ``run_since`` is the last move's time;
    ``cal`` the calendar a ``group`` or ``reporter_site`` clock follows since its
    last switch (None: the service's); ``judged`` the target (microseconds) a
    stopped clock was judged against when it stopped, as the journal says
    (None: the basis's, for a stop journaled by an earlier version).

    The run depends on what the fold was computed with, its *basis*: the
    service's calendar, the target and the warning threshold (from the ticket's
    priority and service, the calendar followed at the end, and the
    definitions).  A run is only continued with the same basis
    (engine.desk.clockstate replays the journal when it changes)."""

    status: str = "not_started"
    elapsed: int = 0
    run_since: int | None = None
    started_at: int | None = None
    stopped_at: int | None = None
    breach_at: int | None = None
    warning_at: int | None = None
    cal: str | None = None
    judged: int | None = None

    def to_list(self) -> list[Any]:
        return [self.status, self.elapsed, self.run_since, self.started_at, self.stopped_at,
                self.breach_at, self.warning_at, self.cal, self.judged]

    @classmethod
    def from_list(cls, data: Any) -> "ClockRun":
        """The run of :meth:`to_list`; ValueError when ``data`` is not one."""
        if type(data) is not list or len(data) != 9 or data[0] not in _STATUSES or type(data[1]) is not int:
            raise ValueError("not a clock run")
        status, elapsed, run_since, started_at, stopped_at, breach_at, warning_at, cal, judged = data
        for v in (run_since, started_at, stopped_at, breach_at, warning_at, judged):
            if v is not None and type(v) is not int:
                raise ValueError("not a clock run")
        if cal is not None and not isinstance(cal, str):
            raise ValueError("not a clock run")
        return cls(status, elapsed, run_since, started_at, stopped_at, breach_at, warning_at, cal, judged)


_STATUSES = ("not_started", "running", "paused", "stopped")


@dataclass(frozen=True)
class Basis:
    """What a clock's run is computed with (see :class:`ClockRun`): the service's
    calendar, the thresholds, and the calendars a switch may name."""

    cal: Calendar
    target_us: int | None
    warn_us: int | None
    cals: Mapping[str, Calendar] = field(default_factory=dict, compare=False)

    def key(self) -> list[Any]:
        return [self.cal.id, self.target_us, self.warn_us]

    def calendar(self, cid: str | None) -> Calendar:
        """The calendar a run that switched to ``cid`` follows (None: the service's)."""
        return self.cals.get(cid, self.cal) if cid else self.cal


def basis(target: float | None, cal: Calendar, warning: float | None,
          cals: Mapping[str, Calendar] | None = None) -> Basis:
    target_us = None if target is None else round(target * _US)
    warn_us = round(target * warning / 100 * _US) if (target is not None and warning) else None
    return Basis(cal, target_us, warn_us, cals or {})


def _account(run: ClockRun, b: Basis, until: int) -> None:
    """Count the running time from ``run.run_since`` to ``until``."""
    if run.status != "running" or run.run_since is None or until <= run.run_since:
        return
    cal, elapsed = b.calendar(run.cal), run.elapsed
    span = cal.working_micros(run.run_since, until)
    if b.target_us is not None and run.breach_at is None and elapsed < b.target_us <= elapsed + span:
        run.breach_at = cal.add_working_micros(run.run_since, b.target_us - elapsed)
    if b.warn_us is not None and run.warning_at is None and elapsed < b.warn_us <= elapsed + span:
        run.warning_at = cal.add_working_micros(run.run_since, b.warn_us - elapsed)
    run.elapsed = elapsed + span


def step(clock: ClockSpec, run: ClockRun, b: Basis, tr: Transition, category: str | None) -> None:
    """Move ``run`` over one move (``category``: the status category of the state
    it enters).  A calendar switch counts the time up to it on the old hours and
    the rest on the new ones; a switch alone (``moved`` False) moves no state."""
    at = Calendar.micros(tr.at)
    _account(run, b, at)
    if clock.calendar != "service" and tr.calendars and clock.id in tr.calendars:
        run.cal = tr.calendars[clock.id]
    if not tr.moved:
        run.run_since = at
        return
    cat = category or "active"
    paused = _matches_state(clock.pause, tr.to_state, cat)
    if run.status != "not_started" and _matches(clock.reset, tr.to_state, cat, tr.action) \
            and tr.from_state is not None:
        run.elapsed, run.breach_at, run.warning_at = 0, None, None
    if run.status == "not_started":
        if _matches(clock.start, tr.to_state, cat, tr.action) \
                and not _matches(clock.stop, tr.to_state, cat, tr.action):
            run.status, run.started_at = ("paused" if paused else "running"), at
    elif run.status in ("running", "paused"):
        if _matches(clock.stop, tr.to_state, cat, tr.action):
            run.status, run.stopped_at = "stopped", at
            judged = (tr.judged or {}).get(clock.id)
            run.judged = None if judged is None else round(judged * _US)
        else:
            run.status = "paused" if paused else "running"
    elif run.status == "stopped" and _matches(clock.resume, tr.to_state, cat, tr.action) \
            and not _matches(clock.stop, tr.to_state, cat, tr.action):
        run.status, run.stopped_at, run.judged = ("paused" if paused else "running"), None, None
    run.run_since = at
    if run.status in ("running", "paused"):  # a zero threshold is reached as the clock starts
        if run.breach_at is None and reached(run.elapsed, b.target_us):
            run.breach_at = at
        if run.warning_at is None and reached(run.elapsed, b.warn_us):
            run.warning_at = at


def record(run: ClockRun, b: Basis, target: float | None, now: datetime) -> dict[str, Any]:
    """The clock's record at ``now`` from its run (which is left as it was), in
    the calendar the run follows.  A stopped clock is judged against the target
    it stopped with (``run.judged``): a later change of priority or service
    moves the targets of running clocks, never the result of a stopped one."""
    cal, target_us, warn_us = b.calendar(run.cal), b.target_us, b.warn_us
    if run.status == "stopped" and run.judged is not None:
        if warn_us is not None and target_us:
            warn_us = round(warn_us * run.judged / target_us)
        target_us, target = run.judged, run.judged / _US
    now_us = Calendar.micros(now)
    if run.status == "running" and run.run_since is not None and now_us > run.run_since:
        run = ClockRun(*run.to_list())  # counted on to now: on a copy
        _account(run, b, now_us)
    status, elapsed, warning_at = run.status, run.elapsed, run.warning_at
    remaining = None if target_us is None else target_us - elapsed
    due: int | None = None
    if target_us is not None and status != "not_started":
        if remaining is not None and remaining > 0:
            base = run.stopped_at if status == "stopped" else now_us
            due = cal.add_working_micros(base, remaining)  # type: ignore[arg-type]
        else:
            due = run.breach_at
    if warn_us is not None and warning_at is None and status in ("running", "paused") \
            and elapsed < warn_us:
        warning_at = cal.add_working_micros(now_us, warn_us - elapsed)
    started = status != "not_started"
    breached = started and reached(elapsed, target_us)
    iso = cal.iso_seconds
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
        "started_at": iso(run.started_at) if run.started_at is not None else None,
        "stopped_at": iso(run.stopped_at) if run.stopped_at is not None else None,
        "calendar": cal.id,
    }


def compute_clock(clock: ClockSpec, transitions: Iterable[Transition], target: float | None, cal: Calendar,
                  warning: float | None, now: datetime, categories: Mapping[str, str],
                  cals: Mapping[str, Calendar] | None = None) -> dict[str, Any]:
    """One clock's record: the fold of :func:`step` over ``transitions`` (its
    moves), then :func:`record` at ``now`` (the definition the incremental clock
    state of engine.desk.clockstate must equal).  Time is counted in whole
    microseconds (exact integer sums); ``categories``: the status category of
    every state the moves enter; ``cal``: the service's calendar; ``cals``: the
    calendars a switch may name (a ``group`` or ``reporter_site`` clock follows
    the one its last switch named; the time counted before a switch stays
    counted).  The record is in the calendar followed at the end."""
    b = basis(target, cal, warning, cals)
    run = ClockRun()
    for tr in transitions:
        step(clock, run, b, tr, categories.get(tr.to_state))
    return record(run, b, target, now)


@dataclass(frozen=True)
class Setting:
    """One clock's policy for a ticket: its target (seconds), basis and policy id."""

    target: float | None
    basis: Basis
    policy: str | None


def settings(spec: ProcessSpec, defs: Definitions, values: Mapping[str, Any],
             in_force: Mapping[str, str | None] | None = None) -> dict[str, Setting]:
    """Every clock's target and basis for a ticket with these ``values``;
    ``in_force``: clock id -> the calendar the journal says it follows at the end
    (:func:`calendars_in_force`; a target of N business days is N standard days
    of that calendar).  Worked out once per definitions, process, service,
    priority and calendars (definitions are immutable)."""
    memo = defs.derived.setdefault("sla.settings", {})
    try:
        key = (spec.id, id(spec), values.get("service"), values.get("priority"),
               tuple(sorted(in_force.items())) if in_force else ())
        found = memo.get(key)
    except TypeError:  # a value that is not hashable (not a code): work it out
        key, found = None, None
    if found is None or found[0] is not spec:
        found = (spec, _settings(spec, defs, values, in_force))
        if key is not None:
            if len(memo) >= 4096:
                memo.clear()
            memo[key] = found
    return dict(found[1])


def _settings(spec: ProcessSpec, defs: Definitions, values: Mapping[str, Any],
              in_force: Mapping[str, str | None] | None = None) -> dict[str, Setting]:
    policy = policy_for(defs, values.get("service"))
    cal = calendar_for_policy(defs, policy)
    targets = (policy.get("targets") or {}).get(values.get("priority") or "", {}) if policy else {}
    warning = _percent(policy.get("warning")) if policy else None
    cals = calendars(defs)
    out: dict[str, Setting] = {}
    for clock in spec.clocks:
        cid = (in_force or {}).get(clock.id) if clock.calendar != "service" else None
        final = cals.get(cid, cal) if cid else cal
        raw = targets.get(clock.target) if targets else None
        target = target_seconds(Duration.parse(str(raw)), final) if raw is not None else None
        out[clock.id] = Setting(target, basis(target, cal, clock.warning if clock.warning is not None
                                              else warning, cals), policy.code if policy else None)
    return out


def records(spec: ProcessSpec, runs: Mapping[str, ClockRun], sets: Mapping[str, Setting],
            now: datetime) -> dict[str, Any]:
    """Every clock's record from its run (the shape :func:`compute` returns)."""
    out: dict[str, Any] = {}
    for clock in spec.clocks:
        s = sets[clock.id]
        rec = record(runs[clock.id], s.basis, s.target, now)
        rec["policy"] = s.policy
        out[clock.id] = rec
    return out


def _category(spec: ProcessSpec, defs: Definitions, state: str) -> str:
    st = spec.states.get(state)
    return defs.category_of(st.status) if st else "active"


def category(spec: ProcessSpec, defs: Definitions, state: str) -> str:
    """The status category of ``state`` (a state the process no longer has: active)."""
    return _category(spec, defs, state)


def fold(spec: ProcessSpec, defs: Definitions, transitions: Iterable[Transition],
         sets: Mapping[str, Setting], runs: dict[str, ClockRun] | None = None) -> dict[str, ClockRun]:
    """Every clock's run after ``transitions`` (continuing ``runs`` when given)."""
    runs = {c.id: ClockRun() for c in spec.clocks} if runs is None else runs
    for tr in transitions:
        cat = _category(spec, defs, tr.to_state)
        for clock in spec.clocks:
            step(clock, runs[clock.id], sets[clock.id].basis, tr, cat)
    return runs


def compute(spec: ProcessSpec, defs: Definitions, transitions: list[Transition],
            values: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Every clock of the ticket, keyed by clock id: the replay of its whole history."""
    sets = settings(spec, defs, values, calendars_in_force(transitions))
    return records(spec, fold(spec, defs, transitions, sets), sets, now)


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
