"""People, queues, notes, links, what-can-I-do, diagrams, new repositories,
languages, the demo and a real installation."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from _desk import Desk, at

REPO = Path(__file__).resolve().parents[2]


# --- people ------------------------------------------------------------------------

def test_user_add_and_list(itsm: Any) -> None:
    r = itsm("user", "add", "wang.lei", "--name", "Wang Lei 王磊", "--email", "Wang.Lei@Example.com",
             "--phone", "+86 138 0000 0001", "--role", "service_desk", "--group", "service_desk",
             "--site", "head_office", now=at("2026-03-02 08:30"))
    assert "wang.lei" in r.stdout and "service_desk" in r.stdout
    p = itsm.json("user", "add", "chen.jie", "--email", "chen.jie@example.com", "--group", "desktop_support",
                  "--group", "network_ops", now=at("2026-03-02 08:31"))
    assert p["id"] == "chen.jie" and p["roles"] == [] and p["groups"] == ["desktop_support", "network_ops"]

    people = itsm.json("user", "list")
    assert [u["id"] for u in people] == ["chen.jie", "wang.lei"]
    wang = people[1]
    assert wang["name"] == "Wang Lei 王磊"
    assert wang["email"] == "wang.lei@example.com"  # e-mail addresses are kept lower-case
    assert wang["roles"] == ["service_desk"] and wang["groups"] == ["service_desk"]
    assert wang["site"] == "head_office" and wang["phone"] == "+86 138 0000 0001"
    # times are ISO 8601 with an offset, in the display zone, and honour --now
    created = datetime.fromisoformat(wang["created_at"])
    assert created.tzinfo is not None and wang["created_at"] == at("2026-03-02 08:30")

    table = itsm("user", "list").stdout.splitlines()
    assert table[0].split()[:3] == ["Id", "Name", "E-mail"]
    assert any(line.startswith("wang.lei") and "Wang Lei 王磊" in line for line in table[2:])
    rows = list(csv.DictReader(io.StringIO(itsm("user", "list", "--csv").stdout)))
    assert [r["id"] for r in rows] == ["chen.jie", "wang.lei"]
    assert rows[0]["groups"] == "desktop_support, network_ops"


def test_duplicate_user_is_refused(itsm: Any) -> None:
    itsm("user", "add", "wang.lei", "--email", "wang.lei@example.com", "--role", "service_desk")
    # a duplicate is a refusal (exit 1), not a concurrent change to retry (exit 5)
    r = itsm("user", "add", "wang.lei", "--email", "someone@example.com", expect=1)
    assert "wang.lei" in r.stderr and "already exists" in r.stderr
    r = itsm("user", "add", "wl", "--email", "WANG.LEI@example.com", expect=1)
    assert "wang.lei@example.com" in r.stderr
    r = itsm("user", "add", "x", "--email", "x@example.com", "--role", "wizard", expect=2)
    assert "wizard" in r.stderr and "service_desk" in r.stderr
    r = itsm("user", "add", "y", "--email", "y@example.com", "--group", "no_such_group", expect=2)
    assert "no_such_group" in r.stderr
    assert [u["id"] for u in itsm.json("user", "list")] == ["wang.lei"]


# --- queues ------------------------------------------------------------------------

@pytest.fixture
def queue(desk: Desk) -> dict[str, str]:
    o = desk.org
    a = desk.new("incident", o.agent.id, "2026-03-02 09:00", reporter=o.reporter, title="Laptop slow",
                 service="desktop", urgency="medium", impact="medium")["key"]
    desk.do(a, "assign", o.agent.id, "2026-03-02 09:05", group="desktop_support", assignee=o.desktop.id)
    desk.do(a, "start", o.desktop.id, "2026-03-02 09:10")
    b = desk.new("incident", o.agent.id, "2026-03-02 09:20", reporter=o.other_user, title="VPN slow",
                 service="network", urgency="medium", impact="low")["key"]
    c = desk.new("incident", o.agent.id, "2026-03-02 09:30", reporter=o.reporter, title="Toner empty",
                 service="printing", urgency="medium", impact="low")["key"]
    desk.do(c, "resolve", o.agent.id, "2026-03-02 09:35", solution="Replaced the toner",
            closure_code="solved", service_restored=True)
    desk.do(c, "confirm", o.reporter, "2026-03-02 09:40")
    r = desk.new("service_request", o.agent.id, "2026-03-02 09:45", reporter=o.reporter,
                 title="Second monitor", service="hardware", offering="peripheral")["key"]
    return {"a": a, "b": b, "c": c, "r": r}


def _keys(itsm: Any, *args: str) -> list[str]:
    return [t["key"] for t in itsm.json("list", *args, user="wang.lei")]


def test_list_filters(itsm: Any, queue: dict[str, str]) -> None:
    a, b, c, r = queue["a"], queue["b"], queue["c"], queue["r"]
    assert _keys(itsm) == [a, b, c, r]
    assert _keys(itsm, "--process", "incident") == [a, b, c]
    assert _keys(itsm, "--process", "service_request") == [r]
    assert _keys(itsm, "--state", "new") == [b]
    assert _keys(itsm, "--state", "new", "--state", "submitted") == [b, r]
    assert _keys(itsm, "--open") == [a, b, r]
    assert _keys(itsm, "--group", "desktop_support") == [a]
    assert _keys(itsm, "--assignee", "chen.jie") == [a]
    assert _keys(itsm, "--priority", "P4") == [b, c, r]
    assert _keys(itsm, "--priority", "P3", "--open") == [a]
    assert _keys(itsm, "--process", "incident", "--open", "--group", "network_ops") == []
    rows = itsm.json("list", "--open", user="wang.lei")
    assert {"key", "process", "state", "status", "category", "priority", "sla", "fields"} <= set(rows[0])


def test_list_refuses_filters_no_definition_knows(itsm: Any, queue: dict[str, str]) -> None:
    """A typo in a filter is a usage error naming the known values, not an empty
    queue that reads as "nothing to do"."""
    r = itsm("list", "--state", "resolvd", user="wang.lei", expect=2)
    assert "resolvd" in r.stderr and "resolved" in r.stderr
    r = itsm("list", "--process", "service_request", "--state", "in_progress", user="wang.lei", expect=2)
    assert "in service_request" in r.stderr and "fulfilling" in r.stderr and "resolved" not in r.stderr
    r = itsm("list", "--group", "desktop_suport", user="wang.lei", expect=2)
    assert "desktop_suport" in r.stderr and "desktop_support" in r.stderr
    r = itsm("list", "--service", "vpn", user="wang.lei", expect=2)
    assert "vpn" in r.stderr and "network" in r.stderr
    r = itsm("list", "--priority", "p1", user="wang.lei", expect=2)
    assert "P1" in r.stderr
    r = itsm("list", "--process", "incidents", user="wang.lei", expect=4)
    assert "incident" in r.stderr
    assert _keys(itsm, "--state", "new", "--group", "desktop_support") == []  # known, just empty


def test_list_as_csv_and_table(itsm: Any, queue: dict[str, str]) -> None:
    rows = list(csv.DictReader(io.StringIO(itsm("list", "--open", "--csv", user="wang.lei").stdout)))
    assert [r["key"] for r in rows] == [queue["a"], queue["b"], queue["r"]]
    assert rows[0]["priority"] == "P3" and rows[0]["assignee"] == "chen.jie"
    table = itsm("list", "--process", "incident", user="wang.lei").stdout.splitlines()
    assert table[0].startswith("Key") and set(table[1]) <= {"-", " "}
    assert [line.split()[0] for line in table[2:]] == [queue["a"], queue["b"], queue["c"]]
    assert itsm("list", "--state", "review", user="wang.lei").stdout.count("\n") == 2  # headings only


# --- notes, links, actions -------------------------------------------------------------

def test_comment(desk: Desk, itsm: Any, queue: dict[str, str]) -> None:
    o = desk.org
    key = queue["b"]
    version = desk.show(key)["version"]
    r = itsm("comment", key, "Called the user, waiting for a screenshot", user=o.agent.id,
             now=at("2026-03-02 10:00"))
    assert key in r.stdout
    ev = itsm.json("comment", key, "Screenshot received", "--public", user=o.other_user,
                   now=at("2026-03-02 10:05"))
    assert ev["action"] == "comment" and ev["note"] == "Screenshot received" and ev["public"] is True
    events = desk.history(key)
    assert [(e["action"], e["actor"], e["note"], e["public"]) for e in events[-2:]] == [
        ("comment", o.agent.id, "Called the user, waiting for a screenshot", False),
        ("comment", o.other_user, "Screenshot received", True)]
    assert events[-2]["changes"] == {} and events[-2]["from"] is None and events[-2]["to"] is None
    assert events[-1]["at"] == at("2026-03-02 10:05")
    t = desk.show(key)
    assert t["state"] == "new" and t["version"] == version + 2
    # an unrelated end user may not write into somebody's ticket; an empty note is no note
    itsm("comment", key, "spam", user="stranger@example.com", now=at("2026-03-02 10:06"), expect=1)
    itsm("comment", key, "  ", user=o.agent.id, now=at("2026-03-02 10:06"), expect=2)
    assert len(desk.history(key)) == len(events)


def test_link(desk: Desk, itsm: Any, queue: dict[str, str]) -> None:
    o = desk.org
    mi = desk.new("major_incident", o.mim.id, "2026-03-02 10:00", title="Network outage head office",
                  service="network")["key"]
    key = queue["b"]
    t = itsm.json("link", key, mi.lower(), user=o.agent.id, now=at("2026-03-02 10:01"))
    assert t["parent"] == mi
    assert desk.show(key)["parent"] == mi
    ev = desk.history(key)[-1]
    assert (ev["action"], ev["actor"], ev["changes"]) == (
        "link", o.agent.id, {"link": [None, f"part_of {mi}"], "parent": [None, mi]})
    assert ev["at"] == at("2026-03-02 10:01")
    assert [t["key"] for t in itsm.json("list", "--parent", mi, user=o.agent.id)] == [key]

    n = len(desk.history(key))
    itsm("link", key, "MI-000099", user=o.agent.id, now=at("2026-03-02 10:02"), expect=4)
    itsm("link", key, key, user=o.agent.id, now=at("2026-03-02 10:02"), expect=2)
    itsm("link", key, mi, user=o.other_user, now=at("2026-03-02 10:02"), expect=1)  # no desk role
    assert len(desk.history(key)) == n


def test_actions_depend_on_the_acting_user(desk: Desk, itsm: Any, queue: dict[str, str]) -> None:
    o = desk.org
    b = queue["b"]  # new, reported by other_user
    agent = itsm.json("actions", b, user=o.agent.id)
    assert [a["action"] for a in agent] == ["assign", "resolve", "cancel", "declare_major", "raise_problem",
                                            "update"]
    for a in agent:
        assert set(a) >= {"action", "to", "requires", "roles"}
    resolve = next(a for a in agent if a["action"] == "resolve")
    assert resolve["to"] == "resolved"
    assert resolve["requires"] == ["solution", "closure_code", "service_restored"]
    assert "service_desk" in resolve["roles"]
    assert next(a for a in agent if a["action"] == "update")["to"] is None
    assert itsm.json("actions", b, user=o.other_user) == []  # the reporter waits
    assert "no action available" in itsm("actions", b, user=o.other_user).stdout

    a = queue["a"]  # in progress with chen.jie
    assert [x["action"] for x in itsm.json("actions", a, user=o.desktop.id)] == [
        "pend", "resolve", "raise_problem", "update"]
    assert [x["action"] for x in itsm.json("actions", a, user=o.desktop2.id)] == ["update"]
    assert itsm.json("actions", a, user=o.reporter) == []
    table = itsm("actions", a, user=o.desktop.id).stdout
    assert "pend" in table and "reason" in table


# --- definitions: graph, init, lint ----------------------------------------------------

def _spec(process: str) -> Any:
    from engine.workspace import load_definitions
    from engine.definitions.home import bundled_home

    return load_definitions(bundled_home()).processes[process]


@pytest.mark.parametrize("process", ["incident", "service_request", "major_incident"])
def test_graph_mermaid_has_every_transition(itsm_nodb: Any, process: str) -> None:
    out = itsm_nodb("graph", process, "--format", "mermaid").stdout
    lines = out.splitlines()
    assert lines[0] == "stateDiagram-v2"
    spec = _spec(process)
    arrows = {(m.group(1), m.group(2)) for m in (re.match(r"\s*s_(\w+) --> s_(\w+)", ln) for ln in lines) if m}
    expected = {(src, a.target) for a in spec.actions.values() if a.target for src in a.sources}
    assert arrows == expected
    assert f"[*] --> s_{spec.initial.id}" in out
    for s in spec.states.values():
        assert f"as s_{s.id}" in out
        if s.final:
            assert f"s_{s.id} --> [*]" in out


def test_graph_dot(itsm_nodb: Any) -> None:
    out = itsm_nodb("graph", "incident", "--format", "dot").stdout
    assert out.startswith('digraph "incident" {') and out.rstrip().endswith("}")
    assert out.count("{") == out.count("}")
    spec = _spec("incident")
    edges = set(re.findall(r'^\s*"(\w+)" -> "(\w+)"', out, re.M))
    assert edges == {(src, a.target) for a in spec.actions.values() if a.target for src in a.sources}
    for sid in spec.states:
        assert re.search(rf'^\s*"{sid}" \[label=', out, re.M), sid
    itsm_nodb("graph", "change", expect=4)
    itsm_nodb("graph", "incident", "--format", "png", expect=2)


def test_graph_in_chinese(itsm_nodb: Any) -> None:
    out = itsm_nodb("graph", "incident", lang="zh").stdout
    assert "开始处理" in out and "解决" in out


def test_init_creates_a_repository_that_lints_clean(itsm_nodb: Any, tmp_path: Path) -> None:
    target = tmp_path / "p16-processes"
    r = itsm_nodb("init", target)
    assert str(target) in r.stdout
    for sub in ("processes", "codes", "reports"):
        assert (target / sub).is_dir()
    assert {p.name for p in (target / "processes").glob("*.yaml")} == {
        "incident.yaml", "service_request.yaml", "major_incident.yaml", "problem.yaml"}
    assert itsm_nodb("lint", target).stdout == ""
    itsm_nodb("init", target, expect=2)  # not over an existing repository

    # the new repository is what --home uses; a change to it shows
    incident = target / "processes" / "incident.yaml"
    incident.write_text(incident.read_text(encoding="utf-8").replace(
        "title: {en: Incident, zh: 突发事件}", "title: {en: IT incident, zh: IT 突发事件}"), encoding="utf-8")
    assert "IT incident" in itsm_nodb("graph", "incident", home=target).stdout
    db = f"sqlite:///{tmp_path}/home.db"
    itsm_nodb("user", "add", "wang.lei", "--email", "wang.lei@example.com", "--role", "service_desk",
              home=target, db=db)
    t = itsm_nodb.json("new", "incident", "--title", "Mouse broken", "--reporter", "li.na@example.com",
                       user="wang.lei", home=target, db=db)
    assert t["key"] == "INC-000001"
    itsm_nodb("show", "INC-000001", user="wang.lei", home=target, db=db)
    itsm_nodb("show", "INC-000001", user="wang.lei", home=tmp_path / "nowhere", db=db, expect=2)


def test_lint_of_the_repository_is_clean(itsm_nodb: Any) -> None:
    r = itsm_nodb("lint", REPO)
    assert r.stdout == ""
    findings = json.loads(itsm_nodb("lint", REPO, "--format", "json").stdout)
    assert findings == []


# --- languages ---------------------------------------------------------------------------

def test_show_in_chinese(desk: Desk, itsm: Any) -> None:
    o = desk.org
    key = desk.new("incident", o.agent.id, "2026-03-02 09:00", reporter=o.reporter, title="打印机卡纸",
                   service="printing", urgency="medium", impact="low")["key"]
    desk.do(key, "assign", o.agent.id, "2026-03-02 09:05", group="desktop_support")
    out = itsm("show", key, user=o.agent.id, now=at("2026-03-02 09:10"), lang="zh").stdout
    assert out.startswith(f"{key}  打印机卡纸")
    for label in ("流程", "状态", "优先级", "服务", "报告人", "处理组", "创建时间"):
        assert label in out, label
    assert "已分派" in out  # the state's label
    assert "紧急程度" in out and "影响度" in out  # urgency / impact
    assert "报告渠道" in out  # the process field's own label, not its id
    en = itsm("show", key, user=o.agent.id, now=at("2026-03-02 09:10")).stdout
    assert "Assigned" in en and "已分派" not in en
    table = itsm("list", user=o.agent.id, lang="zh").stdout
    assert table.splitlines()[0].startswith("编号")


# --- the demo and a real installation -------------------------------------------------------

def test_demo(itsm_nodb: Any, tmp_path: Path) -> None:
    r = itsm_nodb("demo", "--dir", tmp_path / "demo")
    assert "itsm demo: database" in r.stdout
    assert re.search(r"\d+ tickets; resolution SLA met: \d+, breached: \d+", r.stdout)
    assert (tmp_path / "demo" / "itsm-demo.db").exists()
    summary = itsm_nodb.json("demo", "--dir", tmp_path / "demo2")
    assert summary["tickets"] >= 6
    assert {(s["process"]) for s in summary["by_state"]} == {"incident", "service_request", "major_incident"}


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_pip_install_into_a_fresh_venv_then_demo_and_lint(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", HOME=str(tmp_path / "home"),
               XDG_DATA_HOME=str(tmp_path / "data"))
    build = tmp_path / "src"  # the checkout as a copy: building never writes into the working tree
    shutil.copytree(REPO, build, ignore=shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", "*.egg-info", "build", "dist", ".itsm", ".pytest_cache", "tests"))
    pip = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(build)],
               tmp_path, env, timeout=600)
    assert pip.returncode == 0, pip.stdout + pip.stderr

    empty = tmp_path / "empty"
    empty.mkdir()
    itsm = str(venv / "bin" / "itsm")
    demo = _run([itsm, "demo"], empty, env)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "tickets; resolution SLA met" in demo.stdout and "Traceback" not in demo.stderr
    lint = _run([itsm, "lint"], empty, env)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert list(empty.iterdir()) == []  # nothing written into the user's folder
    version = _run([itsm, "--version"], empty, env)
    assert version.returncode == 0 and "itsm" in version.stdout
