"""A report groups or filters by something the processes it looks at do not
have: ``group_by`` and the keys of ``filters`` must be a ticket dimension
(process, priority, category, service, group, assignee, channel, urgency,
impact, status) or a field of type code, bool, user or group of the processes
in scope (those of the KPI's ``process`` filter, else all), meaning the same in
each of them; a filter's values must be codes of the dimension's code table.

A field the process team adds (say ``root_cause: {type: code, codes:
root_causes}`` in processes/incident.yaml) is a dimension at once; a misspelt
one is found here, not when the report runs.

Bad (reports/monthly.yaml)::

    kpis:
      - kpi: volume
        params: {group_by: root_cuase, filters: {process: incident}}

Good::

    kpis:
      - kpi: volume
        params: {group_by: root_cause, filters: {process: incident}}
"""

from engine.definitions import dimensions
from engine.lint.context import LintContext

ID = "R005"
SLUG = "report-dimension"
SEVERITY = "error"


def check(ctx: LintContext):  # type: ignore[no-untyped-def]
    if not ctx.repo_files or ctx.broken_processes:
        return  # without every process, a field may be declared where lint cannot see
    processes = ctx.all_processes()
    tables = {tid: table for tid, (_, table) in ctx.tables.items()} if not ctx.broken_tables else None
    for doc in ctx.reports.values():
        for path, message, at_key in dimensions.report_problems(processes, doc.data, tables):
            yield ctx.where(doc, path, key=at_key), message
