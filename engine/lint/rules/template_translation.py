"""A message template exists in one language but not the other: every template
under ``processes/templates/en/`` needs its twin under ``processes/templates/zh/``
and the other way round (the plain ``.txt`` and the ``.html`` variant alike), or
people who read the other language get a different, or no, message. Labels need
no rule of their own: the schema requires both ``en`` and ``zh`` in every label.

Bad::

    $ ls processes/templates/en processes/templates/zh
    en: resolved.txt  resolved.html
    zh: resolved.txt

Good::

    $ ls processes/templates/en processes/templates/zh
    en: resolved.txt  resolved.html
    zh: resolved.txt  resolved.html
"""

from __future__ import annotations

from typing import Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext, display
from engine.lint.rules.message_target import messages_of
from engine.model import LANGS, Where

ID = "I001"
SLUG = "template-translation"
SEVERITY = "warning"


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    # a template a message names and that is missing is message-target's finding
    named = {f"{m.template}.txt" for _, spec in ctx.valid_processes() for _, m in messages_of(spec)}
    for repo in ctx.repos:
        root = repo / "processes" / "templates"
        present = {lang: {p.name for p in (root / lang).glob("*") if p.is_file()} for lang in LANGS}
        for name in sorted(set().union(*present.values())):
            have = [lang for lang in LANGS if name in present[lang]]
            lacking = [lang for lang in LANGS if name not in present[lang]]
            if not lacking or name in named:
                continue
            yield Where(display(root / have[0] / name)), \
                message(N_("template '{name}' has no {langs} version: add {paths}"), name=name,
                        langs='/'.join(lacking), paths=', '.join(display(root / lang / name) for lang in lacking))
