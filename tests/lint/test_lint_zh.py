"""``itsm --lang zh lint`` is Chinese (#23): every finding of every golden case
(tests/lint/cases), the suppressed ones, the text format's words and the summary,
with rule ids, slugs, paths and the definitions' own values as they are.  JSON keeps
the English ``message`` and adds ``message_zh``; SARIF results are in the language asked for."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from engine.i18n import catalogue
from tests.lint.test_golden import build_case, case_names

# what a finding quotes from the definitions (ids, values, expressions, paths, durations as
# written), the rule's id and slug, and the reason a person wrote for a suppression
DATA = re.compile(r"（理由：.*）$|\[[A-Z]\d{3} [a-z0-9-]+\]|'[^']*'|\"[^\"]*\"|\S*/\S*|\S+\.\S+|--[a-z-]+"
                  r"|\b\w+_\w+\b|itsm [a-z]+|[A-Z]+-\d+")


def _english(line: str, written: list[str]) -> bool:
    """Two English words in a row (a sentence, not an id or a list of ids), once data (what
    the definitions say: ``written``, longest first) is taken out."""
    for text in written:
        line = line.replace(text, " ")
    return re.search(r"\b[A-Za-z]{2,} [A-Za-z]{2,}\b", DATA.sub(" ", line)) is not None


def _written(folder: Path) -> list[str]:
    """Every text of more than one word the definitions of a case hold (expressions,
    durations, names), longest first."""
    import yaml

    out: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(k)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str) and " " in node.strip():  # one word alone is no sentence
            out.add(node)

    for path in folder.rglob("*.yaml"):
        try:
            walk(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
    return sorted(out, key=len, reverse=True)


def _lint(path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    cwd = os.getcwd()
    os.chdir(path)
    try:
        result = CliRunner().invoke(cli.main, list(args), env=env, catch_exceptions=False)
    finally:
        os.chdir(cwd)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[str]]]:
    out = {}
    for name in case_names():
        folder = tmp_path_factory.mktemp(name)
        out[name] = (folder, build_case(name, folder))
    return out


@pytest.fixture(scope="module")
def zh_output(cases: dict[str, tuple[Path, list[str]]]) -> dict[str, tuple[int, str, str]]:
    return {name: _lint(folder, "--lang", "zh", "lint", *args, "--report-suppressed", "--no-snippets")
            for name, (folder, args) in cases.items()}


def _fixed_parts(msgid: str) -> list[str]:
    """The words of an English msgid between its placeholders: a part of three words or
    more in a Chinese output is a sentence left untranslated."""
    return [p.strip() for p in re.split(r"\{[^}]*\}", msgid) if len(p.split()) >= 3]


def test_every_finding_and_summary_is_chinese(cases: dict[str, tuple[Path, list[str]]],
                                              zh_output: dict[str, tuple[int, str, str]]) -> None:
    written = {name: _written(folder) for name, (folder, _) in cases.items()}
    english = [f"{name}: {line}" for name, (_, out, err) in zh_output.items()
               for line in (out + err).splitlines() if _english(line, written[name])]
    assert not english, "\n".join(english)
    msgids = [m for m in catalogue("zh")._catalog if isinstance(m, str) and m]  # type: ignore[attr-defined]
    parts = {p for m in msgids for p in _fixed_parts(m)}
    left = [f"{name}: {p!r}" for name, (_, out, err) in zh_output.items() for p in parts if p in out + err]
    assert not left, "\n".join(left)
    for name, (code, out, err) in zh_output.items():
        assert code == 1 and out, name  # every case has findings, said in Chinese
        assert re.search(r"^\d+ 个错误、\d+ 个警告(、\d+ 个已抑制)?$", err, re.M), (name, err)
        for line in out.splitlines():
            assert re.match(r"^\S+:\d+:\d+: (已抑制的)?(错误|警告|提示) \[[A-Z]\d{3} [a-z0-9-]+\] \S", line), line
    suppressed = zh_output["suppressions_reported"][1]
    assert "已抑制的警告 [Y003 yaml11-trap] 值 '010' 在 YAML 1.1 中是八进制数" in suppressed
    assert "（理由：the old tool's importer reads the version as written）" in suppressed


def test_itsm_lang_json_and_sarif(cases: dict[str, tuple[Path, list[str]]]) -> None:
    folder, args = cases["undefined_state"]
    code, out, err = _lint(folder, "lint", *args, env={"ITSM_LANG": "zh"})
    assert code == 1 and "错误 [R001 undefined-reference] 未定义的状态 'nwe'" in out and "1 个错误、0 个警告" in err
    code, out, _ = _lint(folder, "lint", *args, "--format", "json", env={"ITSM_LANG": "zh"})
    [finding] = json.loads(out)
    assert finding["message"] == "undefined state 'nwe'" and finding["message_zh"] == "未定义的状态 'nwe'"
    assert finding["severity"] == "error" and finding["rule"] == "R001"  # data stays as it is
    english = json.loads(_lint(folder, "lint", *args, "--format", "json", env={"ITSM_LANG": "en"})[1])
    assert "message_zh" not in english[0] and english[0]["message"] == "undefined state 'nwe'"
    code, out, _ = _lint(folder, "--lang", "zh", "lint", *args, "--format", "sarif")
    [result] = json.loads(out)["runs"][0]["results"]
    assert result["message"]["text"] == "未定义的状态 'nwe'" and result["level"] == "error"
    code, out, _ = _lint(folder, "--lang", "zh", "lint", *args, "--format", "github")
    assert out.startswith("::error file=processes/incident.yaml,") and out.endswith("::未定义的状态 'nwe'\n")


def test_version_findings_are_chinese(tmp_path: Path) -> None:
    """D003 (``--against``): the sentence, the earlier version's name and the changes' kinds."""
    build_case("undefined_state", tmp_path / "old")
    build_case("undefined_state", tmp_path / "new")
    process = tmp_path / "new" / "processes" / "incident.yaml"
    process.write_text(process.read_text(encoding="utf-8").replace("nwe", "new").replace("  start:", "  begin:"),
                       encoding="utf-8")
    code, out, err = _lint(tmp_path / "new", "--lang", "zh", "lint", "--against", "../old", ".")
    assert code == 1 and "错误 [D003 version-not-bumped] 流程 'incident' 声明 version: 1，但其内容与" in out
    assert "中的版本 1 不同：+ 动作 begin、- 动作 start；请把 'version:' 提升到 2" in out
    assert not _english(out, []) and err == "1 个错误、0 个警告\n"
