"""Golden files of ``itsm lint`` output for a corpus of broken definitions.

Each directory under ``tests/lint/cases/`` (except ``_base``) is one case:

- the files it holds (``processes/…``, ``codes/…``, any other file) are laid over a
  copy of ``cases/_base`` (a minimal, clean process repository) in a temp dir;
- ``_remove`` (optional) lists paths, one a line, deleted from that copy;
- ``_args`` (optional) holds the ``itsm lint`` arguments (default ``.``);
- ``expected.txt`` is the exact stdout of ``itsm lint ARGS`` run with the copy as
  the current directory, so paths are relative to the case root;
- ``expected.json`` (a few cases) is the stdout of ``itsm lint ARGS --format json``;
- ``expected.sarif.json`` (every case) is the stdout of ``itsm lint ARGS --format sarif``,
  with the driver's version written ``VERSION``; it must be valid against the SARIF 2.1.0
  schema (``tests/lint/sarif-schema-2.1.0.json``, the OASIS file, unchanged);
- ``.itsmlint.yaml`` (optional) is the case's lint configuration, found as in any
  repository.

Regenerate the goldens after an intended change of lint output with::

    ITSM_UPDATE_GOLDENS=1 .venv/bin/python -m pytest tests/lint/test_golden.py

(to add ``expected.json`` to a case, create the file empty first), then read every
changed golden: it must report the intended rule at the intended line and column.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from engine import __version__

CASES = Path(__file__).resolve().parent / "cases"
BASE = CASES / "_base"
REPO = Path(__file__).resolve().parents[2]
UPDATE = os.environ.get("ITSM_UPDATE_GOLDENS") == "1"
CONTROL_FILES = {"expected.txt", "expected.json", "expected.sarif.json", "_remove", "_args"}
SARIF_SCHEMA = Path(__file__).resolve().parent / "sarif-schema-2.1.0.json"

# these run through the installed ``itsm`` script in a real process
SUBPROCESS_CASES = {"yaml_syntax", "missing_code_table", "undeclared_name", "not_utf8"}


def case_names() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if p.is_dir() and not p.name.startswith("_"))


def build_case(name: str, dest: Path) -> list[str]:
    """Lay the case over a copy of _base in ``dest``; return the lint arguments."""
    shutil.copytree(BASE, dest, dirs_exist_ok=True)
    case = CASES / name
    for src in sorted(case.rglob("*")):
        rel = src.relative_to(case)
        if src.is_dir() or rel.as_posix() in CONTROL_FILES:
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    remove = case / "_remove"
    if remove.exists():
        for line in remove.read_text(encoding="utf-8").splitlines():
            if line.strip():
                (dest / line.strip()).unlink()
    args = case / "_args"
    return args.read_text(encoding="utf-8").split() if args.exists() else ["."]


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def describe(self, argv: list[str]) -> str:
        return (f"itsm {' '.join(argv)} -> exit {self.exit_code}\n--- stdout ---\n{self.stdout}"
                f"--- stderr ---\n{self.stderr}")


def itsm_script() -> str:
    beside = Path(sys.executable).parent / "itsm"
    return str(beside) if beside.exists() else (shutil.which("itsm") or str(beside))


def run_lint(argv: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch,
             subprocess_: bool = False) -> Run:
    if subprocess_:
        proc = subprocess.run([itsm_script(), *argv], cwd=cwd, capture_output=True, text=True,
                              encoding="utf-8", timeout=120)
        return Run(proc.returncode, proc.stdout, proc.stderr)
    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(cli.main, argv, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"lint raised {result.exception!r}") from result.exception
    return Run(result.exit_code, result.stdout, result.stderr)


def check_golden(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"no golden {path}: run with ITSM_UPDATE_GOLDENS=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, (
        f"lint output differs from {path.relative_to(REPO)}\n--- expected ---\n{expected}"
        f"--- actual ---\n{actual}")


@pytest.mark.parametrize("name", case_names())
def test_case_text(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_case(name, tmp_path)
    run = run_lint(["lint", *args], tmp_path, monkeypatch, subprocess_=name in SUBPROCESS_CASES)
    detail = run.describe(["lint", *args])
    assert "Traceback" not in run.stdout + run.stderr, detail
    assert run.exit_code == 1, detail
    assert run.stdout.strip(), f"a broken case must report something\n{detail}"
    check_golden(CASES / name / "expected.txt", run.stdout)


@pytest.mark.parametrize("name", [n for n in case_names() if (CASES / n / "expected.json").exists()])
def test_case_json(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_case(name, tmp_path)
    run = run_lint(["lint", *args, "--format", "json"], tmp_path, monkeypatch,
                   subprocess_=name in SUBPROCESS_CASES)
    detail = run.describe(["lint", *args, "--format", "json"])
    assert "Traceback" not in run.stdout + run.stderr, detail
    assert run.exit_code == 1, detail
    assert run.stderr == "", f"--format json writes nothing but JSON\n{detail}"
    check_golden(CASES / name / "expected.json", run.stdout)


def text_line(file: str, line: int, column: int, severity: str, rule: str, slug: str,
              message: str, reason: str | None = None) -> str:
    if reason is None:
        return f"{file}:{line}:{column}: {severity} [{rule} {slug}] {message}\n"
    return f"{file}:{line}:{column}: suppressed {severity} [{rule} {slug}] {message} (reason: {reason})\n"


def golden_text_lines(name: str) -> str:
    """The finding lines of a text golden (without source snippets)."""
    text = (CASES / name / "expected.txt").read_text(encoding="utf-8")
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(" "))


def test_json_and_text_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every JSON golden holds the same findings as the text golden of its case."""
    names = [n for n in case_names() if (CASES / n / "expected.json").exists()]
    assert len(names) >= 3
    for name in names:
        findings = json.loads((CASES / name / "expected.json").read_text(encoding="utf-8"))
        as_text = "".join(text_line(f["file"], f["line"], f["column"], f["severity"], f["rule"],
                                    f["slug"], f["message"], f.get("suppression", {}).get("reason"))
                          for f in findings)
        assert as_text == golden_text_lines(name), name


def sarif_validator():  # type: ignore[no-untyped-def]
    import jsonschema

    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def check_sarif(stdout: str) -> str:
    """Validate a SARIF log against the schema; return it with the version normalised."""
    log = json.loads(stdout)
    errors = sorted(sarif_validator().iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["version"] == __version__
    driver["version"] = "VERSION"  # so that a release does not change every golden
    return json.dumps(log, ensure_ascii=False, indent=2) + "\n"


def test_the_sarif_schema_is_the_official_one_and_checks() -> None:
    """tests/lint/sarif-schema-2.1.0.json is Schemata/sarif-schema-2.1.0.json of the OASIS
    repository oasis-tcs/sarif-spec (2.1.0 errata01), byte for byte."""
    import hashlib

    digest = hashlib.sha256(SARIF_SCHEMA.read_bytes()).hexdigest()
    assert digest == "ddddcccbf95c7c50c037b5b07eff4140556278ca574ff374db46786b5fce7949"
    bad = {"version": "2.1.0", "runs": [{"tool": {"driver": {}},
                                         "results": [{"level": "fatal", "message": {}}]}]}
    problems = {e.validator for e in sarif_validator().iter_errors(bad)}
    assert {"required", "enum", "anyOf"} <= problems, problems


@pytest.mark.parametrize("name", case_names())
def test_case_sarif(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_case(name, tmp_path)
    argv = ["lint", *args, "--format", "sarif"]
    run = run_lint(argv, tmp_path, monkeypatch, subprocess_=name in SUBPROCESS_CASES)
    detail = run.describe(argv)
    assert "Traceback" not in run.stdout + run.stderr, detail
    assert run.exit_code == 1, detail
    assert run.stderr == "", f"--format sarif writes nothing but SARIF\n{detail}"
    check_golden(CASES / name / "expected.sarif.json", check_sarif(run.stdout))


def test_sarif_and_text_agree() -> None:
    """Every SARIF golden holds the findings of the text golden of its case (and the
    suppressed ones, which text lists with --report-suppressed only)."""
    level = {"error": "error", "warning": "warning", "note": "info"}
    for name in case_names():
        path = CASES / name / "expected.sarif.json"
        if not path.exists():
            continue
        run = json.loads(path.read_text(encoding="utf-8"))["runs"][0]
        rules = run["tool"]["driver"]["rules"]
        args = (CASES / name / "_args").read_text(encoding="utf-8").split() \
            if (CASES / name / "_args").exists() else []
        lines = []
        for r in run["results"]:
            assert rules[r["ruleIndex"]]["id"] == r["ruleId"], name
            reason = r["suppressions"][0]["justification"] if "suppressions" in r else None
            if reason is not None and "--report-suppressed" not in args:
                continue
            if r["locations"]:
                loc = r["locations"][0]["physicalLocation"]
                file = loc["artifactLocation"]["uri"]
                line, column = loc["region"]["startLine"], loc["region"]["startColumn"]
            else:
                file, line, column = "<lint>", 1, 1
            lines.append(text_line(file, line, column, level[r["level"]], r["ruleId"],
                                   rules[r["ruleIndex"]]["name"], r["message"]["text"], reason))
        assert "".join(lines) == golden_text_lines(name), name


@pytest.mark.parametrize("level, code", [("info", 1), ("warning", 1), ("error", 0)])
def test_fail_level_with_warnings_only(level: str, code: int, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_case("yaml11_trap", tmp_path)
    golden = (CASES / "yaml11_trap" / "expected.txt").read_text(encoding="utf-8")
    assert " warning [" in golden and " error [" not in golden
    run = run_lint(["lint", *args, "--fail-level", level], tmp_path, monkeypatch)
    assert run.exit_code == code, run.describe(["lint", *args, "--fail-level", level])
    assert run.stdout == golden  # the findings are printed whatever the level


def test_every_rule_has_a_golden_case() -> None:
    from engine.lint.registry import all_rules

    reported = "".join((CASES / n / "expected.txt").read_text(encoding="utf-8")
                       for n in case_names() if (CASES / n / "expected.txt").exists())
    missing = [r.id for r in all_rules() if f"[{r.id} {r.slug}]" not in reported]
    assert not missing, f"no golden case reports rule(s) {missing}"


@pytest.mark.parametrize("via_subprocess", [False, True], ids=["clirunner", "subprocess"])
def test_base_is_clean(via_subprocess: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(BASE, tmp_path, dirs_exist_ok=True)
    run = run_lint(["lint", "."], tmp_path, monkeypatch, subprocess_=via_subprocess)
    assert (run.exit_code, run.stdout, run.stderr) == (0, "", ""), \
        "tests/lint/cases/_base must lint clean\n" + run.describe(["lint", "."])


def test_shipped_repository_is_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    run = run_lint(["lint", "."], REPO, monkeypatch)
    assert run.exit_code == 0 and run.stdout == "", (
        "the shipped definitions (processes/, codes/ at the repository root) must lint "
        "clean; fix the definitions, not this test\n" + run.describe(["lint", "."]))


@pytest.mark.parametrize("preset", ["recommended", "all", "guidelines"])
def test_shipped_repository_is_clean_at_every_preset(preset: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The strictest presets too: ``all`` (info rules included) and ``guidelines``."""
    config = tmp_path / "strict.yaml"
    config.write_text(f"extends: {preset}\n", encoding="utf-8")
    argv = ["lint", ".", "--config", str(config)]
    run = run_lint(argv, REPO, monkeypatch)
    assert (run.exit_code, run.stdout) == (0, ""), (
        f"the shipped definitions must lint clean with 'extends: {preset}'\n" + run.describe(argv))
    sarif = run_lint([*argv, "--format", "sarif"], REPO, monkeypatch)
    assert sarif.exit_code == 0 and json.loads(check_sarif(sarif.stdout))["runs"][0]["results"] == []


@pytest.mark.parametrize("extra, code", [
    ([], 1),  # default --fail-level info: the warnings fail
    (["--fail-level", "error"], 0),
    (["--fail-level", "error", "--max-warnings", "2"], 0),  # 2 warnings, not more than 2
    (["--fail-level", "error", "--max-warnings", "1"], 1),
    (["--fail-level", "error", "--max-warnings", "0"], 1),
])
def test_max_warnings(extra: list[str], code: int, tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_case("yaml11_trap", tmp_path)
    golden = (CASES / "yaml11_trap" / "expected.txt").read_text(encoding="utf-8")
    assert golden.count(" warning [") == 2 and " error [" not in golden
    run = run_lint(["lint", *args, *extra], tmp_path, monkeypatch)
    assert run.exit_code == code, run.describe(["lint", *args, *extra])
    assert run.stdout == golden
    if code and "--max-warnings" in extra:
        assert "more than --max-warnings" in run.stderr


def test_max_warnings_must_be_a_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(BASE, tmp_path, dirs_exist_ok=True)
    run = run_lint(["lint", ".", "--max-warnings", "-1"], tmp_path, monkeypatch)
    assert run.exit_code == 2, run.describe(["lint", ".", "--max-warnings", "-1"])


@pytest.mark.parametrize("config, message", [
    ("extends: strict\n", ".itsmlint.yaml:1:10: unknown preset 'strict': use one of recommended, all, guidelines"),
    ("rules:\n  R999: off\n", ".itsmlint.yaml:2:3: unknown rule 'R999'"),
    ("rules:\n  yaml11-trap: fatal\n", ".itsmlint.yaml:2:16: yaml11-trap: severity must be one of off, error, warning, info, not 'fatal'"),
    ("ruels: {}\n", ".itsmlint.yaml:1:1: unknown key 'ruels': allowed keys are extends, rules, overrides"),
    ("overrides:\n  - files: [codes/*.yaml]\n", ".itsmlint.yaml:2:5: an override needs rules"),
    ("overrides:\n  - rules: {Y003: off}\n", ".itsmlint.yaml:2:5: an override needs files"),
    ("overrides: {files: x}\n", ".itsmlint.yaml:1:12: overrides is a list"),
    ("extends: all\nextends: guidelines\n", ".itsmlint.yaml:2:1: duplicate key 'extends'"),
    ("rules: {Y003: off\n", ".itsmlint.yaml:2:1: YAML syntax error"),
])
def test_a_bad_configuration_is_a_usage_error(config: str, message: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(BASE, tmp_path, dirs_exist_ok=True)
    (tmp_path / ".itsmlint.yaml").write_text(config, encoding="utf-8")
    for fmt in ("text", "sarif"):
        run = run_lint(["lint", ".", "--format", fmt], tmp_path, monkeypatch)
        assert run.exit_code == 2, run.describe(["lint", ".", "--format", fmt])
        assert run.stdout == "" and run.stderr.startswith(f"itsm: {message}"), run.stderr


def test_config_option_and_a_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_case("yaml11_trap", tmp_path / "repo")
    (tmp_path / "quiet.yaml").write_text("rules: {Y003: off}\n", encoding="utf-8")
    run = run_lint(["lint", *args, "--config", "../quiet.yaml"], tmp_path / "repo", monkeypatch)
    assert (run.exit_code, run.stdout) == (0, ""), run.describe(["lint", *args])
    # the globs of a --config file are relative to the repository linted, not to the file
    (tmp_path / "auditor").mkdir()
    (tmp_path / "auditor" / "strict.yaml").write_text(
        "overrides: [{files: [processes/*.yaml], rules: {Y003: off}}]\n", encoding="utf-8")
    run = run_lint(["lint", "repo", "--config", "auditor/strict.yaml"], tmp_path, monkeypatch)
    assert (run.exit_code, run.stdout) == (0, ""), run.describe(["lint", "repo"])
    run = run_lint(["lint", *args, "--config", "nowhere.yaml"], tmp_path / "repo", monkeypatch)
    assert run.exit_code == 2 and "nowhere.yaml: lint configuration not found" in run.stderr


def test_snippets_only_when_asked_or_on_a_terminal(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_case("snippets", tmp_path)
    plain = (CASES / "undefined_state" / "expected.txt").read_text(encoding="utf-8")
    assert run_lint(["lint", "."], tmp_path, monkeypatch).stdout == plain  # not a terminal
    shown = run_lint(["lint", *args], tmp_path, monkeypatch).stdout
    assert shown == (CASES / "snippets" / "expected.txt").read_text(encoding="utf-8")
    assert run_lint(["lint", *args, "--no-snippets"], tmp_path, monkeypatch).stdout == plain
    finding, source, caret = shown.splitlines()
    assert finding == plain.strip()
    column = int(finding.split(":")[2])
    bar = source.index("|") + 2
    assert caret.index("^") - bar == column - 1 and source[bar + column - 1:].startswith("nwe")
