"""The CLI's own sentences exist in English and Chinese, once each."""

import ast
from pathlib import Path

from engine.i18n import MESSAGES, t

SOURCE = Path(__file__).resolve().parents[1] / "engine" / "i18n.py"


def test_no_message_id_is_defined_twice() -> None:
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


def test_every_message_has_english_and_chinese() -> None:
    for msg_id, (en, zh) in MESSAGES.items():
        assert en.strip() and zh.strip(), msg_id
        # the same placeholders in both languages
        assert sorted(p for p in en.split("{")[1:]) == sorted(p for p in zh.split("{")[1:]) or \
            {p.split("}")[0] for p in en.split("{")[1:]} == {p.split("}")[0] for p in zh.split("{")[1:]}, msg_id


def test_language_is_chosen() -> None:
    assert t("missing", "en", action="resolve", fields="solution") == "resolve needs: solution (missing)"
    assert t("missing", "zh", action="resolve", fields="solution") == "resolve 需要填写：solution（缺失）"
