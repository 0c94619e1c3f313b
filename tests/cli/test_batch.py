"""itsm batch: JSON lines of changes, each in its own transaction, in one process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _desk import Desk, at

REPO = Path(__file__).resolve().parents[2]

DUAL_MODE = True  # direct and remote mode (tests/conftest.py)


def lines(*objects: Any) -> str:
    return "".join((o if isinstance(o, str) else json.dumps(o, ensure_ascii=False)) + "\n" for o in objects)


@pytest.mark.direct_only("lines acting as other people need the server to allow impersonation (X-Itsm-As)")
def test_new_do_and_comment_in_one_run(desk: Desk, itsm: Any) -> None:
    agent, org = desk.org.agent.id, desk.org
    text = lines({"new": "incident", "set": {"title": "批量导入：打印机卡纸", "reporter": org.reporter,
                                             "service": "printing"}, "note": "from the phone log"},
                 {"do": "assign", "key": "INC-000001", "set": {"group": "desktop_support",
                                                                "assignee": org.desktop.id}},
                 {"do": "start", "key": "INC-000001", "as": org.desktop.id},
                 {"comment": "INC-000001", "text": "Ordered a roller", "public": True, "as": org.desktop.id})
    result = itsm("batch", "--json", user=agent, now=at("2026-03-02 09:00"), input=text)
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [(r["line"], r["ok"]) for r in out] == [(1, True), (2, True), (3, True), (4, True)]
    assert out[2]["state"] == "in_progress"
    assert "4 done, 0 failed" in result.stderr
    history = desk.history("INC-000001")
    assert [e["action"] for e in history] == ["create", "assign", "start", "comment"]
    assert history[2]["actor"] == org.desktop.id and history[3]["public"] is True


def test_a_failing_line_changes_nothing_and_the_others_go_on(desk: Desk, itsm: Any) -> None:
    agent = desk.org.agent.id
    key = desk.new("incident", agent, "2026-03-02 09:00", title="VPN down", reporter=desk.org.reporter)["key"]
    before = desk.snapshot(key)
    text = lines("not json at all",
                 ["a", "list"],
                 {"do": "resolve", "key": key, "set": {"solution": "x"}},  # missing fields: refused
                 {"do": "start", "key": "INC-999999"},  # not found
                 {"do": "assign", "key": key},  # no group: refused
                 {"comment": key},  # no text: usage
                 {"do": "assign", "new": "incident"},  # two operations: usage
                 {"do": "update", "key": key, "set": {"urgency": "high"}, "expect_version": 99},
                 {"do": "update", "key": key, "set": {"urgency": "high"}})
    result = itsm("batch", user=agent, now=at("2026-03-02 09:05"), input=text, expect=2)
    errors = result.stderr.splitlines()
    assert errors[0].startswith("itsm batch: line 1: not JSON")
    assert "line 2: each line must be a JSON object" in errors[1]
    assert "line 3: resolve needs" in errors[2]
    assert "line 4: no ticket INC-999999" in errors[3]
    assert "line 8:" in errors[7] and "version" in errors[7]
    assert errors[-1].startswith("itsm batch: 1 done, 8 failed")
    after = desk.show(key)
    assert after["urgency"] == "high" and after["state"] == before[0]["state"]
    assert [e["action"] for e in desk.history(key)] == ["create", "update"]


def test_a_blank_title_is_one_refused_line_not_the_end_of_the_batch(desk: Desk, itsm: Any) -> None:
    """A blank title was a NOT NULL failure (exit 3) that ended the batch, without its summary."""
    agent = desk.org.agent.id
    key = desk.new("incident", agent, "2026-03-02 09:00", title="Mail slow", reporter=desk.org.reporter)["key"]
    text = lines({"new": "incident", "set": {"title": "   ", "reporter": desk.org.reporter}},
                 {"do": "update", "key": key, "set": {"title": ""}},
                 {"do": "update", "key": key, "set": {"impact": "high"}})
    result = itsm("batch", "--json", user=agent, now=at("2026-03-02 09:05"), input=text, expect=1)
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [(r["line"], r["ok"], r.get("exit_code")) for r in out] == [(1, False, 1), (2, False, 1), (3, True, None)]
    assert "1 done, 2 failed" in result.stderr
    assert desk.show(key)["title"] == "Mail slow"


def test_json_results_carry_the_error_of_each_line(desk: Desk, itsm: Any) -> None:
    agent = desk.org.agent.id
    key = desk.new("incident", agent, "2026-03-02 09:00", title="Mail slow", reporter=desk.org.reporter)["key"]
    text = lines({"do": "update", "key": key, "set": {"urgency": "high"}, "expect_version": 99},
                 {"do": "update", "key": key, "set": {"impact": "high"}})
    result = itsm("batch", "--json", user=agent, now=at("2026-03-02 09:05"), input=text, expect=5)
    first, second = (json.loads(x) for x in result.stdout.splitlines())
    assert first["ok"] is False and first["error"] == "conflict" and first["exit_code"] == 5
    assert second["ok"] is True and second["key"] == key


def test_stop_on_error(desk: Desk, itsm: Any) -> None:
    agent = desk.org.agent.id
    text = lines({"do": "start", "key": "INC-999999"},
                 {"new": "incident", "set": {"title": "never logged", "reporter": desk.org.reporter}})
    result = itsm("batch", "--stop-on-error", user=agent, now=at("2026-03-02 09:00"), input=text, expect=4)
    assert "0 done, 1 failed" in result.stderr
    assert itsm.json("list", user=agent) == []


def test_batch_reads_a_file_in_a_subprocess(tmp_path: Path, desk: Desk, db_url: str) -> None:
    agent = desk.org.agent.id
    path = tmp_path / "intake.jsonl"
    path.write_text(lines(*({"new": "incident", "set": {"title": f"Call {i}", "reporter": desk.org.reporter}}
                            for i in range(5))), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "cli", "--home", str(REPO), "--db", db_url, "--as", agent,
                           "batch", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "5 done, 0 failed" in proc.stderr
    assert len(desk.itsm.json("list", user=agent)) == 5


def test_database_down_is_one_error_before_any_line(itsm_nodb: Any) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    lines = '{"do": "assign", "key": "INC-000001"}\n{"do": "start", "key": "INC-000001"}\n'
    r = itsm_nodb("batch", "-", user="wang.lei", db=url, input=lines, expect=3)
    assert r.stdout == "" and r.stderr.startswith("itsm: ") and "127.0.0.1" in r.stderr
    assert "line 1" not in r.stderr and len(r.stderr.strip().splitlines()) <= 3


def test_wrongly_typed_values_are_usage_errors_of_their_line(desk: Desk, itsm: Any) -> None:
    """Review F1: a line's "as", "note", "text", "set" values and "expect_version" are
    checked before the engine sees them; the line fails alone and the others go on."""
    agent = desk.org.agent.id
    key = desk.new("incident", agent, "2026-03-02 09:00", title="VPN down", reporter=desk.org.reporter)["key"]
    text = lines({"comment": key, "text": "one"},
                 {"do": "update", "key": key, "as": 123},
                 {"do": "update", "key": key, "as": ["x"]},
                 {"do": "update", "key": key, "note": {"a": 1}},
                 {"new": "incident", "set": {"title": ["a", "b"], "reporter": desk.org.reporter}},
                 {"comment": key, "text": {"x": 1}},
                 {"do": "update", "key": key, "expect_version": "abc"},
                 {"do": "update", "key": key, "expect_version": True},
                 {"do": "update", "key": key, "expect_version": 99999999999999999999999},
                 {"comment": key, "text": "x", "public": "no"},
                 {"do": 5, "key": key},
                 {"comment": key, "text": "three"})
    result = itsm("batch", "--json", user=agent, now=at("2026-03-02 09:05"), input=text, expect=2)
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [r["ok"] for r in out] == [True] + [False] * 10 + [True]
    assert all(r["error"] == "usage" and r["exit_code"] == 2 for r in out[1:-1]), out
    messages = [r["message"] for r in out[1:-1]]
    assert messages[:3] == ['"as" must be a string', '"as" must be a string', '"note" must be a string']
    assert messages[3] == '"set": the value of title must be a string, a number or true/false'
    assert messages[4] == '"text" must be a string'
    assert all(m.startswith('"expect_version" must be a whole number') for m in messages[5:8])
    assert messages[8] == '"public" must be true or false' and messages[9] == '"do" must be a string'
    assert "1" in result.stderr and "2 done, 10 failed" in result.stderr
    assert itsm.json("list", user=agent) and len(itsm.json("list", user=agent)) == 1  # no ticket titled "['a', 'b']"
    notes = [e.get("note") for e in desk.history(key) if e["action"] == "comment"]
    assert notes == ["one", "three"]


def test_a_line_not_in_utf8_fails_alone(desk: Desk, itsm: Any, tmp_path: Path) -> None:
    """Review F8: the input is decoded line by line (a GBK line is not UTF-8)."""
    agent = desk.org.agent.id
    path = tmp_path / "mixed.jsonl"
    path.write_bytes('{"new": "incident", "set": {"title": "理赔"}}\n'.encode("gbk")
                     + lines({"new": "incident", "set": {"title": "打印机", "reporter": desk.org.reporter}},
                             {"new": "incident", "set": {"title": "bad\udcff"}}).encode("utf-8", "surrogatepass")
                     + b'{"new": "incident", "set": {"title": "bad\\udcff"}}\n')  # the JSON escape of a lone surrogate
    result = itsm("batch", str(path), user=agent, now=at("2026-03-02 09:05"), expect=2)
    errors = result.stderr.splitlines()
    assert errors[0] == "itsm batch: line 1: not UTF-8 text (byte 38)"
    assert errors[1] == "itsm batch: line 3: not UTF-8 text (byte 41)"
    assert errors[2] == 'itsm batch: line 4: "set": the value of title is not UTF-8 text'
    assert errors[-1].startswith("itsm batch: 1 done, 3 failed")
    assert [t["title"] for t in itsm.json("list", user=agent)] == ["打印机"]
