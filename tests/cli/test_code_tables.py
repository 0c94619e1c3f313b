"""Issue #24 items 1 and 2: the process team adds a pick list, a field that uses
it and a report grouped by it, in an ``itsm init`` repository, with YAML edits
only -- and lint, the runtime and the report follow (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest


ROOT_CAUSES = """\
schema: itsm/codes@1
table: root_causes
version: 1
title: {en: Root cause, zh: 根本原因}
values:
  hardware:
    label: {en: Hardware fault, zh: 硬件故障}
    attributes: {vendor: true}
  configuration:
    label: {en: Configuration error, zh: 配置错误}
    attributes: {vendor: false}
  vendor_software:
    label: {en: Vendor software defect, zh: 厂商软件缺陷}
    attributes: {vendor: true}
  legacy:
    label: {en: Legacy cause, zh: 旧原因}
    active: false
"""

REPORT = """\
schema: itsm/report@1
report: causes
version: 1
title: {en: Incidents by root cause, zh: 按根本原因统计的事件}
owner: process_owner
schedule: "0 8 1 * *"
period: month
timezone: Asia/Shanghai
kpis:
  - kpi: volume
    params: {group_by: root_cause, filters: {process: incident}}
  - kpi: volume
    id: regulatory_by_cause
    title: {en: Regulatory incidents by flag, zh: 监管相关事件}
    params: {group_by: regulatory_impact, filters: {process: incident, root_cause: [hardware, configuration]}}
"""


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def home(itsm_nodb: Any, tmp_path: Path) -> Path:
    """An ``itsm init`` repository with the three YAML edits of docs/process-design.md."""
    target = tmp_path / "desk"
    itsm_nodb("init", target)
    (target / "codes" / "root_causes.yaml").write_text(ROOT_CAUSES, encoding="utf-8")
    incident = target / "processes" / "incident.yaml"
    _edit(incident, "  closure_code: {type: code, codes: closure,",
          "  root_cause: {type: code, codes: root_causes, label: {en: Root cause, zh: 根本原因}}\n"
          "  closure_code: {type: code, codes: closure,")
    _edit(incident, "    accepts: [workaround, solution_from]",
          "    accepts: [workaround, solution_from, root_cause]")
    version = int(re.search(r"^version: (\d+)$", incident.read_text(encoding="utf-8"), re.M).group(1))  # type: ignore[union-attr]
    _edit(incident, f"version: {version}", f"version: {version + 1}")
    (target / "reports" / "causes.yaml").write_text(REPORT, encoding="utf-8")
    return target


def test_lint_follows_the_new_table(itsm_nodb: Any, home: Path) -> None:
    itsm_nodb("lint", home)  # clean: the table, the field and the report fit together
    incident = home / "processes" / "incident.yaml"
    _edit(incident, "codes: root_causes,", "codes: root_cause,")  # a misspelt table
    out = itsm_nodb("lint", home, expect=1).stdout
    assert "R001 undefined-reference] undefined code table 'root_cause'" in out
    _edit(incident, "codes: root_cause,", "codes: root_causes,")
    _edit(home / "reports" / "causes.yaml", "group_by: root_cause", "group_by: root_cuase")
    out = itsm_nodb("lint", home, expect=1).stdout
    assert "reports/causes.yaml:11:24" in out and "R005 report-dimension" in out
    _edit(home / "reports" / "causes.yaml", "group_by: root_cuase", "group_by: root_cause")
    # guards read the table's codes and attributes: lint checks both
    guard = "'incident' in codes.closure[closure_code].processes\""
    _edit(incident, guard, guard[:-1] + " and root_cause != 'hardwre' and not codes.root_causes[root_cause].vendr\"")
    out = itsm_nodb("lint", home, expect=1).stdout
    assert "E005 code-value-mismatch] 'hardwre' is not a code of table 'root_causes'" in out
    assert "E006 undeclared-attribute] '.vendr': no value of codes/root_causes.yaml has it" in out
    _edit(incident, "'hardwre' and not codes.root_causes[root_cause].vendr", "'hardware' and not "
          "codes.root_causes[root_cause].vendor")
    itsm_nodb("lint", home)
    _edit(home / "codes" / "root_causes.yaml", "attributes: {vendor: false}", "colour: red")
    out = itsm_nodb("lint", home, expect=1).stdout
    assert "S001 schema] unknown key 'colour'" in out


def test_runtime_and_report_follow_the_new_table(itsm: Any, org: Any, home: Path) -> None:
    def run(*args: Any, **kw: Any) -> Any:
        return itsm(*args, home=home, **kw)

    agent = org.agent.id  # people live in the database, whatever the definitions
    now = "2026-03-02T09:00:00+08:00"
    keys = []
    for i, cause in enumerate(["hardware", "hardware", "configuration", None]):
        t = json.loads(run("new", "incident", "--title", f"Printer {i}", "--reporter", "li.na@example.com",
                           "--service", "claims", "--urgency", "medium", "--impact", "low", "--json",
                           *(["--set", f"regulatory_impact={'true' if i == 0 else 'false'}"] if i in (0, 2) else []),
                           user=agent, now=now).stdout)
        sets = ["--set", "solution=Replaced the toner", "--set", "closure_code=solved",
                "--set", "service_restored=true"]
        if cause:
            sets += ["--set", f"root_cause={cause}"]

        run("do", t["key"], "resolve", *sets, user=agent, now=now)
        keys.append(t["key"])
    # a code the table does not have, and a retired one, are refused with the live codes
    bad = run("new", "incident", "--title", "x", "--reporter", "li.na@example.com",
              "--set", "root_cause=cosmic_rays", user=agent, now=now, expect=1)
    assert "not a code of table 'root_causes'" in bad.stderr
    retired = run("new", "incident", "--title", "x", "--reporter", "li.na@example.com",
                  "--set", "root_cause=legacy", user=agent, now=now, expect=1)
    assert "retired" in retired.stderr and "hardware, configuration, vendor_software" in retired.stderr
    shown = json.loads(run("show", keys[0], "--json", user=agent, now=now).stdout)
    assert shown["fields"]["root_cause"] == "hardware"
    # the report groups by the new field, labelled from the table in the report's language
    report = json.loads(run("report", "causes", "--from", "2026-03-01", "--to", "2026-04-01",
                            "--format", "json", now=now).stdout)
    table = report["kpis"][0]["tables"][0]
    counts = {r["group"]: r["count"] for r in table["rows"]}
    assert counts == {"hardware": 2, "configuration": 1, None: 1}
    assert table["columns"][0]["label"] == "Root cause"
    # a flag groups the same on both databases; a filter on the new field works too
    flags = {r["group"]: r["count"] for r in report["kpis"][1]["tables"][0]["rows"]}
    assert flags == {"true": 1, "false": 1, None: 1}
    md = run("report", "causes", "--from", "2026-03-01", "--to", "2026-04-01", "--format", "md",
             now=now, lang="zh").stdout
    assert "硬件故障" in md and "配置错误" in md and "根本原因" in md


def test_service_manuals_are_shown_at_intake_and_in_show(itsm: Any, org: Any) -> None:
    """Item 6: the catalogue links a service's runbooks and support manuals; the
    agent sees them when logging a ticket for it and in ``itsm show``."""
    now = "2026-03-02T09:00:00+08:00"
    out = itsm("new", "incident", "--title", "Claims screen freezes", "--reporter", "li.na@example.com",
               "--service", "claims", user=org.agent.id, now=now).stdout
    assert "Runbook" in out and "https://wiki.example.com/it/claims/runbook" in out
    assert "Support manual" in out and "Claims application support manual" in out
    key = re.search(r"INC-\d+", out).group(0)  # type: ignore[union-attr]
    shown = itsm.json("show", key, user=org.agent.id, now=now)
    assert [m["kind"] for m in shown["manuals"]] == ["runbook", "support_manual"]
    zh = itsm("show", key, user=org.agent.id, now=now, lang="zh").stdout
    assert "运行手册" in zh and "理赔系统支持手册" in zh
    other = itsm.json("new", "incident", "--title", "Printer", "--reporter", "li.na@example.com",
                      "--service", "printing", user=org.agent.id, now=now)
    assert other["manuals"] == []


def test_a_shipped_pick_list_value_retires_the_same_way(itsm: Any, org: Any, home: Path) -> None:
    """The engine's own tables are instances of the same mechanism: ``active:
    false`` retires a service as it retires a root cause (and the portal stops
    offering it)."""
    from engine.api import Api

    _edit(home / "codes" / "services.yaml", "  printing:\n", "  printing:\n    active: false\n")
    refused = itsm("new", "incident", "--title", "Printer", "--reporter", "li.na@example.com",
                   "--service", "printing", user=org.agent.id, home=home, expect=1)
    assert "retired" in refused.stderr
    form = Api.open(home=str(home), db=itsm.db).portal_form()
    assert "printing" not in [s["id"] for s in form["services"]]
    assert "email" in [s["id"] for s in form["services"]]
