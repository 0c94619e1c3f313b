"""Typed relations, the problem process and ``itsm graph --all`` (issue #24 items 3-5).

- a relation type added with YAML edits only, in an ``itsm init`` repository: lint,
  the runtime (a guard over links), ``itsm link``/``unlink``/``show``/``history``
  follow; a broken declaration is refused by lint;
- the problem lifecycle: raise_problem links by caused_by, declare_major is no
  longer refused for it, a known error's workaround is found by ``itsm search``
  and ``itsm similar``, the problems KPI counts it;
- existing parent links migrate into the links table (``itsm db upgrade``);
- ``itsm graph --all`` draws every process and the ways they meet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests_conftest import Itsm, Org, add_people, downgraded

NOW = "2026-03-02T09:00:00+08:00"


def at(minute: int) -> str:
    return f"2026-03-02T09:{minute:02d}:00+08:00"


# -- a relation added by YAML edits only -----------------------------------------------------
FOLLOWS_UP = """\
relations:
  follows_up:
    label: {en: Follows up incident, zh: 跟进突发事件}
    inverse: {en: Follow-up requests, zh: 跟进的服务请求}
    to: incident
    cardinality: one

roles:
"""
HAND_OVER = """\
actions:
  hand_over:
    label: {en: Hand over to the incident team, zh: 移交事件团队}
    from: "*"
    roles: [service_desk]
    when: "links.follows_up and (linked.related | length) == 0"
    when_message: {en: Link the incident it follows up first., zh: 请先关联所跟进的突发事件。}
"""


@pytest.fixture
def repo(itsm: Itsm, tmp_path: Path) -> Path:
    home = tmp_path / "p16"
    itsm("init", str(home))
    path = home / "processes" / "service_request.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("\nroles:\n") == 1 and text.count("\nactions:\n") == 1
    path.write_text(text.replace("\nroles:\n", "\n" + FOLLOWS_UP, 1).replace("\nactions:\n", "\n" + HAND_OVER, 1),
                    encoding="utf-8")
    return home


def test_a_relation_type_added_with_yaml_edits_only(itsm: Itsm, repo: Path) -> None:
    itsm("lint", str(repo))  # exit 0: the declaration and the guard over links are clean
    add_people(itsm)
    agent = "wang.lei"

    def run(*args: Any, expect: int = 0, user: str = agent, minute: int = 0) -> Any:
        return itsm.json(*args, expect=expect, user=user, home=repo, now=at(minute))

    inc1 = run("new", "incident", "--title", "Printer jams", "--reporter", "li.na@example.com")["key"]
    inc2 = run("new", "incident", "--title", "Printer offline", "--reporter", "li.na@example.com")["key"]
    req = run("new", "service_request", "--title", "New toner", "--reporter", "li.na@example.com")["key"]
    # the guard reads links: refused before the link exists
    err = run("do", req, "hand_over", expect=1, minute=1)
    assert "Link the incident it follows up first." in err["message"]

    shown = run("link", req, "--rel", "follows_up", inc1, minute=2)
    assert [(l["relation"], l["label"], l["target"]) for l in shown["links"]] == [
        ("follows_up", "Follows up incident", inc1)]
    assert run("do", req, "hand_over", minute=3)["key"] == req  # the guard holds now
    back = run("show", inc1)["linked"]
    assert [(l["relation"], l["label"], l["key"]) for l in back] == [("follows_up", "Follow-up requests", req)]
    zh = itsm("show", inc1, user=agent, home=repo, lang="zh").stdout
    assert "跟进的服务请求" in zh and req in zh

    # cardinality one: linking again moves the link (the default relation: the only one to incidents)
    moved = run("link", req, inc2, minute=4)
    assert [l["target"] for l in moved["links"]] == [inc2]
    assert run("show", inc1)["linked"] == []
    changes = [e["changes"] for e in run("history", req) if e["action"] == "link"]
    assert changes == [{"link": [None, f"follows_up {inc1}"]},
                       {"link": [f"follows_up {inc1}", f"follows_up {inc2}"]}]
    # refused: an undeclared relation (usage), a target of another process, itself
    assert "declares no relation 'blocks'" in run("link", req, "--rel", "blocks", inc1, expect=2, minute=5)["message"]
    other = run("new", "service_request", "--title", "Mouse", "--reporter", "li.na@example.com", minute=5)["key"]
    assert "not to 'service_request' tickets" in run("link", req, "--rel", "follows_up", other, expect=1,
                                                     minute=6)["message"]
    run("link", req, req, expect=2, minute=6)
    # unlink, journaled too
    assert run("unlink", req, inc2, minute=7)["links"] == []
    assert run("history", req)[-1]["changes"] == {"link": [f"follows_up {inc2}", None]}
    run("unlink", req, inc2, expect=4, minute=8)

    # a broken declaration is lint's: an unknown target process, a cascade on a missing action
    path = repo / "processes" / "service_request.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    to: incident\n    cardinality: one\n",
                                 "    to: incidents\n    cardinality: one\n"
                                 "    cascade:\n      resolve: {action: finish}\n"), encoding="utf-8")
    out = itsm("lint", str(repo), expect=1).stdout
    assert "K001 relation-reference] relation 'follows_up' points at undefined process 'incidents'" in out
    assert "performs 'finish', but 'service_request' has no such action" in out


# -- the problem process ---------------------------------------------------------------------
@pytest.fixture
def people(itsm: Itsm) -> Org:
    org = add_people(itsm)
    itsm("user", "add", "qian.yu", "--email", "qian.yu@example.com", "--role", "problem_manager",
         user=org.owner.id)
    return org


def test_the_problem_lifecycle(itsm: Itsm, people: Org) -> None:
    agent, pm = people.agent.id, "qian.yu"

    def run(*args: Any, expect: int = 0, user: str = agent, minute: int = 0) -> Any:
        return itsm.json(*args, expect=expect, user=user, now=at(minute))

    inc1 = run("new", "incident", "--title", "VPN tunnel drops every hour", "--reporter", "li.na@example.com",
               "--service", "network")["key"]
    raised = run("do", inc1, "raise_problem", "--set", "reason=Third time this week", minute=1)
    prb = raised["opened"]
    assert prb.startswith("PRB-") and raised["relation"] == "caused_by"
    assert raised["parent"] is None  # a problem is not the major incident's slot
    p = run("show", prb)
    assert (p["process"], p["state"], p["service"]) == ("problem", "problem", "network")
    assert [(l["relation"], l["key"]) for l in p["linked"]] == [("caused_by", inc1)]
    err = run("do", inc1, "raise_problem", "--set", "reason=again", expect=1, minute=2)
    assert "already linked to a problem" in err["message"]
    # linked to a problem, the incident may still be declared a major incident
    mi = run("do", inc1, "declare_major", "--set", "reason=Whole branch offline", minute=3)["opened"]
    shown = run("show", inc1)
    assert shown["parent"] == mi
    assert {(l["relation"], l["target"]) for l in shown["links"]} == {("caused_by", prb), ("part_of", mi)}
    err = run("do", inc1, "declare_major", "--set", "reason=again", expect=1, minute=4)
    assert "already linked to a major incident" in err["message"]

    inc2 = run("new", "incident", "--title", "VPN tunnel drops again", "--reporter", "li.na@example.com",
               minute=5)["key"]
    assert run("link", inc2, prb, minute=6)["links"][0]["relation"] == "caused_by"  # the default relation
    # the workaround is not published before the problem is a known error
    assert [h["key"] for h in run("search", "backup gateway")] == []
    run("do", prb, "record_known_error", "--set", "root_cause=Firmware bug in the VPN concentrator",
        "--set", "workaround=Reconnect through the backup gateway vpn2", expect=1, user=agent, minute=7)
    known = run("do", prb, "record_known_error", "--set", "root_cause=Firmware bug in the VPN concentrator",
                "--set", "workaround=Reconnect through the backup gateway vpn2", user=pm, minute=8)
    assert known["state"] == "known_error"
    hits = run("search", "backup gateway")
    assert [(h["key"], h["solution"]) for h in hits] == [(prb, "Reconnect through the backup gateway vpn2")]
    assert [h["key"] for h in run("search", "backup gateway", "--resolved")] == [prb]  # published
    inc3 = run("new", "incident", "--title", "VPN tunnel drops during video calls", "--reporter",
               "li.na@example.com", minute=9)["key"]
    assert prb in [h["key"] for h in run("similar", inc3)]

    run("do", inc2, "resolve", "--set", "solution=Reconnected through vpn2", "--set", "closure_code=workaround",
        "--set", "service_restored=true", minute=10)
    run("do", prb, "resolve", "--set", "fix=Concentrator firmware 9.2 installed", user=pm, minute=20)
    assert run("do", prb, "close", user=pm, minute=21)["state"] == "closed"

    report = json.loads(itsm("report", "monthly", "--from", "2026-03-01", "--to", "2026-03-03", "--format",
                             "json", user=agent, now="2026-03-03T09:00:00+08:00").stdout)
    kpi = next(k for k in report["kpis"] if k["kpi"] == "problems")
    summary = kpi["tables"][0]["rows"][0]
    assert summary == {"opened": 1, "closed": 1, "known_errors": 1, "incidents_per_problem": 2.0,
                       "resolved": 1, "by_known_error": 1, "known_error_share": 1.0}
    assert [(r["key"], r["linked"]) for r in kpi["tables"][1]["rows"]] == [(prb, 2)]


# -- existing parent links migrate ---------------------------------------------------------
def test_parent_links_move_into_the_links_table(itsm: Itsm, people: Org, db_url: str) -> None:
    import sqlalchemy as sa
    from engine.store import db

    agent = people.agent.id
    inc = itsm.json("new", "incident", "--title", "Claims down", "--reporter", "li.na@example.com",
                    user=agent, now=at(0))["key"]
    mi = itsm.json("do", inc, "declare_major", "--set", "reason=All users", user=agent, now=at(1))["opened"]
    with downgraded(db_url, "0012") as conn:
        assert not sa.inspect(conn).has_table("links")
        parent = conn.exec_driver_sql(f"SELECT parent FROM tickets WHERE key = '{inc}'").scalar()
        assert parent == mi
    assert f"0012 -> {db.HEAD}" in itsm("db", "upgrade").stdout
    assert "journal intact" in itsm("audit", "verify").stdout  # the migrated link is the journal's
    shown = itsm.json("show", inc, user=agent)
    assert [(l["relation"], l["target"]) for l in shown["links"]] == [("part_of", mi)]
    assert [(l["relation"], l["key"]) for l in itsm.json("show", mi, user=agent)["linked"]] == [("part_of", inc)]
    # the migrated link is the major incident's: resolving it resolves the incident along it
    itsm("do", mi, "accept", user=people.mim.id, now=at(2))
    out = itsm.json("do", mi, "resolve", "--set", "solution=Failed over to the standby", "--set",
                    "closure_code=major_resolved", "--set", "service_restored=true", user=people.mim.id, now=at(3))
    assert out["cascade"] == [f"{inc}: resolve"]
    assert itsm.json("show", inc, user=agent)["state"] == "resolved"


# -- graph --all -----------------------------------------------------------------------------
def test_graph_all_draws_every_process_and_how_they_meet(itsm_nodb: Itsm) -> None:
    text = itsm_nodb("graph", "--all").stdout
    assert text.startswith("flowchart LR\n")
    for pid in ("incident", "problem", "major_incident", "service_request"):
        assert f"    p_{pid}[" in text
    assert 'p_incident -->|"link: Caused by problem (caused_by, one)"| p_problem' in text
    assert 'p_incident -.->|"opens: Raise a problem (raise_problem)"| p_problem' in text
    assert 'p_major_incident ==>|"cascade: Resolve → Resolve (part_of)"| p_incident' in text
    assert 'p_problem -->|"output: Workaround (Known error, Resolved, Closed)"| out_search' in text
    assert "in_alerts -->" in text
    dot = itsm_nodb("graph", "--all", "--format", "dot").stdout
    assert '"incident" -> "problem" [label="link: Caused by problem (caused_by, one)", style=solid];' in dot
    itsm_nodb("graph", "incident", "--all", expect=2)
    itsm_nodb("graph", expect=2)
    assert "s_problem --> s_known_error" in itsm_nodb("graph", "problem").stdout
