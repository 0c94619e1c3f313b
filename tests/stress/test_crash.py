"""A writer killed with SIGKILL in the middle of its work (design 5.1, 5.6, 7, 9).

A worker process (``_worker.py crash-loop``) logs and works incidents in a loop
through ``engine.api.Api``, with notifying actions (intake -> ``acknowledged`` to
the reporter, ``assign`` -> ``assigned`` to the group's members, ``resolve`` ->
``resolved``, ``reopen`` -> ``reopened``), and prints one line after each commit.
After enough commits it is killed with SIGKILL, three times at different moments,
on the same database.  After each kill:

- ``itsm audit verify`` (a fresh OS process, the first to open the database
  after the crash) exits 0: chains intact, states = journal replay;
- no half-written ticket: seq 1 is ``create``, seqs 1..n, version = events;
  keys 1..n without a gap and the key counter at n (a killed intake gave its
  key back);
- every operation the worker reported as committed is in the journal;
- every journaled event of a notifying action has its outbox rows (same ticket
  and event seq, the action's templates), and no outbox row belongs to an event
  that is not in the journal;
- the database keeps working: a new intake (the next key) and an action succeed;
  for SQLite the WAL is recovered (integrity check, checkpoint).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import _worker

WORKER = Path(_worker.__file__).resolve()
# (committed operations seen before the kill, extra delay): three different moments
KILLS = [(30, 0.0), (38, 0.007), (47, 0.023)]
GROUP_MEMBERS = ("crash.agent", "crash.peer1", "crash.peer2")


def itsm_command() -> list[str]:
    script = Path(sys.executable).with_name("itsm")
    assert script.exists(), f"the itsm command is not installed next to {sys.executable}"
    return [str(script)]


def _pump(stream: Any, lines: "queue.Queue[str | None]") -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def run_and_kill(db_url: str, user: str, seed: int, after: int, delay: float,
                 cwd: Path) -> tuple[list[tuple[str, str, int]], str, str]:
    """Start the crash loop, SIGKILL it once ``after`` operations were reported
    committed (plus ``delay`` seconds); returns every reported operation, the
    operation in flight when it was killed and the worker's stderr."""
    proc = subprocess.Popen([sys.executable, str(WORKER), "crash-loop", db_url, user, str(seed)],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: "queue.Queue[str | None]" = queue.Queue()
    reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
    reader.start()
    done: list[tuple[str, str, int]] = []
    last = ""
    deadline = time.monotonic() + 90
    killed = False
    try:
        while len(done) < after:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"only {len(done)} operations in 90 s") from None
            if line is None:
                raise AssertionError(f"the worker ended by itself (exit {proc.wait()}):\n"
                                     f"{proc.stderr.read() if proc.stderr else ''}")
            last = line
            if line.startswith("ok "):
                _, action, key, seq = line.split()
                done.append((action, key, int(seq)))
        time.sleep(delay)
        assert proc.poll() is None, f"the worker ended by itself:\n{proc.stderr.read() if proc.stderr else ''}"
        os.kill(proc.pid, signal.SIGKILL)
        killed = True
    finally:
        if not killed and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    reader.join(10)
    while True:  # lines printed before the kill: committed as well
        line = lines.get_nowait() if not lines.empty() else None
        if line is None:
            break
        last = line
        if line.startswith("ok "):
            _, action, key, seq = line.split()
            done.append((action, key, int(seq)))
    assert proc.returncode == -signal.SIGKILL, proc.returncode
    err = proc.stderr.read() if proc.stderr else ""
    proc.stderr and proc.stderr.close()
    proc.stdout and proc.stdout.close()
    in_flight = last[len("begin "):] if last.startswith("begin ") else "nothing (between operations)"
    return done, in_flight, err


def notify_templates() -> tuple[dict[str, set[str]], set[str]]:
    """From the definitions: the templates each incident action queues, and intake's."""
    from engine.api import Api

    spec = Api.open().process("incident")
    by_action = {a.id: {m.template for m in a.notify} for a in spec.actions.values() if a.notify}
    return by_action, {m.template for m in spec.intake_notify}


def sqlite_path(db_url: str) -> Path | None:
    return Path(db_url.split("sqlite:///", 1)[1]) if db_url.startswith("sqlite:///") else None


def test_sigkill_loses_nothing_committed_and_leaves_nothing_half_written(
        itsm: Any, db_url: str, tmp_path: Path) -> None:
    agent = GROUP_MEMBERS[0]
    for pid in GROUP_MEMBERS:
        roles = ["--role", "service_desk"] if pid == agent else []
        itsm("user", "add", pid, "--email", f"{pid}@example.com", "--site", "head_office",
             *roles, "--group", _worker.GROUP)
    by_action, intake = notify_templates()
    assert {"assign", "resolve"} <= set(by_action) and intake, (by_action, intake)
    expected_templates = dict(by_action, create=intake)
    reported: list[tuple[str, str, int]] = []
    timings = []

    for run, (after, delay) in enumerate(KILLS):
        started = time.monotonic()
        done, in_flight, err = run_and_kill(db_url, agent, run, after, delay, tmp_path)
        killed_at = time.monotonic()
        assert "Traceback" not in err, err
        reported += done
        problems: list[str] = []

        # a fresh process opens the database first after the crash: the auditor's
        audit = subprocess.run([*itsm_command(), "--db", db_url, "audit", "verify"], cwd=tmp_path,
                               capture_output=True, text=True, timeout=120)
        if audit.returncode != 0:
            problems.append(f"itsm audit verify exited {audit.returncode}:\n{audit.stdout}{audit.stderr}")

        data = _worker.read_database(db_url)
        keys = sorted(data["tickets"])
        problems += _worker.journal_problems(data, keys)
        gaps = sorted({f"INC-{n:06d}" for n in range(1, len(keys) + 1)} ^ set(keys))
        if gaps:
            problems.append(f"{len(keys)} incidents, keys not 1..{len(keys)}: {gaps}")
        if data["sequences"].get("INC") != len(keys):
            problems.append(f"the INC counter is at {data['sequences'].get('INC')} for {len(keys)} incidents")

        # every operation reported committed is in the journal, as reported
        for action, key, seq in reported:
            events = data["events"].get(key, [])
            if seq > len(events) or events[seq - 1]["action"] != ("create" if action == "new" else action):
                problems.append(f"{key}: the worker committed {action} as event {seq}, the journal has "
                                f"{[e['action'] for e in events]}")

        # the outbox holds the messages of every journaled notifying event, and only those
        box = Counter((data["ticket_keys_by_id"].get(r["ticket_id"]), r["event_seq"], r["template"])
                      for r in data["outbox"])
        for key in keys:  # (how many rows: one per recipient, the notify module's business)
            for e in data["events"][key]:
                for template in expected_templates.get(e["action"], ()):
                    if box[(key, e["seq"], template)] < 1:
                        problems.append(f"{key}: event {e['seq']} ({e['action']}) has no "
                                        f"'{template}' message in the outbox")
        for (key, seq, template), n in box.items():
            events = data["events"].get(key or "", [])
            if seq is None or not 1 <= seq <= len(events):
                problems.append(f"{n} outbox row(s) '{template}' for {key} event {seq}, "
                                "which is not in the journal")
            elif template not in expected_templates.get(events[seq - 1]["action"], ()):
                problems.append(f"outbox '{template}' for {key} event {seq} ({events[seq - 1]['action']})")

        # SQLite: the WAL of the killed writer is recovered
        path = sqlite_path(db_url)
        if path is not None:
            import sqlite3

            con = sqlite3.connect(path, timeout=30)
            try:
                assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
                busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                assert busy == 0, "the WAL could not be checkpointed"
            finally:
                con.close()

        # and the database keeps working: the next key, an action with its message
        t = itsm.json("new", "incident", "--title", f"After crash {run}", "--reporter",
                      _worker.REPORTER, user=agent)
        if t["key"] != f"INC-{len(keys) + 1:06d}":
            problems.append(f"the intake after the crash got {t['key']}, not INC-{len(keys) + 1:06d}")
        v = itsm.json("do", t["key"], "assign", "--set", f"group={_worker.GROUP}", "--set",
                      f"assignee={agent}", user=agent)
        assert (v["state"], v["version"]) == ("assigned", 2), v
        after_data = _worker.read_database(db_url)
        ticket_id = after_data["tickets"][t["key"]]["id"]
        assert {(r["event_seq"], r["template"]) for r in after_data["outbox"]
                if r["ticket_id"] == ticket_id} == {(1, "acknowledged"), (2, "assigned")}

        timings.append(f"run {run}: {len(done)} ops reported, killed during {in_flight} after "
                       f"{killed_at - started:.1f} s, checked in {time.monotonic() - killed_at:.1f} s")
        print(f"\n[{db_url.split(':')[0]}] {timings[-1]}; {len(keys)} tickets, "
              f"{sum(len(v) for v in data['events'].values())} events, {len(data['outbox'])} outbox rows")
        assert not problems, f"after kill {run} ({after} ops + {delay} s): {len(problems)} problem(s)\n" + \
            "\n".join(problems[:60])
