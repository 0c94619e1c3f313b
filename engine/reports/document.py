"""A report over a period: every KPI computed in SQL (engine.reports.kpis) into
one document (the JSON form, :func:`build`), rendered by engine.reports.render
(:func:`run`)."""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from typing import Any, Callable
from zoneinfo import ZoneInfo

from engine.errors import UsageError
from engine.i18n import N_
from engine.limits import TIME_RANGE
from engine.reports.cron import current_period, period_bounds, previous_period
from engine.reports.definition import FORMATS, KpiUse, ReportSpec, load_report
from engine.reports.kpis import KPIS, KpiContext, Table

Bound = datetime | date | str | None


def report_tz(api: Any, spec: ReportSpec) -> tzinfo:
    return ZoneInfo(spec.timezone) if spec.timezone else api.tz


def parse_bound(value: Bound, tz: tzinfo, option: str = "--from") -> datetime | None:
    """A period boundary: a date (local midnight), or a time (local when it has no offset)."""
    if value is None or value == "":
        return None
    given = value if isinstance(value, str) else value.isoformat()
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise UsageError(N_("{option}: {value!r} is not a date (2026-03-02) or an ISO time"),
                             values={"option": option, "value": value}) from None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0), tz)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    first, end = (t.replace(tzinfo=None) for t in TIME_RANGE)  # the years as written (local 1900-01-01 too)
    if not first <= value.replace(tzinfo=None) < end:  # as --now: the periods around it must not overflow
        raise UsageError(N_("{option}: {value!r} is out of range: itsm computes with times from the year {year} "
                            "to {last}"),
                         values={"option": option, "value": given, "year": TIME_RANGE[0].year,
                                 "last": TIME_RANGE[1].year - 1})
    return value


def _iso(value: Any, tz: tzinfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat(timespec="seconds")
    return value


def _table(table: Table, lang: str, tz: tzinfo) -> dict[str, Any]:
    columns = []
    for c in table.columns:
        col: dict[str, Any] = {"id": c.id, "label": c.label.get(lang), "unit": c.unit}
        if c.values:
            col["value_labels"] = {k: v.get(lang) for k, v in c.values.items()}
        columns.append(col)
    return {"id": table.id, "title": table.title.get(lang) if table.title else None,
            "columns": columns, "chart": table.chart,
            "rows": [{k: _iso(v, tz) for k, v in row.items()} for row in table.rows]}


def _bounds(api: Any, spec: ReportSpec, start: Bound, end: Bound,
            current: bool = False) -> tuple[datetime, datetime]:
    tz = report_tz(api, spec)
    s, e = parse_bound(start, tz, "--from"), parse_bound(end, tz, "--to")
    if current:
        if s is not None or e is not None:
            raise UsageError(N_("give --current, or --from and --to, not both"))
        return current_period(spec.period, api.now(), tz)
    if s is None and e is None:
        return period_bounds(spec.period, api.now(), tz)
    if s is None or e is None:
        raise UsageError(N_("give both --from and --to, or neither (the last complete {period} before now)"),
                         values={"period": spec.period})
    if e <= s:
        raise UsageError(N_("--to must be after --from"))
    return s, e


def build(api: Any, name: str, start: Bound = None, end: Bound = None, lang: str = "en",
          spec: ReportSpec | None = None, current: bool = False,
          progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """The report document: every KPI's tables over [start, end) (``current``: the
    period now falls in, so far), labels in ``lang``; ``progress(done, total)``
    after each KPI (a KPI is one or a few SQL queries over the whole period)."""
    spec = spec or load_report(api.home, name)
    tz = report_tz(api, spec)
    s, e = _bounds(api, spec, start, end, current)
    prev = previous_period(spec.period, s, e, tz)
    kpis = []
    with api.store.read() as repo:
        ctx = KpiContext(repo=repo, defs=api.defs, start=s, end=e, previous=prev, now=api.now(),
                         tz=tz, period=spec.period)
        for done, use in enumerate(spec.kpis):
            if progress is not None:
                progress(done, len(spec.kpis))
            tables = KPIS[use.kpi].compute(ctx, use.params)
            kpis.append(_kpi(use, tables, lang, tz))
        if progress is not None:
            progress(len(spec.kpis), len(spec.kpis))
    return {"report": spec.id, "title": spec.title.get(lang), "owner": spec.owner,
            "owner_label": _role_label(api.defs, spec.owner, lang),
            "period": {"start": _iso(s, tz), "end": _iso(e, tz), "timezone": str(tz),
                       "previous_start": _iso(prev[0], tz), "previous_end": _iso(prev[1], tz)},
            "generated_at": _iso(api.now(), tz), "lang": lang, "kpis": kpis}


def _role_label(defs: Any, role: str, lang: str) -> str:
    for spec in defs.processes.values():
        if role in spec.roles:
            return spec.roles[role].get(lang)
    return role


def _kpi(use: KpiUse, tables: list[Table], lang: str, tz: tzinfo) -> dict[str, Any]:
    return {"id": use.id, "kpi": use.kpi, "title": use.title.get(lang),
            "summary": KPIS[use.kpi].SUMMARY.get(lang),
            "params": {k: v for k, v in use.params.items()},
            "tables": [_table(t, lang, tz) for t in tables]}


def run(api: Any, name: str, start: Bound = None, end: Bound = None, fmt: str = "md",
        lang: str = "en", current: bool = False,
        progress: Callable[[int, int], None] | None = None) -> str:
    """Report ``name`` over [start, end) rendered as md, html, csv or json."""
    if fmt not in FORMATS:
        raise UsageError(N_("unknown report format {fmt!r}; use one of {FORMATS}"),
                         values={"fmt": fmt, "FORMATS": ', '.join(FORMATS)})
    from engine.reports.render import render

    spec = load_report(api.home, name)
    doc = build(api, name, start, end, lang, spec, current, progress)
    return render(doc, fmt, lang, api.defs, spec.folder, spec.template)
