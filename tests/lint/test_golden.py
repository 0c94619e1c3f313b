"""Golden files of ``itsm lint`` output for a corpus of broken definitions.

Each directory under ``tests/lint/cases/`` (except ``_base``) is one case:

- the files it holds (``processes/…``, ``codes/…``, any other file) are laid over a
  copy of ``cases/_base`` (a minimal, clean process repository) in a temp dir;
- ``_remove`` (optional) lists paths, one a line, deleted from that copy;
- ``_args`` (optional) holds the ``itsm lint`` arguments (default ``.``);
- ``expected.txt`` is the exact stdout of ``itsm lint ARGS`` run with the copy as
  the current directory, so paths are relative to the case root;
- ``expected.json`` (a few cases) is the stdout of ``itsm lint ARGS --format json``.

Regenerate the goldens after an intended change of lint output with::

    ITSM_UPDATE_GOLDENS=1 .venv/bin/python -m pytest tests/lint/test_golden.py

(to add ``expected.json`` to a case, create the file empty first), then read every
changed golden: it must report the intended rule at the intended line and column.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli

CASES = Path(__file__).resolve().parent / "cases"
BASE = CASES / "_base"
REPO = Path(__file__).resolve().parents[2]
UPDATE = os.environ.get("ITSM_UPDATE_GOLDENS") == "1"
CONTROL_FILES = {"expected.txt", "expected.json", "_remove", "_args"}

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


def test_json_and_text_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every JSON golden holds the same findings as the text golden of its case."""
    import json

    names = [n for n in case_names() if (CASES / n / "expected.json").exists()]
    assert len(names) >= 3
    for name in names:
        findings = json.loads((CASES / name / "expected.json").read_text(encoding="utf-8"))
        as_text = "".join(f"{f['file']}:{f['line']}:{f['column']}: {f['severity']} "
                          f"[{f['rule']} {f['slug']}] {f['message']}\n" for f in findings)
        assert as_text == (CASES / name / "expected.txt").read_text(encoding="utf-8"), name


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
