"""A guard, criterion or ``{{ }}`` value is not a valid expression. Expressions
are Jinja2 expressions (Python-like: ``and``, ``or``, ``not``, ``in``, ``==``,
``is none``); the column points inside the string.

Bad::

    when: "priority == 'P1' and and impact == 'high'"

Good::

    when: "priority == 'P1' and impact == 'high'"
"""

from engine.i18n import N_, message
from engine.definitions.expressions import ExpressionError, compile_expression
from engine.lint.context import LintContext
from engine.lint.rules import _alerts
from engine.lint.rules._expr import expressions
from engine.model import Where

ID = "E001"
SLUG = "expression-syntax"
SEVERITY = "error"


def check(ctx: LintContext):  # type: ignore[no-untyped-def]
    yield from _alerts.syntax(ctx)  # codes/alert_rules.yaml: titles, regular expressions
    for doc, spec, path, source, _ in expressions(ctx):
        try:
            compile_expression(source)
        except ExpressionError as exc:
            raw = doc.get(path)
            start = raw.find(source) if isinstance(raw, str) else 0
            mark = doc.value_position(path, max(start, 0) + (exc.column or 1) - 1)
            hint = (message(N_("; write guards without {{ }}")) if source.lstrip().startswith("{{") else "")
            yield Where(doc.file, mark.line, mark.column), message(N_("{message} in '{source}'{hint}"),
                                                                   message=exc, source=source, hint=hint)
