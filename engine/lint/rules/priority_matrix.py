"""The priority matrix (codes/priority.yaml ``matrix``) must give a priority for
every impact x urgency pair, using only defined impact, urgency and priority codes.

Bad::

    matrix:
      high: {high: P1, medium: P2}        # high impact, low urgency: no priority

Good::

    matrix:
      high: {high: P1, medium: P2, low: P3}
"""

from engine.i18n import N_, message
from engine.lint.context import LintContext

ID = "C001"
SLUG = "priority-matrix"
SEVERITY = "error"


def check(ctx: LintContext):  # type: ignore[no-untyped-def]
    entry = ctx.tables.get("priority")
    if entry is None:
        return
    doc, table = entry
    matrix = table.extra.get("matrix") or {}
    impacts, urgencies = ctx.codes("impact"), ctx.codes("urgency")
    if not ctx.codes_known("impact") or not ctx.codes_known("urgency"):
        return
    for imp, row in matrix.items():
        if imp not in impacts:
            yield ctx.where(doc, ("matrix", imp)), message(N_("undefined impact '{imp}' in the matrix"),
                                                           imp=imp)
            continue
        for urg, prio in (row or {}).items():
            if urg not in urgencies:
                yield ctx.where(doc, ("matrix", imp, urg)), message(N_("undefined urgency '{urg}' in the matrix"),
                                                                    urg=urg)
            if prio not in table.values:
                yield ctx.where(doc, ("matrix", imp, urg), key=False), message(N_("undefined priority '{prio}'"),
                                                                               prio=prio)
    for imp in sorted(impacts):
        row = matrix.get(imp) or {}
        missing = [u for u in sorted(urgencies) if u not in row]
        if missing:
            path = ("matrix", imp) if imp in matrix else ("matrix",)
            yield ctx.where(doc, path), \
                message(N_("no priority for impact '{imp}' with urgency {value}"),
                        imp=imp, value=', '.join(repr(m) for m in missing))
