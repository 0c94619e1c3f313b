"""Worker entry points of the stress tests, run in separate OS processes.

- :func:`serve` is a long-lived agent process (``multiprocessing``, start method
  "spawn": nothing is inherited, each process opens its own database
  connections, as every agent's CLI or portal worker does).  It performs tasks
  (:func:`mixed_agent`, :func:`intake_agent`) sent by the test until told to
  stop, so the ~1 s of imports per process is paid once per test module.
- ``python _worker.py crash-loop ...`` is the victim of test_crash: it works
  tickets in a loop and prints one line per committed operation until it is
  killed with SIGKILL.

Every worker goes through ``engine.api.Api`` (imported inside the worker) and
records the outcome of every attempt: ``ok``, ``refused`` (ActionRefused, exit
1: e.g. another agent moved the ticket first), ``conflict`` (Conflict, exit 5)
or ``other`` (anything else: a crash, a usage error, a lost update...).

:func:`read_database` is the shared read side of the checks (raw rows, not
views), used by the tests after the workers are gone.
"""

from __future__ import annotations

import json
import random
import sys
import time
import traceback
from typing import Any, Callable

GROUP = "desktop_support"
REPORTER = "stress.reporter@example.com"
MOVES = ("assign", "start", "pend", "resume")
# update values are 1 + worker + 8 * n: unique, and below 100 for 8 workers, as
# "100 or more affected users" would open a major incident and link it to the
# ticket (an event no worker performed)
MAX_UPDATES = 12
BARRIER_TIMEOUT = 120


def serve(worker: int, tasks: Any, results: Any, barrier: Any) -> None:
    """Perform ``(function name, environment, args)`` tasks until ``None``; report
    ``(worker, None or the traceback)`` after each.  The environment is the test's
    ITSM_* and XDG_* variables.  A task that fails before the start line breaks the
    barrier so that the others do not wait for it."""
    import os

    import engine.api  # noqa: F401 - the imports, before the first task

    while True:
        task = tasks.get()
        if task is None:
            return
        name, env, args = task
        for var in [v for v in os.environ if v.startswith(("ITSM_", "XDG_"))]:
            del os.environ[var]
        os.environ.update(env)
        try:
            TASKS[name](*args, barrier=barrier)
            results.put((worker, None))
        except BaseException:  # noqa: BLE001 - reported to the test, which fails
            barrier.abort()
            results.put((worker, traceback.format_exc()))


def agent_id(worker: int) -> str:
    return f"stress.agent{worker}"


def _classify(call: Callable[[], Any]) -> tuple[str, int, str, Any]:
    """(outcome, exit code, message, result) of one attempt."""
    from engine.errors import ActionRefused, Conflict, ItsmError

    try:
        return "ok", 0, "", call()
    except ActionRefused as exc:
        return "refused", int(exc.exit_code), exc.message, None
    except Conflict as exc:
        return "conflict", int(exc.exit_code), exc.message, None
    except ItsmError as exc:
        return "other", int(exc.exit_code), f"{type(exc).__name__}: {exc.message}", None
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails
        return "other", -1, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}", None


def mixed_agent(db: str, worker: int, workers: int, contended: list[str], others: list[str],
                ops: int, now: str | None, seed: int, out_path: str, barrier: Any) -> None:
    """``ops`` attempts in episodes, alternately on a contended ticket (each worker
    visits them in turn) and on a random one of the pool: an update, a comment, or
    a run of state moves (assign to me, start, pend, resume) that other agents
    may interrupt at any step.  ``now``: the effective time, None for the wall clock."""
    from engine.api import Api

    rng = random.Random(seed * 1000 + worker)
    me = agent_id(worker)
    api = Api.open(db=db, user=me, now=now)  # one long-lived process, like a portal worker
    api.store  # noqa: B018 - connect before the start line, not in the race
    plan: list[tuple[str, str]] = []
    rounds: list[str] = []
    episode = 0
    planned_updates = 0
    while len(plan) < ops:
        if episode % 2 == 0:  # every contended ticket once per round, in a random order
            if episode % (2 * len(contended)) == 0:
                rounds = rng.sample(contended, len(contended))
            key = rounds[(episode // 2) % len(contended)]
        else:
            key = rng.choice(others)
        episode += 1
        kind = rng.choices(["update", "comment", "moves"], [35, 30, 35])[0]
        if kind == "update" and planned_updates >= MAX_UPDATES:
            kind = "comment"
        planned_updates += kind == "update"
        steps = MOVES if kind == "moves" else (kind,)
        plan.extend((key, step) for step in steps)
    plan = plan[:ops]
    out: list[dict[str, Any]] = []
    updates = 0
    barrier.wait(BARRIER_TIMEOUT)
    start = time.monotonic()
    for i, (key, action) in enumerate(plan):
        # a short pause between operations: without it SQLite's busy handler lets the
        # last writer go on and on, and the workers hardly interleave on one ticket
        time.sleep(rng.random() * 0.005)
        value: int | None = None
        if action == "update":
            value = 1 + worker + workers * updates  # unique across workers, < 100
            updates += 1
            assert value < 100, "too many updates for the value scheme"
            call = lambda k=key, v=value: api.do(k, "update", {"affected_users": str(v)})  # noqa: E731
        elif action == "comment":
            call = lambda k=key, i=i: api.comment(k, f"{me} note {i}")  # noqa: E731
        elif action == "assign":
            call = lambda k=key: api.do(k, "assign", {"group": GROUP, "assignee": me})  # noqa: E731
        elif action == "pend":
            call = lambda k=key, i=i: api.do(k, "pend", {"reason": f"waiting ({me} {i})"})  # noqa: E731
        else:  # start, resume
            call = lambda k=key, a=action: api.do(k, a, {})  # noqa: E731
        outcome, code, message, result = _classify(call)
        seq = None
        if outcome == "ok":  # the journal seq this success wrote (version == seq)
            seq = result["seq"] if action == "comment" else result["version"]
        out.append({"worker": worker, "i": i, "key": key, "action": action, "value": value,
                    "outcome": outcome, "exit": code, "message": message, "seq": seq,
                    "t": round(time.monotonic() - start, 3)})
    api.store.close()  # no connection outlives the task (the next test resets the database)
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(out, fh)


def intake_agent(db: str, worker: int, count: int, out_path: str, barrier: Any) -> None:
    """Log ``count`` incidents as fast as possible; assign every other one at once."""
    from engine.api import Api

    me = agent_id(worker)
    api = Api.open(db=db, user=me)
    api.store  # noqa: B018
    out: list[dict[str, Any]] = []
    barrier.wait(BARRIER_TIMEOUT)
    start = time.monotonic()
    for i in range(count):
        outcome, code, message, result = _classify(lambda i=i: api.new_ticket(
            "incident", {"title": f"Intake {worker}-{i}", "reporter": REPORTER}))
        key = result["key"] if result else None
        out.append({"worker": worker, "i": i, "key": key, "action": "new", "outcome": outcome,
                    "exit": code, "message": message, "t": round(time.monotonic() - start, 3)})
        if key and i % 2 == 1:
            outcome, code, message, _ = _classify(lambda k=key: api.do(
                k, "assign", {"group": GROUP, "assignee": me}))
            out.append({"worker": worker, "i": i, "key": key, "action": "assign",
                        "outcome": outcome, "exit": code, "message": message,
                        "t": round(time.monotonic() - start, 3)})
    api.store.close()  # no connection outlives the task (the next test resets the database)
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(out, fh)


TASKS: dict[str, Callable[..., None]] = {"mixed_agent": mixed_agent, "intake_agent": intake_agent}


# --- the victim of test_crash ----------------------------------------------------------

def crash_loop(db: str, user: str, seed: int) -> None:
    """Work incidents through their life until killed.  Before each operation print
    ``begin <action> <key>``, after its commit ``ok <action> <key> <seq>`` (seq:
    the journal event that operation wrote)."""
    from engine.api import Api

    rng = random.Random(seed)
    api = Api.open(db=db, user=user)
    api.store  # noqa: B018
    print("ready", flush=True)

    def done(action: str, key: str, seq: int) -> None:
        print(f"ok {action} {key} {seq}", flush=True)

    n = 0
    while True:
        n += 1
        print("begin new -", flush=True)
        t = api.new_ticket("incident", {"title": f"Crash loop {seed}-{n}", "reporter": REPORTER,
                                        "affected_users": str(rng.randint(1, 50))})
        key = t["key"]
        done("new", key, 1)

        def act(action: str, inputs: dict[str, str], k: str = key) -> None:
            print(f"begin {action} {k}", flush=True)
            if action == "comment":
                done(action, k, api.comment(k, inputs["text"])["seq"])
            else:
                done(action, k, api.do(k, action, inputs)["version"])

        if rng.random() < 0.2:  # first-contact resolution: resolve from new
            act("resolve", {"solution": "Advice given", "closure_code": "user_advice",
                            "service_restored": "true"})
            continue
        act("assign", {"group": GROUP, "assignee": user})
        act("start", {})
        if rng.random() < 0.5:
            act("comment", {"text": f"looking at it ({n})"})
        if rng.random() < 0.4:
            act("pend", {"reason": "waiting for the user"})
            act("resume", {})
        act("update", {"affected_users": str(rng.randint(1, 99))})
        act("resolve", {"solution": "Replaced the cable", "closure_code": "solved",
                        "service_restored": "true"})
        if rng.random() < 0.3:  # the user says it is not fixed
            act("reopen", {"reason": "still broken"})
            act("resolve", {"solution": "Replaced the switch port", "closure_code": "solved",
                            "service_restored": "true"})


# --- the read side of the checks ---------------------------------------------------------

def read_database(db: str) -> dict[str, Any]:
    """Raw rows: ``tickets`` {key: row}, ``events`` {key: [rows by seq]}, ``outbox``
    [rows], ``sequences`` {prefix: last_value}."""
    import sqlalchemy as sa

    from engine.store.repository import Store
    from engine.store.schema import journal, key_sequences, outbox, tickets

    store = Store(db)
    try:
        with store.read() as repo:
            conn = repo.conn
            rows = {r["id"]: dict(r) for r in conn.execute(sa.select(tickets)).mappings()}
            events: dict[str, list[dict[str, Any]]] = {r["key"]: [] for r in rows.values()}
            for e in conn.execute(sa.select(journal).order_by(journal.c.ticket_id, journal.c.seq)).mappings():
                events[rows[e["ticket_id"]]["key"]].append(dict(e))
            box = [dict(r) for r in conn.execute(sa.select(outbox).order_by(outbox.c.id)).mappings()]
            seqs = {r[0]: r[1] for r in conn.execute(sa.select(key_sequences.c.prefix,
                                                                key_sequences.c.last_value))}
        return {"tickets": {r["key"]: r for r in rows.values()}, "events": events,
                "outbox": box, "sequences": seqs, "ticket_keys_by_id": {i: r["key"] for i, r in rows.items()}}
    finally:
        store.close()


def journal_problems(data: dict[str, Any], keys: list[str]) -> list[str]:
    """Seqs 1..n without gaps, a create first, version == number of events, state ==
    the state the journal ends in, effective times never going back."""
    problems = []
    for key in keys:
        ticket, events = data["tickets"][key], data["events"][key]
        seqs = [e["seq"] for e in events]
        if seqs != list(range(1, len(events) + 1)):
            problems.append(f"{key}: journal seqs are {seqs}, not 1..{len(events)}")
        if not events or events[0]["action"] != "create":
            problems.append(f"{key}: the first event is not 'create': {events[:1]}")
        if ticket["version"] != len(events):
            problems.append(f"{key}: version {ticket['version']} but {len(events)} events")
        times = [e["effective_at"] for e in events]
        if times != sorted(times):
            problems.append(f"{key}: the journal goes back in time: {[t.isoformat() for t in times]}")
        moved = [e["to_state"] for e in events if e["to_state"]]
        if not moved or moved[-1] != ticket["state"]:
            problems.append(f"{key}: state '{ticket['state']}' but the journal ends in "
                            f"{moved[-1] if moved else None!r}")
    return problems


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "crash-loop":
        sys.exit("usage: _worker.py crash-loop DB_URL USER SEED")
    crash_loop(sys.argv[2], sys.argv[3], int(sys.argv[4]))
