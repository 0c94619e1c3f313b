"""The layering rules of design section 2, checked by reading the source.

Each third-party library lives behind one module (or package); nothing under
``engine/`` imports click; ``engine.model`` and ``engine.errors`` use only the
standard library; and the quick commands (``--help``, ``--version``) stay quick by
not importing the heavy libraries at all.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ENGINE = REPO / "engine"


@dataclass(frozen=True)
class Import:
    file: str  # posix path relative to the repository, e.g. engine/loader.py
    line: int
    module: str  # absolute dotted name

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: imports {self.module}"


def _package_of(rel: str) -> list[str]:
    parts = rel[:-3].split("/")
    return parts[:-1]  # engine/lint/rules/x.py -> [engine, lint, rules]


def imports_of(path: Path, rel: str | None = None) -> list[Import]:
    """Every module a file imports, also inside functions, relative imports made
    absolute, and ``importlib.import_module("...")`` / ``__import__("...")`` with a
    literal name.  ``rel`` is the file's path in the repository (posix)."""
    rel = rel or path.relative_to(REPO).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    out: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(Import(rel, node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(rel)  # for __init__.py: the package itself
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
                if not node.module:  # from . import x: each name may be a module
                    out.extend(Import(rel, node.lineno, f"{module}.{a.name}") for a in node.names)
                    continue
            else:
                module = node.module or ""
            out.append(Import(rel, node.lineno, module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name in ("import_module", "__import__"):
                out.append(Import(rel, node.lineno, node.args[0].value))
    return out


def python_files() -> list[Path]:
    files = sorted(ENGINE.rglob("*.py")) + sorted((REPO / "cli").rglob("*.py"))
    return [f for f in files if "__pycache__" not in f.parts]


@pytest.fixture(scope="module")
def all_imports() -> list[Import]:
    found: list[Import] = []
    for f in python_files():
        found.extend(imports_of(f))
    return found


# library -> where it may be imported (a file, or a folder ending in "/")
ALLOWED_HOMES = {
    "yaml": ("engine/definitions/loader.py",),
    "jsonschema": ("engine/definitions/validate.py",),
    "referencing": ("engine/definitions/validate.py",),
    "transitions": ("engine/runtime/machine.py",),
    "sqlalchemy": ("engine/store/",),
    "alembic": ("engine/store/",),
    "psycopg": ("engine/store/",),
    "orjson": ("engine/store/db.py",),  # the JSON columns' text
    "jinja2": ("engine/definitions/expressions.py", "engine/notify/", "engine/reports/", "engine/web/"),
    # the web application (itsm serve): only under engine/web/
    "fastapi": ("engine/web/",),
    "starlette": ("engine/web/",),
    "pydantic": ("engine/web/",),
    "uvicorn": ("engine/web/",),
}


def _allowed(file: str, homes: tuple[str, ...]) -> bool:
    return any(file.startswith(h) if h.endswith("/") else file == h for h in homes)


def test_the_source_is_found(all_imports: list[Import]) -> None:
    files = {i.file for i in all_imports}
    assert {"cli/app.py", "cli/tickets.py", "engine/definitions/loader.py", "engine/definitions/validate.py",
            "engine/definitions/expressions.py"} <= files
    assert any(i.module == "yaml" for i in all_imports if i.file == "engine/definitions/loader.py")


@pytest.mark.parametrize("library", sorted(ALLOWED_HOMES))
def test_library_lives_behind_one_module(library: str, all_imports: list[Import]) -> None:
    homes = ALLOWED_HOMES[library]
    wrong = [str(i) for i in all_imports if i.top == library and not _allowed(i.file, homes)]
    assert not wrong, (f"{library} may only be imported in {', '.join(homes)} "
                       f"(design section 2):\n" + "\n".join(wrong))


def test_engine_never_imports_click(all_imports: list[Import]) -> None:
    wrong = [str(i) for i in all_imports if i.top == "click" and i.file.startswith("engine/")]
    assert not wrong, "engine/ is a library: click belongs in cli/ only\n" + "\n".join(wrong)


@pytest.mark.parametrize("module", ["engine/model.py", "engine/errors.py"])
def test_model_and_errors_use_only_the_standard_library(module: str) -> None:
    allowed_own = {"engine", "engine.model", "engine.errors"}
    wrong = [str(i) for i in imports_of(REPO / module)
             if i.top not in sys.stdlib_module_names and i.module not in allowed_own]
    assert not wrong, (f"{module} may import only the standard library "
                       "(and engine.model / engine.errors):\n" + "\n".join(wrong))


def test_the_import_reader_sees_every_kind_of_import(tmp_path: Path) -> None:
    # a self-check of imports_of(), so the rules above cannot pass by not seeing imports
    source = tmp_path / "x.py"
    source.write_text(
        "import yaml as y, os.path\n"
        "from . import sibling\n"
        "from ..errors import ItsmError\n"
        "def f():\n"
        "    from sqlalchemy import text\n"
        "    import importlib\n"
        "    return importlib.import_module('jinja2'), __import__('click')\n", encoding="utf-8")
    found = {(i.line, i.module) for i in imports_of(source, "engine/lint/x.py")}
    assert found == {(1, "yaml"), (1, "os.path"), (2, "engine.lint.sibling"),
                     (3, "engine.errors"), (5, "sqlalchemy"), (6, "importlib"),
                     (7, "jinja2"), (7, "click")}
    init = {i.module for i in imports_of(source, "engine/lint/__init__.py")}
    assert "engine.lint.sibling" in init and "engine.errors" in init


HEAVY = ("sqlalchemy", "jinja2", "jsonschema", "fastapi", "uvicorn")
PROBE = """
import sys
sys.argv = ["itsm", *sys.argv[1:]]
import cli
try:
    cli.main()
except SystemExit:
    pass
print("HEAVY=" + ",".join(sorted({m.split('.')[0] for m in sys.modules} & set(%r))))
""" % (HEAVY,)


def heavy_imported_by(argv: list[str], cwd: Path) -> str:
    """The heavy libraries ``itsm ARGV`` has imported when it finishes."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("HEAVY="), proc.stdout + proc.stderr
    return last[len("HEAVY="):]


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["lint", "--help"]],
                         ids=["help", "version", "lint-help"])
def test_quick_commands_do_not_import_heavy_libraries(argv: list[str], tmp_path: Path) -> None:
    heavy = heavy_imported_by(argv, tmp_path)
    assert heavy == "", (f"itsm {' '.join(argv)} imported {heavy}: import heavy libraries "
                         "inside the commands that need them (design section 2)")


def test_the_heavy_import_probe_sees_imports(tmp_path: Path) -> None:
    # the positive control: linting a repository does validate with jsonschema
    import shutil

    shutil.copytree(REPO / "tests" / "lint" / "cases" / "_base", tmp_path, dirs_exist_ok=True)
    assert "jsonschema" in heavy_imported_by(["lint", "."], tmp_path).split(",")


def test_lint_does_not_import_the_store(tmp_path: Path) -> None:
    """Design section 2: ``itsm lint`` must not import SQLAlchemy."""
    import shutil

    shutil.copytree(REPO / "tests" / "lint" / "cases" / "_base", tmp_path, dirs_exist_ok=True)
    assert "sqlalchemy" not in heavy_imported_by(["lint", "."], tmp_path).split(",")
