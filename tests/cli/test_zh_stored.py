"""What the engine writes down in English and shows later, said in Chinese (#23.1).

A tick's outcomes (a refused timer action with its reason, a skipped reminder, the
reports, the seal, the outbox), a cascade's results (an incident resolved with its
major incident, another that refused), the notes the engine leaves in a journal, a
reporter's refused internal note and ``db upgrade``'s re-key refusal: each produced by
real commands on one scratch desk (SQLite and PostgreSQL) and read with ``--lang zh``.
The English text (stored, ``--json``) keeps its ids.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
from _journal_attack import database
from test_audit_keys import make_legacy
from test_zh_complete import _english

from tests_conftest import REPO, Itsm, add_people, isolate, postgres_url, reset_postgres

AGENT, MIM, REPORTER = "wang.lei", "huang.wei", "li.na@example.com"


def _definitions(home: Path) -> None:
    """The bundled definitions, but resolving an incident needs a workaround (a cascaded
    resolve without one is refused) and closing one automatically a field nobody sets."""
    shutil.copytree(REPO / "processes", home / "processes")
    shutil.copytree(REPO / "codes", home / "codes")
    path = home / "processes" / "incident.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("requires: [solution, closure_code, service_restored]",
                        "requires: [solution, closure_code, service_restored, workaround]", 1)
    closing = "    roles: [system]\n    set: {auto_closed: true"
    assert closing in text
    text = text.replace(closing, "    roles: [system]\n    requires: [regulatory_impact]\n    set: {auto_closed: true", 1)
    path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def said(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The outputs (zh unless named en) of the story, by step."""
    base = tmp_path_factory.mktemp("zh-stored")
    if request.param == "postgresql":
        url = postgres_url()
        if url is None:
            pytest.skip("ITSM_TEST_DATABASE_URL is not set")
        reset_postgres(url)
    else:
        url = f"sqlite:///{base}/itsm.db"
    _definitions(base / "home")
    out: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, base / "cache")
        mp.setenv("ITSM_HOME", str(base / "home"))
        itsm = Itsm(url)
        itsm("db", "upgrade")
        add_people(itsm)
        # INC-000001 resolved on Monday; a week later its reminder and its automatic closure are due
        itsm("new", "incident", "--title", "Printer jams", "--reporter", REPORTER, "--service", "network",
             "--urgency", "low", "--impact", "low", user=AGENT, now="2026-03-02T09:00:00+08:00")
        itsm("do", "INC-000001", "resolve", "--set", "solution=Cleaned", "--set", "closure_code=solved",
             "--set", "service_restored=true", "--set", "workaround=Other printer", user=AGENT,
             now="2026-03-02T09:30:00+08:00")
        out["tick"] = itsm("tick", now="2026-03-09T09:00:00+08:00", lang="zh").stdout
        # a P1 outage opens a major incident; another incident joins it by hand
        itsm("new", "incident", "--title", "VPN down", "--reporter", REPORTER, "--service", "network",
             "--urgency", "high", "--impact", "high", "--set", "affected_users=180", "--set", "category=network",
             user=AGENT, now="2026-03-04T09:02:00+08:00")
        token = itsm.json("new", "incident", "--title", "VPN slow", "--reporter", REPORTER, "--service", "network",
                          "--urgency", "low", "--impact", "low", user=AGENT,
                          now="2026-03-04T09:03:00+08:00")["status_token"]
        itsm("do", "INC-000003", "update", "--set", "workaround=4G", user=AGENT, now="2026-03-04T09:04:00+08:00")
        itsm("link", "INC-000003", "MI-000001", user=AGENT, now="2026-03-04T09:05:00+08:00")
        itsm("do", "MI-000001", "accept", user=MIM, now="2026-03-04T09:25:00+08:00")
        out["cascade"] = itsm("do", "MI-000001", "resolve", "--set", "solution=Carrier fixed the line",
                              "--set", "closure_code=major_resolved", "--set", "service_restored=true",
                              user=MIM, now="2026-03-04T11:30:00+08:00", lang="zh").stdout
        out["history"] = itsm("history", "INC-000003", user=AGENT, lang="zh").stdout
        out["status"] = itsm("status", "INC-000003", "--token", token, lang="zh").stdout  # what the reporter reads
        out["history_en"] = itsm.json("history", "INC-000003", user=AGENT)
        out["history_mi"] = itsm("history", "MI-000001", user=AGENT, lang="zh").stdout
        out["show_mi"] = itsm("show", "MI-000001", user=AGENT, lang="zh").stdout
        itsm("tick", now="2026-03-16T09:00:00+08:00")  # INC-000002's resolution breached: escalated
        out["escalated"] = itsm("history", "INC-000002", user=AGENT, lang="zh").stdout
        out["internal"] = itsm("comment", "INC-000002", "Is it back?", user=REPORTER, lang="zh", expect=1).stderr
        # a desk of the older, unkeyed journal, damaged before its upgrade: not re-keyed, and why
        make_legacy(url)
        with database(url) as db:
            db.update_event("INC-000003", 2, note="rewritten before the upgrade")
        out["upgrade"] = itsm("db", "upgrade", lang="zh").stderr
    yield out


def test_tick_outcomes_say_labels_and_the_refusals_own_words(said: dict[str, Any]) -> None:
    tick = said["tick"]
    # the reminder is sent before the timer it announces, also when both are due at one tick
    assert re.search(r"INC-000001  提醒  +缺省关闭  .*已排队 1 条消息", tick), tick
    # the refused automatic closure: the action and the missing field by their labels (the table cuts it)
    assert "自动关闭 (auto_close) 被拒绝：自动关闭 (auto_close) 需要填写：涉及" in tick
    assert re.search(r"已排队 \d+ 条消息", tick) and "已封存 2 个事件" in tick and "本次定时处理已放弃 电子邮件（" in tick
    assert not _english(tick), tick


def test_cascade_results_and_the_notes_it_leaves(said: dict[str, Any]) -> None:
    cascade = said["cascade"]
    assert "关联工单 INC-000003：解决 (resolve)" in cascade
    assert "关联工单 INC-000002：未执行 解决 (resolve)（解决 (resolve) 需要填写：临时解决方法 (workaround)（缺失））" in cascade
    assert not _english(cascade), cascade
    assert "随 MI-000001 一并解决" in said["history"] and "resolve of" not in said["history"]
    status = said["status"]  # the reporter's status page: the same note, and what they may do, by labels
    assert "随 MI-000001 一并解决" in status and "resolve of" not in status, status
    assert re.search(r"您可以：\S+ \(confirm\)、\S+ \(reopen\)", status), status
    # stored in English, as --json shows it
    assert said["history_en"][-1]["note"] == "resolve of MI-000001"
    mi = said["history_mi"]  # the major incident's timeline: its incidents' states by the incident's labels
    assert "新建 -> 已解决" in mi and "new ->" not in mi
    assert "已创建候选重大事件 MI-000001：priority_p1" in mi and "candidate" not in mi  # its label in zh too
    assert "priority_p1: 突发事件优先级为 P1; many_users: " in said["show_mi"], said["show_mi"]  # the criteria matched


def test_a_remote_cascade_line_is_retold_with_its_reason() -> None:
    """Through --url the server's cascade lines arrive as English text: retold by shape,
    the refusal inside them too (ids stay: the client has no definitions)."""
    from commands.plain import done_text

    view = {"key": "MI-000001", "state_label": "已解决", "cascade": [
        "INC-000003: resolve", "INC-000002: not resolve (resolve needs: workaround (missing))"]}
    text = done_text(view, "解决", "zh")
    assert "关联工单 INC-000003：resolve" in text
    assert "关联工单 INC-000002：未执行 resolve（resolve 需要填写：workaround（缺失））" in text, text
    assert "needs" not in done_text(view, "解决", "zh") and "needs" in done_text(view, "resolve", "en")


def test_the_notes_of_a_tick_and_of_monitoring(said: dict[str, Any]) -> None:
    from engine.i18n import note_in

    assert "解决超时" in said["escalated"] and "breach resolution" not in said["escalated"], said["escalated"]
    labels = {"actions": {"resolve": "解决"}, "clocks": {"resolution": "解决"}, "timers": {"auto_close": "缺省关闭"}}
    alert = {"actor": "monitoring", "note": "Alert repeated 3 time(s) since the last note (4 alert(s) on this "
                                            "incident): HighErrorRate on claims-1\nAlert firing again: HighErrorRate on claims-1"}
    assert note_in(alert, "zh", labels) == ("自上次备注以来告警重复 3 次（本突发事件共 4 条告警）：HighErrorRate on claims-1\n"
                                            "告警再次触发：HighErrorRate on claims-1")
    assert note_in({"actor": "system", "note": "timer auto_close"}, "zh", labels) == "定时器：缺省关闭"
    assert note_in({"actor": "wang.lei", "note": "copy of INC-000001"}, "zh", labels) == "copy of INC-000001"  # as written
    assert note_in(alert, "en", labels) == alert["note"]


def test_a_reporters_internal_note_is_refused_in_chinese(said: dict[str, Any]) -> None:
    assert f"{REPORTER} 不能为 INC-000002 添加内部备注：需要 'internal_notes' 权限" in said["internal"]
    assert not _english(said["internal"].replace("internal_notes", "")), said["internal"]


def test_db_upgrade_says_why_the_journal_was_not_rekeyed(said: dict[str, Any]) -> None:
    text = said["upgrade"]
    assert "日志未用新密钥重新串接：" in text and "INC-000003 #2：记录后被修改" in text, text
    assert "changed after" not in text and "re-keying" not in text


def test_english_stays_english_with_ids() -> None:
    """The same Said values in English: the text that is stored and shown by --json."""
    from engine.errors import ActionRefused
    from engine.i18n import N_, joined, message, named, reason, retell
    from engine.model import Label

    refused = ActionRefused(N_("{action} needs: {fields} (missing)"),
                            values={"action": named("auto_close", Label("Close", "自动关闭")),
                                    "fields": "regulatory_impact"})
    line = joined([message(N_("{count} message(s) queued"), count=2),
                   message(N_("{action} refused: {reason}"), action=named("auto_close", Label("Close", "自动关闭")),
                           reason=reason(refused))])
    assert str(line) == "2 message(s) queued; auto_close refused: auto_close needs: regulatory_impact (missing)"
    assert json.loads(json.dumps({"outcome": line}))["outcome"] == str(line)
    assert retell(line, "zh") == "已排队 2 条消息；自动关闭 (auto_close) 被拒绝：自动关闭 (auto_close) 需要填写：regulatory_impact（缺失）"
    assert retell(str(line), "zh").startswith("已排队 2 条消息；auto_close 被拒绝：")  # a stored row: its shape
