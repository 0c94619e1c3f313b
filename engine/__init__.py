"""itsm: a declarative IT-service-management engine.

The engine reads as its pipeline (docs/architecture.md has the map):

- definitions/  the process team's YAML -> immutable specs: loader, validate,
                specs, expressions, graph, diff, home (where definitions come from);
- clock/        business calendars and SLA clocks (pure arithmetic);
- runtime/      what a ticket may do next: the state machine, action checks,
                field coercion, timers (pure, no database);
- lint/         the auditor's checks of the definitions, one module per rule;
- workspace.py  a repository's definitions, checked by lint, cached;
- store/        the database (SQLAlchemy, Alembic), the only place that runs SQL;
- notify/       the outbox, channels and message templates;
- reports/      KPI reports (KPIs in SQL, rendered documents);
- desk/         the desk's commands over one open deployment (desk.context.Desk):
                intake, actions, journal, tick, people, search, portal...;
- alerts/       monitoring alerts -> incidents (payloads, rules, alert groups);
- api.py        the facade the CLI (cli.py, commands/) and the web layer call;
- design/, demo.py  tools built on the facade (simulate, diff of stored versions, demo);
- web/          the self-service portal and the JSON API (``itsm serve`` only).

The ground everything may use: errors (one root exception, exit codes), model
(frozen dataclasses of definitions), journal (the journal's hash chain), i18n
(message catalogue), settings (deployment settings), render (text output),
limits (bounds on what strangers send).

May import: the standard library only.
"""

__version__ = "0.1.0"
