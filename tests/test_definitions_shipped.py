"""The shipped definitions: every file carries its schema modeline, every
urgency and impact level says when to choose it, every label is bilingual."""

from pathlib import Path

import pytest

from engine.definitions.loader import load_file
from engine.definitions.validate import schema_path

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "processes").glob("*.yaml")) + sorted((ROOT / "codes").glob("*.yaml")) + \
    sorted((ROOT / "reports").glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_modeline_points_at_the_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=../engine/schemas/"), first
    target = (path.parent / first.split("$schema=", 1)[1]).resolve()
    assert target.is_file(), target
    name = target.name[: -len(".schema.json")]
    assert schema_path(name).resolve() == target


@pytest.mark.parametrize("table", ["urgency", "impact"])
def test_every_level_says_when_to_choose_it(table: str) -> None:
    doc = load_file(ROOT / "codes" / f"{table}.yaml")
    for code, value in doc.data["values"].items():
        when = value["choose_when"]
        assert len(when["en"]) > 40 and len(when["zh"]) > 10, code


def _labels(node, path=()):  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        if set(node) >= {"en", "zh"} and all(isinstance(v, str) for v in node.values()):
            yield path, node
        for k, v in node.items():
            yield from _labels(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _labels(v, path + (i,))


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_labels_are_bilingual_and_chinese_is_chinese(path: Path) -> None:
    for where, label in _labels(load_file(path).data):
        assert label["en"].strip() and label["zh"].strip(), where
        assert any("\u4e00" <= ch <= "\u9fff" for ch in label["zh"]), (where, label["zh"])
