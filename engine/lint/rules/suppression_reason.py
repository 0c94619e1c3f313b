"""A suppression comment does not say why. ``# itsmlint: disable=ID reason: …``
hides a finding from the report, so an auditor must be able to read the reason
next to it; a suppression without one (or one that cannot be read) suppresses
nothing. The comment goes at the end of the finding's line (``disable=``) or on
the line before it (``disable-next-line=``) and names rule ids or slugs.

Bad::

    states:
      new: {status: new, initial: true}
      parked: {status: pending}  # itsmlint: disable=G002

Good::

    states:
      new: {status: new, initial: true}
      parked: {status: pending}  # itsmlint: disable=G002 reason: reached by itsm migrate only (CHG-1234)
"""

from __future__ import annotations

from typing import Iterator

from engine.lint.context import LintContext
from engine.model import Where

ID = "L001"
SLUG = "suppression-without-reason"
SEVERITY = "error"


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    # reported by the suppression pass of ``itsm lint`` (engine/lint/suppressions.py),
    # which sees the comments of every reported file
    return iter(())
