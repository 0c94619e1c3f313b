"""A suppression comment hides nothing: no finding of the rules it names is on
its line (the definition was fixed, or the comment moved), or it names a rule
that does not exist. Remove it, so that a later finding there is not hidden by
an old reason. Reported by the ``recommended`` preset too.

Bad::

    actions:
      # itsmlint: disable-next-line=G004 reason: legacy re-open path
      start: {from: new, to: in_progress, roles: [service_desk]}

Good::

    actions:
      start: {from: new, to: in_progress, roles: [service_desk]}
"""

from __future__ import annotations

from typing import Iterator

from engine.lint.context import LintContext
from engine.model import Where

ID = "L002"
SLUG = "unused-suppression"
SEVERITY = "info"
RECOMMENDED = True  # a stale suppression would hide the next finding on its line


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    # reported by the suppression pass of ``itsm lint`` (engine/lint/suppressions.py),
    # which knows the findings the comments were meant for
    return iter(())
