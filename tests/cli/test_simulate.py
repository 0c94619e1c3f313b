"""`itsm simulate PROCESS SCRIPT`: a scripted ticket replayed without a database (issue #9).

The scripts run through the same facade as `itsm new`/`do`/`tick`, over an
in-memory store; these tests check the story they tell, that timers and SLA
thresholds fire as time passes, that refusals say what `itsm do` says, and the
exit codes (0 as written, 1 refused or expectation failed, 2 unreadable script,
4 unknown process).  2026-03-02 is a Monday; the desktop service has the silver
policy (P2: response 30 business minutes, resolution 1 business day, warning 75%).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "simulate" / "incident_lifecycle.yaml"

HEAD = """\
start: "2026-03-02T09:00:00+08:00"
people:
  wang.lei: {roles: [service_desk], groups: [service_desk], email: wang.lei@example.com}
  chen.jie: {groups: [desktop_support], email: chen.jie@example.com}
intake:
  as: wang.lei
  title: Outlook crashes
  reporter: li.na@example.com
  service: desktop
  urgency: high
  impact: medium
"""


def script(tmp_path: Path, steps: str, head: str = HEAD, name: str = "case.yaml") -> Path:
    path = tmp_path / name
    path.write_text(head + steps, encoding="utf-8")
    return path


def run(itsm: Any, *args: Any, expect: int = 0, **kw: Any) -> dict[str, Any]:
    result = itsm("simulate", *args, "--json", expect=expect, **kw)
    return json.loads(result.stdout)


def entries(result: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    return [e for e in result["entries"] if kind is None or e["kind"] == kind]


def test_the_example_lifecycle_with_auto_close_and_an_sla_breach(itsm_nodb: Any) -> None:
    result = run(itsm_nodb, "incident", EXAMPLE, home=REPO)
    assert result["ok"] is True and result["ticket"] == "INC-000001" and result["state"] == "closed"
    steps = {e["step"]: e for e in entries(result) if e["step"] is not None}
    intake = steps[0]
    assert intake["state"] == "new" and intake["changes"]["priority"] == [None, "P2"]
    assert [m["template"] for m in intake["notifications"]] == ["acknowledged"]
    assert intake["sla"]["response"]["due"] == "2026-03-02T09:30:00+08:00"
    # two refusals the script expects, with the words of `itsm do`
    assert steps[1]["refused"] == ("li.na@example.com may not assign INC-000001: it needs one of "
                                   "the roles service_desk, incident_manager")
    assert steps[6]["refused"] == "resolve needs: closure_code (missing)"
    assert steps[1]["as_written"] and steps[6]["as_written"]
    assert steps[3]["sla"]["response"]["met"] is True  # started at 09:20
    assert steps[4]["sla"]["resolution"]["paused"] is True  # pending
    # time passes: the warning, then the breach that escalates
    fired = [(f["kind"], f["name"], f["outcome"], e["at"]) for e in entries(result, "timer") for f in e["fired"]]
    assert fired == [
        ("warning", "resolution", "1 message(s) queued", "2026-03-02T17:00:00+08:00"),
        ("breach", "resolution", "2 message(s) queued; escalate -> in_progress", "2026-03-03T10:00:00+08:00"),
        ("remind", "auto_close", "1 message(s) queued", "2026-03-05T13:00:00+08:00"),
        ("timer", "auto_close", "auto_close -> closed", "2026-03-06T13:00:00+08:00"),
    ]
    breach = entries(result, "timer")[1]
    assert breach["changes"] == {"escalated": [None, True]}
    assert sorted(m["to"] for m in breach["notifications"]) == ["chen.jie@example.com", "zhou.qing@example.com"]
    resolved = steps[8]
    assert resolved["state"] == "resolved" and resolved["sla"]["resolution"]["met"] is False
    closed = entries(result, "timer")[-1]
    assert closed["state"] == "closed" and closed["changes"] == {"auto_closed": [False, True]}
    final = result["tickets"][0]
    assert final["fields"]["auto_closed"] is True and final["fields"]["user_confirmed"] is False


def test_the_text_tells_the_story(itsm_nodb: Any) -> None:
    out = itsm_nodb("simulate", "incident", EXAMPLE, home=REPO).stdout
    lines = out.splitlines()
    assert lines[0] == f"Incident (incident): {EXAMPLE}"
    assert "  #2 2026-03-02 09:10 +08:00  assign (Assign)  as wang.lei  New -> Assigned (assigned)" in lines
    assert "      changed: Group: - -> Desktop Support" in lines
    assert any(line.startswith("  #6 2026-03-02 11:50 +08:00  resolve (Resolve)  as chen.jie  REFUSED: "
                               "resolve needs: closure_code (missing)  [as expected]") for line in lines)
    assert "     2026-03-06 13:00 +08:00  timer  INC-000001 timer Default closure: Close automatically -> Closed" in lines
    assert "      SLA: Response met; Resolution breached" in lines
    assert lines[-2:] == ["INC-000001 ends in state Closed (closed)", "the script ran as written"]


def test_chinese_labels_and_messages(itsm_nodb: Any) -> None:
    out = itsm_nodb("simulate", "incident", EXAMPLE, home=REPO, lang="zh").stdout
    assert out.startswith("突发事件 (incident): ")
    assert "assign (分派)  执行人 wang.lei  新建 -> 已分派 (assigned)" in out
    assert "被拒绝: 解决 (resolve) 需要填写：结束状态 (closure_code)（缺失）  [符合预期]" in out
    assert "      变更: 处理组: - -> 桌面运维组" in out
    assert "定时器  INC-000001 定时器 缺省关闭: 自动关闭 -> 已关闭" in out  # labels, not ids
    assert "SLA: 响应 已满足; 解决 已违约" in out
    assert out.endswith("INC-000001 最终状态：已关闭 (closed)\n脚本按预期运行\n")


def test_a_refused_step_exits_1_and_the_rest_still_runs(itsm_nodb: Any, tmp_path: Path) -> None:
    path = script(tmp_path, """steps:
  - {at: +10m, as: wang.lei, action: assign, set: {group: desktop_support}}
  - {at: +10m, as: chen.jie, action: confirm}
  - {at: +10m, as: chen.jie, action: start}
""")
    result = run(itsm_nodb, "incident", path, home=REPO, expect=1)
    assert result["ok"] is False and result["state"] == "in_progress"
    refused = [e for e in entries(result) if e["refused"]]
    assert len(refused) == 1 and refused[0]["step"] == 2 and refused[0]["where"] == f"{path}:14:5"
    assert refused[0]["refused"] == ("action 'confirm' is not available in state 'assigned'; "
                                     "available now: start, resolve, raise_problem, update")
    assert refused[0]["as_written"] is False and refused[0]["changes"] == {}
    text = itsm_nodb("simulate", "incident", path, home=REPO, expect=1).stdout
    assert "      !! NOT AS WRITTEN: refused" in text
    assert text.endswith("1 step did not run as written\n")


def test_refusals_have_the_words_of_itsm_do(itsm: Any, tmp_path: Path) -> None:
    """The same step through the real CLI and a database says the same thing."""
    for pid, roles, groups in (("wang.lei", ["service_desk"], ["service_desk"]), ("chen.jie", [], ["desktop_support"])):
        args = ["user", "add", pid, "--email", f"{pid}@example.com"]
        args += [x for r in roles for x in ("--role", r)] + [x for g in groups for x in ("--group", g)]
        itsm(*args)
    itsm("new", "incident", "--title", "Outlook crashes", "--reporter", "li.na@example.com",
         "--service", "desktop", "--urgency", "high", "--impact", "medium",
         user="wang.lei", now="2026-03-02T09:00:00+08:00")
    itsm("do", "INC-000001", "assign", "--set", "group=desktop_support", user="wang.lei",
         now="2026-03-02T09:10:00+08:00")
    itsm("do", "INC-000001", "start", user="chen.jie", now="2026-03-02T09:20:00+08:00")
    cases = [("chen.jie", "resolve", {"solution": "x", "closure_code": "duplicate", "service_restored": "true"}),
             ("chen.jie", "pend", {}),
             ("li.na@example.com", "assign", {"group": "desktop_support"}),
             ("chen.jie", "confirm", {}),
             ("chen.jie", "resolve", {"solution": "x", "closure_code": "nonsense", "service_restored": "true"})]
    steps = "steps:\n  - {at: +10m, as: wang.lei, action: assign, set: {group: desktop_support}}\n" \
            "  - {at: +10m, as: chen.jie, action: start}\n"
    for who, action, sets in cases:
        steps += f"  - {{as: {json.dumps(who)}, action: {action}, set: {json.dumps(sets)}, expect: refused}}\n"
    result = run(itsm, "incident", script(tmp_path, steps), home=REPO)
    simulated = [e["refused"] for e in entries(result, "action")][2:]
    for (who, action, sets), said in zip(cases, simulated):
        args = ["do", "INC-000001", action] + [x for k, v in sets.items() for x in ("--set", f"{k}={v}")]
        real = itsm(*args, user=who, now="2026-03-02T09:30:00+08:00", expect=1).stderr
        assert real == f"itsm: {said}\n"


def test_expectations(itsm_nodb: Any, tmp_path: Path) -> None:
    path = script(tmp_path, """steps:
  - {at: +10m, as: wang.lei, action: assign, set: {group: desktop_support}, expect: refused}
  - {as: desktop_support, action: start, expect: {state: pending}}
  - {as: assignee, action: pend, expect: {refused: "needs: reason"}}
  - {as: assignee, action: pend, set: {reason: user away}, expect: {state: pending}}
""")
    result = run(itsm_nodb, "incident", path, home=REPO, expect=1)
    problems = [(e["step"], e["problem"]) for e in entries(result) if not e["as_written"]]
    assert problems == [(1, "expected a refusal, but it was done"),
                        (2, "expected state pending, but it is in_progress")]
    assert result["tickets"][0]["assignee"] == "desktop_support"  # a group acting: one of its members


def test_people_roles_and_groups_act_without_declaring_people(itsm_nodb: Any, tmp_path: Path) -> None:
    path = script(tmp_path, """steps:
  - {at: +10m, as: service_desk, action: assign, set: {group: desktop_support, assignee: chen.jie}}
  - {at: +10m, as: chen.jie, action: start}
  - {at: +10m, as: incident_manager, action: declare_major, set: {reason: Mail down for everyone}}
""", head=HEAD.replace("people:\n  wang.lei: {roles: [service_desk], groups: [service_desk], "
                       "email: wang.lei@example.com}\n  chen.jie: {groups: [desktop_support], "
                       "email: chen.jie@example.com}\n", "").replace("as: wang.lei", "as: service_desk"))
    result = run(itsm_nodb, "incident", path, home=REPO)
    declared = entries(result)[-1]
    assert declared["linked"] == {"opened": "MI-000001"}
    assert [(e["ticket"], e["action"], e["to"]) for e in declared["events"]][:1] == [("MI-000001", "create", "candidate")]
    assert {t["key"]: t["state"] for t in result["tickets"]} == {"INC-000001": "in_progress", "MI-000001": "candidate"}


def test_a_draft_process_file_is_simulated(itsm_nodb: Any, repo_copy: Path, tmp_path: Path) -> None:
    draft = repo_copy / "processes" / "incident.yaml"
    draft.write_text(draft.read_text(encoding="utf-8").replace("after: 3 business days", "after: 1 business day")
                     .replace("    remind_before: 1 business day\n", "")  # 2h before it: never sent (T001)
                     .replace("    remind: [{to: reporter, template: confirm_reminder}]\n", ""), encoding="utf-8")
    path = script(tmp_path, """steps:
  - {at: +10m, as: wang.lei, action: resolve, set: {solution: Advice given, closure_code: user_advice, service_restored: true}}
  - tick: +1 business day
""")
    result = run(itsm_nodb, draft, path)
    assert result["state"] == "closed"
    assert entries(result, "timer")[-1]["at"] == "2026-03-03T09:10:00+08:00"
    assert not (repo_copy / ".itsm").exists()  # no database was created


def test_unreadable_scripts_are_usage_errors(itsm_nodb: Any, tmp_path: Path) -> None:
    bad = script(tmp_path, "steps:\n  - {at: +10m, as: wang.lei, action: assign\n")
    result = itsm_nodb("simulate", "incident", bad, home=REPO, expect=2)
    assert f"{bad}:" in result.stderr and "YAML syntax error" in result.stderr
    bad = script(tmp_path, "steps:\n  - {at: +10m, as: wang.lei, acton: assign}\n")
    result = itsm_nodb("simulate", "incident", bad, home=REPO, expect=2)
    assert f"{bad}:13:30: unknown key 'acton'" in result.stderr
    bad = script(tmp_path, "steps:\n  - {at: +10m, as: nobody, action: assign}\n")
    result = itsm_nodb("simulate", "incident", bad, home=REPO, expect=2)
    assert "as: 'nobody' is not a person of the script" in result.stderr
    bad = script(tmp_path, "steps:\n  - {at: 2026-03-01T09:00:00+08:00, as: wang.lei, action: assign}\n")
    result = itsm_nodb("simulate", "incident", bad, home=REPO, expect=2)
    assert "the journal only moves forward" in result.stderr
    itsm_nodb("simulate", "incident", tmp_path / "missing.yaml", home=REPO, expect=2)


def test_unknown_process_is_not_found(itsm_nodb: Any) -> None:
    result = itsm_nodb("simulate", "nosuch", EXAMPLE, home=REPO, expect=4)
    assert "no process 'nosuch'; known: " in result.stderr


def test_simulate_as_a_subprocess(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ITSM_CACHE_DIR": str(tmp_path / "cache"),
           "ITSM_TZ": "Asia/Shanghai"}
    env.pop("ITSM_DATABASE_URL", None)
    proc = subprocess.run([sys.executable, "-m", "cli", "--home", str(REPO), "simulate", "incident",
                           str(EXAMPLE)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith("the script ran as written\n")
    assert list(tmp_path.iterdir()) == [tmp_path / "cache"]  # nothing but the definitions cache


def test_the_text_of_a_step_that_links_and_a_later_change(itsm_nodb: Any, tmp_path: Path) -> None:
    """A step that links tickets, then a step that changes a field: the text printed
    both (it crashed, exit 3, once a linked step had been printed)."""
    path = script(tmp_path, """\
steps:
  - {at: +5m, as: wang.lei, action: declare_major, set: {reason: "site down"}}
  - {at: +5m, as: wang.lei, action: assign, set: {group: desktop_support}}
""")
    out = itsm_nodb("simulate", "incident", path, home=REPO).stdout
    assert "declare_major" in out and "MI-" in out and "assign" in out
