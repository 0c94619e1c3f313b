"""Many agents at once on one database (design 5.1, 5.6, 9).

Eight OS processes (multiprocessing, start method "spawn") work a shared pool of
incidents through ``engine.api.Api``: field updates, comments and state moves,
four of the tickets hit by every worker.  A state move may be refused because
another agent moved the ticket first (ActionRefused, exit 1): that is a normal
outcome.  A Conflict (exit 5) is allowed and counted.  Anything else fails.

Afterwards the database must tell exactly the story the workers report: every
success is one journal event, nothing lost and nothing invented; the journals
are gap-free and chained; every ticket's state is the replay of its journal and
its version the number of its events; the last update's value is the current one.

The agents run on the wall clock, as in production: an agent that read the
clock just before another agent's commit must still be served (the change then
takes the ticket's last change time), and every journal moves forward in time.
SQLite serialises writers with BEGIN IMMEDIATE and a busy timeout, PostgreSQL
with SELECT ... FOR UPDATE on the ticket row.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import _worker
import pytest

WORKERS = 8
OPS_EACH = 40
POOL = 20
CONTENDED = 4
INTAKE_EACH = 10
CTX = mp.get_context("spawn")  # no inherited database connections


def register_agents(itsm: Any) -> list[str]:
    ids = []
    for w in range(WORKERS):
        pid = _worker.agent_id(w)
        itsm("user", "add", pid, "--email", f"{pid}@example.com", "--site", "head_office",
             "--role", "service_desk", "--group", _worker.GROUP)
        ids.append(pid)
    return ids


class Agents:
    """``WORKERS`` long-lived agent processes (``_worker.serve``), one start line."""

    def __init__(self, n: int) -> None:
        self.barrier = CTX.Barrier(n)
        self.results = CTX.Queue()
        self.tasks = [CTX.Queue() for _ in range(n)]
        self.procs = [CTX.Process(target=_worker.serve, args=(w, q, self.results, self.barrier),
                                  daemon=True) for w, q in enumerate(self.tasks)]
        for p in self.procs:
            p.start()

    def run(self, task: str, per_worker: list[tuple[Any, ...]], tmp_path: Path,
            timeout: float = 150) -> list[dict[str, Any]]:
        """Give each worker its task (its arguments + an output file), wait for all,
        and return every recorded attempt."""
        assert len(per_worker) == len(self.procs)
        self.barrier.reset()  # in case an earlier task broke it
        files = [tmp_path / f"{task}-{w}.json" for w in range(len(per_worker))]
        env = {k: v for k, v in os.environ.items() if k.startswith(("ITSM_", "XDG_"))}
        for q, args, f in zip(self.tasks, per_worker, files):  # the test's environment
            q.put((task, env, (*args, str(f))))
        deadline = time.monotonic() + timeout
        failures = []
        for _ in self.procs:
            try:
                worker, error = self.results.get(timeout=max(1.0, deadline - time.monotonic()))
            except queue.Empty:
                dead = [p.pid for p in self.procs if not p.is_alive()]
                raise AssertionError(f"the agents did not finish in {timeout} s (dead: {dead})") from None
            if error:
                failures.append(f"worker {worker}:\n{error}")
        assert not failures, "\n".join(failures)
        attempts: list[dict[str, Any]] = []
        for f in files:
            attempts.extend(json.loads(f.read_text(encoding="utf-8")))
        return attempts

    def stop(self) -> None:
        for q in self.tasks:
            q.put(None)
        for p in self.procs:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join(10)


@pytest.fixture(scope="module")
def agents() -> Iterator[Agents]:
    """Started once for the module: importing itsm costs ~1 s of CPU per process."""
    pool = Agents(WORKERS)
    yield pool
    pool.stop()


def audit_problems(itsm: Any, db_url: str) -> list[str]:
    """``itsm audit verify`` must exit 0; its findings otherwise."""
    from engine.api import Api

    api = Api.open(db=db_url)
    try:
        tickets, events, found = api.audit()
    finally:
        api.store.close()
    problems = [f"audit: {p['ticket']} #{p['seq']} {p['kind']}: {p['message']}" for p in found]
    try:
        itsm("audit", "verify")
    except AssertionError as exc:
        problems.append(f"itsm audit verify failed ({tickets} tickets, {events} events):\n{exc}")
    return problems


def brief(message: str) -> str:
    """An error without its traceback and SQL parameters."""
    first = message.split("\nTraceback")[0]
    return first if len(first) < 400 else first[:400] + "..."


def test_many_agents_on_a_shared_pool(itsm: Any, db_url: str, tmp_path: Path, agents: Agents) -> None:
    from engine.api import Api

    started = time.monotonic()
    register_agents(itsm)
    desk = Api.open(db=db_url, user=_worker.agent_id(0))
    keys = [desk.new_ticket("incident", {"title": f"Pool ticket {n}", "reporter": _worker.REPORTER})["key"]
            for n in range(POOL)]
    desk.store.close()
    contended, others = keys[:CONTENDED], keys[CONTENDED:]

    attempts = agents.run("mixed_agent", [
        (db_url, w, WORKERS, contended, others, OPS_EACH, None, 7) for w in range(WORKERS)], tmp_path)
    worked = time.monotonic()

    assert len(attempts) == WORKERS * OPS_EACH
    outcomes = Counter(a["outcome"] for a in attempts)
    by_action = Counter((a["action"], a["outcome"]) for a in attempts)
    summary = f"outcomes {dict(outcomes)}; by action {dict(sorted(by_action.items()))}"
    busy = max(a["t"] for a in attempts)
    print(f"\n[{db_url.split(':')[0]}] {summary}; setup + work {worked - started:.1f} s, "
          f"{len(attempts)} attempts in {busy:.1f} s after the start line ({len(attempts) / busy:.0f}/s)")
    problems: list[str] = []

    # (a) only ok / refused / conflict (exit 5)
    other = [a for a in attempts if a["outcome"] == "other"]
    problems += [f"worker {a['worker']} #{a['i']} {a['action']} {a['key']}: exit {a['exit']}: "
                 f"{brief(a['message'])}" for a in other]
    if other:
        print(f"the first other outcome in full:\n{other[0]['message']}")
    problems += [f"refusal with exit {a['exit']}: {a}" for a in attempts
                 if a["outcome"] == "refused" and a["exit"] != 1]
    problems += [f"conflict with exit {a['exit']}: {a}" for a in attempts
                 if a["outcome"] == "conflict" and a["exit"] != 5]
    for key in contended:  # the contended tickets really were contended
        hit_by = {a["worker"] for a in attempts if a["key"] == key}
        assert hit_by == set(range(WORKERS)), (key, hit_by)
    assert outcomes["ok"] > WORKERS * OPS_EACH // 3, summary  # the mix did real work

    data = _worker.read_database(db_url)
    assert sorted(data["tickets"]) == sorted(keys), "tickets appeared or vanished"
    # (b) state == replay, (c) seqs 1..n, version == events
    problems += _worker.journal_problems(data, keys)

    for key in keys:
        events = data["events"][key]
        ok = [a for a in attempts if a["key"] == key and a["outcome"] == "ok"]
        # (d) one event per success: no event lost, no event invented
        if len(events) != 1 + len(ok):
            problems.append(f"{key}: {len(events)} events for 1 create + {len(ok)} successful operations")
        journaled = Counter(e["action"] for e in events[1:])
        reported = Counter(a["action"] for a in ok)
        if journaled != reported:
            problems.append(f"{key}: journal has {dict(journaled)}, workers succeeded with {dict(reported)}")
        claimed = sorted(a["seq"] for a in ok)
        if claimed != list(range(2, len(ok) + 2)):
            problems.append(f"{key}: the successes report seqs {claimed}, not 2..{len(ok) + 1} "
                            "(two successes saw the same version?)")
        # no refused or conflicting attempt left a trace: every event is a success
        for e in events[1:]:
            mine = [a for a in ok if a["seq"] == e["seq"]]
            if len(mine) != 1 or mine[0]["action"] != e["action"]:
                problems.append(f"{key}: event {e['seq']} ({e['action']}) matches successes {mine}")
        # (e) no lost update: each update saw the value the previous one wrote, and the
        # last one's value is the ticket's
        updates = [e for e in events if e["action"] == "update"]
        chain = [e["changes"].get("affected_users") for e in updates]
        previous = None
        for e, change in zip(updates, chain):
            if not change or change[0] != previous:
                problems.append(f"{key}: update event {e['seq']} changed affected_users {change}, "
                                f"but the value before it was {previous}")
            previous = change[1] if change else previous
        values_ok = {a["value"] for a in ok if a["action"] == "update"}
        if {c[1] for c in chain if c} != values_ok:
            problems.append(f"{key}: update events wrote {sorted(c[1] for c in chain if c)}, "
                            f"successful updates were {sorted(values_ok)}")
        current = (data["tickets"][key]["fields"] or {}).get("affected_users")
        if current != previous:
            problems.append(f"{key}: affected_users is {current}, the last update wrote {previous}")

    # (f) the journal's chains and states, as an auditor sees them
    problems += audit_problems(itsm, db_url)
    print(f"[{db_url.split(':')[0]}] checks {time.monotonic() - worked:.1f} s; "
          f"{sum(len(v) for v in data['events'].values())} events")
    assert not problems, f"{len(problems)} problem(s); {summary}\n" + "\n".join(problems[:60])


@pytest.mark.parametrize("preexisting", [0, 5], ids=["fresh", "warm"])
def test_keys_have_no_gaps_with_eight_agents_logging(itsm: Any, db_url: str, tmp_path: Path,
                                                     agents: Agents, preexisting: int) -> None:
    """8 agents log 10 incidents each at once (and assign every other one): INC keys
    are exactly 1..80 after the pre-existing ones, no gap, no duplicate.  "fresh":
    the first tickets of the database (the incident definition is not stored yet),
    "warm": a few incidents exist already."""
    from engine.api import Api

    register_agents(itsm)
    if preexisting:
        desk = Api.open(db=db_url, user=_worker.agent_id(0))
        for n in range(preexisting):
            desk.new_ticket("incident", {"title": f"Earlier {n}", "reporter": _worker.REPORTER})
        desk.store.close()

    attempts = agents.run("intake_agent", [(db_url, w, INTAKE_EACH) for w in range(WORKERS)], tmp_path)
    outcomes = Counter((a["action"], a["outcome"]) for a in attempts)
    busy = max(a["t"] for a in attempts)
    print(f"\n[{db_url.split(':')[0]}] intake {dict(outcomes)}: {len(attempts)} attempts in {busy:.1f} s")
    problems = [f"worker {a['worker']} #{a['i']} {a['action']} {a['key']}: {a['outcome']} exit "
                f"{a['exit']}: {brief(a['message'])}" for a in attempts if a["outcome"] != "ok"]

    total = preexisting + WORKERS * INTAKE_EACH
    created = sorted(a["key"] for a in attempts if a["action"] == "new" and a["key"])
    expected = [f"INC-{n:06d}" for n in range(preexisting + 1, total + 1)]
    if created != expected:
        dupes = [k for k, n in Counter(created).items() if n > 1]
        problems.append(f"workers got {len(created)} keys (duplicates {dupes}), missing "
                        f"{sorted(set(expected) - set(created))}, unexpected {sorted(set(created) - set(expected))}")

    data = _worker.read_database(db_url)
    keys = sorted(data["tickets"])
    gaps = sorted({f"INC-{n:06d}" for n in range(1, len(keys) + 1)} ^ set(keys))
    if gaps:
        problems.append(f"the database holds {len(keys)} incidents, keys not 1..{len(keys)}: {gaps}")
    if data["sequences"].get("INC") != len(keys):
        problems.append(f"the INC counter is at {data['sequences'].get('INC')} for {len(keys)} incidents")
    problems += _worker.journal_problems(data, keys)
    assigned = {a["key"] for a in attempts if a["action"] == "assign" and a["outcome"] == "ok"}
    for key in keys:
        want = ["create", "assign"] if key in assigned else ["create"]
        if [e["action"] for e in data["events"][key]] != want:
            problems.append(f"{key}: events {[e['action'] for e in data['events'][key]]}, expected {want}")
    # the intake acknowledgement and the group's assignment messages, in the same transactions
    id_of = {k: t["id"] for k, t in data["tickets"].items()}
    box = Counter((r["ticket_id"], r["event_seq"], r["template"]) for r in data["outbox"])
    for key in keys:
        if box[(id_of[key], 1, "acknowledged")] != 1:
            problems.append(f"{key}: {box[(id_of[key], 1, 'acknowledged')]} acknowledgement(s) in the outbox")
        if key in assigned and box[(id_of[key], 2, "assigned")] < 1:
            problems.append(f"{key}: no 'assigned' message to the group in the outbox")
    valid = {(id_of[k], 1, "acknowledged") for k in keys} | {(id_of[k], 2, "assigned") for k in assigned}
    stray = sorted(set(box) - valid, key=str)
    if stray:
        problems.append(f"outbox rows of no journaled notifying event: {stray}")
    problems += audit_problems(itsm, db_url)
    assert not problems, f"{len(problems)} problem(s); outcomes {dict(outcomes)}\n" + "\n".join(problems[:60])
