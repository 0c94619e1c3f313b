"""Complete Chinese (#23.1): the catalogue is complete, and every command speaks it.

* The gettext catalogue ``engine/locale/zh/LC_MESSAGES/itsm.po`` has a msgstr for
  every msgid, nothing fuzzy, every string marked in the sources (``tr``/``N_``,
  found by Babel's extractor, tools/i18n.py) and a committed ``.mo`` that is the
  compiled ``.po``.
* Every ``--help`` example (tests/cli/test_help_examples.py, on its scratch desk)
  runs once more with ``ITSM_LANG=zh``, plus show/list/history/status/errors on the
  tickets there; no output may carry a catalogue sentence in English.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests_conftest import wait_until_serving
from test_help_examples import EXAMPLES, SECRETS, _free_port, _run, scratch  # noqa: F401 - the shared scratch desk

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import i18n as catalogue_tool  # noqa: E402 - tools/i18n.py (Babel)

from engine.i18n import MESSAGES, catalogue, ntr, t, tr  # noqa: E402

EXTRA = [  # what people read most, beyond the help examples
    "itsm show INC-000042", "itsm show INC-000041", "itsm list --limit 3", "itsm history INC-000041",
    "itsm history INC-000042", "itsm show NOPE-1", "itsm --as nobody comment INC-000042 hello",
    "itsm do INC-000041 start", "itsm do INC-000042 resolve", "itsm comment INC-000042 ''",
    "itsm new nosuchprocess --title x", "itsm actions INC-000042", "itsm show MI-000001",
    # the commands' own output beyond their examples: a diff with changes, a dry-run migration, the
    # desk's journal check, a mail that repeats, DOT, a run with nothing to deliver
    "sed -e 's/^version: 2/version: 3/' -e '0,/roles: \\[service_desk, incident_manager\\]/s//roles: [service_desk]/'"
    " processes/incident.yaml > changed.yaml && itsm diff processes/incident.yaml changed.yaml",
    "itsm migrate incident --map new=assigned", "itsm audit verify", "itsm alerts",
    "itsm mail receive < examples/mail/new-incident.eml; itsm mail receive < examples/mail/new-incident.eml",
    "itsm graph --all --format dot", "itsm graph incident --format dot", "itsm outbox deliver",
    # last (it damages the journal): what audit verify finds
    "python -c \"import sqlite3; c = sqlite3.connect('.itsm/itsm.db'); c.execute('update journal set note = 1 where id = 3');"
    " c.execute('delete from journal where id = 7'); c.commit()\" && itsm audit verify",
]
REMOTE = [line for command in ("login", "whoami", "logout") for c, line in EXAMPLES if c == command]


def test_the_catalogue_is_complete_and_compiled() -> None:
    assert catalogue_tool.problems("zh") == []


def test_extraction_finds_the_marked_strings() -> None:
    found = {m.id for m in catalogue_tool.extract() if m.id}
    assert {"no ticket {key}", MESSAGES["missing"], "{who} logs {key} \"{title}\" ({priority}, {service})"} <= found
    assert set(MESSAGES.values()) <= found
    assert ("{count} ticket", "{count} tickets") in found  # ntr(): a plural message


def test_chinese_is_read_from_the_compiled_catalogue() -> None:
    assert tr("no ticket {key}", "zh", key="INC-1") == "没有工单 INC-1"
    assert [ntr("{count} ticket", "{count} tickets", n) for n in (1, 2)] == ["1 ticket", "2 tickets"]
    assert ntr("{count} ticket", "{count} tickets", 3, "zh") == "3 个工单" and \
        ntr("{count} ticket", "{count} tickets", 1, "zh") == "1 个工单"
    assert t("key", "zh") == "编号" and t("key", "en") == "Key"
    assert catalogue("zh") is catalogue("zh")  # read once


def _pattern(msgid: str) -> re.Pattern[str] | None:
    """A catalogue sentence as it would be printed untranslated; None for words too short to tell
    from data (a ticket title, an id)."""
    literal = re.sub(r"\{[^}]*\}", "", msgid)
    if len(re.findall(r"[A-Za-z]{2,}", literal)) < 3:
        return None
    parts = [re.escape(p) for p in re.split(r"\{[^}]*\}", msgid)]
    return re.compile(".+?".join(parts))


MSGIDS = [i for m in catalogue_tool.read("zh") if m.id for i in (m.id if isinstance(m.id, tuple) else (m.id,))]
PATTERNS = {i: p for i in MSGIDS if (p := _pattern(i)) is not None}
HEADINGS = [i for i in MSGIDS if i[:1].isupper() and "{" not in i]


@pytest.fixture(scope="module")
def zh_output(scratch: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every example and EXTRA command, in Chinese, on one copy of the scratch desk: output by line."""
    base = tmp_path_factory.mktemp("zh")
    desk = base / "p16"
    shutil.copytree(scratch["home"], desk)
    shutil.copytree(scratch["base"] / "p16-release-2026-02", base / "p16-release-2026-02")
    env = dict(scratch["env"], ITSM_USER="wang.lei", ITSM_LANG="zh")
    lines = []
    for command, line in EXAMPLES:
        if command in ("serve", "login", "whoami", "logout") or "keygen" in command:  # need a server
            continue
        for placeholder, real in SECRETS.items():
            line = line.replace(placeholder, real.format(token=scratch["token"]))
        lines.append(line)
    lines += EXTRA
    out = _by_line(_run(_script(lines), desk, env, timeout=900), lines)
    return {**out, **_remote_output(desk, env)}


def _script(lines: list[str]) -> str:
    return "".join(f"echo '@@@ {i}'; echo '@@@ {i}' >&2; ( {line}\n) < /dev/null\n" for i, line in enumerate(lines))


def _by_line(proc: subprocess.CompletedProcess[str], lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {line: "" for line in lines}
    for stream in (proc.stdout, proc.stderr):
        for chunk in stream.split("@@@ ")[1:]:
            n, _, text = chunk.partition("\n")
            out[lines[int(n)]] += text
    return out


def _remote_output(desk: Path, env: dict[str, str]) -> dict[str, str]:
    """login (a token, then a password), whoami and logout against this desk's server, on
    a free port, as wang.lei (the way tests/cli/test_help_examples.py runs them)."""
    env = dict(env, XDG_CONFIG_HOME=str(desk / "config"))
    made = _run("itsm apikey create --user wang.lei --json", desk, env)
    assert made.returncode == 0, made.stderr
    (desk / "token.txt").write_text(json.loads(made.stdout)["key"] + "\n")
    (desk / "password.txt").write_text("correct horse battery staple\n")
    assert _run("itsm user passwd wang.lei --password-stdin < password.txt", desk, env).returncode == 0
    port = _free_port()
    server = subprocess.Popen(["itsm", "serve", "--port", str(port)], cwd=desk, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", server)
        lines = [line.replace("http://127.0.0.1:8080", f"http://127.0.0.1:{port}") for line in REMOTE]
        out = _by_line(_run(_script(lines), desk, env), lines)
        return {example: out[line] for example, line in zip(REMOTE, lines)}  # by the example as written
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def test_every_command_speaks_chinese(zh_output: dict[str, str]) -> None:
    english = []
    for line, text in zh_output.items():
        assert "Traceback" not in text, f"$ {line}\n{text}"
        for msgid, pattern in PATTERNS.items():
            if pattern.search(text):
                english.append(f"$ {line}: {msgid!r}")
        header = text.splitlines()[0] if text.strip() else ""
        english += [f"$ {line}: heading {h!r}" for h in HEADINGS if re.search(rf"(^|\s){re.escape(h)}(\s|$)", header)
                    and h not in ("SLA", "Id")]
    assert not english, "\n".join(english)


DATA = re.compile(r"^\s*(?:flowchart LR|stateDiagram-v2|rankdir=LR;|node \[shape=box, style=rounded\];)$"  # diagram syntax
                  r'|\bstate "[^"]*" as s_\w+|\[label="[^"]*", (?:shape|style)=\w+\]|, peripheries=2|, penwidth=2'
                  r"|\[Errno \d+\] [\w ]+|[\w.+-]+@[\w.-]+|\S*/\S*|\"[^\"]*\"|'[^']*'|“[^”]*”|[A-Z]+-\d+|\b\w+_\w+\b|#\d+"
                  r"|Laptop cannot reach VPN|Claims login fails|Cannot log in to claims|Claims system down"
                  r"|Called the user, waiting for a screenshot|Reset the VPN token|same outbreak as"
                  r"|outbreak: 3 or more open incide\S*(?: \S+)*|Called back"
                  r"|Reinstalled the VPN profile|Disk 95% full on db1|Alertmanager webhook|itsm [a-z]+|\S+\.\S+|--[a-z-]+"
                  + "".join(rf"|{re.escape(title[:20])}\S*(?: \S+)*?(?=…|  |$)"  # the demo's tickets, maybe cut
                            for title in re.findall(r'title="([^"]+)"', (REPO / "engine" / "demo.py").read_text())))


def _english(text: str) -> list[str]:
    """Lines with two English words in a row (a sentence, not a list of ids), once data (titles, notes, ids, paths) is taken out."""
    return [line for line in text.splitlines()
            if re.search(r"\b[A-Za-z]{2,} [A-Za-z]{2,}\b", DATA.sub(" ", line))]


def test_no_english_sentences_in_any_command(zh_output: dict[str, str]) -> None:
    found = {f"$ {line}": _english(text)[:3] for line, text in zh_output.items() if _english(text)}
    assert not found, "\n".join(f"{k}: {v}" for k, v in found.items())


def test_show_list_history_and_errors_are_chinese(zh_output: dict[str, str]) -> None:
    show = zh_output["itsm show INC-000041"]
    assert "状态" in show and "已解决" in show and "SLA 解决" in show and "SLA resolution" not in show
    assert "(resolved)" not in show and "服务已恢复" in show and "是" in show
    assert "网络及VPN" in zh_output["itsm show INC-000041"] + zh_output["itsm show INC-000042"]
    history = zh_output["itsm history INC-000041"]
    assert "已登记" in history and "解决" in history and " create " not in history
    assert "编号" in zh_output["itsm list --limit 3"]
    assert "没有工单 NOPE-1" in zh_output["itsm show NOPE-1"]
    assert "没有用户 'nobody'" in zh_output["itsm --as nobody comment INC-000042 hello"]
    assert "当前可用" in zh_output["itsm do INC-000042 resolve"]
    assert "没有流程 'nosuchprocess'" in zh_output["itsm new nosuchprocess --title x"]


def test_the_commands_own_output_is_chinese(zh_output: dict[str, str]) -> None:
    """The summaries, progress and results of the commands (#23.1), with labels for code values."""
    out = {command: "" for command, _ in EXAMPLES}
    for command, line in EXAMPLES:
        out[command] += zh_output.get(line, "")
    assert "已创建流程仓库 p16-processes（" in out["init"] and "个文件）" in out["init"]
    assert re.search(r"数据库 \S+：表结构 新建 -> 00\d\d", out["db upgrade"])
    assert "日志完整" in out["audit verify"] and "个签名检查点" in out["audit verify"]
    assert re.search(r"已将 \d+ 个事件和 \d+ 个检查点写入 journal.jsonl", out["audit export"])
    assert "已用密钥" in out["audit rekey"] and "检查点 #" in out["audit rekey"]
    assert "所有流程及其衔接方式" in out["graph"] and "联动：解决 → 解决" in out["graph"]
    assert "分派 (热线支持人员、突发事件经理)" in out["graph"] and "开始处理 (处理人、处理组成员)" in out["graph"]
    assert "新建突发事件 1 个" in out["intake"] and "告警中" in out["intake"]
    assert "已新建 INC-" in out["mail receive"] and "新建的突发事件工单" in out["mail receive"]
    assert "未配置 IMAP 账户" in out["mail poll"]
    assert "待迁移 0 个工单" in out["migrate"] and "SMTP 服务器 localhost:2525：" in out["outbox deliver"]
    assert "秒后重试" in out["outbox deliver"] and "已发送 0，待重试" in out["outbox deliver"]
    assert "暂缓发送" in out["outbox deliver"]
    assert "脚本按预期运行" in out["simulate"] and "定时器  INC-000001 超时 解决: 已排队 2 条消息；升级 -> 处理中" \
        in out["simulate"]
    assert "已以 wang.lei 身份登录" in out["login"] and "令牌保存在" in out["login"]
    assert "角色" in out["whoami"] and "热线支持人员" in out["whoami"] and "service_desk" not in out["whoami"]
    assert "已在 http://127.0.0.1:" in out["logout"] and "吊销您的令牌" in out["logout"]
    diff = zh_output[EXTRA[-9]]
    assert "流程 incident" in diff and "  ~ 动作 assign (分派)" in diff and "新增 0 项，删除 0 项，修改 2 项" in diff
    assert "将从 新建 迁移到 已分派" in zh_output["itsm migrate incident --map new=assigned"]
    assert "重复 INC-" in zh_output[EXTRA[-5]] and "已处理过：已新建" in zh_output[EXTRA[-5]]
    damaged = zh_output[EXTRA[-1]]
    assert "：被篡改：事件 " in damaged and "与其密钥哈希不符" in damaged and "：被删除：缺少事件" in damaged, damaged
    assert re.search(r"\d+ 个问题$", damaged.strip()), damaged


def test_json_keeps_raw_ids(scratch: dict[str, Any], tmp_path: Path) -> None:
    desk = tmp_path / "p16"
    shutil.copytree(scratch["home"], desk)
    env = dict(scratch["env"], ITSM_USER="wang.lei", ITSM_LANG="zh")
    proc = _run("itsm show INC-000041 --json", desk, env)
    assert '"state": "resolved"' in proc.stdout and '"service": "network"' in proc.stdout, proc.stdout



def test_the_person_s_own_language_unless_told(scratch: dict[str, Any], tmp_path: Path) -> None:
    desk = tmp_path / "p16"
    shutil.copytree(scratch["home"], desk)
    env = dict(scratch["env"])
    proc = _run("itsm --as p16.owner user add lin.fang --email lin.fang@example.com --role service_desk --lang zh"
                " && itsm --as lin.fang show NOPE-1; ITSM_LANG=en itsm --as lin.fang show NOPE-1;"
                " itsm --as wang.lei show NOPE-1", desk, env)
    assert proc.stderr.splitlines()[-3:] == ["itsm: 没有工单 NOPE-1", "itsm: no ticket NOPE-1",
                                             "itsm: no ticket NOPE-1"], proc.stdout + proc.stderr
