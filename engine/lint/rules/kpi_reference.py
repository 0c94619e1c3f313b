"""A report's KPI names an action, SLA clock, state, process or relation that
the processes it looks at (those of its ``process`` filter, else all) do not
have, or gives a parameter the KPI does not take. KPIs count journal events and
clock results by name, so ``actions: [re_open]`` reports a reopen rate of 0 and
``clocks: [resolutoin]`` a compliance of nothing, without a word; ``itsm
report`` refuses a parameter the KPI does not take. Checked: ``actions``,
``auto_actions``, ``confirm_actions``, ``desk_confirm_actions`` (actions);
``clock``, ``clocks``; ``process``, ``incidents``; ``mitigate_states``,
``exclude_states``, ``known_error_states`` (states of the KPI's ``process``);
``relation`` (a relation of its ``incidents`` process). A parameter the report
leaves out is checked by its default, at the KPI's name: ``reopen_rate`` counts
``reopen``, ``reassignment`` ``assign``, ``auto_close_share`` ``auto_close``,
``trend`` the ``resolution`` clock, ``major_incidents`` the state
``mitigated``, ``problems`` the relation ``caused_by`` and the state
``known_error``; a process that renames one makes the KPI count nothing as
surely as a typo. Defaults that only refine a figure are not asked for
(``major_incidents``' ``exclude_states``, ``auto_close_share``'s
``confirm_actions`` and ``desk_confirm_actions``), nor any default of a KPI
whose process the repository does not have (``major_incident``, ``problem``):
the KPI shows none.

Bad (reports/monthly.yaml)::

    kpis:
      - kpi: reopen_rate
        params: {actions: [re_open], filters: {process: incident}}
      - kpi: sla_compliance
        params: {clocks: [resolutoin]}
      - kpi: reassignment      # counts 'assign', which the process calls 'dispatch'

Good::

    kpis:
      - kpi: reopen_rate
        params: {actions: [reopen], filters: {process: incident}}
      - kpi: sla_compliance
        params: {clocks: [resolution]}
      - kpi: reassignment
        params: {actions: [dispatch]}
"""

from __future__ import annotations

from typing import Iterator

from engine.definitions import kpi_names
from engine.lint.context import LintContext
from engine.model import Where

ID = "R007"
SLUG = "kpi-reference"
SEVERITY = "error"


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    if not ctx.repo_files or ctx.broken_processes:
        return  # without every process, a name may be declared where lint cannot see
    processes = ctx.all_processes()
    for doc in ctx.reports.values():
        for path, text, at_key in kpi_names.report_problems(processes, doc.data):
            yield ctx.where(doc, path, key=at_key), text
