"""``itsm demo``: a small organisation working a realistic week on a fresh database.

Everything goes through :class:`engine.api.Api`, exactly as agents' commands do,
with the clock set per step so times, SLA clocks and the journal are realistic.

May import: ground, definitions, workspace, api.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from engine.api import Api
from engine.errors import ItsmError
from engine.i18n import CASCADE_RESULTS, N_, retell, tick_kind, tick_name, tr
from engine.settings import Settings
from engine.workspace import load_definitions
from engine.definitions.home import find_home

CST = timezone(timedelta(hours=8))
MONDAY = datetime(2026, 3, 2, tzinfo=CST)  # an ordinary working week at head office

PEOPLE = [
    # id, name, roles, groups
    ("wang.lei", "Wang Lei 王磊", ["service_desk"], ["service_desk"]),
    ("zhao.min", "Zhao Min 赵敏", ["service_desk", "fulfiller"], ["service_desk"]),
    ("chen.jie", "Chen Jie 陈杰", [], ["desktop_support"]),
    ("liu.yang", "Liu Yang 刘洋", [], ["claims_app_support"]),
    ("sun.hao", "Sun Hao 孙浩", [], ["network_ops"]),
    ("zhou.qing", "Zhou Qing 周青", ["incident_manager"], []),
    ("huang.wei", "Huang Wei 黄伟", ["major_incident_manager"], ["major_incident_team"]),
    ("xu.fang", "Xu Fang 徐芳", [], ["major_incident_team"]),
    ("he.lin", "He Lin 何琳", ["approver"], []),
    ("p16.owner", "Ma Jun 马骏 (P16)", ["process_owner"], []),
]


WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


def tick_line(line: dict[str, Any], lang: str, labels: Any = None) -> str:
    """One thing the tick did, as the demo narrates it (``labels``: engine.desk.forms.event_labels,
    its SLA clocks and timers by their labels)."""
    return tr("tick: {key} {kind} {name}: {outcome}", lang, key=line["key"], kind=tick_kind(line["kind"], lang),
              name=tick_name(line, labels) if lang != "en" else line["name"], outcome=retell(line["outcome"], lang))


@dataclass
class Demo:
    api: Api
    say: Callable[[str], None]

    def at(self, day: int, hhmm: str) -> datetime:
        h, m = (int(x) for x in hhmm.split(":"))
        when = MONDAY + timedelta(days=day, hours=h, minutes=m)
        self.api.desk.fixed_now = when
        return when

    @property
    def lang(self) -> str:
        return self.api.lang

    def log(self, text: str) -> None:
        now = self.api.now().astimezone(self.api.tz)  # the zone the printed commands show
        day = tr(WEEKDAYS[now.weekday()], self.lang)
        self.say(f"[{day} {now:%H:%M}] {text}")

    def code(self, table: str, value: Any) -> str:
        codes = self.api.defs.codes.get(table)
        return codes.label(str(value), self.lang) if codes is not None and self.lang != "en" else str(value)

    def action(self, key: str, action: str) -> str:
        if self.lang == "en":
            return action
        spec = self.api.defs.processes.get(self.api.show(key)["process"])
        found = spec.actions.get(action) if spec is not None else None
        return found.label.get(self.lang) if found is not None else action

    def new(self, who: str, process: str, **values: Any) -> str:
        ticket = self.api.new_ticket(process, values, actor_id=who)
        service = self.code("services", ticket["service"]) if ticket["service"] else tr("no service", self.lang)
        self.log(tr('{who} logs {key} "{title}" ({priority}, {service})', self.lang, who=who, key=ticket["key"],
                    title=ticket["title"], priority=self.code("priority", ticket["priority"]), service=service))
        return str(ticket["key"])

    def do(self, who: str, key: str, action: str, note: str | None = None, **values: Any) -> dict[str, Any]:
        ticket = self.api.do(key, action, values, note, actor_id=who)
        state = ticket["state"] if self.lang == "en" else ticket["state_label"]
        extra = " -> " + tr("opened {key}", self.lang, key=ticket["opened"]) if ticket.get("opened") else ""
        self.log(f"{who} {self.action(key, action)} {key} -> {state}{extra}")
        return ticket

    def refused(self, who: str, key: str, action: str, **values: Any) -> None:
        try:
            self.api.do(key, action, values, None, actor_id=who)
        except ItsmError as exc:
            self.log(tr("{who} tries {action} on {key}: refused: {reason}", self.lang, who=who,
                        action=self.action(key, action), key=key, reason=exc.text(self.lang)))
        else:  # pragma: no cover - the demo script expects a refusal here
            raise AssertionError(f"{action} on {key} should have been refused")


def run(directory: Path, say: Callable[[str], None], home: str | None = None, lang: str = "en") -> dict[str, Any]:
    root = find_home(home)
    db_path = directory / "itsm-demo.db"
    if db_path.exists():
        db_path.unlink()
    # the display zone the "Explore" command will use: ITSM_TZ / itsm.toml, else the definitions'
    settings = Settings(timezone=Settings.load(root).timezone)
    api = Api(root, load_definitions(root), settings, f"sqlite:///{db_path}", None, MONDAY, lang)
    d = Demo(api, say)
    labels = api.event_labels("") if lang != "en" else None  # the ticks' clocks and timers by their labels
    say(tr("itsm demo: database {path}", lang, path=db_path))
    d.at(0, "08:30")
    admin = api.make_admin("p16.owner", "p16.owner@example.com", "Ma Jun 马骏 (P16)")["id"]
    for pid, name, roles, groups in PEOPLE:
        if pid != admin:  # the first admin, made with the database, adds the others
            api.add_user(pid, name, f"{pid}@example.com", None, roles, groups, "head_office", actor_id=admin)
    say(tr("{count} people: service desk, desktop, claims and network support, managers, approver", lang,
           count=len(PEOPLE)))

    # Monday: the desk resolves at first contact where it can, assigns the rest.
    d.at(0, "09:05")
    pw = d.new("wang.lei", "incident", title="Forgot Windows password after holiday",
               reporter="li.na@example.com", service="desktop", urgency="medium", impact="low",
               category="access", channel="phone")
    d.at(0, "09:12")
    d.do("wang.lei", pw, "resolve", solution="Password reset, user logged in while on the phone",
         closure_code="user_advice", service_restored="true")
    d.at(0, "09:20")
    d.do("li.na@example.com", pw, "confirm")

    d.at(0, "10:02")
    claims = d.new("wang.lei", "incident", title="Claims system: cannot attach scanned documents",
                   reporter="zhang.wei@example.com", service="claims", urgency="high",
                   impact="medium", category="application_error",
                   description="Upload fails with 'error 500' for PDFs over 5 MB")
    d.at(0, "10:05")
    d.do("wang.lei", claims, "assign", group="claims_app_support")
    d.refused("chen.jie", claims, "start")
    d.at(0, "10:20")
    d.do("liu.yang", claims, "start")

    # A service request that needs approval.
    d.at(0, "11:00")
    sw = d.new("zhao.min", "service_request", title="Install Visio for process mapping",
               reporter="qian.li@example.com", service="software", offering="software_install",
               software_name="Microsoft Visio", justification="P16 process modelling")
    d.refused("zhao.min", sw, "start")
    d.do("zhao.min", sw, "request_approval")
    d.at(0, "11:40")
    d.do("liu.yang", claims, "pend", reason="Waiting for the user's sample file")
    d.at(0, "14:10")
    d.do("zhang.wei@example.com", claims, "resume")
    d.at(0, "15:00")
    d.do("he.lin", sw, "approve")
    d.at(0, "16:30")
    d.refused("liu.yang", claims, "resolve", solution="Raised upload limit", closure_code="duplicate",
              service_restored="true")
    d.do("liu.yang", claims, "resolve", solution="Raised the upload size limit to 20 MB on the gateway",
         closure_code="solved", service_restored="true")

    # Tuesday: a request without approval; the claims user reopens; the fix is completed.
    d.at(1, "09:15")
    reset = d.new("zhao.min", "service_request", title="Reset my e-mail password",
                  reporter="sun.yu@example.com", service="identity", offering="password_reset")
    d.do("zhao.min", reset, "start")
    d.at(1, "09:25")
    d.do("zhao.min", reset, "fulfil", fulfilment_note="Temporary password sent by SMS",
         closure_code="fulfilled")
    d.at(1, "09:30")
    d.do("zhang.wei@example.com", claims, "reopen", reason="Still fails for TIFF scans")
    d.at(1, "10:00")
    d.do("zhao.min", sw, "fulfil", fulfilment_note="Visio installed through software centre",
         closure_code="fulfilled")
    d.at(1, "10:30")
    d.do("qian.li@example.com", sw, "confirm")
    d.at(1, "15:45")
    d.do("liu.yang", claims, "resolve", solution="Gateway limit raised for all MIME types incl. TIFF",
         closure_code="solved", service_restored="true")
    d.at(1, "16:00")
    d.do("zhang.wei@example.com", claims, "confirm")

    # Wednesday: a network outage matches the major-incident criteria.
    d.at(2, "09:02")
    vpn = d.new("wang.lei", "incident", title="Branch VPN down: Guangzhou cannot reach policy admin",
                reporter="branch.gz@example.com", service="network", urgency="high", impact="high",
                category="network", affected_users="180")
    mi = api.show(vpn)["parent"]
    d.log(tr("criteria matched: {mi} opened as a candidate and linked to {key}", lang, mi=mi, key=vpn))
    d.at(2, "09:06")
    more = d.new("zhao.min", "incident", title="Cannot open policies from Guangzhou",
                 reporter="zhou.xin@example.com", service="network", urgency="high", impact="medium",
                 category="network", affected_users="120")
    d.log(tr("{key} matches 'many users' and joins {mi} (same outbreak)", lang, key=more,
             mi=api.show(more)["parent"]))
    d.at(2, "09:08")
    d.do("huang.wei", mi, "accept")
    d.do("huang.wei", mi, "assign_lead", technical_lead="sun.hao")
    d.do("huang.wei", mi, "assign_communications", communications_owner="xu.fang")
    d.do("wang.lei", vpn, "assign", group="network_ops", assignee="sun.hao")
    d.do("sun.hao", vpn, "start")
    d.at(2, "09:35")
    d.do("xu.fang", mi, "post_update", note="Carrier link down; failover to 4G backup in progress")
    d.at(2, "10:10")
    d.do("sun.hao", mi, "mitigate", workaround="Traffic on 4G backup link", service_restored="true")
    d.at(2, "10:50")
    for line in api.tick():
        d.log(tick_line(line, lang, labels))
    d.do("xu.fang", mi, "post_update", note="Running on backup; carrier engineer on site")
    d.at(2, "14:30")
    result = d.do("sun.hao", mi, "resolve", solution="Carrier replaced the faulty line card",
                  closure_code="major_resolved", service_restored="true")
    for line in result.get("cascade", []):
        d.log(tr("cascade: {line}", lang, line=retell(line, lang, CASCADE_RESULTS)))
    d.refused("wang.lei", vpn, "confirm")  # only the user confirms; the desk records how the user did
    d.do("wang.lei", vpn, "confirm_for_user", confirmed_via="phone",
         confirmation_note="Branch manager confirmed by phone at 14:40")
    d.at(3, "10:00")
    d.do("huang.wei", mi, "start_review", review_owner="sun.hao", review_due="2026-03-09")
    d.at(4, "16:00")
    d.refused("huang.wei", mi, "close")
    d.do("huang.wei", mi, "close", review_report="Root cause: single carrier line; action: second carrier by Q2")

    # Friday: an ordinary incident stays open over the weekend.
    d.at(4, "17:00")
    printer = d.new("wang.lei", "incident", title="Printer on floor 3 jams", reporter="li.na@example.com",
                    service="printing", urgency="low", impact="low", category="printing")
    d.do("wang.lei", printer, "assign", group="desktop_support")

    # The next Monday: the cron tick closes what users did not confirm.
    d.at(7, "09:00")
    for line in api.tick():
        d.log(tick_line(line, lang, labels))
    return summary(api)


def summary(api: Api) -> dict[str, Any]:
    rows = api.list()
    by: dict[tuple[str, str], int] = {}
    met = breached = 0
    for r in rows:
        by[(r["process"], r["state"])] = by.get((r["process"], r["state"]), 0) + 1
        res = (r.get("sla") or {}).get("resolution") or {}
        if res.get("met") is True:
            met += 1
        elif res.get("breached"):
            breached += 1
    return {"tickets": len(rows), "by_state": [{"process": p, "state": s, "count": n}
                                              for (p, s), n in sorted(by.items())],
            "sla_met": met, "sla_breached": breached, "rows": rows}
