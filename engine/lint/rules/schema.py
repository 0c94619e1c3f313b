"""The file does not follow its JSON Schema (engine/schemas/): an unknown key
(with a did-you-mean), a missing key, a value of the wrong type or form.

Bad::

    states:
      new: {status: new, intial: true}

Good::

    states:
      new: {status: new, initial: true}
"""

from engine.i18n import Said
from engine.lint.context import LintContext
from engine.lint.rules._load import load_problems
from engine.model import Where

ID = "S001"
SLUG = "schema"
SEVERITY = "error"


def check(ctx: LintContext):  # type: ignore[no-untyped-def]
    yield from load_problems(ctx, "schema")
    for problems in ctx.schema_errors.values():
        for p in problems:
            at = f" (at {p.path})" if p.path else ""
            yield Where(p.file or "", p.line or 1, p.column or 1), Said(p.message + at, p.located)
