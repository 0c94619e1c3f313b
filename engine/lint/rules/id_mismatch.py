"""The id inside a file differs from its file name (``process:`` in
processes/*.yaml, ``table:`` in codes/*.yaml). Tickets and references use the
id; the file name is how people find it: they must agree.

Bad (in processes/incident.yaml)::

    process: incidents

Good::

    process: incident
"""

from pathlib import Path

from engine.i18n import N_, message
from engine.lint.context import LintContext

ID = "S002"
SLUG = "id-mismatch"
SEVERITY = "error"


def check(ctx: LintContext):  # type: ignore[no-untyped-def]
    for pid, (doc, spec) in ctx.processes.items():
        stem = Path(doc.file).stem
        if spec.id != stem:
            yield ctx.where(doc, ("process",), key=False), \
                message(N_("process id '{id}' differs from the file name '{stem}'"), id=spec.id, stem=stem)
    for tid, (doc, table) in ctx.tables.items():
        stem = Path(doc.file).stem
        if table.id != stem:
            yield ctx.where(doc, ("table",), key=False), \
                message(N_("table id '{id}' differs from the file name '{stem}'"), id=table.id, stem=stem)
    seen: dict[str, str] = {}
    for pid, (doc, spec) in sorted(ctx.processes.items()):
        other = seen.get(spec.key_prefix)
        if other:
            yield ctx.where(doc, ("key_prefix",), key=False), \
                message(N_("key prefix '{key_prefix}' is already used by process '{other}'"),
                        key_prefix=spec.key_prefix, other=other)
        seen[spec.key_prefix] = pid
