"""The weekly report (``reports/weekly.yaml``) over 1,000,000 tickets
(``--quick``: 100,000), against hand-written SQL computing the same numbers.

Figure: ``engine.reports.run(api, "weekly", START, END, "json", "en")`` in
process, on a SQLite file (WAL, as the engine opens it): every KPI of the
weekly report, rendered as JSON.  Baseline: hand-written SQL (bare
``sqlite3``, one statement per KPI or per group of KPIs sharing a set of
tickets, written from the formulas of docs/reports.md, not from the engine's
queries) computing the same numbers on the same file; the few lines of Python
around it only divide, round and label.  Target: the report within 1.5x of
the SQL.  For information: a naive Python aggregation that loads every ticket
and every journal event of the database and computes the KPIs in Python.

The three must give the same numbers: every table row of every KPI is
compared, and the benchmark fails (raises) on the first difference.  That
makes it a correctness check of the KPI SQL on a large, varied data set as
well.

Data: one year (52 weeks) of a service desk up to Monday 2026-03-09 08:00
(+08:00), when the weekly report for 2026-03-02 .. 2026-03-09 runs: ~19,000
tickets a week at 1,000,000.  70% incidents, 30% service requests and a major
incident for 5% of the P1 incidents.  Each ticket's life is simulated event
by event in the head office's business hours: intake, first-contact
resolution, assignment and reassignment (up to 7 assignments), start, hold and
resume (some never resumed), resolution (30% of incidents with a reused
solution, ``solution_from``), reopen, confirmation or automatic closure after
3 business days, cancellation, approval and rejection of requests, updates,
the link of an incident to its major incident; major incidents are accepted
or declined, mitigated, updated, resolved, reviewed and closed.  Events after
the run time are cut off, so the backlog is what it would be.  The SLA
record of each ticket (response and resolution clocks: state, counted time
in the ticket's policy calendar, pauses, met/breached, due and warning
times) and the SLA summary columns are computed from its events.  Rows are
written straight into the tables of ``engine.store.schema`` (created by the
engine's migrations) with ``executemany``, the journal in time order as the
engine writes it.  Not loaded: people, due work, outbox (no KPI reads them);
journal hashes are random (not a valid chain).

The built database is cached in ``~/.cache/itsm-bench`` (``$ITSM_BENCH_CACHE``)
under a name keyed by the ticket count and a hash of the generator's source,
the columns and indexes of the tables it fills and the shape of the processes
(states, actions, clocks); building it takes about 15 s for 100,000 tickets
and about 3 minutes for 1,000,000.  The engine migrates a cached file to its
schema revision when it opens it; otherwise the file is only read.

PostgreSQL (when ``ITSM_BENCH_DATABASE_URL`` names a throwaway database): the
same rows are copied from the SQLite file with ``COPY`` into the schema
``itsm_bench_reports_<tickets>`` (its tables made by the engine's migrations), then
``VACUUM ANALYZE`` (as autovacuum leaves a live database).  A marker table
keeps them for the next runs (the other benchmarks drop itsm's tables in
``public`` only): copying 1,000,000 tickets takes about 80 s once.  The same
three computations run there, with the same check.

The SQL baseline and the report run alternately (after one warm-up of each,
which is also the first check); the naive aggregation runs once after them.
Everything is in this process, on warm caches.
"""

from __future__ import annotations

import hashlib
import heapq
import inspect
import json
import math
import os
import random
import sqlite3
import time
from bisect import bisect_left, bisect_right
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from bench._util import REPO, Config, Result, median, ratio_at_most, reset_postgres, skipped

NAME = "reports"
CST = timezone(timedelta(hours=8))
START = datetime(2026, 3, 2, tzinfo=CST)  # the reported week, [START, END)
END = datetime(2026, 3, 9, tzinfo=CST)
NOW = datetime(2026, 3, 9, 8, 0, tzinfo=CST)  # Monday 08:00: the weekly report's schedule
WEEKS = 52
GENERATOR_REVISION = 1  # bump when the generated data changes in a way the hash cannot see

# --- calendars: counted seconds since 1970 -----------------------------------------------

DAY = 86400
BDAY = 8 * 3600  # a head-office business day: 09:00-12:00, 13:00-18:00 (+08:00), Mon-Fri
BWEEK = 5 * BDAY
OFFSET = 8 * 3600
MONDAY_SHIFT = 3  # 1970-01-01 was a Thursday: (days + 3) % 7 == 0 on Mondays


def bsec(t: int) -> int:
    """Business seconds of the head-office calendar from the epoch's week to ``t``
    (holidays ignored): monotonic, flat outside business hours."""
    local = t + OFFSET
    days, sec = divmod(local, DAY)
    weeks, wd = divmod(days + MONDAY_SHIFT, 7)
    if wd >= 5:
        return (weeks + 1) * BWEEK
    if sec <= 32400:
        part = 0
    elif sec <= 43200:
        part = sec - 32400
    elif sec <= 46800:
        part = 10800
    elif sec <= 64800:
        part = sec - 36000
    else:
        part = BDAY
    return weeks * BWEEK + wd * BDAY + part


def binv(b: int) -> int:
    """The earliest time whose business seconds are ``b``."""
    weeks, r = divmod(b, BWEEK)
    wd, r2 = divmod(r, BDAY)
    sec = 32400 + r2 if r2 <= 10800 else 46800 + (r2 - 10800)
    return ((weeks * 7 + wd - MONDAY_SHIFT) * DAY + sec) - OFFSET


def wall(t: int) -> int:
    return t


# --- the data generator --------------------------------------------------------------------

_DATES: dict[int, str] = {}
_HMS = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


def db_time(t: int) -> str:
    """Naive UTC as SQLAlchemy stores a DateTime in SQLite."""
    d, s = divmod(t, DAY)
    day = _DATES.get(d)
    if day is None:
        day = _DATES[d] = (datetime(1970, 1, 1) + timedelta(days=d)).strftime("%Y-%m-%d")
    return f"{day} {_HMS[s]}.000000"


def local_iso(t: int | None) -> str | None:
    """ISO 8601 at +08:00, as the engine writes times into the SLA record."""
    if t is None:
        return None
    d, s = divmod(t + OFFSET, DAY)
    day = _DATES.get(d)
    if day is None:
        day = _DATES[d] = (datetime(1970, 1, 1) + timedelta(days=d)).strftime("%Y-%m-%d")
    return f"{day}T{_HMS[s]}+08:00"


def _targets() -> tuple[dict[str, tuple[str, str]], dict[str, dict[str, Any]]]:
    """service -> (group, policy); policy -> {calendar, warning, targets: prio -> (resp, res)}
    in counted seconds (a business day counts 8 hours)."""
    import yaml

    from engine.model import Duration

    services = yaml.safe_load((REPO / "codes" / "services.yaml").read_text(encoding="utf-8"))["values"]
    sla = yaml.safe_load((REPO / "codes" / "sla.yaml").read_text(encoding="utf-8"))["values"]

    def counted(text: str) -> int:
        d = Duration.parse(text)
        return d.seconds + d.business_days * BDAY

    policies = {}
    for pid, p in sla.items():
        warning = int(str(p.get("warning", "75%")).rstrip("%")) / 100
        policies[pid] = {"calendar": p["calendar"], "warning": warning,
                         "business": p["calendar"] != "round_the_clock",
                         "targets": {prio: (counted(t["response"]), counted(t["resolution"]))
                                     for prio, t in p["targets"].items()}}
    return {sid: (s["group"], s.get("sla_policy", "bronze")) for sid, s in services.items()}, policies


PRIORITY = {("high", "high"): "P1", ("high", "medium"): "P2", ("high", "low"): "P3",
            ("medium", "high"): "P2", ("medium", "medium"): "P3", ("medium", "low"): "P4",
            ("low", "high"): "P3", ("low", "medium"): "P4", ("low", "low"): "P4"}  # impact, urgency
CHANNELS = (("phone", 40), ("email", 25), ("portal", 20), ("chat", 8), ("walk_in", 4), ("monitoring", 3))
INC_CATEGORIES = ("hardware", "software", "application_error", "performance", "network", "telephony",
                  "email", "printing", "access", "data", "security", "how_to", "other")
REQ_CATEGORIES = ("password_reset", "new_account", "access_request", "software_install",
                  "hardware_request", "data_extract", "how_to", "other")
MI_CATEGORIES = ("application_error", "performance", "network", "data", "other")
# (clock id, stop states, pause states, resume actions) per process
CLOCKS = {
    "incident": (("response", frozenset({"in_progress", "pending", "resolved", "closed", "cancelled"}),
                  frozenset(), frozenset()),
                 ("resolution", frozenset({"resolved", "closed", "cancelled"}), frozenset({"pending"}),
                  frozenset({"reopen"}))),
    "service_request": (("response", frozenset({"awaiting_approval", "fulfilling", "pending", "fulfilled",
                                                "closed", "rejected", "cancelled"}),
                         frozenset(), frozenset()),
                        ("resolution", frozenset({"fulfilled", "closed", "rejected", "cancelled"}),
                         frozenset({"awaiting_approval", "pending"}), frozenset({"reopen"}))),
    "major_incident": (("response", frozenset({"accepted", "declined", "mitigated", "resolved", "review",
                                               "closed"}), frozenset(), frozenset()),
                       ("resolution", frozenset({"resolved", "review", "closed", "declined"}), frozenset(),
                        frozenset())),
}
CATEGORY = {"new": "new", "assigned": "active", "in_progress": "active", "pending": "pending",
            "resolved": "resolved", "closed": "closed", "cancelled": "closed", "candidate": "new",
            "accepted": "active", "mitigated": "active", "review": "resolved", "declined": "closed",
            "submitted": "new", "awaiting_approval": "pending", "fulfilling": "active",
            "fulfilled": "resolved", "rejected": "closed"}
PREFIX = {"incident": "INC", "service_request": "REQ", "major_incident": "MI"}
TICKET_COLUMNS = ("id", "key", "process", "definition_version", "state", "status", "status_category",
                  "title", "description", "reporter", "reporter_phone", "assignee", "group_id", "urgency",
                  "impact", "priority", "priority_overridden", "service", "category", "parent", "fields",
                  "sla", "version", "created_at", "updated_at", "state_entered_at", "resolved_at",
                  "closed_at", "sla_due_at", "sla_warn_at", "sla_breached", "token_hash")
JOURNAL_COLUMNS = ("ticket_id", "seq", "action", "actor", "role", "from_state", "to_state", "changes",
                   "note", "public", "definition_version", "effective_at", "recorded_at", "prev_hash",
                   "hash")
WORDS = ("cannot", "log in", "slow", "error", "printer", "VPN", "mailbox", "claims screen", "timeout",
         "policy", "renewal", "portal", "password", "laptop", "report", "access", "missing", "after update")


class Life:
    """One ticket's journal as it is simulated: (time, action, actor, role, from, to, changes)."""

    __slots__ = ("events", "state", "t", "values")

    def __init__(self, t: int, state: str, actor: str, changes: dict[str, Any]) -> None:
        self.events: list[tuple[Any, ...]] = [(t, "create", actor, None, None, state, changes)]
        self.state, self.t, self.values = state, t, {}

    def do(self, t: int, action: str, actor: str, role: str | None, to: str | None = None,
           changes: dict[str, Any] | None = None) -> None:
        t = max(t, self.t + 1)
        to_state = to if to is not None and to != self.state else None
        self.events.append((t, action, actor, role, self.state, to_state, changes or {}))
        if to_state:
            self.state = to_state
        self.t = t


class Generator:
    """Deterministic (seeded) tickets of one service desk; see the module docstring."""

    def __init__(self, seed: int = 20260309) -> None:
        self.rng = random.Random(seed)
        self.services, self.policies = _targets()
        self.service_ids = list(self.services)
        weights = [30, 25, 8, 14, 8, 6, 14, 40, 18, 12, 20, 6, 8, 6, 16, 14, 6]
        self.service_weights = list(_cum(weights[:len(self.service_ids)]
                                         + [5] * (len(self.service_ids) - len(weights))))
        self.channels = [c for c, _ in CHANNELS]
        self.channel_weights = list(_cum([w for _, w in CHANNELS]))
        self.agents = {g: [f"{g.split('_')[0]}.agent{i:02d}" for i in range(8)]
                       for g in sorted({g for g, _ in self.services.values()} | {"major_incident_team"})}
        self.desk = [f"desk.agent{i:02d}" for i in range(20)]
        self._journal_out: list[tuple[Any, ...]] = []

    # -- small draws --
    def exp(self, mean: float, low: int = 60, high: int = 40 * BDAY) -> int:
        return int(min(max(self.rng.expovariate(1.0 / mean), low), high))

    def later(self, t: int, business_seconds: int) -> int:
        return binv(bsec(t) + business_seconds)

    def pick(self, seq: Any, cum: list[int] | None = None) -> Any:
        if cum is None:
            return seq[self.rng.randrange(len(seq))]
        return seq[bisect_left(cum, self.rng.randrange(cum[-1]) + 1)]

    def creation_times(self, n: int, first: int, last: int) -> list[int]:
        """85% in business hours, the rest at any time."""
        b0, b1 = bsec(first), bsec(last)
        rng = self.rng
        out = [binv(rng.randrange(b0, b1)) if rng.random() < 0.85 else rng.randrange(first, last)
               for _ in range(n)]
        out.sort()
        return out

    def urgency_impact(self, major: bool = False) -> tuple[str, str]:
        if major:
            return "high", "high"
        r = self.rng.random()
        if r < 0.012:
            return "high", "high"
        if r < 0.10:
            return self.pick((("high", "medium"), ("medium", "high")))
        if r < 0.45:
            return self.pick((("medium", "medium"), ("high", "low"), ("low", "high")))
        return self.pick((("medium", "low"), ("low", "medium"), ("low", "low")))

    # -- lives --
    def incident(self, t0: int, prio: str, service: str, group: str,
                 known: int) -> tuple[Life, dict[str, Any]]:
        """``known``: incidents logged before this one (whose solutions may be reused)."""
        rng = self.rng
        speed = {"P1": 0.05, "P2": 0.25, "P3": 1.0, "P4": 1.6}[prio]
        agent = self.pick(self.desk)
        life = Life(t0, "new", agent, {})
        fields: dict[str, Any] = {}
        r = rng.random()
        assignee = None
        grp = None
        if rng.random() < 0.08:
            life.do(self.later(t0, self.exp(2 * 3600)), "update", agent, "service_desk",
                    changes={"category": [None, self.pick(INC_CATEGORIES)]})
        if r < 0.03:  # cancelled at the desk
            code = self.pick(("duplicate", "withdrawn"))
            life.do(self.later(life.t, self.exp(1200)), "cancel", agent, "service_desk", "cancelled",
                    {"reason": [None, "Duplicate report"], "closure_code": [None, code]})
            fields.update(reason="Duplicate report", closure_code=code)
            return life, dict(fields, assignee=None, group=None)
        if r < 0.28:  # resolved at first contact
            pass
        else:
            grp = group
            life.do(self.later(life.t, self.exp(600)), "assign", agent, "service_desk", "assigned",
                    {"group": [None, grp]})
            hops = self.pick((0,) * 70 + (1,) * 18 + (2,) * 7 + (3,) * 3 + (4,) * 1 + (5,) * 1)
            for _ in range(hops):
                new = self.pick(list(self.agents))
                life.do(self.later(life.t, self.exp(1800)), "assign", agent, "service_desk", "assigned",
                        {"group": [grp, new]})
                grp = new
            if rng.random() < 0.01:
                life.do(self.later(life.t, self.exp(3600)), "cancel", agent, "service_desk", "cancelled",
                        {"reason": [None, "Withdrawn by the user"], "closure_code": [None, "withdrawn"]})
                fields.update(reason="Withdrawn by the user", closure_code="withdrawn")
                return life, dict(fields, assignee=None, group=grp)
            if rng.random() < 0.001:  # never taken up: stays in the queue
                return life, dict(fields, assignee=None, group=grp)
            assignee = self.pick(self.agents[grp])
            life.do(self.later(life.t, self.exp(2400 * speed * 4)), "start", assignee, "assignee",
                    "in_progress", {"assignee": [None, assignee]})
            if rng.random() < 0.04:  # handed on after starting
                new = self.pick(list(self.agents))
                life.do(self.later(life.t, self.exp(3600)), "assign", assignee, "service_desk", "assigned",
                        {"group": [grp, new], "assignee": [assignee, None]})
                grp, assignee = new, self.pick(self.agents[new])
                life.do(self.later(life.t, self.exp(1800)), "start", assignee, "assignee", "in_progress",
                        {"assignee": [None, assignee]})
            if rng.random() < 0.15:
                life.do(self.later(life.t, self.exp(3 * 3600 * speed)), "pend", assignee, "assignee",
                        "pending", {"reason": [None, "Waiting for the user"]})
                fields["reason"] = "Waiting for the user"
                if rng.random() < 0.02:  # never resumed: on hold for good
                    return life, dict(fields, assignee=assignee, group=grp)
                life.do(self.later(life.t, self.exp(5 * 3600)), "resume", self.pick(("user", assignee)),
                        "reporter", "in_progress")
            if rng.random() < 0.001:  # started, never finished
                return life, dict(fields, assignee=assignee, group=grp)
        closure = self.pick(("solved",) * 6 + ("workaround", "user_advice", "no_fault_found"))
        res_changes = {"solution": [None, "Fixed"], "closure_code": [None, closure],
                       "service_restored": [None, True], "user_confirmed": [None, False],
                       "auto_closed": [None, False]}
        if known and rng.random() < 0.3:  # resolved with a known solution (--set solution_from=KEY)
            source = f"INC-{rng.randrange(1, known + 1):06d}"
            res_changes["solution_from"] = [None, source]
            fields["solution_from"] = source
        actor = assignee or agent
        role = "assignee" if assignee else "service_desk"
        if assignee is None:
            life.do(self.later(life.t, self.exp(900, high=4 * 3600)), "resolve", actor, role, "resolved",
                    res_changes)
        else:
            life.do(self.later(life.t, self.exp(5 * 3600 * speed * 2)), "resolve", actor, role, "resolved",
                    res_changes)
        fields.update(solution="Fixed", closure_code=closure, service_restored=True, user_confirmed=False,
                      auto_closed=False)
        if rng.random() < 0.05:
            life.do(self.later(life.t, self.exp(4 * 3600)), "reopen", "user", "reporter", "in_progress",
                    {"reason": [None, "Still broken"], "reopen_count": [None, 1]})
            fields.update(reason="Still broken", reopen_count=1)
            life.do(self.later(life.t, self.exp(3 * 3600)), "resolve", actor, role, "resolved")
        self._close(life, fields)
        return life, dict(fields, assignee=assignee, group=grp)

    def _close(self, life: Life, fields: dict[str, Any]) -> None:
        wait = self.exp(6 * 3600, high=10 * BDAY)
        if wait < 3 * BDAY and self.rng.random() < 0.65:
            life.do(self.later(life.t, wait), "confirm", "user", "reporter", "closed",
                    {"user_confirmed": [False, True]})
            fields["user_confirmed"] = True
        else:
            life.do(binv(bsec(life.t) + 3 * BDAY), "auto_close", "system", "system", "closed",
                    {"auto_closed": [False, True]})
            fields["auto_closed"] = True

    def request(self, t0: int, service: str, group: str) -> tuple[Life, dict[str, Any]]:
        rng = self.rng
        agent = self.pick(self.desk)
        life = Life(t0, "submitted", agent, {})
        fields: dict[str, Any] = {}
        grp = assignee = None
        if rng.random() < 0.02:
            life.do(self.later(t0, self.exp(3600)), "cancel", agent, "service_desk", "cancelled",
                    {"closure_code": [None, "withdrawn"]})
            return life, dict(fields, closure_code="withdrawn", assignee=None, group=None)
        if rng.random() < 0.3:
            life.do(self.later(t0, self.exp(900)), "request_approval", agent, "service_desk",
                    "awaiting_approval")
            if rng.random() < 0.08:
                life.do(self.later(life.t, self.exp(BDAY)), "reject", "approver", "approver", "rejected",
                        {"closure_code": [None, "rejected"]})
                return life, dict(fields, closure_code="rejected", assignee=None, group=None)
            life.do(self.later(life.t, self.exp(4 * 3600)), "approve", "approver", "approver", "fulfilling",
                    {"approved_by": [None, "approver"]})
            grp = group
            assignee = self.pick(self.agents[grp])
            life.do(self.later(life.t, self.exp(1800)), "assign", agent, "service_desk", None,
                    {"group": [None, grp], "assignee": [None, assignee]})
        else:
            if rng.random() < 0.5:
                grp = group
                life.do(self.later(t0, self.exp(900)), "assign", agent, "service_desk", None,
                        {"group": [None, grp]})
                assignee = self.pick(self.agents[grp])
            else:
                assignee = agent
            life.do(self.later(life.t, self.exp(2 * 3600)), "start", assignee, "assignee", "fulfilling",
                    {"assignee": [None, assignee]})
        if rng.random() < 0.001:
            return life, dict(fields, assignee=assignee, group=grp)
        if rng.random() < 0.1:
            life.do(self.later(life.t, self.exp(4 * 3600)), "pend", assignee, "assignee", "pending",
                    {"reason": [None, "Waiting for delivery"]})
            if rng.random() < 0.02:
                return life, dict(fields, reason="Waiting for delivery", assignee=assignee, group=grp)
            life.do(self.later(life.t, self.exp(BDAY)), "resume", assignee, "assignee", "fulfilling")
        life.do(self.later(life.t, self.exp(10 * 3600)), "fulfil", assignee, "assignee", "fulfilled",
                {"closure_code": [None, "fulfilled"], "user_confirmed": [None, False],
                 "auto_closed": [None, False]})
        fields.update(closure_code="fulfilled", user_confirmed=False, auto_closed=False)
        if rng.random() < 0.03:
            life.do(self.later(life.t, self.exp(4 * 3600)), "reopen", "user", "reporter", "fulfilling",
                    {"reopen_count": [None, 1]})
            fields["reopen_count"] = 1
            life.do(self.later(life.t, self.exp(4 * 3600)), "fulfil", assignee, "assignee", "fulfilled")
        self._close(life, fields)
        return life, dict(fields, assignee=assignee, group=grp)

    def major(self, t0: int) -> tuple[Life, dict[str, Any]]:
        rng = self.rng
        manager = self.pick(self.agents["major_incident_team"])
        life = Life(t0, "candidate", "system", {})
        fields: dict[str, Any] = {"criterion": "priority_p1: The incident has priority P1"}
        if rng.random() < 0.15:
            life.do(t0 + self.exp(1200, high=4 * 3600), "decline", manager, "major_incident_manager",
                    "declined", {"reason": [None, "Not major"], "closure_code": [None, "not_major"]})
            return life, dict(fields, closure_code="not_major")
        life.do(t0 + self.exp(480, low=60, high=3600), "accept", manager, "major_incident_manager",
                "accepted", {"manager": [None, manager]})
        lead = self.pick(self.agents["major_incident_team"])
        life.do(life.t + 120, "assign_lead", manager, "manager", None, {"technical_lead": [None, lead]})
        fields.update(manager=manager, technical_lead=lead)
        resolve_at = life.t + self.exp(3 * 3600, low=600, high=3 * DAY)
        if rng.random() < 0.7:
            life.do(life.t + self.exp(3600, high=resolve_at - life.t - 60), "mitigate", lead,
                    "technical_lead", "mitigated",
                    {"workaround": [None, "Fail-over"], "service_restored": [None, True]})
            fields.update(workaround="Fail-over", service_restored=True)
        while life.t + 1800 < resolve_at:
            life.do(life.t + 1800, "post_update", manager, "manager", None, {})
        life.do(resolve_at, "resolve", lead, "technical_lead", "resolved",
                {"solution": [None, "Root cause fixed"], "closure_code": [None, "major_resolved"]})
        fields.update(solution="Root cause fixed", closure_code="major_resolved")
        life.do(self.later(life.t, self.exp(BDAY)), "start_review", manager, "manager", "review")
        life.do(self.later(life.t, self.exp(3 * BDAY)), "close", manager, "manager", "closed")
        return life, fields

    # -- SLA record --
    def sla(self, process: str, prio: str, policy_id: str, timeline: list[tuple[int, str, str | None]],
            now: int) -> tuple[dict[str, Any], int | None, int | None, bool]:
        """The SLA record and summary (due, warn, breached) from the state timeline
        [(time, action, state entered or None)] up to ``now``."""
        policy = self.policies[policy_id]
        counted = bsec if policy["business"] else wall
        uncount = binv if policy["business"] else wall
        targets = policy["targets"].get(prio) or policy["targets"]["P4"]
        record: dict[str, Any] = {}
        dues, warns, breached_any = [], [], False
        t0 = timeline[0][0]
        for (clock, stop, pause, resume), target in zip(CLOCKS[process], targets):
            state, elapsed, seg, stopped_at = "running", 0, t0, None
            for t, action, entered in timeline[1:]:
                if state == "running":
                    if entered in stop:
                        elapsed += counted(t) - counted(seg)
                        state, stopped_at = "stopped", t
                    elif entered in pause:
                        elapsed += counted(t) - counted(seg)
                        state = "paused"
                elif state == "paused":
                    if entered in stop:
                        state, stopped_at = "stopped", t
                    elif entered is not None and entered not in pause:
                        state, seg = "running", t
                elif action in resume:
                    state, seg, stopped_at = "running", t, None
            if state == "running":
                elapsed += counted(now) - counted(seg)
            warn_at = int(target * policy["warning"])
            due = warning = None
            if state == "running":
                due = uncount(counted(now) + target - elapsed)
                warning = uncount(counted(now) + warn_at - elapsed)
                dues.append(due)
                warns.append(warning)
            elif state == "stopped" and elapsed >= warn_at:
                warning = uncount(counted(t0) + warn_at)
            breached = elapsed >= target  # breached at the due instant (engine.clock.sla.reached)
            breached_any = breached_any or breached
            record[clock] = {"state": state, "target_seconds": target, "elapsed_seconds": elapsed,
                             "remaining_seconds": target - elapsed, "due": local_iso(due),
                             "warning_at": local_iso(warning), "paused": state == "paused",
                             "breached": breached, "met": (not breached) if state == "stopped" else None,
                             "started_at": local_iso(t0), "stopped_at": local_iso(stopped_at),
                             "calendar": policy["calendar"], "policy": policy_id}
        return record, (min(dues) if dues else None), (min(warns) if warns else None), breached_any

    # -- everything --
    def tickets(self, n: int, versions: dict[str, str]) -> Iterator[tuple[list[tuple[Any, ...]],
                                                                          list[tuple[Any, ...]]]]:
        """Chunks of (ticket rows, journal rows); journal rows come out in time order."""
        rng = self.rng
        now = int(NOW.timestamp())
        first = int((END - timedelta(weeks=WEEKS)).timestamp())
        times = self.creation_times(n, first, now)
        seqs = {p: 0 for p in PREFIX}
        pending: list[tuple[Any, ...]] = []  # heap of journal rows (time, ticket id, seq, row)
        t_rows: list[tuple[Any, ...]] = []
        tid = 0
        skip: set[int] = set()  # a major incident takes the slot of a later ticket
        for i, t0 in enumerate(times):
            if i in skip:
                continue
            while pending and pending[0][0] < t0:  # nothing later can be earlier than t0
                yield_row = heapq.heappop(pending)[3]
                self._journal_out.append(yield_row)
            made = []
            if rng.random() < 0.7:
                ui = self.urgency_impact()
                prio = PRIORITY[(ui[1], ui[0])]
                service = self.pick(self.service_ids, self.service_weights)
                group, policy = self.services[service]
                life, fields = self.incident(t0, prio, service, group, seqs["incident"])
                made.append(("incident", life, fields, ui, prio, service, policy, None))
                free = [j for j in (rng.randrange(i + 1, n) for _ in range(4)) if j not in skip] \
                    if prio == "P1" and rng.random() < 0.05 and i + 1 < n else []
                if free:
                    skip.add(free[0])
                    mlife, mfields = self.major(t0)
                    made.append(("major_incident", mlife, mfields, ("high", "high"), "P1", service, policy,
                                 None))
            else:
                ui = self.urgency_impact()
                ui = ("low", ui[1]) if ui[0] == "high" and ui[1] == "high" else ui
                prio = PRIORITY[(ui[1], ui[0])]
                service = self.pick(self.service_ids, self.service_weights)
                group, policy = self.services[service]
                life, fields = self.request(t0, service, group)
                made.append(("service_request", life, fields, ui, prio, service, policy, None))
            keys = []
            for process, *_ in made:
                seqs[process] += 1
                keys.append(f"{PREFIX[process]}-{seqs[process]:06d}")
            if len(made) == 2:  # the incident is linked to its major incident
                inc = made[0][1]
                inc.events.insert(1, (t0 + 1, "link", "system", "system", None, None,
                                      {"parent": [None, keys[1]]}))
                inc.events[2:] = [(max(e[0], t0 + 2), *e[1:]) for e in inc.events[2:]]
                made[0] = (*made[0][:7], keys[1])
            for (process, life, fields, ui, prio, service, policy, parent), key in zip(made, keys):
                tid += 1
                t_rows.append(self._ticket(tid, key, process, versions[process], life, fields, ui, prio,
                                           service, policy, parent, now, pending))
            if len(t_rows) >= 5000:
                yield t_rows, self._flush_journal()
                t_rows = []
        while pending:
            self._journal_out.append(heapq.heappop(pending)[3])
        yield t_rows, self._flush_journal()

    def _flush_journal(self) -> list[tuple[Any, ...]]:
        out, self._journal_out = self._journal_out, []
        return out

    def _ticket(self, tid: int, key: str, process: str, version: str, life: Life, fields: dict[str, Any],
                ui: tuple[str, str], prio: str, service: str, policy: str, parent: str | None, now: int,
                pending: list[tuple[Any, ...]]) -> tuple[Any, ...]:
        rng = self.rng
        events = [e for e in life.events if e[0] <= now]
        t0 = events[0][0]
        urgency, impact = ui
        channel = self.pick(self.channels, self.channel_weights)
        category = self.pick({"incident": INC_CATEGORIES, "service_request": REQ_CATEGORIES,
                              "major_incident": MI_CATEGORIES}[process])
        title = f"{self.pick(WORDS).capitalize()} {self.pick(WORDS)} ({service})"
        reporter = f"user{rng.randrange(30000):05d}@example.com"
        create = {"title": [None, title], "reporter": [None, reporter], "urgency": [None, urgency],
                  "impact": [None, impact], "service": [None, service], "category": [None, category],
                  "priority": [None, prio]}
        if process != "major_incident":
            create["channel"] = [None, channel]
        # replay the events up to now: state, group, assignee, times, and the fields set by then
        state = events[0][5]
        group = assignee = None
        resolved_at = closed_at = None
        entered = t0
        vals: dict[str, Any] = {"channel": channel} if process != "major_incident" else {}
        prev = "0" * 64
        timeline: list[tuple[int, str, str | None]] = [(t0, "create", state)]
        for seq, (t, action, actor, role, frm, to, changes) in enumerate(events, 1):
            if seq == 1:
                changes = dict(create, **{k: [None, v] for k, v in fields.items()
                                          if k in ("criterion",)})
            for k, (_, v) in changes.items():
                if k == "group":
                    group = v
                elif k == "assignee":
                    assignee = v
                elif k not in create:
                    vals[k] = v
            if to is not None:
                state, entered = to, t
                cat = CATEGORY[to]
                if cat == "resolved":
                    resolved_at = t
                elif cat == "closed":
                    closed_at = t
                elif action == "reopen":
                    resolved_at = None
                timeline.append((t, action, to))
            elif action in ("reopen",):
                timeline.append((t, action, None))
            h = f"{rng.getrandbits(256):064x}"
            row = (tid, seq, action, actor, role, frm, to, json.dumps(changes),
                   None, action not in ("assign", "start", "update", "assign_lead", "post_update"),
                   version, db_time(t), db_time(t + 1), prev, h)
            prev = h
            heapq.heappush(pending, (t, tid, seq, row))
        sla, due, warn, breached = self.sla(process, prio, policy, timeline, now)
        status_category = CATEGORY[state]
        updated = events[-1][0]
        fields_json = {k: v for k, v in vals.items() if v is not None}
        description = (f"{title}. Reported by {reporter} through {channel}: "
                       + " ".join(self.pick(WORDS) for _ in range(12)) + ".")
        return (tid, key, process, version, state, state, status_category, title, description, reporter,
                None, assignee, group, urgency, impact, prio, False, service, category, parent,
                json.dumps(fields_json), json.dumps(sla), len(events), db_time(t0), db_time(updated),
                db_time(entered),
                db_time(resolved_at) if resolved_at and status_category in ("resolved", "closed") else None,
                db_time(closed_at) if closed_at and status_category == "closed" else None,
                db_time(due) if due else None, db_time(warn) if warn else None, breached,
                f"{rng.getrandbits(256):064x}")


def _cum(weights: list[int]) -> Iterator[int]:
    total = 0
    for w in weights:
        total += w
        yield total


def generator_hash() -> str:
    """What the cached database depends on: this generator, the tables it fills (columns
    and indexes) and the shape of the processes.  Not the migration revision: a
    cached database is migrated by the engine like any other (``cached_db``)."""
    from engine.store.schema import definition_versions, journal, key_sequences, tickets

    parts = [str(GENERATOR_REVISION)]
    for table in (tickets, journal, definition_versions, key_sequences):  # what the loader writes
        parts.append(repr([(c.name, str(c.type), c.nullable) for c in table.columns]))
        parts.append(repr(sorted((i.name, tuple(c.name for c in i.columns), i.unique)
                                 for i in table.indexes)))
    for obj in (bsec, binv, db_time, local_iso, _targets, Life, Generator, load_sqlite):
        parts.append(inspect.getsource(obj))
    for name in ("PRIORITY", "CHANNELS", "INC_CATEGORIES", "REQ_CATEGORIES", "MI_CATEGORIES", "CLOCKS",
                 "CATEGORY", "WORDS", "START", "END", "NOW", "WEEKS"):
        parts.append(repr(_stable(globals()[name])))
    for name in ("services", "sla", "status"):  # what _targets and the categories read
        parts.append((REPO / "codes" / f"{name}.yaml").read_text(encoding="utf-8"))
    parts.append(json.dumps(_shape(), sort_keys=True))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _stable(value: Any) -> Any:
    """``value`` with its sets and dicts sorted: the same repr in every process (the
    order of a set of strings is not)."""
    if isinstance(value, (set, frozenset)):
        return sorted((_stable(v) for v in value), key=repr)
    if isinstance(value, dict):
        return sorted(((_stable(k), _stable(v)) for k, v in value.items()), key=repr)
    if isinstance(value, (list, tuple)):
        return [_stable(v) for v in value]
    return value


def _shape() -> dict[str, Any]:
    """What the generated data assumes of the processes: states (with their status
    category), actions, clocks, the reuse field (not labels, texts or templates, which
    other work changes often)."""
    from engine.api import Api

    defs = Api.open(home=str(REPO)).defs
    out: dict[str, Any] = {}
    for pid, spec in defs.processes.items():
        out[pid] = {"states": {st.id: defs.category_of(st.status) for st in spec.states.values()},
                    "actions": sorted(spec.actions), "reuse": spec.reuse_field,
                    "clocks": [repr((c.id, c.target, c.start, c.stop, c.pause, c.resume))
                               for c in spec.clocks]}
    return out


def load_sqlite(path: Path, n: int) -> dict[str, Any]:
    """Build the database of ``n`` tickets at ``path`` (schema by the engine)."""
    from engine.api import Api
    from engine.store.db import ensure_schema, make_engine

    started = time.perf_counter()
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)  # the engine's migrations
    engine.dispose()
    defs = Api.open(home=str(REPO), db=f"sqlite:///{path}").defs
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY"):
        conn.execute(f"PRAGMA {pragma}")
    versions = {pid: defs.version(pid) for pid in defs.processes}
    conn.executemany("INSERT INTO definition_versions "
                     "(version, process, declared_version, source, loaded_at) "
                     "VALUES (?, ?, ?, ?, ?)",
                     [(v, pid, defs.processes[pid].version,
                       json.dumps({"process": (REPO / "processes" / f"{pid}.yaml").read_text("utf-8")}),
                       db_time(int(START.timestamp()) - WEEKS * 7 * DAY)) for pid, v in versions.items()])
    gen = Generator()
    t_sql = (f"INSERT INTO tickets ({', '.join(TICKET_COLUMNS)}) "
             f"VALUES ({', '.join('?' * len(TICKET_COLUMNS))})")
    j_sql = (f"INSERT INTO journal ({', '.join(JOURNAL_COLUMNS)}) "
             f"VALUES ({', '.join('?' * len(JOURNAL_COLUMNS))})")
    n_t = n_j = 0
    conn.execute("BEGIN")
    for t_rows, j_rows in gen.tickets(n, versions):
        conn.executemany(t_sql, t_rows)
        conn.executemany(j_sql, j_rows)
        n_t += len(t_rows)
        n_j += len(j_rows)
    last = {p: 0 for p in PREFIX.values()}
    for (key,) in conn.execute("SELECT key FROM tickets"):
        prefix, number = key.rsplit("-", 1)
        last[prefix] = max(last[prefix], int(number))
    conn.executemany("INSERT INTO key_sequences (prefix, last_value) VALUES (?, ?)",
                     [(p, v) for p, v in last.items() if v])
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return {"tickets": n_t, "events": n_j, "build_seconds": round(time.perf_counter() - started, 1)}


def _migrate(path: Path) -> None:
    """Bring a cached database to the engine's schema revision, as opening it would."""
    from engine.store.db import ensure_schema, make_engine

    engine = make_engine(f"sqlite:///{path}")
    try:
        ensure_schema(engine)
    finally:
        engine.dispose()


def cache_dir() -> Path:
    base = os.environ.get("ITSM_BENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "itsm-bench")
    return Path(base)


def cached_db(n: int) -> tuple[Path, dict[str, Any]]:
    """The database of ``n`` tickets, built once per generator/schema/definitions hash."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"reports-{n}-{generator_hash()}.db"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        info = json.loads(meta.read_text())
        info["cached"] = True
        _migrate(path)
        return path, info
    for old in folder.glob(f"reports-{n}-*"):  # an older generator's database
        old.unlink()
    tmp = folder / f"building-{os.getpid()}-{path.name}"
    try:
        info = load_sqlite(tmp, n)
        for suffix in ("-wal", "-shm"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
        tmp.rename(path)
    finally:
        tmp.unlink(missing_ok=True)
    meta.write_text(json.dumps(info))
    return path, dict(info, cached=False)


# --- (b) the hand-written SQL ------------------------------------------------------------------
# Written from the KPI formulas (docs/reports.md) for the shipped processes, as a DBA would for
# this deployment: state names instead of per-process matches (no state name means one thing in
# one process and another elsewhere), one statement per KPI (first-contact and reopen share
# theirs, as the trend's current and previous periods do).  Python only divides and rounds.

RESOLVED_STATES = ("resolved", "review", "fulfilled")
RESPONDED_STATES = ("in_progress", "pending", "resolved", "closed", "cancelled", "awaiting_approval",
                    "fulfilling", "fulfilled", "rejected", "accepted", "declined", "mitigated", "review")
OPEN_STATES = ("new", "assigned", "in_progress", "pending", "candidate", "accepted", "mitigated",
               "submitted", "awaiting_approval", "fulfilling")
INITIAL_STATES = ("new", "submitted", "candidate")
MITIGATED_STATES = ("mitigated", "resolved", "review")
MI_RESOLVED_STATES = ("resolved", "review")
# No index starts with created_at: naming every status category lets the (status_category,
# created_at) index find the tickets created in a period, where a table scan reads them all.
CREATED_IN = ("status_category IN ('new', 'active', 'pending', 'resolved', 'closed') "
              "AND created_at >= ? AND created_at < ?")


class Dialect:
    """The few differences between SQLite and PostgreSQL in the hand-written SQL."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pg = name == "postgresql"

    def p(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s") if self.pg else sql

    def epoch(self, col: str) -> str:
        if self.pg:
            return f"CAST(floor(extract(epoch FROM {col})) AS bigint)"
        return f"CAST(strftime('%s', {col}) AS INTEGER)"

    def json_text(self, col: str, *path: str) -> str:
        if self.pg:
            return f"({col} #>> '{{{','.join(path)}}}')"
        return f"json_extract({col}, '$.{'.'.join(path)}')"

    def json_int(self, col: str, *path: str) -> str:
        return f"CAST({self.json_text(col, *path)} AS bigint)" if self.pg else self.json_text(col, *path)

    def json_true(self, col: str, *path: str) -> str:
        value = "'true'" if self.pg else "1"
        return f"({self.json_text(col, *path)} = {value})"

    def json_false(self, col: str, *path: str) -> str:
        value = "'false'" if self.pg else "0"
        return f"({self.json_text(col, *path)} = {value})"

    def true(self, col: str) -> str:
        return f"{col} IS TRUE" if self.pg else f"{col} = 1"

    def materialized(self) -> str:
        return "MATERIALIZED"


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _rows(cur: Any, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    cur.execute(sql, params)
    return cur.fetchall()


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _trend_rows(cur: dict[str, Any], before: dict[str, Any]) -> list[dict[str, Any]]:
    """The trend table's rows from this period's and the previous period's metrics
    (formatting only: both methods compute the metrics themselves)."""
    rows = []
    for key, unit in (("created", "count"), ("resolved", "count"), ("mean_resolve", "seconds"),
                      ("sla_compliance", "ratio"), ("open_at_end", "count")):
        c, p = cur[key], before[key]
        change = None if c is None or p is None else round(c - p, 4)
        rows.append({"metric": key, "unit": unit, "current": c, "previous": p, "change": change,
                     "change_pct": _ratio(change, p) if change is not None and p else None})
    return rows


def _sec(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def _nl(key: Any) -> tuple[bool, Any]:
    """Sort key: ascending, the empty value last."""
    return (key is None, key if key is not None else "")


class HandSql:
    """The weekly report's numbers from hand-written SQL over one DB-API connection."""

    def __init__(self, conn: Any, dialect: str, times: Callable[[datetime], Any], tz: Any) -> None:
        self.conn, self.d, self.at, self.tz = conn, Dialect(dialect), times, tz

    def q(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        cur = self.conn.cursor()
        try:
            return _rows(cur, self.d.p(sql), tuple(params))
        finally:
            cur.close()

    # first events of a set of states in [s, e), none before s: (ticket_id, seq, at)
    def first(self, states: tuple[str, ...]) -> str:
        return f"""
            SELECT j.ticket_id, min(j.seq) AS seq, min(j.effective_at) AS at
            FROM journal j
            WHERE j.effective_at >= ? AND j.effective_at < ? AND j.to_state IN {_in(states)}
              AND NOT EXISTS (SELECT 1 FROM journal b WHERE b.ticket_id = j.ticket_id
                              AND b.effective_at < ? AND b.to_state IN {_in(states)})
            GROUP BY j.ticket_id"""

    def durations(self, states: tuple[str, ...], s: Any, e: Any, value: str,
                  where: str = "") -> list[dict[str, Any]]:
        d = self.d
        sql = f"""
            WITH f AS {d.materialized()} ({self.first(states)}),
            v AS (SELECT t.priority AS g, {value} AS v
                  FROM f JOIN tickets t ON t.id = f.ticket_id {where}),
            r AS (SELECT g, v, row_number() OVER (PARTITION BY g ORDER BY v) - 1 AS i,
                         count(*) OVER (PARTITION BY g) AS n FROM v)
            SELECT g, n, sum(v), max(v),
                   max(CASE WHEN i = (n - 1) * 50 / 100 THEN v END),
                   max(CASE WHEN i = (n - 1) * 50 / 100 + 1 THEN v END), (n - 1) * 50 % 100,
                   max(CASE WHEN i = (n - 1) * 90 / 100 THEN v END),
                   max(CASE WHEN i = (n - 1) * 90 / 100 + 1 THEN v END), (n - 1) * 90 % 100
            FROM r GROUP BY g, n"""
        out = []
        for g, n, total, longest, m_lo, m_hi, m_frac, p_lo, p_hi, p_frac in self.q(sql, s, e, s):
            def pct(lo: Any, hi: Any, frac: int) -> float:
                return float(lo) if not frac else lo + (hi - lo) * frac / 100
            out.append({"group": g, "tickets": int(n), "mean": _sec(int(total) / int(n)),
                        "median": _sec(pct(m_lo, m_hi, int(m_frac))),
                        "p90": _sec(pct(p_lo, p_hi, int(p_frac))), "max": _sec(longest)})
        return sorted(out, key=lambda r: _nl(r["group"]))

    def report(self, start: datetime, end: datetime, prev: tuple[datetime, datetime],
               history: list[datetime]) -> dict[str, list[list[dict[str, Any]]]]:
        d, s, e = self.d, self.at(start), self.at(end)
        out: dict[str, list[list[dict[str, Any]]]] = {}
        # volume
        for kpi, col in (("volume_by_priority", "priority"), ("volume_by_process", "process"),
                         ("volume_by_service", "service")):
            rows = self.q(f"SELECT {col}, count(*) FROM tickets WHERE {CREATED_IN} GROUP BY {col}", s, e)
            total = sum(n for _, n in rows)
            out[kpi] = [[{"group": g, "count": n, "share": _ratio(n, total)}
                         for g, n in sorted(rows, key=lambda r: _nl(r[0]))]]
        wall = f"{d.epoch('f.at')} - {d.epoch('t.created_at')}"
        out["time_to_respond"] = [self.durations(RESPONDED_STATES, s, e, wall)]
        out["time_to_resolve"] = [self.durations(RESOLVED_STATES, s, e, wall)]
        out["business_time_to_resolve"] = [self.durations(
            RESOLVED_STATES, s, e, d.json_int("t.sla", "resolution", "elapsed_seconds"),
            f"WHERE {d.json_text('t.sla', 'resolution', 'state')} = 'stopped'")]
        # SLA compliance
        (n, rm, rx, sm, sx), = self.q(f"""
            WITH f AS ({self.first(RESOLVED_STATES)})
            SELECT count(*),
                   sum(CASE WHEN {d.json_true('t.sla', 'response', 'met')} THEN 1 ELSE 0 END),
                   sum(CASE WHEN {d.json_false('t.sla', 'response', 'met')} THEN 1 ELSE 0 END),
                   sum(CASE WHEN {d.json_true('t.sla', 'resolution', 'met')} THEN 1 ELSE 0 END),
                   sum(CASE WHEN {d.json_false('t.sla', 'resolution', 'met')} THEN 1 ELSE 0 END)
            FROM f JOIN tickets t ON t.id = f.ticket_id""", s, e, s)
        out["sla_compliance"] = [[
            {"clock": c, "met": m, "missed": x, "compliance": _ratio(m, m + x)}
            for c, m, x in (("response", int(rm or 0), int(rx or 0)),
                            ("resolution", int(sm or 0), int(sx or 0)))]]
        # first contact, solution reuse and reopen: one statement
        reused = (f"(t.process = 'incident' AND {d.json_text('t.fields', 'solution_from')} IS NOT NULL "
                  f"AND {d.json_text('t.fields', 'solution_from')} <> '')")
        first_contact = f"fj.from_state IN {_in(INITIAL_STATES)}"
        rows = self.q(f"""
            WITH f AS ({self.first(RESOLVED_STATES)})
            SELECT t.process, count(*),
                   sum(CASE WHEN {first_contact} THEN 1 ELSE 0 END),
                   sum(CASE WHEN EXISTS (SELECT 1 FROM journal r WHERE r.ticket_id = f.ticket_id
                                         AND r.seq > f.seq AND r.action = 'reopen'
                                         AND r.effective_at < ?) THEN 1 ELSE 0 END),
                   sum(CASE WHEN {reused} THEN 1 ELSE 0 END),
                   sum(CASE WHEN {reused} AND {first_contact} THEN 1 ELSE 0 END)
            FROM f JOIN tickets t ON t.id = f.ticket_id
                   JOIN journal fj ON fj.ticket_id = f.ticket_id AND fj.seq = f.seq
            GROUP BY t.process""", s, e, s, e)
        rows = [(g, int(n), int(fc), int(ro), int(ru), int(fr)) for g, n, fc, ro, ru, fr in
                sorted(rows, key=lambda r: _nl(r[0]))]
        out["first_contact_resolution"] = [[{"group": g, "resolved": n, "first_contact": fc,
                                             "rate": _ratio(fc, n)} for g, n, fc, _, _, _ in rows]]
        out["solution_reuse"] = [[{"group": g, "resolved": n, "reused": ru, "reuse_rate": _ratio(ru, n),
                                   "fcr_with_reuse": _ratio(fr, ru),
                                   "fcr_without_reuse": _ratio(fc - fr, n - ru)}
                                  for g, n, fc, _, ru, fr in rows]]
        out["reopen_rate"] = [[{"group": g, "resolved": n, "reopened": ro, "rate": _ratio(ro, n)}
                               for g, n, _, ro, _, _ in rows]]
        # closures
        rows = self.q("""
            SELECT t.process, sum(CASE WHEN j.action = 'auto_close' THEN 1 ELSE 0 END),
                   sum(CASE WHEN j.action = 'confirm' THEN 1 ELSE 0 END)
            FROM journal j JOIN tickets t ON t.id = j.ticket_id
            WHERE j.effective_at >= ? AND j.effective_at < ? AND j.action IN ('auto_close', 'confirm')
            GROUP BY t.process""", s, e)
        out["auto_close_share"] = [[
            {"group": g, "closed": a + c, "auto_closed": a, "confirmed": c,
             "auto_share": _ratio(a, a + c), "confirmed_share": _ratio(c, a + c)}
            for g, a, c in ((g, int(a), int(c)) for g, a, c in sorted(rows, key=lambda r: _nl(r[0])))]]
        # backlog by age
        bounds = [self.at(end - timedelta(days=x)) for x in (1, 3, 7, 30)]
        rows = self.q(f"""
            WITH {self.open_at_cte()}
            SELECT CASE WHEN t.created_at > ? THEN 0 WHEN t.created_at > ? THEN 1
                        WHEN t.created_at > ? THEN 2 WHEN t.created_at > ? THEN 3 ELSE 4 END AS b, count(*)
            FROM open_ids o JOIN tickets t ON t.id = o.id GROUP BY b""", *self.open_at_params(e), *bounds)
        counts = dict(rows)
        out["backlog_age"] = [[{"age": a, "count": int(counts.get(i, 0))}
                               for i, a in enumerate(("< 1d", "1d-3d", "3d-7d", "7d-30d", ">= 30d"))]]
        # reassignment
        hops = """
            WITH a AS (SELECT DISTINCT ticket_id FROM journal
                       WHERE effective_at >= ? AND effective_at < ? AND action = 'assign'),
            h AS (SELECT a.ticket_id, (SELECT count(*) FROM journal j WHERE j.ticket_id = a.ticket_id
                                       AND j.action = 'assign' AND j.effective_at < ?) AS hops FROM a)"""
        (n, fw, total, most), = self.q(hops + " SELECT count(*), sum(CASE WHEN hops > 2 THEN 1 ELSE 0 END), "
                                       "sum(hops), max(hops) FROM h", s, e, e)
        listed = self.q(hops + " SELECT t.key, h.hops, t.group_id FROM h JOIN tickets t ON t.id = h.ticket_id"
                               " WHERE h.hops > 2 ORDER BY h.hops DESC, t.key LIMIT 10", s, e, e)
        out["reassignment"] = [
            [{"tickets": n, "forwarded": int(fw), "rate": _ratio(int(fw), n),
              "mean_hops": _sec(int(total) / n), "max_hops": most}] if n else [],
            [{"key": k, "hops": h, "group": g} for k, h, g in listed]]
        # breached and at risk (at the end of the period: it is before now)
        risk = f"""
            SELECT key, priority, group_id, assignee, sla_due_at,
                   CASE WHEN {d.true('sla_breached')} OR sla_due_at <= ? THEN 1 ELSE 0 END AS breached,
                   CASE WHEN NOT ({d.true('sla_breached')} OR sla_due_at <= ?) AND sla_warn_at <= ?
                        AND sla_due_at > ? THEN 1 ELSE 0 END AS at_risk
            FROM tickets WHERE status_category IN ('new', 'active', 'pending')"""
        rows = self.q(f"SELECT priority, sum(breached), sum(at_risk) FROM ({risk}) x "
                      "WHERE breached = 1 OR at_risk = 1 GROUP BY priority", e, e, e, e)
        listed = self.q(f"SELECT key, priority, group_id, assignee, sla_due_at, breached FROM ({risk}) x "
                        "WHERE breached = 1 OR at_risk = 1 ORDER BY sla_due_at, key LIMIT 10", e, e, e, e)
        out["breached_at_risk"] = [
            [{"group": g, "breached": int(b), "at_risk": int(r)}
             for g, b, r in sorted(rows, key=lambda r: _nl(r[0]))],
            [{"key": k, "priority": p, "group": g, "assignee": a, "due": self.iso(due),
              "risk": "breached" if b else "at_risk"} for k, p, g, a, due, b in listed]]
        # major incidents
        created = d.epoch("t.created_at")
        rows = self.q(f"""
            SELECT t.key, t.title, t.priority, t.service, t.state, t.created_at,
                   (SELECT {d.epoch('min(j.effective_at)')} FROM journal j WHERE j.ticket_id = t.id
                      AND j.effective_at < ? AND j.to_state IN {_in(MITIGATED_STATES)}) - {created},
                   (SELECT {d.epoch('min(j.effective_at)')} FROM journal j WHERE j.ticket_id = t.id
                      AND j.effective_at < ? AND j.to_state IN {_in(MI_RESOLVED_STATES)}) - {created},
                   (SELECT count(*) FROM tickets c WHERE c.parent = t.key)
            FROM tickets t
            WHERE t.process = 'major_incident' AND t.created_at < ?
              AND (t.closed_at IS NULL OR t.closed_at >= ?) AND t.state <> 'declined'
            ORDER BY t.created_at, t.key""", e, e, e, s)
        out["major_incidents"] = [[
            {"key": k, "title": ti, "priority": p, "service": sv, "state": st, "opened": self.iso(c),
             "to_mitigate": m, "to_resolve": r, "linked": n} for k, ti, p, sv, st, c, m, r, n in rows]]
        # workload
        for kpi, col in (("workload", "group_id"), ("workload_by_assignee", "assignee")):
            rows = self.q(f"""
                WITH f AS ({self.first(RESOLVED_STATES)}), {self.open_at_cte()},
                u AS (SELECT {col} AS g, 1 AS c, 0 AS r, 0 AS o FROM tickets WHERE {CREATED_IN}
                      UNION ALL SELECT t.{col}, 0, 1, 0 FROM f JOIN tickets t ON t.id = f.ticket_id
                      UNION ALL SELECT t.{col}, 0, 0, 1 FROM open_ids o JOIN tickets t ON t.id = o.id)
                SELECT g, sum(c), sum(r), sum(o) FROM u GROUP BY g""", s, e, s, *self.open_at_params(e), s, e)
            out[kpi] = [[{"group": g, "created": int(c), "resolved": int(r), "open": int(o)}
                         for g, c, r, o in sorted(rows, key=lambda r: _nl(r[0]))]]
        out["trend"] = self.trend(start, end, prev, history)
        return out

    def open_at_cte(self) -> str:
        """open_ids: the tickets open at a moment (their last state entered before it)."""
        return f"""
            moves AS {self.d.materialized()} (SELECT ticket_id FROM journal
                                            WHERE effective_at >= ? AND to_state IS NOT NULL),
            changed AS (SELECT DISTINCT ticket_id FROM moves),
            open_ids AS (
                SELECT id FROM tickets
                WHERE status_category IN ('new', 'active', 'pending') AND created_at < ?
                  AND id NOT IN (SELECT ticket_id FROM changed)
                UNION ALL
                SELECT c.ticket_id FROM changed c JOIN tickets t ON t.id = c.ticket_id
                WHERE t.created_at < ?
                  AND (SELECT j.to_state FROM journal j WHERE j.ticket_id = c.ticket_id AND j.effective_at < ?
                         AND j.to_state IS NOT NULL ORDER BY j.seq DESC LIMIT 1) IN {_in(OPEN_STATES)})"""

    @staticmethod
    def open_at_params(at: Any) -> tuple[Any, ...]:
        return (at, at, at, at)

    def iso(self, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc).astimezone(self.tz).isoformat(timespec="seconds")

    def trend(self, start: datetime, end: datetime, prev: tuple[datetime, datetime],
              history: list[datetime]) -> list[list[dict[str, Any]]]:
        """Created, first resolved (with wall time and resolution SLA) per week of the
        history (the current and previous periods are its last two), open at two ends."""
        d = self.d
        h = [self.at(b) for b in history]  # period starts, then the end
        assert history[-2:] == [start, end] and history[-3] == prev[0]
        buckets = " ".join(f"WHEN {{col}} < ? THEN {i}" for i in range(len(h) - 2))
        made = self.q(f"SELECT CASE {buckets.format(col='created_at')} ELSE {len(h) - 2} END AS i, count(*) "
                      f"FROM tickets WHERE {CREATED_IN} GROUP BY i", *h[1:-1], h[0], h[-1])
        solved = self.q(f"""
            WITH f AS ({self.first(RESOLVED_STATES)})
            SELECT CASE {buckets.format(col='f.at')} ELSE {len(h) - 2} END AS i, count(*),
                   sum({d.epoch('f.at')} - {d.epoch('t.created_at')}),
                   sum(CASE WHEN {d.json_true('t.sla', 'resolution', 'met')} THEN 1 ELSE 0 END),
                   sum(CASE WHEN {d.json_false('t.sla', 'resolution', 'met')} THEN 1 ELSE 0 END)
            FROM f JOIN tickets t ON t.id = f.ticket_id GROUP BY i""", h[0], h[-1], h[0], *h[1:-1])
        (now_open, prev_open), = self.q(f"""
            SELECT (SELECT count(*) FROM (WITH {self.open_at_cte()} SELECT id FROM open_ids) a),
                   (SELECT count(*) FROM (WITH {self.open_at_cte()} SELECT id FROM open_ids) b)""",
                                        *self.open_at_params(h[-1]), *self.open_at_params(h[-2]))
        created = {int(i): int(n) for i, n in made}
        resolved = {int(i): (int(n), int(w), int(m or 0), int(x or 0)) for i, n, w, m, x in solved}
        last = len(h) - 2

        def metrics(i: int, open_end: int) -> dict[str, Any]:
            n, w, m, x = resolved.get(i, (0, 0, 0, 0))
            return {"created": created.get(i, 0), "resolved": n, "mean_resolve": _sec(w / n) if n else None,
                    "sla_compliance": _ratio(m, m + x), "open_at_end": open_end}
        rows = _trend_rows(metrics(last, int(now_open)), metrics(last - 1, int(prev_open)))
        series = [{"period": history[i].astimezone(self.tz).isoformat(timespec="seconds"),
                   "created": created.get(i, 0), "resolved": resolved.get(i, (0,))[0]}
                  for i in range(last + 1)]
        return [rows, series]


# --- (c) the naive Python aggregation ------------------------------------------------------------
# Loads every ticket and every journal event, then computes each KPI in Python from the
# per-process definitions of the states (written out here, as the process files say).

P_RESOLVED = {"incident": {"resolved"}, "service_request": {"fulfilled"},
              "major_incident": {"resolved", "review"}}
P_RESPONDED = {"incident": {"in_progress", "pending", "resolved", "closed", "cancelled"},
               "service_request": {"awaiting_approval", "fulfilling", "pending", "fulfilled", "closed",
                                   "rejected", "cancelled"},
               "major_incident": {"accepted", "declined", "mitigated", "resolved", "review", "closed"}}
P_OPEN = {"incident": {"new", "assigned", "in_progress", "pending"},
          "service_request": {"submitted", "awaiting_approval", "fulfilling", "pending"},
          "major_incident": {"candidate", "accepted", "mitigated"}}
P_INITIAL = {"incident": "new", "service_request": "submitted", "major_incident": "candidate"}
P_REUSE = {"incident": "solution_from"}  # the processes' search.reuse field


def _epoch(value: Any) -> int:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return int(value.replace(tzinfo=timezone.utc).timestamp())


def _percentile(values: list[int], k: int) -> float:
    """percentile_cont(k / 100) of sorted values."""
    pos = (len(values) - 1) * k
    lo, frac = pos // 100, pos % 100
    if not frac:
        return float(values[lo])
    return (values[lo] * (100 - frac) + values[lo + 1] * frac) / 100


def _stats(groups: dict[Any, list[int]]) -> list[dict[str, Any]]:
    out = []
    for g in sorted(groups, key=_nl):
        v = sorted(groups[g])
        out.append({"group": g, "tickets": len(v), "mean": _sec(sum(v) / len(v)),
                    "median": _sec(_percentile(v, 50)), "p90": _sec(_percentile(v, 90)), "max": _sec(v[-1])})
    return out


def naive_report(conn: Any, times: Callable[[datetime], Any], tz: Any, start: datetime, end: datetime,
                 prev: tuple[datetime, datetime], history: list[datetime],
                 nulls_first: bool) -> dict[str, list[list[dict[str, Any]]]]:
    cur = conn.cursor()
    cur.execute("SELECT id, key, process, state, status_category, title, priority, service, group_id, "
                "assignee, parent, created_at, closed_at, sla, sla_due_at, sla_warn_at, sla_breached, fields "
                "FROM tickets")
    tickets = cur.fetchall()
    cur.execute("SELECT ticket_id, seq, action, from_state, to_state, effective_at FROM journal "
                "ORDER BY ticket_id, seq")
    journal: dict[int, list[tuple[Any, ...]]] = {}
    for row in cur.fetchall():
        journal.setdefault(row[0], []).append(row)
    cur.close()
    s, e, ps = times(start), times(end), times(prev[0])
    h = [times(b) for b in history]
    def iso(v: Any) -> str | None:
        if v is None:
            return None
        v = datetime.fromisoformat(v) if isinstance(v, str) else v
        return v.replace(tzinfo=timezone.utc).astimezone(tz).isoformat(timespec="seconds")
    age = [times(end - timedelta(days=x)) for x in (1, 3, 7, 30)]

    vol: dict[str, dict[Any, int]] = {"priority": {}, "process": {}, "service": {}}
    respond: dict[Any, list[int]] = {}
    resolve: dict[Any, list[int]] = {}
    business: dict[Any, list[int]] = {}
    sla = {"response": [0, 0], "resolution": [0, 0]}
    outcome: dict[str, list[int]] = {}
    closures: dict[str, list[int]] = {}
    backlog = [0] * 5
    hops_of: list[tuple[int, str, Any]] = []
    risk: dict[Any, list[int]] = {}
    risky: list[tuple[Any, ...]] = []
    majors = []
    work: dict[str, dict[Any, list[int]]] = {"group_id": {}, "assignee": {}}
    made_h = [0] * (len(h) - 1)
    solved_h = [[0, 0, 0, 0] for _ in range(len(h) - 1)]  # n, wall seconds, met, missed
    open_end = open_prev = 0
    linked: dict[str, int] = {}
    for t in tickets:
        if t[10]:
            linked[t[10]] = linked.get(t[10], 0) + 1
    for (tid, key, process, state, category, title, priority, service, group, assignee, parent, created,
         closed, sla_text, due, warn, breached, fields_text) in tickets:
        events = journal.get(tid, [])
        dims = {"priority": priority, "process": process, "service": service}
        if s <= created < e:
            for dim, counts in vol.items():
                counts[dims[dim]] = counts.get(dims[dim], 0) + 1
            for col, g in (("group_id", group), ("assignee", assignee)):
                work[col].setdefault(g, [0, 0, 0])[0] += 1
        if h[0] <= created < h[-1]:
            made_h[bisect_right(h, created) - 1] += 1
        first_res = next((ev for ev in events if ev[4] in P_RESOLVED[process]), None)
        first_resp = next((ev for ev in events if ev[4] in P_RESPONDED[process]), None)
        record = None
        if first_resp and s <= first_resp[5] < e:
            respond.setdefault(priority, []).append(_epoch(first_resp[5]) - _epoch(created))
        if first_res and h[0] <= first_res[5] < h[-1]:
            record = json.loads(sla_text) if isinstance(sla_text, str) else sla_text
            i = bisect_right(h, first_res[5]) - 1
            met = record.get("resolution", {}).get("met")
            solved_h[i][0] += 1
            solved_h[i][1] += _epoch(first_res[5]) - _epoch(created)
            solved_h[i][2] += met is True
            solved_h[i][3] += met is False
        if first_res and s <= first_res[5] < e:
            resolve.setdefault(priority, []).append(_epoch(first_res[5]) - _epoch(created))
            res = record.get("resolution") or {}
            if res.get("state") == "stopped":
                business.setdefault(priority, []).append(res["elapsed_seconds"])
            for clock in sla:
                met = (record.get(clock) or {}).get("met")
                if met is True:
                    sla[clock][0] += 1
                elif met is False:
                    sla[clock][1] += 1
            o = outcome.setdefault(process, [0, 0, 0, 0, 0])
            o[0] += 1
            fc = first_res[3] == P_INITIAL[process]
            o[1] += fc
            o[2] += any(ev[2] == "reopen" and ev[1] > first_res[1] and ev[5] < e for ev in events)
            if process in P_REUSE:
                values = json.loads(fields_text) if isinstance(fields_text, str) else fields_text
                if values.get(P_REUSE[process]) not in (None, ""):
                    o[3] += 1
                    o[4] += fc
            for col, g in (("group_id", group), ("assignee", assignee)):
                work[col].setdefault(g, [0, 0, 0])[1] += 1
        for ev in events:
            if ev[2] in ("auto_close", "confirm") and s <= ev[5] < e:
                closures.setdefault(process, [0, 0])[0 if ev[2] == "auto_close" else 1] += 1
        for at, is_end in ((e, True), (s, False)):
            if created < at:
                then = [ev[4] for ev in events if ev[5] < at and ev[4] is not None]
                if then and then[-1] in P_OPEN[process]:
                    if is_end:
                        open_end += 1
                        backlog[next((i for i, b in enumerate(age) if created > b), 4)] += 1
                        for col, g in (("group_id", group), ("assignee", assignee)):
                            work[col].setdefault(g, [0, 0, 0])[2] += 1
                    else:
                        open_prev += 1
        if any(ev[2] == "assign" and s <= ev[5] < e for ev in events):
            hops_of.append((sum(1 for ev in events if ev[2] == "assign" and ev[5] < e), key, group))
        if category in ("new", "active", "pending"):
            b = bool(breached) or (due is not None and due <= e)
            r = not b and warn is not None and warn <= e and due is not None and due > e
            if b or r:
                c = risk.setdefault(priority, [0, 0])
                c[0 if b else 1] += 1
                risky.append((due, key, priority, group, assignee, b))
        if process == "major_incident" and created < e and (closed is None or closed >= s) \
                and state != "declined":
            mit = next((ev[5] for ev in events
                        if ev[5] < e and ev[4] in ("mitigated", "resolved", "review")), None)
            done = next((ev[5] for ev in events if ev[5] < e and ev[4] in P_RESOLVED[process]), None)
            majors.append((created, key, {
                "key": key, "title": title, "priority": priority, "service": service, "state": state,
                "opened": iso(created), "to_mitigate": None if mit is None else _epoch(mit) - _epoch(created),
                "to_resolve": None if done is None else _epoch(done) - _epoch(created),
                "linked": linked.get(key, 0)}))
    out: dict[str, list[list[dict[str, Any]]]] = {}
    for kpi, dim in (("volume_by_priority", "priority"), ("volume_by_process", "process"),
                     ("volume_by_service", "service")):
        total = sum(vol[dim].values())
        out[kpi] = [[{"group": g, "count": n, "share": _ratio(n, total)}
                     for g, n in sorted(vol[dim].items(), key=lambda r: _nl(r[0]))]]
    out["time_to_respond"] = [_stats(respond)]
    out["time_to_resolve"] = [_stats(resolve)]
    out["business_time_to_resolve"] = [_stats(business)]
    out["sla_compliance"] = [[{"clock": c, "met": m, "missed": x, "compliance": _ratio(m, m + x)}
                              for c, (m, x) in sla.items()]]
    ordered = sorted(outcome.items(), key=lambda r: _nl(r[0]))
    out["first_contact_resolution"] = [[{"group": g, "resolved": n, "first_contact": fc,
                                         "rate": _ratio(fc, n)} for g, (n, fc, _, _, _) in ordered]]
    out["solution_reuse"] = [[{"group": g, "resolved": n, "reused": ru, "reuse_rate": _ratio(ru, n),
                               "fcr_with_reuse": _ratio(fr, ru), "fcr_without_reuse": _ratio(fc - fr, n - ru)}
                              for g, (n, fc, _, ru, fr) in ordered]]
    out["reopen_rate"] = [[{"group": g, "resolved": n, "reopened": ro, "rate": _ratio(ro, n)}
                           for g, (n, _, ro, _, _) in ordered]]
    out["auto_close_share"] = [[{"group": g, "closed": a + c, "auto_closed": a, "confirmed": c,
                                 "auto_share": _ratio(a, a + c), "confirmed_share": _ratio(c, a + c)}
                                for g, (a, c) in sorted(closures.items(), key=lambda r: _nl(r[0]))]]
    out["backlog_age"] = [[{"age": a, "count": n}
                           for a, n in zip(("< 1d", "1d-3d", "3d-7d", "7d-30d", ">= 30d"), backlog)]]
    n = len(hops_of)
    fw = sum(1 for x in hops_of if x[0] > 2)
    out["reassignment"] = [
        [{"tickets": n, "forwarded": fw, "rate": _ratio(fw, n),
          "mean_hops": _sec(sum(x[0] for x in hops_of) / n), "max_hops": max(x[0] for x in hops_of)}]
        if n else [],
        [{"key": k, "hops": c, "group": g} for c, k, g in sorted((x for x in hops_of if x[0] > 2),
                                                                  key=lambda x: (-x[0], x[1]))[:10]]]
    due_key = (lambda r: (r[0] is not None, r[0] or "", r[1])) if nulls_first else \
        (lambda r: (r[0] is None, r[0] if r[0] is not None else datetime.min, r[1]))
    out["breached_at_risk"] = [
        [{"group": g, "breached": b, "at_risk": r}
         for g, (b, r) in sorted(risk.items(), key=lambda r: _nl(r[0]))],
        [{"key": k, "priority": p, "group": g, "assignee": a, "due": iso(due),
          "risk": "breached" if b else "at_risk"} for due, k, p, g, a, b in sorted(risky, key=due_key)[:10]]]
    out["major_incidents"] = [[m for _, _, m in sorted(majors, key=lambda m: (m[0], m[1]))]]
    for kpi, col in (("workload", "group_id"), ("workload_by_assignee", "assignee")):
        out[kpi] = [[{"group": g, "created": c, "resolved": r, "open": o}
                     for g, (c, r, o) in sorted(work[col].items(), key=lambda r: _nl(r[0]))]]
    last = len(h) - 2

    def metrics(i: int, open_at_end: int) -> dict[str, Any]:
        n, w, m, x = solved_h[i]
        return {"created": made_h[i], "resolved": n, "mean_resolve": _sec(w / n) if n else None,
                "sla_compliance": _ratio(m, m + x), "open_at_end": open_at_end}
    rows = _trend_rows(metrics(last, open_end), metrics(last - 1, open_prev))
    out["trend"] = [rows, [{"period": history[i].astimezone(tz).isoformat(timespec="seconds"),
                            "created": made_h[i], "resolved": solved_h[i][0]} for i in range(last + 1)]]
    assert ps == h[-3]
    return out


# --- the benchmark -------------------------------------------------------------------------------

def periods() -> tuple[tuple[datetime, datetime], list[datetime]]:
    """The previous week and the trend's history bounds (6 weeks, then the end)."""
    history = [START - timedelta(weeks=k) for k in range(5, -1, -1)] + [END]
    return (START - timedelta(weeks=1), START), history


def sqlite_time(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def pg_time(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(tzinfo=None)


def engine_tables(api: Any) -> dict[str, list[list[dict[str, Any]]]]:
    """(a) the real report, rendered as JSON, reduced to its tables' rows."""
    from engine.reports import run as run_report

    doc = json.loads(run_report(api, "weekly", START, END, "json", "en"))
    prev, _ = periods()
    assert doc["period"]["previous_start"] == prev[0].isoformat(), doc["period"]
    return {k["id"]: [t["rows"] for t in k["tables"]] for k in doc["kpis"]}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
    return a == b


def compare(got: dict[str, Any], expected: dict[str, Any], what: str) -> None:
    """Every row of every KPI table the same, or AssertionError naming the first difference."""
    assert set(got) == set(expected), f"{what}: KPIs {sorted(got)} != {sorted(expected)}"
    for kpi, tables in expected.items():
        mine = got[kpi]
        assert len(mine) == len(tables), f"{what}: {kpi} has {len(mine)} tables, not {len(tables)}"
        for ti, (rows_a, rows_b) in enumerate(zip(mine, tables)):
            assert len(rows_a) == len(rows_b), (
                f"{what}: {kpi} table {ti}: {len(rows_a)} rows, expected {len(rows_b)}:\n{rows_a}\n{rows_b}")
            for ra, rb in zip(rows_a, rows_b):
                assert list(ra) == list(rb) and all(_same(ra[k], rb[k]) for k in rb), (
                    f"{what}: {kpi} table {ti}:\n  got      {ra}\n  expected {rb}")


def sqlite_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def hand_sql(conn: Any, dialect: str) -> dict[str, list[list[dict[str, Any]]]]:
    from zoneinfo import ZoneInfo

    prev, history = periods()
    tz = ZoneInfo("Asia/Shanghai")
    sql = HandSql(conn, dialect, pg_time if dialect == "postgresql" else sqlite_time, tz)
    cur = conn.cursor()
    cur.execute("BEGIN")  # one snapshot, as the engine reads
    try:
        return sql.report(START, END, prev, history)
    finally:
        cur.execute("COMMIT")
        cur.close()


def naive(conn: Any, dialect: str) -> dict[str, list[list[dict[str, Any]]]]:
    from zoneinfo import ZoneInfo

    prev, history = periods()
    pg = dialect == "postgresql"
    return naive_report(conn, pg_time if pg else sqlite_time, ZoneInfo("Asia/Shanghai"), START, END, prev,
                        history, nulls_first=not pg)


def measure(cfg: Config, backend: str, api: Any, conn: Any, dialect: str, label: str,
            info: dict[str, Any]) -> list[Result]:
    reps = cfg.pick(3, 5, 7)
    got: dict[str, Any] = {}

    def figure() -> float:
        t0 = time.perf_counter()
        got["report"] = engine_tables(api)
        return time.perf_counter() - t0

    def baseline() -> float:
        t0 = time.perf_counter()
        got["sql"] = hand_sql(conn, dialect)
        return time.perf_counter() - t0

    figs: list[float] = []
    bases: list[float] = []
    baseline()  # warm-up, and the correctness check before any timing
    figure()
    compare(got["sql"], got["report"], f"{backend}: hand-written SQL vs report")
    for _ in range(reps):
        bases.append(baseline())
        figs.append(figure())
    naive_reps = 1  # information only, and 25-50 s at 1,000,000 tickets
    naive_s = []
    for _ in range(naive_reps):
        t0 = time.perf_counter()
        got["naive"] = naive(conn, dialect)
        naive_s.append(time.perf_counter() - t0)
    compare(got["naive"], got["report"], f"{backend}: naive Python vs report")
    compare(got["sql"], got["report"], f"{backend}: hand-written SQL vs report (last repetition)")
    extra = dict(info, kpis=len(got["report"]), rows=sum(len(t) for ts in got["report"].values() for t in ts))
    r = ratio_at_most(Result(NAME, f"weekly report, {label}", median(figs), "s", median(bases),
                             "hand-written SQL, same numbers", samples=[round(x, 4) for x in figs],
                             baseline_samples=[round(x, 4) for x in bases], extra=extra), 1.5)
    n = Result(NAME, f"naive Python aggregation, {label}", median(naive_s), "s", median(bases),
               "hand-written SQL, same numbers", samples=[round(x, 3) for x in naive_s],
               baseline_samples=[round(x, 4) for x in bases], note="same numbers as the report")
    return [r, n]


def run(cfg: Config) -> list[Result]:
    from engine.api import Api

    n = cfg.pick(100_000, 1_000_000)
    cfg.apply_env()
    path, info = cached_db(n)
    label = f"SQLite ({n:,} tickets, {info['events']:,} events)"
    api = Api.open(home=str(REPO), db=f"sqlite:///{path}", user="system", now=NOW.isoformat())
    conn = sqlite_connection(path)
    try:
        results = measure(cfg, "SQLite", api, conn, "sqlite", label, info)
    finally:
        conn.close()
        api.store.close()
    note = ("cached database" if info.get("cached") else f"database built in {info['build_seconds']} s") + \
        f", {path.stat().st_size / 2**30:.1f} GiB"
    if n < 1_000_000:
        note = "--quick: 100,000 tickets (the target is for 1,000,000); " + note
    results[0].note = note
    results.extend(postgres(cfg, path, n, info))
    return results


# --- PostgreSQL ----------------------------------------------------------------------------------

def pg_schema(n: int) -> str:
    """The benchmark's own schema (one per size): the other benchmarks drop itsm's tables in public."""
    return f"itsm_bench_reports_{n}"


def pg_urls(url: str, schema: str) -> tuple[str, str]:
    """(SQLAlchemy URL, libpq conninfo) with the search path on the benchmark's schema."""
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    options = f"-csearch_path={schema},public"
    engine_url = parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)
    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    return engine_url, conninfo


def load_postgres(url: str, path: Path, n: int) -> dict[str, Any]:
    """The SQLite database's rows copied into PostgreSQL (COPY), once per generator hash:
    a marker table remembers what is loaded."""
    import psycopg

    from engine.store.db import ensure_schema, make_engine

    key = f"{generator_hash()}:{n}"
    schema = pg_schema(n)
    engine_url, conninfo = pg_urls(url, schema)
    options = f"-c search_path={schema},public"
    with psycopg.connect(conninfo, autocommit=True, options=options) as pg:
        try:
            marker = pg.execute("SELECT key, info FROM bench_marker").fetchone()
            count = pg.execute("SELECT count(*) FROM tickets").fetchone()[0]
        except psycopg.Error:
            marker, count = None, None
        if marker and marker[0] == key and count == n:
            engine = make_engine(engine_url)
            ensure_schema(engine)  # as the engine opens it
            engine.dispose()
            return dict(json.loads(marker[1]), cached=True)
        why = f"{marker[0] if marker else 'nothing'} loaded ({count} tickets), {key} wanted"
        started = time.perf_counter()
        pg.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")  # for the search migration
        pg.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        pg.execute(f"CREATE SCHEMA {schema}")
    # The other benchmarks leave itsm tables in public, which is on the search path
    # (for pg_trgm): their alembic_version would make the migrations below think the
    # benchmark's schema is up to date, and the COPY would land in public.
    reset_postgres(url)
    engine = make_engine(engine_url)
    ensure_schema(engine)  # the engine's migrations, in the benchmark's schema
    engine.dispose()
    lite = sqlite3.connect(path)
    rows = {}
    with psycopg.connect(conninfo, options=options) as pg:
        for table, columns in (("definition_versions", ("version", "process", "declared_version", "source",
                                                        "loaded_at")),
                               ("key_sequences", ("prefix", "last_value")),
                               ("tickets", TICKET_COLUMNS), ("journal", ("id",) + JOURNAL_COLUMNS)):
            cols = ", ".join(columns)
            source = lite.execute(f"SELECT {cols} FROM {table} ORDER BY 1")
            with pg.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in source:
                    copy.write_row(row)
            rows[table] = lite.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("tickets", "journal"):
            pg.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                       f"(SELECT max(id) FROM {table}))")
        pg.commit()
    lite.close()
    with psycopg.connect(conninfo, autocommit=True, options=options) as pg:
        pg.execute("VACUUM ANALYZE")  # as autovacuum leaves a live database
        info = {"tickets": rows["tickets"], "events": rows["journal"],
                "load_seconds": round(time.perf_counter() - started, 1)}
        pg.execute("CREATE TABLE bench_marker (key text, info text)")
        pg.execute("INSERT INTO bench_marker VALUES (%s, %s)", (key, json.dumps(info)))
    return dict(info, cached=False, why=why)


def postgres(cfg: Config, path: Path, n: int, info: dict[str, Any]) -> list[Result]:
    name = f"weekly report, PostgreSQL ({n:,} tickets)"
    if not cfg.pg_url:
        return [skipped(NAME, name, "ITSM_BENCH_DATABASE_URL not set"),
                skipped(NAME, f"naive Python aggregation, PostgreSQL ({n:,} tickets)",
                        "ITSM_BENCH_DATABASE_URL not set")]
    import psycopg

    from engine.api import Api

    loaded = load_postgres(cfg.pg_url, path, n)
    engine_url, conninfo = pg_urls(cfg.pg_url, pg_schema(n))
    label = f"PostgreSQL ({n:,} tickets, {loaded['events']:,} events)"
    api = Api.open(home=str(REPO), db=engine_url, user="system", now=NOW.isoformat())
    conn = psycopg.connect(conninfo, autocommit=True, options=f"-c search_path={pg_schema(n)},public")
    try:
        results = measure(cfg, "PostgreSQL", api, conn, "postgresql", label, loaded)
    finally:
        conn.close()
        api.store.close()
    results[0].note = (f"data loaded earlier (kept in schema {pg_schema(n)})" if loaded["cached"]
                       else f"copied from the SQLite file in {loaded['load_seconds']} s, then VACUUM ANALYZE")
    if n < 1_000_000:
        results[0].note = "--quick: 100,000 tickets; " + results[0].note
    return results
