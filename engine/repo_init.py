"""``itsm init``: copy the bundled definitions into a new process repository."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.errors import UsageError
from engine.workspace import bundled_home

COPIED = ("processes", "codes", "reports")


def init_repository(target: Path) -> list[Path]:
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"{target} exists and is not empty; choose a new folder")
    source = bundled_home()
    created: list[Path] = []
    target.mkdir(parents=True, exist_ok=True)
    for sub in COPIED:
        src = source / sub
        if not src.is_dir():
            continue
        shutil.copytree(src, target / sub, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        created.extend(p for p in (target / sub).rglob("*") if p.is_file())
    # schemas travel along so the $schema modelines resolve in the new repository
    schemas = Path(__file__).parent / "schemas"
    shutil.copytree(schemas, target / "schemas")
    for f in (target / sub for sub in ("processes", "codes", "reports")):
        for yml in f.glob("*.yaml"):
            text = yml.read_text(encoding="utf-8")
            yml.write_text(text.replace("$schema=../engine/schemas/", "$schema=../schemas/"),
                           encoding="utf-8")
    created.extend((target / "schemas").glob("*.json"))
    return created
