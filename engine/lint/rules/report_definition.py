"""A report that ``itsm report`` and ``itsm tick`` would refuse to run: a
schedule that is no cron expression (``0 8 * * xyz``), an unknown time zone, a
file whose ``report:`` is not its name, the same KPI used twice without an
``id``, age buckets that do not grow, an owner or recipient role that no
process has, a recipient group missing from codes/groups.yaml. The tick
reports such a report as not run and runs the others; lint says why before it
is due. (A KPI parameter the KPI does not take is R007's finding; a dimension,
R005's.)

Bad (reports/weekly.yaml)::

    owner: proces_owner
    schedule: "0 8 * * xyz"
    timezone: Mars/Olympus

Good::

    owner: process_owner
    schedule: "0 8 * * mon"
    timezone: Asia/Shanghai
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from engine.errors import DefinitionError
from engine.lint.context import LintContext
from engine.lint.rules._load import error_text
from engine.model import Where
from engine.reports.definition import build_report, people_problems
from engine.reports.kpis import KPIS

ID = "R008"
SLUG = "report-definition"
SEVERITY = "error"


def _r007s(doc_data: object, path: str | None) -> bool:
    """Whether the problem at ``path`` is a parameter its KPI does not take (R007's)."""
    parts = (path or "").split(".")
    if len(parts) != 4 or parts[0] != "kpis" or parts[2] != "params" or not parts[1].isdigit():
        return False
    kpis = doc_data.get("kpis") if isinstance(doc_data, dict) else None
    entry = kpis[int(parts[1])] if isinstance(kpis, list) and int(parts[1]) < len(kpis) else None
    kpi = KPIS.get(entry.get("kpi")) if isinstance(entry, dict) else None
    return kpi is not None and parts[3] not in kpi.PARAMS


def _where(exc: DefinitionError, file: str) -> Where:
    return Where(exc.file or file, exc.line or 1, exc.column or 1)


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    roles = None
    if ctx.repo_files and not ctx.broken_processes:  # without every process a role may be declared unseen
        roles = {r for spec in ctx.all_processes().values() for r in spec.roles}
    groups = ctx.table("groups") if "groups" not in ctx.broken_tables else None
    for doc in ctx.reports.values():
        try:
            spec = build_report(doc, Path(doc.file).parent)
        except DefinitionError as exc:
            if not _r007s(doc.data, exc.path):
                yield _where(exc, doc.file), error_text(exc)
            continue
        if roles is not None:
            for found in people_problems(doc, spec, roles, groups):
                yield _where(found, doc.file), error_text(found)
