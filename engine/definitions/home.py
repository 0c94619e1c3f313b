"""Where definitions come from (design 2.1): the process repository.

A process repository is a folder with ``processes/`` and ``codes/``; ``itsm``
finds it from ``--home``, ``$ITSM_HOME``, the nearest such folder upward, else
the defaults bundled with the package.  ``itsm init`` copies those defaults into
a new repository.  (Loading and checking what a repository holds is
engine.workspace.)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from engine.errors import UsageError
from engine.i18n import N_

DEFINITION_DIRS = ("processes", "codes")


def is_repository(path: Path) -> bool:
    return (path / "processes").is_dir() and (path / "codes").is_dir()


def bundled_home() -> Path:
    """The default definitions shipped with the package."""
    engine = Path(__file__).resolve().parent.parent
    installed = engine / "defaults"
    if is_repository(installed):
        return installed
    return engine.parent  # a source checkout: the repository root


def find_home(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Path:
    """--home, else $ITSM_HOME, else the nearest folder upward with processes/ and
    codes/, else the bundled defaults."""
    for given, origin in ((explicit, "--home"), (os.environ.get("ITSM_HOME"), "ITSM_HOME")):
        if given:
            path = Path(given).expanduser()
            if not is_repository(path):
                raise UsageError(N_("{origin}: {path} is not a process repository (it needs processes/ and "
                                    "codes/ folders); create one with 'itsm init DIR'"),
                                 values={"origin": origin, "path": path})
            return path.resolve()
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if is_repository(folder):
            return folder
    return bundled_home()


def definition_files(home: Path) -> list[Path]:
    files: list[Path] = []
    for sub in DEFINITION_DIRS:
        files.extend(sorted((home / sub).glob("*.yaml")))
    return files


COPIED = ("processes", "codes", "reports")
GITIGNORE = """\
# itsm: the desk's local database and state, not process design
.itsm/
"""


def init_repository(target: Path) -> list[Path]:
    if target.exists() and not target.is_dir():
        raise UsageError(N_("{target} exists and is not a folder; choose a new folder"),
                         values={"target": target})
    if target.exists() and any(target.iterdir()):
        raise UsageError(N_("{target} exists and is not empty; choose a new folder"),
                         values={"target": target})
    source = bundled_home()
    created: list[Path] = []
    try:  # a file on the way, no permission: the user's to fix
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(N_("cannot write {path}: {error}"), values={"path": target, "error": exc}) from None
    for sub in COPIED:
        src = source / sub
        if not src.is_dir():
            continue
        shutil.copytree(src, target / sub, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        created.extend(p for p in (target / sub).rglob("*") if p.is_file())
    # schemas travel along so the $schema modelines resolve in the new repository
    schemas = Path(__file__).resolve().parent.parent / "schemas"
    shutil.copytree(schemas, target / "schemas")
    for f in (target / sub for sub in ("processes", "codes", "reports")):
        for yml in f.glob("*.yaml"):
            text = yml.read_text(encoding="utf-8")
            yml.write_text(text.replace("$schema=../engine/schemas/", "$schema=../schemas/"),
                           encoding="utf-8")
    created.extend((target / "schemas").glob("*.json"))
    ignore = target / ".gitignore"  # the desk's database and local state stay out of git
    ignore.write_text(GITIGNORE, encoding="utf-8")
    created.append(ignore)
    return created
