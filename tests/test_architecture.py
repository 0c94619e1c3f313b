"""The layering rules of design section 2, checked by reading the source.

Each third-party library lives behind one module (or package); nothing under
``engine/`` imports click; ``engine.model`` and ``engine.errors`` use only the
standard library; the quick commands (``--help``, ``--version``) stay quick by
not importing the heavy libraries at all.

The engine is made of parts (docs/architecture.md): each says in its docstring
what it may import (a line ``May import: ...``), and imports nothing else of the
project; the parts form no circle, and neither do the modules, counting imports
made inside functions and only for type checking.
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


def imports_of(path: Path, rel: str | None = None, root: Path = REPO) -> list[Import]:
    """Every module a file imports, also inside functions and ``if TYPE_CHECKING:``,
    relative imports made absolute, and ``importlib.import_module("...")`` /
    ``__import__("...")`` with a literal name.  ``from package import name`` counts
    as an import of ``package.name`` when that is a module of the project under
    ``root``, else of ``package``.  ``rel`` is the file's path under ``root`` (posix)."""
    rel = rel or path.relative_to(root).as_posix()
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
            subs = [f"{module}.{a.name}" for a in node.names if _is_project_module(root, f"{module}.{a.name}")]
            if subs and len(subs) == len(node.names):
                out.extend(Import(rel, node.lineno, m) for m in subs)
                continue
            out.append(Import(rel, node.lineno, module))
            out.extend(Import(rel, node.lineno, m) for m in subs)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name in ("import_module", "__import__"):
                out.append(Import(rel, node.lineno, node.args[0].value))
    return out


def _is_project_module(root: Path, dotted: str) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def python_files(root: Path = REPO) -> list[Path]:
    files = sorted((root / "engine").rglob("*.py")) + [root / "cli.py", root / "entry.py"] \
        + sorted((root / "commands").rglob("*.py"))
    return [f for f in files if "__pycache__" not in f.parts and f.exists()]


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
    "cryptography": ("engine/desk/signing.py",),  # Ed25519 signatures of the journal's checkpoints
    "argon2": ("engine/desk/passwords.py",),  # password hashes (itsm user passwd, POST /api/v1/session)
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
    assert {"cli.py", "commands/tickets.py", "engine/definitions/loader.py", "engine/definitions/validate.py",
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
    assert not wrong, "engine/ is a library: click belongs in cli.py and commands/ only\n" + "\n".join(wrong)


def test_the_fast_path_never_imports_click(all_imports: list[Import]) -> None:
    """entry.py (the console script) and commands/plain.py run ``itsm --help`` and a
    remote ``itsm do`` without click (issues #18, #25): click only through cli.py."""
    fast = ("entry.py", "commands/plain.py")
    assert {i.file for i in all_imports} >= set(fast)
    wrong = [str(i) for i in all_imports if i.file in fast and (i.top == "click" or i.module == "commands.common")]
    assert not wrong, "the fast path imports click (or a module that does):\n" + "\n".join(wrong)


@pytest.mark.parametrize("module", ["engine/model.py", "engine/errors.py", "engine/i18n.py"])
def test_model_and_errors_use_only_the_standard_library(module: str) -> None:
    # engine.i18n: errors speak the reader's language; its catalogues are read with stdlib gettext
    allowed_own = {"engine", "engine.model", "engine.errors", "engine.i18n"}
    wrong = [str(i) for i in imports_of(REPO / module)
             if i.top not in sys.stdlib_module_names and i.module not in allowed_own]
    assert not wrong, (f"{module} may import only the standard library "
                       "(and engine.model / engine.errors / engine.i18n):\n" + "\n".join(wrong))


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


# --- parts and circles ------------------------------------------------------------------

GROUND_MODULES = ("__init__", "errors", "model", "journal", "i18n", "settings", "render", "limits")
TOP_MODULES = ("api", "workspace", "demo")  # engine/NAME.py, each a part of its own


def part_of(rel: str) -> str | None:
    """The part a file belongs to: ``engine/X/...`` -> X, ``engine/api.py`` -> api,
    the ground modules -> ground, ``cli.py`` and ``commands/`` -> cli, ``entry.py`` -> entry."""
    parts = rel.split("/")
    if rel == "entry.py":
        return "entry"
    if rel == "cli.py" or parts[0] == "commands":
        return "cli"
    if parts[0] != "engine":
        return None
    if len(parts) > 2:
        return parts[1]
    name = parts[1][:-3]
    if name in GROUND_MODULES:
        return "ground"
    return name if name in TOP_MODULES else None


def face_of(part: str, root: Path = REPO) -> Path:
    """The file whose docstring speaks for a part."""
    if part == "ground":
        return root / "engine" / "__init__.py"
    if part in ("cli", "entry"):
        return root / f"{part}.py"
    if part in TOP_MODULES:
        return root / "engine" / f"{part}.py"
    return root / "engine" / part / "__init__.py"


_MAY_IMPORT = "May import:"


def declared_rules(root: Path = REPO) -> dict[str, frozenset[str]]:
    """Part -> the parts its docstring says it may import (``May import: a, b.``;
    ``May import: the standard library only.`` for none)."""
    parts = {part_of(f.relative_to(root).as_posix()) for f in python_files(root)} - {None}
    rules: dict[str, frozenset[str]] = {}
    for part in sorted(p for p in parts if p):
        face = face_of(part, root)
        doc = ast.get_docstring(ast.parse(face.read_text(encoding="utf-8"))) or ""
        line = " ".join(doc[doc.find(_MAY_IMPORT):].split("\n\n")[0].split()) if _MAY_IMPORT in doc else ""
        assert line, f"{face.relative_to(root)}: the docstring of part '{part}' needs a '{_MAY_IMPORT}' line"
        listed = line[len(_MAY_IMPORT):].strip().rstrip(".")
        names = [] if listed.startswith("the standard library") else [n.strip() for n in listed.split(",")]
        rules[part] = frozenset(n.split(" ")[0] for n in names if n)
    return rules


def module_graph(root: Path = REPO) -> dict[str, set[str]]:
    """Module -> the project modules it imports (every kind of import)."""
    def name_of(f: Path) -> str:
        dotted = f.relative_to(root).as_posix()[:-3].replace("/", ".")
        return dotted[: -len(".__init__")] if dotted.endswith(".__init__") else dotted

    files = python_files(root)
    modules = {name_of(f) for f in files}
    graph: dict[str, set[str]] = {}
    for f in files:
        me = name_of(f)
        found: set[str] = set()
        for imp in imports_of(f, f.relative_to(root).as_posix(), root):
            target = imp.module
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != me:
                found.add(target)
        graph[me] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each
    as a sorted list: every import circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    found = cycles(module_graph())
    assert not found, "import circles (type-only imports count too):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_the_parts_form_no_circle() -> None:
    rules = declared_rules()
    graph = {part: set(allowed) for part, allowed in rules.items()}
    assert not cycles(graph), f"the parts' 'May import' rules form a circle: {cycles(graph)}"
    unknown = {p: sorted(a - set(rules)) for p, a in rules.items() if a - set(rules)}
    assert not unknown, f"'May import' names parts that do not exist: {unknown}"


def test_each_part_imports_only_what_it_says(all_imports: list[Import]) -> None:
    rules = declared_rules()
    wrong = []
    for imp in all_imports:
        if imp.top not in ("engine", "cli", "commands"):
            continue
        source = part_of(imp.file)
        target_file = imp.module.replace(".", "/")
        target = part_of(target_file + ".py") if (REPO / f"{target_file}.py").exists() else \
            part_of(target_file + "/__init__.py")
        if source is None or target is None or source == target:
            continue
        if target not in rules[source]:
            wrong.append(f"{imp} (part '{source}' may import: {', '.join(sorted(rules[source])) or 'nothing'})")
    assert not wrong, "imports across parts that the part's docstring does not allow:\n" + "\n".join(wrong)


# private names of third-party libraries that their documentation tells users to use
THIRD_PARTY_PROTOCOL = {"_fail_with_undefined_error"}  # jinja2.Undefined, for custom Undefined classes


def test_no_private_name_crosses_a_module() -> None:
    """A leading underscore never crosses a module boundary: no private name is
    imported from another module or used as an attribute of another object.  A
    package's private helper modules (``kpis/_scope.py``) serve their siblings only."""
    wrong = []
    for f in python_files():
        rel = f.relative_to(REPO).as_posix()
        package = ".".join(rel[:-3].split("/")[:-1])
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("engine", "commands"):
                for a in node.names:
                    sibling = node.module == package and _is_project_module(REPO, f"{node.module}.{a.name}")
                    if a.name.startswith("_") and not a.name.startswith("__") and not sibling:
                        wrong.append(f"{rel}:{node.lineno}: imports {a.name} from {node.module}")
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                    and not node.attr.startswith("__") and node.attr not in THIRD_PARTY_PROTOCOL \
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")) \
                    and not (isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "super"):
                wrong.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    assert not wrong, "private names used across modules:\n" + "\n".join(wrong)


def test_a_deliberate_cycle_is_caught(tmp_path: Path) -> None:
    """The positive control: copy the tree, make a desk module import the facade
    only for type checking (the circle this layout removed), and the checks fail."""
    import shutil

    for sub in ("engine", "commands"):
        shutil.copytree(REPO / sub, tmp_path / sub, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "cli.py", tmp_path / "cli.py")
    shutil.copy(REPO / "entry.py", tmp_path / "entry.py")
    assert cycles(module_graph(tmp_path)) == []
    views = tmp_path / "engine" / "desk" / "views.py"
    views.write_text(views.read_text(encoding="utf-8") + "\nfrom typing import TYPE_CHECKING\n"
                     "if TYPE_CHECKING:\n    from engine.api import Api\n", encoding="utf-8")
    found = cycles(module_graph(tmp_path))
    assert found and "engine.api" in found[0] and "engine.desk.views" in found[0], found
    # and a circle between two parts' rules is refused as well
    assert cycles({"desk": {"api"}, "api": {"desk"}}) == [["api", "desk"]]
