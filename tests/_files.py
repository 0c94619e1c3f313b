"""Editing copies of definition files in tests (shared by the versioning tests)."""

from __future__ import annotations

from pathlib import Path

# the incident's declare_major guard, and a changed one (a semantic change)
GUARD = '    when: "not links.part_of"\n'
NEW_GUARD = '    when: "not links.part_of and priority in [\'P1\', \'P2\']"\n'


def edit(path: Path, *pairs: tuple[str, str]) -> None:
    """Replace each OLD with NEW once in the file; OLD must be there."""
    text = path.read_text(encoding="utf-8")
    for old, new in pairs:
        assert old in text, f"{old!r} not in {path.name}"
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
