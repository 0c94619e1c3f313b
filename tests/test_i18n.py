"""The CLI's own sentences: English msgids in engine/i18n.py and the sources, their
Chinese in the gettext catalogue engine/locale/zh/LC_MESSAGES/itsm.mo (#23.1)."""

import ast
import gettext
import re
from pathlib import Path

from engine.errors import NotFound
from engine.i18n import LOCALE_DIR, MESSAGES, choose, retell, t, tr

SOURCE = Path(__file__).resolve().parents[1] / "engine" / "i18n.py"


def test_no_message_id_is_defined_twice() -> None:
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


def test_every_translation_keeps_the_placeholders() -> None:
    zh = gettext.translation("itsm", LOCALE_DIR, languages=["zh"])
    catalog = zh._catalog  # noqa: SLF001 - the compiled msgid -> msgstr map
    assert len(catalog) > 100
    for msgid, msgstr in catalog.items():
        if isinstance(msgid, tuple):  # a plural entry: (singular msgid, form) -> that form
            msgid = msgid[0]
        if msgid:
            assert msgstr.strip(), msgid
            assert sorted(re.findall(r"\{\w*\}", msgid)) == sorted(re.findall(r"\{\w*\}", msgstr)), msgid
    assert all(catalog.get(m) for m in MESSAGES.values())


def test_language_is_chosen() -> None:
    assert t("missing", "en", action="resolve", fields="solution") == "resolve needs: solution (missing)"
    assert t("missing", "zh", action="resolve", fields="solution") == "resolve 需要填写：solution（缺失）"
    assert choose("zh", "en") == "zh" and choose(None, "zh") == "zh" and choose(None, None) == "en"
    assert choose(None, "fr") == "en"


def test_errors_with_a_template_speak_the_language() -> None:
    exc = NotFound("no ticket {key}", values={"key": "INC-000001"})
    assert exc.message == "no ticket INC-000001" and exc.text("en") == "no ticket INC-000001"
    assert exc.text("zh") == "没有工单 INC-000001"
    assert NotFound("plain").text("zh") == "plain"  # not yet in the catalogue: as it was


def test_tick_outcomes_are_retold() -> None:
    assert retell("2 message(s) queued; escalate skipped: no longer applies (closed)", "zh") \
        == "已排队 2 条消息；escalate 已跳过：不再适用（closed）"
    assert retell("something new", "zh") == "something new"
    assert tr("Key", "en") == "Key"
