"""The agent console's pages over many open tickets (issue #22), on SQLite.

Target: the queue page (``GET /desk?queue=groups``, the agent's groups: every
open ticket of the load) answers within 200 ms of server time over 10,000 open
tickets (``--quick``: 2,000).  Also measured, for information: the ticket page.

Data: the bench agent (service desk, incident manager, in ``desktop_support``)
with a password, one template incident of that group (a fresh intake), cloned 10,000
times (bench/_load.py).  The application of ``itsm serve`` runs in this process
under starlette's TestClient, so the time is the server's (routing, the
facade's reads, rendering) without a network.  The queue page shows one page
of 50 rows ([web] page_size) with the count of the whole queue, filtered,
sorted and paged in SQL, each row's clocks as of now; measured: the first page
by business time left, a deep page (page 150) by title, and a filter on the
title.  The baseline, in the same run and alternately: the facade's read alone
(``Api.page`` of the same first page: the count and the 50 rows).
"""

from __future__ import annotations

import time
import warnings

from bench._load import clone
from bench._util import AGENT, GROUP, REPORTER, Config, Result, median, open_api, sqlite_url, value_below

NAME = "console"
TARGET_MS = 200.0
PASSWORD = "bench password 123"


def run(cfg: Config) -> list[Result]:
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

    from engine.web.app import create_app
    from engine.web.config import WebSettings

    n = cfg.pick(2000, 10000)
    reps = cfg.pick(3, 7, 11)
    api = open_api(sqlite_url(cfg.scratch("console.db")))
    template = api.new_ticket("incident", {"title": "Bench queue template", "reporter": REPORTER,
                                           "group": GROUP})["key"]
    clone(api, [template] * n)
    api.set_password(AGENT, PASSWORD, actor_id=AGENT)
    app = create_app(api, WebSettings(secret_key="bench-console-secret"))
    client = TestClient(app)
    page = client.get("/desk/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = client.post("/desk/login", data={"csrf_token": token, "user": AGENT, "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303, r.text[:500]

    def page_ms(path: str) -> float:
        start = time.perf_counter()
        r = client.get(path)
        took = (time.perf_counter() - start) * 1000
        assert r.status_code == 200, r.text[:500]
        return took

    def list_ms() -> float:
        start = time.perf_counter()
        api.page(open_only=True, groups=[GROUP], limit=50, order="due")
        return (time.perf_counter() - start) * 1000

    first = client.get("/desk?queue=groups")
    assert first.text.count("/desk/t/") == 50 and f"of {n + 1:,} tickets" in first.text, \
        first.text[:500]  # one page of the whole load, with its count
    list_ms()
    queue, deep, filtered, base, ticket = [], [], [], [], []
    for _ in range(reps):
        queue.append(page_ms("/desk?queue=groups&sort=left"))
        base.append(list_ms())
        deep.append(page_ms("/desk?queue=groups&sort=title&page=150"))
        filtered.append(page_ms("/desk?queue=groups&q=template&sort=-key"))
        ticket.append(page_ms(f"/desk/t/{template}"))
    label = f"{n:,} open tickets"
    return [
        value_below(Result(NAME, f"GET /desk queue page (50 rows of {label}, by time left), SQLite",
                           median(queue), "ms", median(base), "Api.page of the same rows and count alone",
                           samples=queue, baseline_samples=base), TARGET_MS),
        value_below(Result(NAME, f"GET /desk queue page 150 by title, {label}, SQLite", median(deep), "ms",
                           samples=deep), TARGET_MS),
        value_below(Result(NAME, f"GET /desk queue filtered on the title, {label}, SQLite", median(filtered),
                           "ms", samples=filtered), TARGET_MS),
        Result(NAME, f"GET /desk/t/KEY ticket page, {label}, SQLite", median(ticket), "ms",
               samples=ticket, note="information"),
    ]
