"""docs/lint-rules.md is the rule docstrings, regenerated: it never drifts."""

from pathlib import Path

from engine.lint.catalogue import render
from engine.lint.registry import all_rules

DOC = Path(__file__).resolve().parents[2] / "docs" / "lint-rules.md"


def test_lint_rules_doc_is_in_sync() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), \
        "regenerate: python -m engine.lint.catalogue > docs/lint-rules.md"


def test_every_rule_has_its_section_with_both_examples() -> None:
    text = DOC.read_text(encoding="utf-8")
    for rule in all_rules():
        section = text.split(f"### {rule.id} {rule.slug}\n", 1)[1].split("\n### ", 1)[0]
        assert "Bad" in section and "Good:" in section and section.count("```yaml") >= 2, rule.id
