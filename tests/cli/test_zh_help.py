"""``--help`` and usage errors in Chinese (#23.1): with ``--lang zh`` or ``ITSM_LANG=zh``
every command's help (its text, options, metavars, click's own words) and click's
usage errors are Chinese; English help is unchanged, also after a Chinese run in
the same process (click's messages are put back).

The help texts are the catalogue's msgids, found by walking the command tree
(tools/i18n.py ``help_messages``); example command lines stay as they are.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from test_zh_complete import _english  # noqa: E402 - the shared "English sentence" test (DATA taken out)

import cli
from commands.helptext import width
from engine.i18n import tr

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import i18n as catalogue_tool  # noqa: E402 - tools/i18n.py

ENV = {"COLUMNS": "80", "ITSM_LANG": ""}
# Names that are English in Chinese text too (products, formats, protocols)
PROPER = re.compile(r"JSON API|Graphviz DOT|GitHub Actions|Mermaid|SARIF|Alertmanager|Ed25519")
WRAPPED_COMMAND = re.compile(r"\bitsm\n\s+")

DO_HELP = """\
Usage: itsm do [OPTIONS] KEY ACTION

  Perform an action of the ticket's process.

  Example:
    itsm do INC-000042 resolve --set solution="Reset the VPN token" \\
        --set closure_code=solved --set service_restored=true

Options:
  --set FIELD=VALUE   Give a field value (repeatable).
  --note TEXT         A note for the journal (the reason, a message).
  --expect-version N  Refuse (exit 5) unless the ticket is still at version N.
  --json              Print JSON on stdout (errors as JSON on stderr).
  -h, --help          Show this message and exit.
"""


def _paths() -> list[list[str]]:
    out: list[list[str]] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        out.append(path)
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, path + [name])

    walk(cli.load_commands(), [])
    return out


def _invoke(args: list[str], **env: str) -> click.testing.Result:
    return CliRunner().invoke(cli.main, args, prog_name="itsm", env={**ENV, **env})


@pytest.fixture(scope="module")
def helps() -> dict[str, tuple[str, str]]:
    """Every command's help: (English, Chinese), ``--lang zh`` and ``ITSM_LANG=zh`` taking turns."""
    out = {}
    for i, path in enumerate(_paths()):
        english = _invoke(path + ["--help"])
        chinese = _invoke(["--lang", "zh"] + path + ["--help"]) if i % 2 else _invoke(path + ["--help"], ITSM_LANG="zh")
        assert english.exit_code == 0 and chinese.exit_code == 0, english.output + chinese.output
        out[" ".join(["itsm"] + path)] = (english.output, chinese.output)
    return out


def test_every_help_is_chinese(helps: dict[str, tuple[str, str]]) -> None:
    assert len(helps) >= 50
    found = {}
    for name, (english, chinese) in helps.items():
        same = set(english.splitlines())  # the example command lines, the same in both
        left = [line for line in chinese.splitlines() if line not in same]
        assert "用法：" + name in chinese and "选项：" in chinese and "显示此帮助并退出。" in chinese, chinese
        text = WRAPPED_COMMAND.sub("itsm ", "\n".join(left))  # a command name wrapped after "itsm": one name
        english_left = _english(PROPER.sub(" ", text))
        if english_left:
            found[name] = english_left
    assert not found, "\n".join(f"{k}: {v}" for k, v in found.items())


def test_chinese_help_fits_the_terminal(helps: dict[str, tuple[str, str]]) -> None:
    """Chinese characters take two columns: wrapped lines stay within 80 (example lines are as in English)."""
    too_wide = [(name, line) for name, (english, chinese) in helps.items() for line in chinese.splitlines()
                if width(line) > 80 and line not in english.splitlines()]
    assert not too_wide, too_wide


def test_the_root_listing_and_a_command_in_chinese(helps: dict[str, tuple[str, str]]) -> None:
    root = helps["itsm"][1]
    assert "用法：itsm [选项] 命令 [参数]..." in root and "命令：" in root
    assert re.search(r"^  do +执行工单所属流程的一个动作$", root, re.M)
    assert re.search(r"^  attach +为工单添加附件（截图、日志）$", root, re.M)  # the first sentence only
    do = helps["itsm do"][1]
    assert "用法：itsm do [选项] 编号 动作" in do and "--set 字段=值" in do
    assert '    itsm do INC-000042 resolve --set solution="Reset the VPN token" \\' in do  # the example as written
    keygen = helps["itsm audit keygen"][1]
    assert "itsm audit keygen --dir keys            # 新服务台：HMAC 密钥和签名密钥对" in keygen


def test_english_help_is_unchanged(helps: dict[str, tuple[str, str]]) -> None:
    assert helps["itsm do"][0] == DO_HELP
    assert _invoke(["--lang", "zh", "do", "--help"]).output != DO_HELP
    assert _invoke(["do", "--help"]).output == DO_HELP  # after a Chinese run: click's words are put back
    assert "  do        Perform an action of the ticket's process.\n" in _invoke(["--help"]).output
    assert "Usage: itsm [OPTIONS] COMMAND [ARGS]..." in _invoke(["--lang", "en", "--help"]).output


def test_usage_errors_in_chinese() -> None:
    missing = _invoke(["--lang", "zh", "do"])
    assert missing.exit_code == 2
    assert missing.output.splitlines() == ["itsm: 缺少参数 '编号'.", "用 'itsm do --help' 查看用法。"]  # cli.py says it
    for args, said in ((["nosuch"], "itsm: 没有命令 'nosuch'。"), (["list", "--bogus"], "itsm: 没有选项 '--bogus'。"),
                       (["list", "--limit", "x"], "itsm: '--limit' 的值无效：'x' 不是有效的整数。"),
                       (["attach", "INC-1", "/nonexistent"], "itsm: '文件' 的值无效：文件 '/nonexistent' 不存在。"),
                       (["graph", "--format", "x"], "itsm: '--format' 的值无效：'x' 不是 'mermaid', 'dot' 之一。")):
        result = _invoke(args, ITSM_LANG="zh")
        assert result.exit_code == 2 and said in result.output, result.output
        assert not _english(result.output), result.output
    # the language of the run is the root's --lang: `user add --lang zh` is the person's language
    english = _invoke(["user", "add", "--lang", "zh"])
    assert english.exit_code == 2 and "Error: Missing argument 'USER_ID'." in english.output
    assert "Error: No such command 'nosuch'." in _invoke(["nosuch"]).output


@pytest.mark.parametrize("group", ["apikey", "mail", "user"])
def test_a_group_without_its_command_shows_its_help_in_chinese_as_in_english(group: str) -> None:
    """Not an error: the group's help, as English shows it (no "itsm: ", no "Try" line), exit 2."""
    english, chinese = _invoke([group]), _invoke(["--lang", "zh", group])
    assert english.exit_code == chinese.exit_code == 2
    assert english.output.startswith(f"Usage: itsm {group} ") and chinese.output.startswith(f"用法：itsm {group} ")
    assert chinese.output == _invoke([group, "--help"], ITSM_LANG="zh").output


def test_every_help_text_is_in_the_catalogue() -> None:
    """The completeness test of the help (the whole catalogue: test_zh_complete.py)."""
    messages = {text for text, _where in catalogue_tool.help_messages()}
    assert {"Perform an action of the ticket's process.", "KEY", "Example:", "Show this message and exit.",
            "a new desk: an HMAC key and a signing key pair"} <= messages
    untranslated = sorted(m for m in messages if tr(m, "zh") == m and m not in ("N",))
    assert not untranslated, untranslated
    assert _invoke(["do", "--help"]).output == DO_HELP  # walking the tree left click's kept help option as it was


def test_click_s_words_are_lent_for_one_run_only() -> None:
    """What click makes and keeps (a Path type's name, the help option's text) stays English even
    when made during a Chinese run (a command module imported then); everything is put back after."""
    import gettext

    from commands.helptext import speaking

    lang = ["en"]
    with speaking("zh", lang):
        assert lang == ["zh"] and click.core._("Usage:") == "用法：" and click.exceptions._("Missing argument") == "缺少参数"
        assert click.Path(dir_okay=False).name == "file" and click.core._("Show this message and exit.") == "Show this message and exit."
    assert lang == ["en"] and click.core._ is gettext.gettext and click.exceptions.ngettext is gettext.ngettext
