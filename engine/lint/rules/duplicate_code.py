"""Two codes of one table differ only in letter case (``P1`` and ``p1``,
``High`` and ``high``). People type codes by hand: they would pick either, and
reports would count them apart.

Bad::

    values:
      P1: {label: {en: Critical, zh: 紧急}, rank: 1}
      p1: {label: {en: Critical again, zh: 紧急}, rank: 5}

Good::

    values:
      P1: {label: {en: Critical, zh: 紧急}, rank: 1}
      P5: {label: {en: Planning, zh: 计划}, rank: 5}
"""

from __future__ import annotations

from typing import Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.model import Where

ID = "N002"
SLUG = "duplicate-code"
SEVERITY = "error"


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for tid, (doc, table) in ctx.tables.items():
        seen: dict[str, str] = {}
        for code in table.values:
            other = seen.get(code.lower())
            if other is not None:
                yield ctx.where(doc, ("values", code)), \
                    message(N_("code '{code}' differs from '{other}' only in letter case"),
                            code=code, other=other)
            seen.setdefault(code.lower(), code)
