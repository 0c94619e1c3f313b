""".itsmlint.yaml (engine/lint/config.py) and the SARIF details the goldens do not pin."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.lint import LintConfig, lint_paths
from engine.lint.config import _glob, find_config, load_config
from engine.lint.finding import Finding
from engine.lint.formatters import Report, render
from engine.lint.registry import all_rules

CASES = Path(__file__).resolve().parent / "cases"
BASE = CASES / "_base"


def write_config(folder: Path, text: str) -> LintConfig:
    (folder / ".itsmlint.yaml").write_text(text, encoding="utf-8")
    return load_config(folder / ".itsmlint.yaml", ".itsmlint.yaml")


@pytest.mark.parametrize("pattern, path, matches", [
    ("codes/*.yaml", "codes/sla.yaml", True),
    ("codes/*.yaml", "codes/sub/sla.yaml", False),
    ("codes/*.yaml", "processes/incident.yaml", False),
    ("**/*.yaml", "codes/sla.yaml", True),
    ("**/*.yaml", "top.yaml", True),
    ("processes/**", "processes/a/b.yaml", True),
    ("processes/incident.yaml", "processes/incident.yaml", True),
    ("processes/incident?.yaml", "processes/incident2.yaml", True),
    ("processes/[ab].yaml", "processes/a.yaml", False),  # brackets are literal
])
def test_globs(pattern: str, path: str, matches: bool) -> None:
    assert bool(_glob(pattern).match(path)) is matches


def test_later_settings_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, """\
rules: {Y003: error}
overrides:
  - files: [codes/*.yaml]
    rules: {yaml11-trap: off}
  - files: codes/sla.yaml
    rules: {Y003: info}
""")
    found = [Finding(file, 1, 1, "Y003", "yaml11-trap", "warning", "m")
             for file in ("processes/incident.yaml", "codes/urgency.yaml", "codes/sla.yaml")]
    assert [(f.file, f.severity) for f in config.apply(found)] == [
        ("processes/incident.yaml", "error"), ("codes/sla.yaml", "info")]


def test_globs_are_relative_to_the_configuration(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    config = write_config(repo, "overrides: [{files: [codes/*.yaml], rules: {Y003: off}}]\n")
    monkeypatch.chdir(tmp_path)  # findings are shown relative to here: repo/codes/...
    found = [Finding("repo/codes/sla.yaml", 1, 1, "Y003", "yaml11-trap", "warning", "m")]
    assert config.apply(found) == []


def test_presets() -> None:
    rules = {r.id: r for r in all_rules()}
    info = [r for r in rules.values() if r.severity == "info" and not r.recommended]
    p001 = Finding("p.yaml", 1, 1, "P001", "guidelines", "error", "m")
    for r in info:  # the recommended preset leaves them out, all reports them
        f = Finding("p.yaml", 1, 1, r.id, r.slug, "info", "m")
        assert LintConfig().apply([f]) == [] and LintConfig("all").apply([f]) == [f]
    l002 = Finding("p.yaml", 1, 1, "L002", "unused-suppression", "info", "m")
    assert LintConfig().apply([l002]) == [l002]  # info, but recommended
    assert LintConfig("guidelines").apply([p001]) == [p001]
    assert LintConfig("guidelines").policies == ("guidelines",) and LintConfig().policies == ()


def test_the_guidelines_preset_applies_the_policy_to_every_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(BASE, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    assert lint_paths([tmp_path], LintConfig()).findings == []  # _base declares no policy
    found = lint_paths([tmp_path], LintConfig("guidelines")).findings
    assert {f.rule for f in found} == {"P001"}
    # the policy rule set to off: nothing, even under the guidelines preset
    quiet = write_config(tmp_path, "extends: guidelines\nrules: {guidelines: off}\n")
    assert lint_paths([tmp_path], quiet).findings == []


def test_find_config_stops_at_the_repository(tmp_path: Path) -> None:
    (tmp_path / ".itsmlint.yaml").write_text("extends: all\n", encoding="utf-8")
    repo = tmp_path / "repo"
    shutil.copytree(BASE, repo)
    assert find_config(repo) is None  # the file above the repository is not its own
    assert find_config(repo / "processes" / "incident.yaml") is None
    (repo / ".itsmlint.yaml").write_text("extends: all\n", encoding="utf-8")
    assert find_config(repo / "processes" / "incident.yaml") == (repo / ".itsmlint.yaml").resolve()
    assert find_config(repo / "codes") == (repo / ".itsmlint.yaml").resolve()


def test_an_empty_configuration_is_the_default(tmp_path: Path) -> None:
    config = write_config(tmp_path, "# nothing yet\n")
    assert (config.extends, dict(config.rules), config.overrides) == ("recommended", {}, ())


def test_usage_error_carries_the_position(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        write_config(tmp_path, "extends: all\nrules:\n  Y003: loud\n")
    assert (info.value.details["file"], info.value.details["line"], info.value.details["column"]) \
        == (".itsmlint.yaml", 3, 9)
    assert int(info.value.exit_code) == 2


def test_sarif_suppressions_and_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.lint.suppressions import Suppressed

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()  # the source root: uris are relative to the work tree
    repo = tmp_path / "defs"
    shutil.copytree(BASE, repo)
    finding = Finding("defs/processes/incident.yaml", 3, 10, "Y003", "yaml11-trap", "warning", "m")
    crash = Finding("<lint>", 1, 1, "G002", "unreachable-state", "error", "rule crashed: boom")
    db = Finding("defs/processes/incident.yaml", 1, 1, "D001", "stranded-ticket", "error", "2 open")
    report = Report([crash, db], [Suppressed(finding, "legacy importer", 3, 15)], root=tmp_path)
    log = json.loads(render("sarif", report))
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["Y003", "G002", "D001"]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert by_rule["G002"]["locations"] == []
    assert by_rule["D001"]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "defs/processes/incident.yaml", "uriBaseId": "%SRCROOT%"}
    sup = by_rule["Y003"]["suppressions"]
    assert sup[0]["kind"] == "inSource" and sup[0]["justification"] == "legacy importer"
    assert sup[0]["location"]["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 15}
    rule = run["tool"]["driver"]["rules"][0]
    assert rule["name"] == "yaml11-trap" and rule["helpUri"] == "docs/lint-rules.md#y003-yaml11-trap"
    assert rule["defaultConfiguration"] == {"level": "warning"}
    assert "Bad:" in rule["help"]["markdown"] and "```yaml" in rule["help"]["markdown"]
    import jsonschema

    schema = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(log)


def test_the_text_format_lists_suppressed_findings_only_when_asked() -> None:
    from engine.lint.suppressions import Suppressed

    kept = Finding("p.yaml", 9, 1, "R001", "undefined-reference", "error", "undefined state 'x'")
    hidden = Suppressed(Finding("p.yaml", 3, 10, "Y003", "yaml11-trap", "warning", "m"), "why", 3, 15)
    assert render("text", Report([kept], [hidden])) == \
        "p.yaml:9:1: error [R001 undefined-reference] undefined state 'x'\n"
    assert render("text", Report([kept], [hidden], report_suppressed=True)) == (
        "p.yaml:3:10: suppressed warning [Y003 yaml11-trap] m (reason: why)\n"
        "p.yaml:9:1: error [R001 undefined-reference] undefined state 'x'\n")
    assert json.loads(render("json", Report([kept], [hidden])))[0]["rule"] == "R001"
    listed = json.loads(render("json", Report([kept], [hidden], report_suppressed=True)))
    assert listed[0]["suppression"] == {"reason": "why", "line": 3, "column": 15}
    assert "suppression" not in listed[1]
