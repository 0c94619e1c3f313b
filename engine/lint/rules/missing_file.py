"""A file given to lint does not exist, or the process repository lacks a code
table the engine needs (urgency, impact, priority, status, closure, categories,
channels, groups, calendars, sla, services).

Bad::

    $ ls codes/
    impact.yaml  priority.yaml  status.yaml

Good::

    $ ls codes/
    calendars.yaml  categories.yaml  channels.yaml  closure.yaml  groups.yaml  impact.yaml
    priority.yaml  services.yaml  sla.yaml  status.yaml  urgency.yaml
"""

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.lint.rules._load import load_problems
from engine.model import Where

ID = "F001"
SLUG = "missing-file"
SEVERITY = "error"


def check(ctx: LintContext):  # type: ignore[no-untyped-def]
    yield from load_problems(ctx, "missing-file")
    for path in ctx.missing:
        yield Where(path), message(N_("this code table is missing: the engine needs it"))
