"""Remote mode (issue #18): the CLI against a desk server (``itsm serve``, a
subprocess on SQLite) with a personal token.

- ``itsm do KEY assign`` in remote mode as a whole process, against ``python -c
  pass`` in the same run: within 3x (the console script's fast path imports no
  click, SQLAlchemy, Jinja or FastAPI; the server does the work); for
  information, against ``python -c "import click"``, and the same request made
  in this process (RemoteApi.do): the server's share of the figure.
- Lifecycles per second (intake -> assign -> start -> resolve -> confirm)
  through the server's JSON API (engine.remote.client.RemoteApi, one HTTP
  request per step, in this process) against the same through engine.api.Api
  on the database directly: information, no target (the server adds HTTP,
  authentication and JSON to each step).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request

from bench._util import (
    AGENT, CONFIRM_FOR_USER, GROUP, PYTHON, RESOLVE, Config, Result, itsm_argv, median, new_incident, open_api, paired,
    ratio_at_most, run_wall, sqlite_url, timed,
)
from bench.lifecycle import engine_lifecycle

NAME = "remote"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def remote_lifecycle(api, i: int) -> None:  # type: ignore[no-untyped-def]
    """bench.lifecycle's steps through the server: the agent closes with a desk
    confirmation (the user's own ``confirm`` needs the reporter role)."""
    key = api.new_ticket("incident", {"title": f"Remote lifecycle {i}", "reporter": "bench.reporter@example.com"})["key"]
    api.do(key, "assign", {"group": GROUP, "assignee": AGENT})
    api.do(key, "start", {})
    api.do(key, "resolve", dict(RESOLVE))
    api.do(key, "confirm_for_user", dict(CONFIRM_FOR_USER))


def run(cfg: Config) -> list[Result]:
    from engine.remote.client import RemoteApi

    env = cfg.env()
    reps = cfg.pick(9, 15, 25)
    db = cfg.scratch("remote.db")
    url = sqlite_url(db)
    cfg.apply_env()
    api = open_api(url)
    token = api.create_api_key(AGENT, "bench", actor_id="system")["key"]
    keys = [new_incident(api, f"Remote start-up {i}") for i in range(3 * reps + 3)]
    engine_lifecycle(api, -1)  # registers the definition version
    port = _free_port()
    server = subprocess.Popen(itsm_argv("serve", "--port", str(port)), env=dict(env, ITSM_DATABASE_URL=url, ITSM_API_PER_MINUTE="0"),  # no per-key limit: a benchmark floods
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("itsm serve did not start") from None
                time.sleep(0.2)
        remote_env = dict(env, ITSM_URL=base, ITSM_TOKEN=token)
        results = []
        do = iter(keys * 2)  # each ticket is assigned at most twice
        figs, bases = paired(lambda: run_wall(itsm_argv("do", next(do), "assign", "--set", f"group={GROUP}",
                                                        "--set", f"assignee={AGENT}"), remote_env),
                             lambda: run_wall([PYTHON, "-c", "pass"], env), reps)
        r = Result(NAME, "itsm do KEY assign (remote, a process)", median(figs) * 1000, "ms",
                   median(bases) * 1000, "python -c pass", samples=[round(f * 1000, 2) for f in figs],
                   baseline_samples=[round(b * 1000, 2) for b in bases])
        results.append(ratio_at_most(r, 3.0))
        figs, bases = paired(lambda: run_wall(itsm_argv("do", next(do), "assign", "--set", f"group={GROUP}",
                                                        "--set", f"assignee={AGENT}"), remote_env),
                             lambda: run_wall([PYTHON, "-c", "import click"], env), reps)
        results.append(Result(NAME, "itsm do KEY assign (remote) vs click", median(figs) * 1000, "ms",
                              median(bases) * 1000, "python -c 'import click'",
                              samples=[round(f * 1000, 2) for f in figs],
                              baseline_samples=[round(b * 1000, 2) for b in bases]))

        remote = RemoteApi(base, token)
        figs, bases = paired(lambda: timed(lambda: remote.do(next(do), "assign", {"group": GROUP,
                                                                                  "assignee": AGENT})),
                             lambda: run_wall([PYTHON, "-c", "pass"], env), reps)
        results.append(Result(NAME, "one do request in-process (the server's share)", median(figs) * 1000, "ms",
                              median(bases) * 1000, "python -c pass", samples=[round(f * 1000, 2) for f in figs],
                              baseline_samples=[round(b * 1000, 2) for b in bases]))

        n = cfg.pick(10, 30, 60)
        remote_lifecycle(remote, -1)
        rounds = cfg.pick(3, 5, 7)
        direct_rates, remote_rates = [], []
        for _ in range(rounds):
            direct_rates.append(n / timed(lambda: [engine_lifecycle(api, i) for i in range(n)]))
            remote_rates.append(n / timed(lambda: [remote_lifecycle(remote, i) for i in range(n)]))
        results.append(Result(NAME, "lifecycles/s through the server (SQLite)", median(remote_rates), "/s",
                              median(direct_rates), "lifecycles/s direct (engine.api, same database)",
                              samples=[round(x, 1) for x in remote_rates],
                              baseline_samples=[round(x, 1) for x in direct_rates]))
        return results
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        api.store.close()
