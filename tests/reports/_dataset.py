"""A small service desk week with answers worked out by hand, built through the CLI.

The reported week is Monday 2026-03-02 00:00 to Monday 2026-03-09 00:00 (+08:00);
the week before is 2026-02-23 to 2026-03-02.  The services ``desktop`` and
``network`` are on the silver policy, head-office hours (09:00-12:00,
13:00-18:00 on working days):
P1: response 15 business minutes, resolution 4 business hours;
P2: response 30 business minutes, resolution 1 business day (8 h), warning at 75%;
P3: response 2 business hours, resolution 3 business days; P4: 1 and 5 business days.

=========  ======  ==========================================================
ticket     prio    story (all times +08:00)
=========  ======  ==========================================================
INC-1      P4      Thu 02-26 10:00 new, 11:00 resolved at the desk, Fri 02-27
                   10:00 confirmed (the week before)
INC-2      P3      Mon 09:00 new (e-mail), 09:10 assigned desktop, 09:30 started
                   (gao.yan), 10:00-11:00 pending, 14:00 resolved, Tue 11:00
                   confirmed.  respond 30 m; resolve 5 h wall, 3 h business
INC-3      P4      Mon 10:00 new, 10:20 resolved at the desk (first contact,
                   reusing INC-1's solution);
                   auto-closed by the tick on Thu 11:00 (3 business days)
INC-4      P2      Tue 09:00 new (portal), 09:05 assigned, 10:00 started (1 h:
                   response missed), Wed 10:00 resolved (25 h wall, 9 business
                   hours: breached), 11:00 reopened, 15:00 resolved again (12
                   business hours), 16:00 confirmed
INC-5      P3      Wed 09:00 new, assigned 09:10 desktop, 09:20 network, 09:30
                   desktop (3 assignments); never started: breached, open
INC-6      P1      Thu 09:00 new on network -> major incident MI-1 (criteria);
                   09:05 assigned network_ops; resolved 12:00 by the cascade
MI-1       P1      Thu 09:00 candidate, 09:10 accepted, 10:00 mitigated, 12:00
                   resolved (stays resolved)
INC-7      P2      Fri 10:30 new, 10:35 assigned, 10:40 started (chen.jie); 6.5
                   business hours by Friday 18:00: past the 6 h warning, due Mon
                   10:30: at risk at the end of the week
=========  ======  ==========================================================
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from engine.api import Api
from engine.reports import run

CST = timezone(timedelta(hours=8))
RESOLVE = dict(solution="Fixed", closure_code="solved", service_restored=True)
KEYS = ["INC-000001", "INC-000002", "INC-000003", "INC-000004", "INC-000005", "INC-000006",
        "MI-000001", "INC-000007"]


def at(text: str) -> str:
    """'2026-03-02 09:00' -> '2026-03-02T09:00:00+08:00'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CST).isoformat()


REPO = Path(__file__).resolve().parents[2]
WEEK = ("2026-03-02", "2026-03-09")
RUN_AT = at("2026-03-09 08:00")  # Monday morning: the weekly report's schedule


def report(db_url: str, name: str = "weekly", start: str | None = WEEK[0], end: str | None = WEEK[1],
           fmt: str = "json", lang: str = "en", now: str = RUN_AT) -> Any:
    api = Api.open(home=str(REPO), db=db_url, now=now)
    text = run(api, name, start, end, fmt, lang)
    return json.loads(text) if fmt == "json" else text


def build(desk: Any) -> dict[str, str]:
    o = desk.org
    agent, mim, lead = o.agent.id, o.mim.id, o.network.id
    keys: dict[str, str] = {}

    def new(name: str, now: str, **kw: Any) -> None:
        kw.setdefault("reporter", o.reporter)
        keys[name] = desk.new("incident", agent, now, title=f"Ticket {name}", **kw)["key"]

    new("t0", "2026-02-26 10:00", service="desktop", urgency="medium", impact="low")
    desk.do(keys["t0"], "resolve", agent, "2026-02-26 11:00", **RESOLVE)
    desk.do(keys["t0"], "confirm", o.reporter, "2026-02-27 10:00")

    new("pending", "2026-03-02 09:00", service="desktop", urgency="medium", impact="medium",
        channel="email")
    desk.do(keys["pending"], "assign", agent, "2026-03-02 09:10", group="desktop_support")
    desk.do(keys["pending"], "start", o.desktop2.id, "2026-03-02 09:30")
    new("first_contact", "2026-03-02 10:00", service="desktop", urgency="medium", impact="low")
    desk.do(keys["pending"], "pend", o.desktop2.id, "2026-03-02 10:00", reason="Waiting for the user")
    desk.do(keys["first_contact"], "resolve", agent, "2026-03-02 10:20",  # reuses INC-1's solution
            **dict(RESOLVE, solution_from=keys["t0"]))
    desk.do(keys["pending"], "resume", o.reporter, "2026-03-02 11:00")
    desk.do(keys["pending"], "resolve", o.desktop2.id, "2026-03-02 14:00", **RESOLVE)

    new("breach", "2026-03-03 09:00", service="desktop", urgency="high", impact="medium",
        channel="portal")
    desk.do(keys["breach"], "assign", agent, "2026-03-03 09:05", group="desktop_support")
    desk.do(keys["breach"], "start", o.desktop.id, "2026-03-03 10:00")
    desk.do(keys["pending"], "confirm", o.reporter, "2026-03-03 11:00")

    new("forwarded", "2026-03-04 09:00", service="desktop", urgency="medium", impact="medium")
    for now, group in (("09:10", "desktop_support"), ("09:20", "network_ops"), ("09:30", "desktop_support")):
        desk.do(keys["forwarded"], "assign", agent, f"2026-03-04 {now}", group=group)
    desk.do(keys["breach"], "resolve", o.desktop.id, "2026-03-04 10:00", **RESOLVE)
    desk.do(keys["breach"], "reopen", o.reporter, "2026-03-04 11:00", reason="Still broken")
    desk.do(keys["breach"], "resolve", o.desktop.id, "2026-03-04 15:00", **RESOLVE)
    desk.do(keys["breach"], "confirm", o.reporter, "2026-03-04 16:00")

    t = desk.new("incident", agent, "2026-03-05 09:00", title="Ticket outage", reporter=o.reporter,
                 service="network", urgency="high", impact="high")
    keys["outage"], keys["major"] = t["key"], t["major_incident"]
    desk.do(keys["outage"], "assign", agent, "2026-03-05 09:05", group="network_ops")
    desk.do(keys["major"], "accept", mim, "2026-03-05 09:10")
    desk.do(keys["major"], "assign_lead", mim, "2026-03-05 09:12", technical_lead=lead)
    desk.do(keys["major"], "mitigate", lead, "2026-03-05 10:00", workaround="Backup link",
            service_restored=True)
    done = desk.itsm.json("tick", now=at("2026-03-05 11:00"))
    assert any(r.get("key") == keys["first_contact"] and r["outcome"].startswith("auto_close")
               for r in done), done
    desk.do(keys["major"], "resolve", lead, "2026-03-05 12:00", solution="Line card replaced",
            closure_code="major_resolved", service_restored=True)

    new("at_risk", "2026-03-06 10:30", service="desktop", urgency="high", impact="medium")
    desk.do(keys["at_risk"], "assign", agent, "2026-03-06 10:35", group="desktop_support")
    desk.do(keys["at_risk"], "start", o.desktop.id, "2026-03-06 10:40")
    assert [keys[k] for k in ("t0", "pending", "first_contact", "breach", "forwarded", "outage",
                              "major", "at_risk")] == KEYS
    return keys
