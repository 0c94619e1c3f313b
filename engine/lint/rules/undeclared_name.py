"""An expression uses a name that is neither a field of the process (core or
declared under ``fields:``) nor one the engine provides (``ticket``, ``input``,
``service``, ``codes``, ``sla``, ``now``, ``actor``, ``action``,
``status_category``; in major-incident criteria also ``recent_on_service``).
With lenient templating a typo would silently be false; itsm refuses it.

Bad::

    when: "not ticket.is_vipp and prority == 'P1'"

Good::

    when: "priority == 'P1'"
"""

from engine.i18n import N_, message
from engine.definitions.expressions import ExpressionError, compile_expression
from engine.lint.context import LintContext
from engine.lint.rules._expr import expressions

ID = "E002"
SLUG = "undeclared-name"
SEVERITY = "error"


def check(ctx: LintContext):  # type: ignore[no-untyped-def]
    import difflib

    for doc, spec, path, source, allowed in expressions(ctx):
        try:
            expr = compile_expression(source)
        except ExpressionError:
            continue  # reported by expression-syntax
        for name in sorted(expr.names - allowed):
            close = difflib.get_close_matches(name, sorted(allowed), n=1)
            hint = message(N_("; did you mean '{name}'?"), name=close[0]) if close else ""
            yield ctx.where(doc, path, key=False), \
                message(N_("undeclared name '{name}' in '{source}'{hint}"),
                        name=name, source=source, hint=hint)
