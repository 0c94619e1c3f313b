"""A computed report -> Markdown, HTML, CSV or JSON.

JSON is the report document itself (raw values: counts, ratios 0..1, seconds,
ISO times).  CSV carries the same values, one cell per line
(``kpi,table,row,column,value``), text neutralised against formula injection
(engine.render.csv_field).  Markdown and HTML come from the jinja2
templates in reports/templates/ and show each value through :func:`display`;
HTML adds inline SVG charts.  A report shows text from outside (a ticket's
title, a user id): HTML escapes it (autoescape), Markdown through the ``md``
filter (:func:`md_text`), so it is shown as written and never becomes markup.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from engine.errors import UsageError
from engine.i18n import N_
from engine.model import Definitions, Label
from engine.render import csv_line
from engine.reports import svg
from engine.reports.definition import FORMATS
from engine.definitions import dimensions
from engine.definitions.home import bundled_home

WORDS = {
    "period": Label("Period", "统计周期"), "to": Label("to", "至"),
    "owner": Label("Owner", "负责人"), "generated": Label("Generated", "生成时间"),
    "previous": Label("Previous period", "上一周期"), "none": Label("—", "—"),
    "no_rows": Label("Nothing in this period.", "本期无数据。"),
    "formula": Label("How it is computed", "计算方法"), "all": Label("All", "全部"),
}


def duration_text(seconds: float) -> str:
    """9000 -> '2h 30m'; 90061.5 -> '1d 1h 1m 1.5s' (nothing is rounded away)."""
    sign, rest = ("-" if seconds < 0 else ""), abs(round(float(seconds), 2))
    whole = int(rest)
    frac = round(rest - whole, 2)
    d, h, m, s = whole // 86400, whole % 86400 // 3600, whole % 3600 // 60, whole % 60
    parts = [f"{v}{u}" for v, u in ((d, "d"), (h, "h"), (m, "m")) if v]
    if s or frac or not parts:
        parts.append(f"{s + frac:g}s")
    return sign + " ".join(parts)


def display(value: Any, unit: str, lang: str, defs: Definitions | None,
            values: Mapping[str, str] | None = None) -> str:
    """The text of one value as Markdown and HTML show it."""
    if value is None:
        return WORDS["none"].get(lang)
    if values and str(value) in values:
        return values[str(value)]
    if unit == "count":
        return str(int(value))
    if unit == "ratio":
        return f"{float(value) * 100:.2f}%"
    if unit == "seconds":
        return duration_text(float(value))
    if unit == "number":
        return f"{float(value):g}"
    if unit in ("time", "date"):
        t = datetime.fromisoformat(value) if isinstance(value, str) else value
        return t.strftime("%Y-%m-%d %H:%M") if unit == "time" else t.strftime("%Y-%m-%d")
    if unit.startswith("code:") and defs is not None:
        dim = unit[5:]
        if dim == "process" and value in defs.processes:
            return defs.processes[value].title.get(lang)
        table = defs.codes.get(dimensions.table_of(defs, dim) or "")
        if table is not None and value in table.values:
            return table.label(value, lang)
    return str(value)


def _cells(table: Mapping[str, Any], lang: str, defs: Definitions | None) -> list[list[str]]:
    out = []
    for row in table["rows"]:
        cells = []
        for col in table["columns"]:
            unit = row.get("unit", "count") if col["unit"] == "row" else col["unit"]
            cells.append(display(row.get(col["id"]), unit, lang, defs, col.get("value_labels")))
        out.append(cells)
    return out


def _chart(table: Mapping[str, Any], cells: list[list[str]]) -> str:
    chart = table.get("chart")
    if not chart or not table["rows"]:
        return ""
    ids = [c["id"] for c in table["columns"]]
    xs = [r[ids.index(chart["x"])] for r in cells]
    label = {c["id"]: c["label"] for c in table["columns"]}
    if chart["kind"] == "bar":
        return svg.bar_chart(xs, [r.get(chart["y"]) for r in table["rows"]], label[chart["y"]])
    series = [(label[y], [r.get(y) for r in table["rows"]]) for y in chart["y"].split(",")]
    return svg.line_chart(xs, series, table.get("title") or "")


def view(doc: Mapping[str, Any], lang: str, defs: Definitions | None) -> dict[str, Any]:
    """What the templates see: labels in ``lang`` and every value as text."""
    kpis = []
    for kpi in doc["kpis"]:
        tables = []
        for table in kpi["tables"]:
            cells = _cells(table, lang, defs)
            numeric = [c["unit"] not in ("text", "time", "date") and not c["unit"].startswith("code:")
                       for c in table["columns"]]
            tables.append({"id": table["id"], "title": table.get("title"), "cells": cells,
                           "headers": [c["label"] for c in table["columns"]], "numeric": numeric,
                           "svg": Markup(_chart(table, cells))})
        kpis.append({"id": kpi["id"], "title": kpi["title"], "summary": kpi.get("summary", ""),
                     "tables": tables})
    period = doc["period"]
    return {"report": doc, "kpis": kpis, "words": {k: v.get(lang) for k, v in WORDS.items()},
            "start": display(period["start"], "time", lang, None),
            "end": display(period["end"], "time", lang, None),
            "generated": display(doc["generated_at"], "time", lang, None), "lang": lang}


def template_dir(folder: str | Path) -> Path:
    own = Path(folder) / "templates"
    return own if own.is_dir() else bundled_home() / "reports" / "templates"


_MD_MARKUP = re.compile(r"[\\`*_\[\]<>&|~]")


def md_text(value: Any) -> str:
    """Text for one line of Markdown (a heading, a table cell) that shows as
    written: a backslash before every character that could begin markup --
    emphasis, code, a link or an image (``[``), an HTML tag or entity (``<``,
    ``&``), strikethrough, a cell's end (``|``) -- and line breaks as spaces
    (a break would end the table row or the heading)."""
    text = " ".join(str(value).splitlines())
    return _MD_MARKUP.sub(lambda m: "\\" + m.group(0), text)


def _env(folder: Path) -> Environment:
    env = Environment(loader=FileSystemLoader(str(folder)), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html", "html.j2"]), keep_trailing_newline=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["md"] = md_text
    return env


def to_csv(doc: Mapping[str, Any]) -> str:
    lines = [csv_line(["kpi", "table", "row", "column", "value"])]
    for kpi in doc["kpis"]:
        for table in kpi["tables"]:
            for i, row in enumerate(table["rows"], 1):
                for col in table["columns"]:
                    lines.append(csv_line([kpi["id"], table["id"], i, col["id"], row.get(col["id"])]))
    return "".join(lines)


def render(doc: Mapping[str, Any], fmt: str, lang: str, defs: Definitions | None,
           folder: str | Path, template: str = "report") -> str:
    if fmt == "json":
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        return to_csv(doc)
    if fmt not in FORMATS:
        raise UsageError(N_("unknown report format {fmt!r}; use one of {FORMATS}"),
                         values={"fmt": fmt, "FORMATS": ', '.join(FORMATS)})
    env = _env(template_dir(folder))
    return env.get_template(f"{template}.{fmt}.j2").render(**view(doc, lang, defs))
