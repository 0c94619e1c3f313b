"""Markdown, HTML, CSV and JSON of one report carry the same numbers; the HTML is
self-contained; ``--lang zh`` labels everything in Chinese."""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any

import pytest
from _dataset import REPO, build, report

from engine.api import Api
from engine.reports.render import display, duration_text

DUAL_MODE = True  # direct and remote mode (tests/conftest.py)


def expected_cells(doc: dict[str, Any], lang: str, defs: Any) -> list[list[str]]:
    """Every table row of the JSON document as the text Markdown and HTML must show."""
    rows = []
    for kpi in doc["kpis"]:
        for table in kpi["tables"]:
            for row in table["rows"]:
                rows.append([display(row.get(c["id"]), row.get("unit", "count") if c["unit"] == "row"
                                     else c["unit"], lang, defs, c.get("value_labels"))
                             for c in table["columns"]])
    return rows


def markdown_cells(text: str) -> list[list[str]]:
    """The text of each table cell (backslash escapes read as Markdown reads them)."""
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    body = []
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and set(lines[i + 1].replace("|", "").split()) <= {"---", "---:"}:
            continue  # a header row
        if set(line.replace("|", "").split()) <= {"---", "---:"}:
            continue
        body.append([re.sub(r"\\(.)", r"\1", c.strip()) for c in line.strip().strip("|").split(" | ")])
    return body


def html_cells(text: str) -> list[list[str]]:
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
            for tr in re.findall(r"<tr>(<td.*?)</tr>", text)]


@pytest.fixture
def week(desk: Any, db_url: str) -> str:
    build(desk)
    return db_url


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_all_formats_carry_the_same_numbers(week: str, lang: str) -> None:
    defs = Api.open(home=str(REPO), db=week).defs
    doc = report(week, lang=lang)
    cells = expected_cells(doc, lang, defs)
    assert len(cells) > 40
    assert markdown_cells(report(week, fmt="md", lang=lang)) == cells
    assert html_cells(report(week, fmt="html", lang=lang)) == cells
    # CSV: the JSON values themselves, one per line
    lines = list(csv.DictReader(io.StringIO(report(week, fmt="csv", lang=lang))))
    expected = [(k["id"], t["id"], str(i), c["id"], "" if r.get(c["id"]) is None else str(r[c["id"]]))
                for k in doc["kpis"] for t in k["tables"] for i, r in enumerate(t["rows"], 1)
                for c in t["columns"]]
    assert [(x["kpi"], x["table"], x["row"], x["column"], x["value"]) for x in lines] == expected


def test_html_is_self_contained_with_inline_svg_charts(week: str) -> None:
    page = report(week, fmt="html")
    assert page.startswith("<!DOCTYPE html>")
    charts = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(charts) >= 4  # three volume bar charts, backlog aging, the trend lines
    by_priority = charts[0]
    assert [t for t in re.findall(r">([^<>]+)</text>", by_priority)] == [
        "P1 Critical", "2", "P2 High", "2", "P3 Medium", "2", "P4 Low", "1"]
    assert len(re.findall(r"<rect ", by_priority)) == 4
    assert any("<polyline" in c for c in charts)
    lowered = page.lower()
    for forbidden in ("<script", "http://", "https://", "src=", "href=", "@import", "url("):
        assert forbidden not in lowered, forbidden


def test_chinese_labels(week: str) -> None:
    md = report(week, fmt="md", lang="zh")
    assert md.startswith("# IT服务管理周报\n")
    for text in ("统计周期: 2026-03-02 00:00 至 2026-03-09 00:00", "负责人: 流程负责人（P16）",
                 "## 按优先级统计工单量", "| 优先级 | 工单数 | 占比 |", "| P1 紧急 | 2 | 28.57% |",
                 "## SLA 达成率", "| 响应 | 3 | 2 | 60.00% |", "## 重大事件", "| 已超时 | 即将超时 |",
                 "本期新建的工单数量，按维度统计。"):
        assert text in md, text
    page = report(week, fmt="html", lang="zh")
    assert '<html lang="zh-CN">' in page and "积压工单账龄" in page
    en = report(week, fmt="md", lang="en")
    assert "Owner: Process owner (P16)" in en and "| P1 Critical | 2 | 28.57% |" in en


def test_duration_text_loses_nothing() -> None:
    assert duration_text(0) == "0s"
    assert duration_text(1200) == "20m"
    assert duration_text(9780) == "2h 43m"
    assert duration_text(90061.5) == "1d 1h 1m 1.5s"
    assert duration_text(-3600) == "-1h"


def test_itsm_report_command_writes_the_formats(itsm, org, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`itsm report NAME --from --to --format -o FILE` through the CLI."""
    import json as _json

    itsm("new", "incident", "--title", "Printer jams", "--reporter", org.reporter, "--service", "printing",
         user=org.agent.id, now="2026-03-03T10:00:00+08:00")
    out = itsm("report", "weekly", "--from", "2026-03-02", "--to", "2026-03-09", "--format", "json").stdout
    data = _json.loads(out)
    assert data["report"] == "weekly" and data["period"] and data["kpis"]
    assert "Printer jams" not in out  # numbers, not ticket contents
    target = tmp_path / "weekly.html"
    itsm("report", "weekly", "--from", "2026-03-02", "--to", "2026-03-09", "--format", "html", "-o", str(target))
    html = target.read_text(encoding="utf-8")
    assert "<svg" in html and "<script" not in html
    itsm("report", "nosuch", expect=4)
    itsm("report", "weekly", "--format", "pdf", expect=2)


def test_report_due_runs_each_period_once(itsm, org) -> None:  # type: ignore[no-untyped-def]
    """`itsm report --due` (and `itsm tick`) mails each due report once per period."""
    itsm("new", "incident", "--title", "Printer jams", "--reporter", org.reporter, "--service", "printing",
         user=org.agent.id, now="2026-03-03T10:00:00+08:00")
    first = itsm("report", "--due", now="2026-03-10T09:00:00+08:00").stdout
    assert "weekly" in first and "message(s) queued" in first, first
    assert "weekly 2026-03-02 00:00 +08:00 - 2026-03-09 00:00 +08:00: " in first, first  # the display form
    again = itsm("report", "--due", now="2026-03-10T09:30:00+08:00").stdout
    assert "weekly" not in again  # that period ran already
    rows = itsm.json("outbox", "list")
    reports = [r for r in rows if r["template"] == "report"]
    assert reports and all(r["ticket"] is None for r in reports)
    # weekly goes to the process owner and the incident managers (reports/weekly.yaml)
    recipients = {r["recipient"] for r in reports}
    assert {org.owner.email, org.incident_manager.email} <= recipients, recipients
    done = itsm.json("tick", now="2026-03-10T09:45:00+08:00")
    assert not [d for d in done if d["kind"] == "report" and d["name"] == "weekly"]


def test_a_new_desk_mails_no_report_of_the_weeks_before_it(itsm, org) -> None:  # type: ignore[no-untyped-def]
    """The first tick of a new desk queues no report over periods that ended before
    its first ticket (#23); the first period with the desk in it is reported."""
    assert "weekly" not in itsm("report", "--due", now="2026-03-10T09:00:00+08:00").stdout  # no ticket yet
    itsm("new", "incident", "--title", "Printer jams", "--reporter", org.reporter, "--service", "printing",
         user=org.agent.id, now="2026-03-10T10:00:00+08:00")
    ran = itsm("report", "--due", now="2026-03-10T11:00:00+08:00").stdout
    assert "weekly" not in ran and "daily" not in ran, ran  # last week and yesterday predate the desk
    assert not [r for r in itsm.json("outbox", "list") if r["template"] == "report"]
    next_day = itsm("report", "--due", now="2026-03-11T09:00:00+08:00").stdout
    assert "daily" in next_day and "message(s) queued" in next_day, next_day


TITLE = ('<b>x</b> [a](http://e.example) *b* | c_d `e` ~f~ & ![i](http://t.example/p.png) '
         '<script>alert(1)</script> &amp; <http://auto.example>')


def test_markdown_shows_a_title_as_written(desk: Any, db_url: str) -> None:
    """A ticket's title (text from the reporter) in a Markdown report is text:
    no tag, link, image, emphasis or code, and not the end of the table cell."""
    o = desk.org
    desk.new("incident", o.agent.id, "2026-03-03 09:00", reporter=o.reporter, title=TITLE,
             urgency="high", impact="high", service="network")  # P1 on network: a major incident
    md = report(db_url, "major_incidents", fmt="md")
    row = next(line for line in md.splitlines() if line.startswith("| MI-"))
    assert row.startswith("| MI-000001 | \\<b\\>x\\</b\\> \\[a\\](http://e.example) \\*b\\* \\| c\\_d \\`e\\` "
                          "\\~f\\~ \\& !\\[i\\](http://t.example/p.png) \\<script\\>alert(1)\\</script\\> "
                          "\\&amp; \\<http://auto.example\\> | P1 "), row
    markdown_it = pytest.importorskip("markdown_it")
    page = markdown_it.MarkdownIt("commonmark").enable("table").enable("strikethrough").render(md)
    cell = re.findall(r"<td>(.*?)</td>", page)[1]
    assert html.unescape(cell) == TITLE  # the text, every character of it
    for markup in ("<b>", "<a ", "<img", "<em>", "<strong>", "<code>", "<s>", "<script"):
        assert markup not in cell, markup


def test_md_text_escapes_what_could_begin_markup() -> None:
    from engine.reports.render import md_text

    assert md_text("wang.lei") == "wang.lei" and md_text("28.57%") == "28.57%" and md_text("-1h") == "-1h"
    assert md_text("li_na") == "li\\_na" and md_text("<b>x") == "\\<b\\>x"
    assert md_text("a|b\nc\r\nd") == "a\\|b c d"
    assert md_text("\\*") == "\\\\\\*"
