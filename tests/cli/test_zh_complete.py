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

import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from test_help_examples import EXAMPLES, SECRETS, _run, scratch  # noqa: F401 - the shared scratch desk

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import i18n as catalogue_tool  # noqa: E402 - tools/i18n.py (Babel)

from engine.i18n import MESSAGES, catalogue, t, tr  # noqa: E402

EXTRA = [  # what people read most, beyond the help examples
    "itsm show INC-000042", "itsm show INC-000041", "itsm list --limit 3", "itsm history INC-000041",
    "itsm history INC-000042", "itsm show NOPE-1", "itsm --as nobody comment INC-000042 hello",
    "itsm do INC-000041 start", "itsm do INC-000042 resolve", "itsm comment INC-000042 ''",
    "itsm new nosuchprocess --title x", "itsm actions INC-000042", "itsm show MI-000001",
]


def test_the_catalogue_is_complete_and_compiled() -> None:
    assert catalogue_tool.problems("zh") == []


def test_extraction_finds_the_marked_strings() -> None:
    found = {m.id for m in catalogue_tool.extract() if m.id}
    assert {"no ticket {key}", MESSAGES["missing"], "{who} logs {key} \"{title}\" ({priority}, {service})"} <= found
    assert set(MESSAGES.values()) <= found


def test_chinese_is_read_from_the_compiled_catalogue() -> None:
    assert tr("no ticket {key}", "zh", key="INC-1") == "没有工单 INC-1"
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


PATTERNS = {m.id: p for m in catalogue_tool.read("zh") if m.id and (p := _pattern(m.id)) is not None}
HEADINGS = [m.id for m in catalogue_tool.read("zh") if m.id and m.id[:1].isupper() and "{" not in m.id]


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
    script = "".join(f"echo '@@@ {i}'; echo '@@@ {i}' >&2; ( {line}\n) < /dev/null\n" for i, line in enumerate(lines))
    proc = _run(script, desk, env, timeout=900)
    out: dict[str, str] = {line: "" for line in lines}
    for stream in (proc.stdout, proc.stderr):
        for chunk in stream.split("@@@ ")[1:]:
            n, _, text = chunk.partition("\n")
            out[lines[int(n)]] += text
    return out


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


# Commands whose own sentences are not yet in the catalogue (#23.1, the remaining work): their output
# may still carry English.  Take a command off this list when its sentences are marked and translated.
STILL_ENGLISH = {
    "audit export", "audit verify", "audit rekey", "db upgrade", "diff", "graph", "init", "intake",
    "mail poll", "mail receive", "migrate", "outbox deliver", "simulate",
    "login", "logout", "whoami",  # remote mode (#23, landed with the merge): not yet marked
}
DATA = re.compile(r"[\w.+-]+@[\w.-]+|\S*/\S*|\"[^\"]*\"|'[^']*'|“[^”]*”|[A-Z]+-\d+|\b\w+_\w+\b|#\d+"
                  r"|Laptop cannot reach VPN|Claims login fails|Cannot log in to claims|Claims system down"
                  r"|Called the user, waiting for a screenshot|Reset the VPN token|same outbreak as"
                  r"|outbreak: 3 or more open incide\S*(?: \S+)*|Called back"
                  r"|Reinstalled the VPN profile|new incident ticket from|Disk 95% full on db1|Alertmanager webhook|itsm [a-z]+|\S+\.\S+|--[a-z-]+"
                  + "".join(rf"|{re.escape(title[:20])}\S*(?: \S+)*?(?=…|  |$)"  # the demo's tickets, maybe cut
                            for title in re.findall(r'title="([^"]+)"', (REPO / "engine" / "demo.py").read_text())))


def _command_of(line: str) -> str:
    for command, example in EXAMPLES:
        if example == line:
            return command
    for command, example in EXAMPLES:  # an example with a secret put in
        if example.split()[:3] == line.split()[:3]:
            return command
    words = [w for w in line.split() if not w.startswith("-") and "=" not in w and w != "itsm"]
    return words[0] if words else line


def _english(text: str) -> list[str]:
    """Lines with two English words in a row (a sentence, not a list of ids), once data (titles, notes, ids, paths) is taken out."""
    return [line for line in text.splitlines()
            if re.search(r"\b[A-Za-z]{2,} [A-Za-z]{2,}\b", DATA.sub(" ", line))]


def test_no_english_sentences_outside_the_remaining_commands(zh_output: dict[str, str]) -> None:
    found = {f"$ {line}": _english(text)[:3] for line, text in zh_output.items()
             if _command_of(line) not in STILL_ENGLISH and _english(text)}
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
