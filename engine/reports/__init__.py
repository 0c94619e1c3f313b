"""KPI reports (design 8): reports/NAME.yaml -> KPIs computed in SQL -> a document.

``run(api, name, start, end, fmt, lang)`` renders one report over [start, end)
(default: the report's last complete period); ``build`` returns the document
(the JSON form) for callers that render several formats; ``due_reports``
(engine.reports.schedule) says which reports their schedules want now.

Loading a definition (``load_report``) imports neither SQLAlchemy nor jinja2,
so lint can check reports; running one does.

Inside: definition (reports/NAME.yaml -> ReportSpec), cron (schedules and
periods), kpis/ (one module per KPI, in SQL through engine.store.kpi_queries),
document (build, run), render (md, html with svg charts, csv, json), schedule
(which reports are due, their recipients and messages).

May import: ground, definitions, clock, store.
"""

from __future__ import annotations

from engine.reports.definition import FORMATS, load_report, report_names
from engine.reports.document import build, parse_bound, report_tz, run
from engine.reports.schedule import due_reports, recipients

__all__ = ["FORMATS", "build", "due_reports", "load_report", "parse_bound", "recipients",
           "report_names", "report_tz", "run"]
