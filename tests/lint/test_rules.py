"""Lint rules, one small definition at a time (yamllint's ``RuleTestCase.check`` style).

``check(files, expected)`` lays ``files`` (path -> text) over a copy of the clean
repository ``cases/_base``, runs :func:`engine.lint.lint_paths` on it and compares
the (rule, line, column) of every finding with ``expected``, exactly.

Most tests replace ``processes/incident.yaml``; ``HEAD`` is its first 7 lines, so
the test's own text starts at line 8.  ``at(text, needle)`` is the (line, column)
where ``needle`` starts in ``text``, counted independently of the engine.
"""

from __future__ import annotations

import importlib
import re
import shutil
import sys
from pathlib import Path
from typing import Callable

import pytest

from engine.lint import Finding, lint_paths
from engine.lint.registry import RULE_MODULES

CASES = Path(__file__).resolve().parent / "cases"
BASE = CASES / "_base"
P = "processes/incident.yaml"

HEAD = """\
schema: itsm/process@1
process: incident
version: 1
title: {en: Incident, zh: 事件}
key_prefix: INC
owner: service_desk
roles: {service_desk: {en: Service desk, zh: 热线}}
"""
# the smallest clean body: lines 8-12
BODY = """\
states:
  new: {status: new, initial: true}
  closed: {status: closed, final: true}
actions:
  close: {from: new, to: closed, roles: [service_desk]}
"""

Triple = tuple[str, int, int]
Check = Callable[..., list[Finding]]


def base_text(rel: str) -> str:
    return (BASE / rel).read_text(encoding="utf-8")


def replaced(rel: str, old: str, new: str) -> str:
    text = base_text(rel)
    assert text.count(old) == 1, f"{old!r} is not once in {rel}"
    return text.replace(old, new)


@pytest.fixture
def check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Check:
    monkeypatch.chdir(tmp_path)

    def run(files: dict[str, str | bytes | None], expected: list[Triple],
            paths: list[str] | None = None) -> list[Finding]:
        repo = tmp_path / "repo"
        shutil.rmtree(repo, ignore_errors=True)
        shutil.copytree(BASE, repo)
        for rel, content in files.items():
            target = repo / rel
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        targets = [repo / p for p in paths] if paths is not None else [repo]
        findings = lint_paths(targets).findings
        got = sorted((f.rule, f.line, f.column) for f in findings)
        listing = "\n".join(f"  {f.file}:{f.line}:{f.column} {f.rule} {f.message}" for f in findings)
        assert got == sorted(expected), f"findings:\n{listing or '  (none)'}"
        return findings

    return run


def at(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """1-based line and column of the nth occurrence of ``needle`` in ``text``."""
    index = -1
    for _ in range(nth):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def test_at() -> None:
    assert at("a: b\nc: [d, d]\n", "d", 2) == (2, 8)


def messages(findings: list[Finding]) -> list[str]:
    return [f.message for f in findings]


# --- the registry ------------------------------------------------------------------

@pytest.mark.parametrize("name", RULE_MODULES)
def test_rule_module_is_complete(name: str) -> None:
    module = importlib.import_module(f"engine.lint.rules.{name}")
    assert re.fullmatch(r"[A-Z]\d{3}", module.ID), module.ID
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", module.SLUG), module.SLUG
    assert module.SEVERITY in ("error", "warning", "info")
    assert callable(module.check)
    doc = module.__doc__ or ""
    assert "Bad" in doc and "Good" in doc, f"{name}: the docstring documents the rule with Bad and Good examples"


def test_rule_ids_and_slugs_are_unique() -> None:
    modules = [importlib.import_module(f"engine.lint.rules.{n}") for n in RULE_MODULES]
    ids = [m.ID for m in modules]
    slugs = [m.SLUG for m in modules]
    assert len(set(ids)) == len(ids), ids
    assert len(set(slugs)) == len(slugs), slugs


def test_every_rule_has_a_test_here() -> None:
    here = sys.modules[__name__]
    untested = [n for n in RULE_MODULES
                if not any(t.startswith(f"test_{n}") for t in dir(here))]
    assert not untested, f"write a test_<rule module>… for {untested}"


def test_base_is_clean(check: Check) -> None:
    check({}, [])


def test_a_crashing_rule_is_a_finding(check: Check, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module("engine.lint.rules.unreachable_state")

    def boom(ctx: object) -> list[object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(module, "check", boom)
    # the other rules still run: the undefined state below is still reported
    findings = check({P: HEAD + BODY.replace("from: new,", "from: nwe,")},
                     [("G002", 1, 1), ("G003", 9, 3), ("R001", 12, 17)])
    crashed = [f for f in findings if f.rule == "G002"]
    assert crashed[0].file == "<lint>"
    assert crashed[0].severity == "error"
    assert crashed[0].message == "rule crashed: RuntimeError: boom"


def test_a_rule_crashing_midway_keeps_its_earlier_findings(
        check: Check, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module("engine.lint.rules.initial_state")
    original = module.check

    def half(ctx):  # type: ignore[no-untyped-def]
        yield from original(ctx)
        raise KeyError("state")

    monkeypatch.setattr(module, "check", half)
    findings = check({P: HEAD + BODY.replace(" initial: true", "")}, [("G001", 8, 1), ("G001", 1, 1)])
    assert "rule crashed: KeyError: 'state'" in messages(findings)


def test_a_crashing_rule_is_a_finding_in_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``itsm lint`` prints the crash as a finding of the rule and exits 1: no traceback."""
    from click.testing import CliRunner

    import cli

    module = importlib.import_module("engine.lint.rules.stuck_state")

    def boom(ctx: object) -> list[object]:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(module, "check", boom)
    shutil.copytree(BASE, tmp_path / "repo")
    monkeypatch.chdir(tmp_path / "repo")
    result = CliRunner().invoke(cli.main, ["lint", "."], catch_exceptions=False)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "<lint>:1:1: error [G008 stuck-state] rule crashed: ZeroDivisionError: division by zero" \
        in result.output


# --- Y001 yaml-syntax ---------------------------------------------------------------

def test_yaml_syntax_unclosed_flow_sequence(check: Check) -> None:
    f = check({P: HEAD + "states: {new: [status}\n"}, [("Y001", 8, 22)])
    assert f[0].message.startswith("YAML syntax error:")


def test_yaml_syntax_tab_indentation(check: Check) -> None:
    check({P: HEAD + "states:\n\tnew: {status: new}\n"}, [("Y001", 9, 1)])


def test_yaml_syntax_not_utf8(check: Check) -> None:
    # the position of the bad byte, counted in characters
    f = check({P: (HEAD + BODY).encode("utf-8") + b"# caf\xe9\n"}, [("Y001", 13, 6)])
    assert f[0].message == "not UTF-8 text: byte 0xe9 cannot be decoded"


def test_yaml_syntax_two_documents(check: Check) -> None:
    check({P: HEAD + BODY + "---\nfoo: 1\n"}, [("Y001", 13, 1)])


def test_yaml_syntax_recursive_alias(check: Check) -> None:
    f = check({P: HEAD + BODY + "x: &loop [*loop]\n"}, [("Y001", 13, 4)])
    assert f[0].message == "recursive alias"


def test_yaml_syntax_reports_only_the_broken_file(check: Check) -> None:
    # the broken table is reported; the process that needs it is not blamed
    check({"codes/channels.yaml": "values: [\n"}, [("Y001", 2, 1)])


# --- Y002 duplicate-key ---------------------------------------------------------------

def test_duplicate_key_block(check: Check) -> None:
    f = check({P: HEAD + BODY + "  close: {from: new, to: closed, roles: [service_desk]}\n"},
              [("Y002", 13, 3)])
    assert f[0].message == "duplicate key 'close' (first at line 12, column 3; again at line 13, column 3)"


def test_duplicate_key_flow(check: Check) -> None:
    check({P: HEAD + BODY.replace("{status: new, initial: true}", "{status: new, status: closed}")},
          [("Y002", 9, 22)])


def test_duplicate_key_in_a_code_table(check: Check) -> None:
    table = replaced("codes/channels.yaml", "  phone: {label: {en: Phone, zh: 电话}}\n",
                     "  phone: {label: {en: Phone, zh: 电话}}\n  phone: {label: {en: Tel, zh: 电话}}\n")
    f = check({"codes/channels.yaml": table}, [("Y002", 7, 3)])
    assert f[0].file.endswith("codes/channels.yaml")


# --- Y003 yaml11-trap -----------------------------------------------------------------

def test_yaml11_trap_values_and_keys(check: Check) -> None:
    text = HEAD.replace("version: 1", "version: 010") + """\
states:
  new: {status: new, initial: true}
  on: {status: in_progress}
  closed: {status: closed, final: true}
actions:
  start: {from: new, to: "on", roles: [service_desk]}
  close: {from: 'on', to: closed, roles: [service_desk]}
"""
    f = check({P: text}, [("Y003", 3, 10), ("Y003", 10, 3)])
    assert {x.severity for x in f} == {"warning"}
    assert "key 'on' is boolean true in YAML 1.1" in messages(f)[1]


@pytest.mark.parametrize("value, meaning", [
    ("yes", "boolean true"), ("No", "boolean false"), ("off", "boolean false"), ("y", "boolean true"),
    ("0777", "an octal number"), ("1:30", "a sexagesimal number"), ("0b101", "a binary number"),
    ("1_000", "a number with underscores"), ("2026-01-01", "a timestamp"),
])
def test_yaml11_trap_kinds(check: Check, value: str, meaning: str) -> None:
    text = HEAD + BODY.replace("roles: [service_desk]}", f"roles: [service_desk], label: {{en: {value}, zh: x}}}}")
    line, column = at(text, f"{{en: {value},")
    where = (line, column + len("{en: "))
    # 0777 is also the integer 777, not a string: S001 for the label
    schema = [("S001", *where)] if value == "0777" else []
    f = check({P: text}, [("Y003", *where)] + schema)
    trap = [x for x in f if x.rule == "Y003"][0]
    assert trap.message.startswith(f"value '{value}' is {meaning} in YAML 1.1")


def test_yaml11_trap_quoted_is_fine(check: Check) -> None:
    check({P: HEAD + BODY.replace("roles: [service_desk]}", "roles: [service_desk], label: {en: 'yes', zh: \"1:30\"}}")},
          [])


def test_yaml11_trap_in_a_duration_is_also_a_schema_error(check: Check) -> None:
    sla = replaced("codes/sla.yaml", "P1: {response: 15m,", "P1: {response: 0:15,")
    check({"codes/sla.yaml": sla}, [("S001", 12, 22), ("Y003", 12, 22)])


# --- S001 schema ------------------------------------------------------------------------

def test_schema_unknown_key_did_you_mean(check: Check) -> None:
    f = check({P: HEAD + BODY.replace("initial: true", "intial: true")}, [("S001", 9, 22)])
    assert f[0].message == "unknown key 'intial'; did you mean 'initial'? (at states.new.intial)"


def test_schema_unknown_key_lists_the_allowed_keys(check: Check) -> None:
    f = check({P: HEAD + BODY + "colour: blue\n"}, [("S001", 13, 1)])
    assert f[0].message.startswith("unknown key 'colour'; allowed here: actions, close_criteria")


def test_schema_wrong_types(check: Check) -> None:
    text = HEAD.replace("version: 1", "version: one") + BODY.replace("initial: true", "initial: 'true'")
    f = check({P: text}, [("S001", 3, 10), ("S001", 9, 31)])
    assert messages(f) == ["expected integer, got a string (at version)",
                           "expected boolean, got a string (at states.new.initial)"]


def test_schema_missing_key(check: Check) -> None:
    f = check({P: HEAD + BODY.replace(", roles: [service_desk]", "")}, [("S001", 12, 10)])
    assert f[0].message == "missing required key 'roles' (at actions.close)"


def test_schema_enum_did_you_mean(check: Check) -> None:
    text = HEAD + "fields:\n  solution: {type: txt, label: {en: S, zh: S}}\n" + BODY
    f = check({P: text}, [("S001", 9, 20)])
    assert "did you mean 'text'?" in f[0].message


def test_schema_bad_id_value(check: Check) -> None:
    text = HEAD + BODY.replace("to: closed", "to: Closed")
    f = check({P: text}, [("S001", *at(text, "Closed"))])
    assert f[0].message.startswith("'Closed' is not valid: An identifier")


def test_schema_bad_id_key_points_at_the_key(check: Check) -> None:
    # the state id 'Closed' (line 10) is wrong, not the first state 'new' (line 9)
    text = HEAD + BODY.replace("  closed:", "  Closed:").replace("to: closed", "to: Closed")
    f = check({P: text}, [("S001", 10, 3), ("S001", *at(text, "Closed", 2))])
    assert f[0].message.startswith("key 'Closed' is not a valid id")


def test_schema_empty_file(check: Check) -> None:
    f = check({P: ""}, [("S001", 1, 1)])
    assert f[0].message == "expected object, got nothing (null)"


def test_schema_not_an_itsm_file(check: Check) -> None:
    f = check({"processes/notes.yaml": "schema: something/else@2\n"}, [("S001", 1, 1)])
    assert f[0].message.startswith("not an itsm definition")


ROOT_CAUSES = """\
schema: itsm/codes@1
table: root_causes
version: 1
title: {en: Root cause, zh: 根本原因}
values:
  hardware: {label: {en: Hardware, zh: 硬件}, attributes: {vendor: true}}
  config: {label: {en: Configuration, zh: 配置}, colour: red}
"""


def test_schema_a_table_of_the_process_team_follows_the_generic_schema(check: Check) -> None:
    """Any table in codes/ is a code table (no fixed list): one the engine does not
    read itself is checked against engine/schemas/codes.schema.json."""
    f = check({"codes/root_causes.yaml": ROOT_CAUSES}, [("S001", *at(ROOT_CAUSES, "colour"))])
    assert f[0].message.startswith("unknown key 'colour'")
    fine = ROOT_CAUSES.replace(", colour: red", "")
    check({"codes/root_causes.yaml": fine}, [])
    reserved = fine.replace("{vendor: true}", "{label: x}")
    f = check({"codes/root_causes.yaml": reserved}, [("S001", *at(reserved, "label: x"))])
    assert f[0].message.startswith("key 'label' is reserved here: An attribute name")


REPORT = """\
schema: itsm/report@1
report: causes
version: 1
title: {en: Causes, zh: 原因}
owner: service_desk
schedule: "0 8 1 * *"
period: month
kpis:
  - kpi: volume
    params: {group_by: GROUP, filters: {process: incident}}
"""


def test_report_definition_what_itsm_report_would_refuse(check: Check) -> None:
    fine = REPORT.replace("GROUP", "priority")
    check({"reports/causes.yaml": fine}, [])
    cron = fine.replace('"0 8 1 * *"', '"0 8 1 * xyz"')
    f = check({"reports/causes.yaml": cron}, [("R008", *at(cron, '"0 8 1 * xyz"'))])
    assert "day of week: 'xyz' is not a number or a name" in f[0].message
    owner = fine.replace("owner: service_desk", "owner: servce_desk")
    f = check({"reports/causes.yaml": owner}, [("R008", *at(owner, "servce_desk"))])
    assert "unknown role 'servce_desk'; roles of the processes: " in f[0].message
    zone = fine.replace("period: month", "period: month\ntimezone: Mars/Olympus")
    f = check({"reports/causes.yaml": zone}, [("R008", *at(zone, "Mars/Olympus"))])
    assert "unknown time zone 'Mars/Olympus'" in f[0].message
    named = fine.replace("report: causes", "report: reasons")
    check({"reports/causes.yaml": named}, [("R008", *at(named, "reasons"))])
    # a parameter the KPI does not take is R007's finding only (the first problem itsm report meets)
    param = fine.replace("group_by: priority,", "group_by: priority, clock: resolution,")
    check({"reports/causes.yaml": param}, [("R007", *at(param, "clock"))])


def test_report_dimension_group_by_any_code_field_of_the_processes_in_scope(check: Check) -> None:
    fine = REPORT.replace("GROUP", "closure_code")
    check({"reports/causes.yaml": fine}, [])
    typo = REPORT.replace("GROUP", "closure_cod")
    f = check({"reports/causes.yaml": typo}, [("R005", *at(typo, "closure_cod"))])
    assert "'closure_cod' is neither a ticket dimension" in f[0].message
    text = REPORT.replace("GROUP", "solution")  # a text field: not enumerable
    f = check({"reports/causes.yaml": text}, [("R005", *at(text, "solution"))])
    assert "of type text" in f[0].message
    other = REPORT.replace("GROUP", "closure_code").replace("process: incident", "process: nope")
    f = check({"reports/causes.yaml": other}, [("R005", *at(other, "closure_code")), ("R005", *at(other, "nope"))])
    assert "processes in scope (none)" in messages(f)[0] and "'nope' is not a process" in messages(f)[1]
    filt = REPORT.replace("GROUP", "priority").replace("{process: incident}",
                                                       "{process: incident, colour: red}")
    check({"reports/causes.yaml": filt}, [("R005", *at(filt, "colour"))])
    values = REPORT.replace("GROUP", "priority").replace(
        "{process: incident}", "{process: [incident, incidnet], closure_code: [solved, solvd], priority: P9}")
    f = check({"reports/causes.yaml": values}, [("R005", *at(values, "incidnet")), ("R005", *at(values, "solvd")),
                                                ("R005", *at(values, "P9"))])
    assert sorted(messages(f)) == ["'P9' is not a code of codes/priority.yaml (priority)",
                                   "'incidnet' is not a process (process)",
                                   "'solvd' is not a code of codes/closure.yaml (closure_code)"]


def test_schema_list_item_messages_name_the_real_problem(check: Check) -> None:
    # from: [new, new] breaks uniqueItems of the list form; the message should say so
    f = check({P: HEAD + BODY.replace("from: new,", "from: [new, new],")}, [("S001", 12, 17)])
    assert "duplicate" in f[0].message, f[0].message


# --- S002 id-mismatch ----------------------------------------------------------------------

def test_id_mismatch_process(check: Check) -> None:
    f = check({P: HEAD.replace("process: incident", "process: incidents") + BODY}, [("S002", 2, 10)])
    assert f[0].message == "process id 'incidents' differs from the file name 'incident'"


def test_id_mismatch_duplicate_key_prefix(check: Check) -> None:
    other = HEAD.replace("process: incident", "process: service_request") + BODY
    f = check({P: HEAD + BODY, "processes/service_request.yaml": other}, [("S002", 5, 13)])
    assert f[0].file.endswith("service_request.yaml")
    assert f[0].message == "key prefix 'INC' is already used by process 'incident'"


def _definitions(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    """The Definitions of _base with ``text`` as processes/incident.yaml (not linted)."""
    from engine.definitions.specs import build_definitions
    from engine.lint.context import build_context

    repo = tmp_path / "defs"
    shutil.copytree(BASE, repo)
    (repo / P).write_text(text, encoding="utf-8")
    ctx = build_context([repo])
    return build_definitions(str(repo), {pid: doc for pid, (doc, _) in ctx.processes.items()},
                             {tid: doc for tid, (doc, _) in ctx.tables.items()})


def _perform(defs, action: str, values: dict, inputs: dict, note: str | None = None):  # type: ignore[no-untyped-def]
    from datetime import datetime, timezone

    from engine.runtime.actions import Actor, perform
    from engine.runtime.ticket import Ticket

    now = datetime(2026, 3, 2, tzinfo=timezone.utc)
    ticket = Ticket(key="INC-000001", process="incident", state="new", values=dict(values),
                    definition_version="x", created_at=now, updated_at=now, state_entered_at=now, version=1,
                    status="new", status_category="new")
    return perform(defs, defs.processes["incident"], ticket, action, Actor("a", roles=frozenset({"service_desk"})),
                   inputs, note, now, None, lambda state, values: {})


# --- S003 field-value ------------------------------------------------------------------------

TYPED_FIELDS = """\
fields:
  affected_users: {type: int, label: {en: Affected users, zh: 受影响用户数}}
  confirmed: {type: bool, label: {en: Confirmed, zh: 已确认}}
  due: {type: date, label: {en: Due, zh: 到期}}
"""
MORE_FIELDS = """\
  via: {type: code, codes: channels, label: {en: Via, zh: 渠道}}
  who: {type: user, label: {en: Who, zh: 谁}}
"""


def test_field_value(check: Check) -> None:
    """The runtime reads set: values as --set (engine.runtime.fields.coerce): each of these
    would refuse the action every time; a default would be stored as written."""
    text = HEAD + TYPED_FIELDS + "defaults: {affected_users: lots}\n" + BODY.replace(
        "roles: [service_desk]}",
        "roles: [service_desk],\n          set: {affected_users: many, confirmed: maybe, due: '2026-13-01', "
        "title: [a, b]}}") + "  fix: {from: new, roles: [service_desk], set: {affected_users: true}}\n"
    f = check({P: text}, [("S003", *at(text, n)) for n in ("lots", "many", "maybe", "'2026-13-01'", "[a, b]",
                                                           "true}}")])
    assert messages(f) == [
        "defaults: invalid value 'lots' for affected_users: expected a whole number: every ticket logged "
        "without it would get a value its field cannot hold",
        "set: invalid value 'many' for affected_users: expected a whole number: action 'close' would be "
        "refused every time it is performed",
        "set: invalid value 'maybe' for confirmed: expected true or false: action 'close' would be refused "
        "every time it is performed",
        "set: invalid value '2026-13-01' for due: expected a date YYYY-MM-DD: action 'close' would be "
        "refused every time it is performed",
        "set: the value for title is a list, not a single value: action 'close' would be refused every time "
        "it is performed",
        "set: invalid value true for affected_users: expected a whole number, not true or false: action "
        "'fix' would be refused every time it is performed",
    ]


def test_field_value_retired_code(check: Check) -> None:
    channels = base_text("codes/channels.yaml") + "  fax: {label: {en: Fax, zh: 传真}, active: false}\n"
    text = HEAD + TYPED_FIELDS + MORE_FIELDS + BODY.replace(
        "roles: [service_desk]}", "roles: [service_desk], set: {via: fax, who: x, affected_users: 1, confirmed: false, "
        "due: '2026-03-01'}}")
    f = check({P: text, "codes/channels.yaml": channels}, [("S003", *at(text, "fax,"))])
    assert "code 'fax' of table 'channels' is retired (active: false)" in f[0].message


def test_field_value_fine(check: Check) -> None:
    """Values the runtime takes, expressions (read when the action runs), people (in the
    database) and unknown codes (R001's) are not S003's."""
    text = HEAD + TYPED_FIELDS + MORE_FIELDS + "defaults: {affected_users: 5, confirmed: false}\n" + BODY.replace(
        "roles: [service_desk]}",
        "roles: [service_desk],\n          set: {affected_users: \"12\", confirmed: \"yes\", due: '2026-03-01', "
        "via: phone, who: anybody, title: \"{{ title }}\"}}") + \
        "  fix: {from: new, roles: [service_desk], set: {via: pigeon}}\n"
    check({P: text}, [("R001", *at(text, "pigeon"))])


def test_field_value_is_what_the_runtime_refuses(tmp_path: Path) -> None:
    """The rule's check is the runtime's: performing such an action is refused."""
    from engine.errors import ActionRefused

    defs = _definitions(tmp_path, HEAD + TYPED_FIELDS + BODY.replace(
        "roles: [service_desk]}", "roles: [service_desk], set: {affected_users: many}}"))
    with pytest.raises(ActionRefused, match="invalid value 'many' for affected_users: expected a whole number"):
        _perform(defs, "close", {}, {})


# --- F001 missing-file ----------------------------------------------------------------------

def test_missing_file_code_table(check: Check) -> None:
    f = check({"codes/sla.yaml": None}, [("F001", 1, 1)])
    assert f[0].file.endswith("codes/sla.yaml")


def test_missing_file_path_given(check: Check) -> None:
    f = check({}, [("F001", 1, 1)], paths=[".", "processes/incidnet.yaml"])
    assert f[0].message == "file not found"


# --- R001 undefined-reference -------------------------------------------------------------

def test_undefined_reference_state_role_field(check: Check) -> None:
    text = HEAD.replace("owner: service_desk", "owner: proces_owner") + """\
fields:
  solution: {type: text, label: {en: S, zh: S}}
states:
  new: {status: new, initial: true, owner: servce_desk}
  closed: {status: closed, final: true}
actions:
  close: {from: [new, nwe], to: closed, roles: [service_desk, boss], requires: [soluton]}
  note: {from: "*", roles: [service_desk], accepts: [solution, colour]}
close_criteria:
  - {id: done, when: "solution", label: {en: D, zh: D}, states: [closd]}
"""
    f = check({P: text}, [("R001", *at(text, n)) for n in (
        "proces_owner", "servce_desk", "nwe", "boss", "soluton", "colour", "closd")])
    assert messages(f) == ["undefined role 'proces_owner'", "undefined role 'servce_desk'",
                           "undefined state 'nwe'", "undefined role 'boss'",
                           "undefined field 'soluton'", "undefined field 'colour'",
                           "undefined state 'closd'"]


def test_undefined_reference_user_fields_are_roles(check: Check) -> None:
    text = HEAD + "fields:\n  lead: {type: user, label: {en: Lead, zh: 负责人}}\n" + \
        BODY.replace("roles: [service_desk]", "roles: [lead, assignee, reporter, group_member, system]")
    check({P: text}, [])


def test_undefined_reference_status_and_code_values(check: Check) -> None:
    text = HEAD + """\
fields:
  closure_code: {type: code, codes: closure, label: {en: C, zh: C}}
  channel: {type: code, codes: chanels, label: {en: C, zh: C}}
  kind: {type: code, label: {en: K, zh: K}}
defaults: {urgency: critical, impact: high}
states:
  new: {status: fresh, initial: true}
  closed: {status: closed, final: true}
actions:
  close: {from: new, to: closed, roles: [service_desk], set: {closure_code: fixd, colour: red}}
"""
    f = check({P: text}, [("R001", *at(text, n)) for n in (
        "chanels", "kind", "critical", "fresh", "fixd", "colour")])
    assert messages(f) == [
        "undefined code table 'chanels'",
        "field 'kind' of type code needs 'codes:' (its code table)",
        "undefined code 'critical' in table 'urgency'",
        "undefined status 'fresh' (not in codes/status.yaml)",
        "undefined code 'fixd' in table 'closure'",
        "undefined field 'colour'",
    ]


def test_undefined_reference_templates_are_not_code_values(check: Check) -> None:
    text = HEAD + BODY.replace("roles: [service_desk]}", "roles: [service_desk], set: {urgency: \"{{ urgency }}\"}}")
    check({P: text}, [])


def test_undefined_reference_sla_clock_and_timer(check: Check) -> None:
    text = HEAD + BODY + """\
sla:
  resolution:
    label: {en: R, zh: R}
    target: resolution
    start: {states: [nw]}
    stop: {states: [closed], actions: [clos]}
    on_breach: {action: escalate}
timers:
  auto_close:
    label: {en: A, zh: A}
    states: [new]
    after: 3 business days
    action: close
    calendar: ofice
"""
    # the timer fires 'close', which only the service desk may perform: timed-action (T006)
    f = check({P: text}, [("R001", *at(text, n)) for n in ("nw]", "clos]", "escalate", "ofice")]
              + [("T006", *at(text, "close\n    calendar"))])
    assert messages([x for x in f if x.rule == "R001"]) == [
        "undefined state 'nw'", "undefined action 'clos'", "undefined action 'escalate'",
        "undefined calendar 'ofice'"]


def test_undefined_reference_code_tables(check: Check) -> None:
    services = replaced("codes/services.yaml", "calendar: office", "calendar: head_office")
    sla = replaced("codes/sla.yaml", "default: standard", "default: gold")
    groups = replaced("codes/groups.yaml", "calendar: office", "calendar: offce")
    categories = replaced("codes/categories.yaml", "processes: [incident]", "processes: [incident, service_request]")
    f = check({"codes/services.yaml": services, "codes/sla.yaml": sla, "codes/groups.yaml": groups,
               "codes/categories.yaml": categories},
              [("R001", *at(categories, "service_request")), ("R001", *at(groups, "offce")),
               ("R001", *at(services, "head_office")), ("R001", *at(sla, "gold"))])
    assert sorted(messages(f)) == sorted(["undefined process 'service_request'", "undefined calendar 'offce'",
                                          "undefined calendar 'head_office'", "undefined SLA policy 'gold'"])


def test_undefined_reference_opens_unknown_process(check: Check) -> None:
    text = HEAD + BODY.replace("roles: [service_desk]}", "roles: [service_desk], opens: major_incident}")
    f = check({P: text}, [("R001", *at(text, "major_incident"))])
    assert f[0].message == "undefined process 'major_incident'"


# --- R007 kpi-reference ----------------------------------------------------------------------

KPI_REPORT = REPORT.replace("""  - kpi: volume
    params: {group_by: GROUP, filters: {process: incident}}
""", """  - kpi: reopen_rate
    params: {actions: [reopen, re_open], filters: {process: incident}}
  - kpi: sla_compliance
    params: {clocks: [resolution]}
  - kpi: major_incidents
    params: {process: incident, mitigate_states: [in_progress, mitigated], exclude_states: [closed]}
  - kpi: problems
    params: {process: problem, incidents: incident, relation: caused_by}
  - kpi: volume
    params: {group_by: priority, clocks: [resolution]}
""")


def test_kpi_reference(check: Check) -> None:
    """Each of these made the KPI count nothing (or, for a parameter the KPI does not take,
    made itsm report refuse) while lint said nothing."""
    text = KPI_REPORT
    needles = [("re_open", 1), ("resolution]", 1), ("mitigated", 1), ("problem,", 1), ("caused_by", 1),
               ("clocks", 2)]
    f = check({"reports/causes.yaml": text}, [("R007", *at(text, n, i)) for n, i in needles])
    assert sorted(messages(f)) == sorted([
        "'re_open' is not an action of the processes in scope (incident): KPI 'reopen_rate' would count nothing "
        "for it",
        "'resolution' is not an SLA clock of the processes in scope (incident): KPI 'sla_compliance' would find "
        "no result for it",
        "'mitigated' is not a state of process 'incident': KPI 'major_incidents' would never see a ticket enter it",
        "undefined process 'problem'",
        "'caused_by' is not a relation of process 'incident': KPI 'problems' would find no linked tickets",
        "KPI 'volume' has no parameter 'clocks'; it takes: group_by, filters",
    ])


def test_kpi_reference_fine(check: Check) -> None:
    """The names of the processes in scope, a KPI's default process that this
    repository lacks (major_incident, problem: nothing of theirs is judged), and a
    default that only refines the figure."""
    text = REPORT.replace("""  - kpi: volume
    params: {group_by: GROUP, filters: {process: incident}}
""", """  - kpi: reopen_rate
    params: {actions: [reopen], filters: {process: incident}}
  - kpi: auto_close_share
    params: {auto_actions: [confirm], confirm_actions: [confirm], desk_confirm_actions: [start]}
  - kpi: major_incidents
    params: {mitigate_states: [mitigated]}
  - kpi: problems
  - kpi: auto_close_share
    id: confirmed_share
    params: {auto_actions: [confirm]}
""")
    # problems: no problem process here, so neither its default relation nor its states are judged;
    # auto_close_share: the default confirm_for_user only adds a column (none here)
    check({"reports/causes.yaml": text}, [])


def test_kpi_reference_defaults(check: Check) -> None:
    """A use that leaves a parameter out counts the KPI's default: an action or
    state the processes do not have (renamed, say) is reported at the KPI's name;
    one the report gives is not judged by the default."""
    text = REPORT.replace("""  - kpi: volume
    params: {group_by: GROUP, filters: {process: incident}}
""", """  - kpi: reassignment
  - kpi: reopen_rate
  - kpi: auto_close_share
    params: {desk_confirm_actions: [confirm]}
  - kpi: problems
    params: {process: incident}
""")
    needles = [("reassignment", 1), ("auto_close_share", 1), ("problems", 1), ("problems", 1)]
    f = check({"reports/causes.yaml": text}, [("R007", *at(text, n, i)) for n, i in needles])
    assert sorted(messages(f)) == sorted([
        "'assign' is not an action of the processes in scope (incident): KPI 'reassignment' would count nothing "
        "for it (the default of 'actions': give 'actions' in params)",
        "'auto_close' is not an action of the processes in scope (incident): KPI 'auto_close_share' would count "
        "nothing for it (the default of 'auto_actions': give 'auto_actions' in params)",
        "'known_error' is not a state of process 'incident': KPI 'problems' would never see a ticket enter it "
        "(the default of 'known_error_states': give 'known_error_states' in params)",
        "'caused_by' is not a relation of process 'incident': KPI 'problems' would find no linked tickets (the "
        "default of 'relation': give 'relation' in params)",
    ])


def test_kpi_reference_knows_what_each_kpi_takes() -> None:
    """engine.definitions.kpi_names mirrors the KPI modules (lint may not import them)."""
    from engine.definitions import kpi_names
    from engine.reports.kpis import KPIS

    assert {k: set(v) for k, v in kpi_names.TAKES.items()} == {k: set(m.PARAMS) for k, m in KPIS.items()}
    for kpi, defaults in kpi_names.DEFAULTS.items():
        assert {k: KPIS[kpi].PARAMS[k] for k in defaults} == defaults
    named = set(kpi_names.ACTIONS + kpi_names.CLOCKS + kpi_names.PROCESSES + kpi_names.STATES + ("relation",))
    for kpi, module in KPIS.items():  # every default that names something is checked by lint
        assert {k: v for k, v in module.PARAMS.items() if k in named and v} == kpi_names.DEFAULTS.get(kpi, {})
    for kpi, module in KPIS.items():
        assert set(module.PARAMS) & {"process", "incidents"} <= set(kpi_names.PROCESS_DEFAULTS.get(kpi, {}))
    assert named <= {p for m in KPIS.values() for p in m.PARAMS}


# --- R002 message-target ---------------------------------------------------------------------

def test_message_target(check: Check) -> None:
    text = HEAD + BODY.replace(
        "roles: [service_desk]}",
        "roles: [service_desk], notify: [{to: [reporter, boss], template: closed}, "
        "{to: ops@example.com, template: gone}]}")
    templates = {"processes/templates/en/closed.txt": "closed\n", "processes/templates/zh/closed.txt": "关闭\n"}
    # like undefined-reference, the finding points at the wrong item of the list
    f = check({P: text, **templates}, [("R002", *at(text, "boss")), ("R002", *at(text, "gone")),
                                       ("R002", *at(text, "gone"))])
    assert sorted(messages(f)) == ["template 'gone' is missing in processes/templates/en/",
                                   "template 'gone' is missing in processes/templates/zh/",
                                   "unknown recipient 'boss'"]


def test_message_target_fine(check: Check) -> None:
    text = HEAD + BODY.replace(
        "roles: [service_desk]}", "roles: [service_desk], notify: [{to: [reporter, group], template: closed}]}")
    templates = {"processes/templates/en/closed.txt": "closed\n", "processes/templates/zh/closed.txt": "关闭\n"}
    check({P: text, **templates}, [])


# --- R006 computed-priority ------------------------------------------------------------------

def test_computed_priority(check: Check) -> None:
    text = HEAD + "defaults: {impact: low, urgency: low, priority: P1}\n" + BODY.replace(
        "roles: [service_desk]}", "roles: [service_desk], set: {priority: P1}}") + \
        "  update: {from: new, roles: [service_desk], accepts: [title, priority]}\n"
    f = check({P: text}, [("R006", *at(text, "priority: P1}")), ("R006", *at(text, "priority: P1}}")),
                          ("R006", *at(text, "priority]"))])
    assert messages(f) == [
        "a default priority is dropped: with the default impact and urgency every new ticket gets the "
        "priority of the matrix; remove it, or change the default impact or urgency",
        "'close' sets priority, but the runtime computes the priority from impact x urgency "
        "(codes/priority.yaml) after every action, unless it was overridden: the value set is dropped; set "
        "impact or urgency instead (to let a role set it by hand, declare priority_override: {roles: [...]})",
        "'update' accepts priority, but the runtime computes the priority from impact x urgency "
        "(codes/priority.yaml) after every action, unless it was overridden: the value given is dropped, and "
        "the override roles cannot override it with this action; remove it (to let a role set it by hand, "
        "declare priority_override: {roles: [...]})",
    ]


def test_computed_priority_fine(check: Check) -> None:
    """Overriding by priority_override (a role, a note), a default priority that only fills
    in for tickets without impact or urgency, and requiring a priority are fine."""
    text = HEAD + "priority_override: {roles: [service_desk]}\ndefaults: {priority: P4}\n" + BODY + \
        "  update: {from: new, roles: [service_desk], accepts: [impact, urgency], requires: [priority]}\n"
    check({P: text}, [])


def test_computed_priority_is_what_the_runtime_does(tmp_path: Path) -> None:
    """An accepted priority is dropped by the runtime; the same value given by an
    override role (not accepted) is kept as an override."""
    defs = _definitions(tmp_path, HEAD + "priority_override: {roles: [service_desk]}\n" + BODY +
                        "  update: {from: new, roles: [service_desk], accepts: [priority]}\n"
                        "  edit: {from: new, roles: [service_desk]}\n")
    values = {"impact": "low", "urgency": "low", "priority": "P4"}
    accepted = _perform(defs, "update", values, {"priority": "P1"}, "urgent")
    assert accepted.values["priority"] == "P4" and not accepted.priority_overridden
    overridden = _perform(defs, "edit", values, {"priority": "P1"}, "urgent")
    assert overridden.values["priority"] == "P1" and overridden.priority_overridden


# --- G001 initial-state ---------------------------------------------------------------------

def test_initial_state_none(check: Check) -> None:
    f = check({P: HEAD + BODY.replace(", initial: true", "")}, [("G001", 8, 1)])
    assert f[0].message == "process 'incident' has no initial state: mark one state 'initial: true'"


def test_initial_state_two(check: Check) -> None:
    text = HEAD + BODY.replace("  closed: {status: closed, final: true}",
                               "  also_new: {status: new, initial: true}\n  closed: {status: closed, final: true}")
    text = text.replace("from: new,", "from: [new, also_new],")
    f = check({P: text}, [("G001", 10, 3)])
    assert f[0].message == "second initial state 'also_new' (first: 'new'): only one state may be initial"


def test_initial_state_also_final(check: Check) -> None:
    text = HEAD + BODY.replace("initial: true}", "initial: true, final: true}")
    check({P: text}, [("G001", 9, 3), ("G004", 12, 17)])


# --- G002 unreachable-state ---------------------------------------------------------------------

def test_unreachable_state(check: Check) -> None:
    text = HEAD + BODY.replace("  closed:", "  pending: {status: in_progress}\n  closed:") + \
        "  resume: {from: pending, to: closed, roles: [service_desk]}\n"
    f = check({P: text}, [("G002", 10, 3)])
    assert f[0].message == "state 'pending' cannot be reached from the initial state"


def test_unreachable_state_star_reaches_nothing_by_itself(check: Check) -> None:
    # "*" is a source, not a target: an update action does not make a state reachable
    text = HEAD + BODY.replace("  closed:", "  pending: {status: in_progress}\n  closed:") + \
        "  resume: {from: pending, to: closed, roles: [service_desk]}\n" + \
        "  note: {from: \"*\", roles: [service_desk]}\n"
    check({P: text}, [("G002", 10, 3)])


# --- G003 no-path-to-final ---------------------------------------------------------------------

def test_no_path_to_final_trap_state(check: Check) -> None:
    text = HEAD + BODY.replace("  closed:", "  pending: {status: in_progress}\n  closed:") + \
        "  pend: {from: new, to: pending, roles: [service_desk]}\n"
    f = check({P: text}, [("G003", 10, 3)])
    assert f[0].message == "no path from state 'pending' to a final state (closed)"


def test_no_path_to_final_no_final_state(check: Check) -> None:
    f = check({P: HEAD + BODY.replace(", final: true", "")}, [("G003", 8, 1)])
    assert f[0].message == "process 'incident' has no final state: mark closing states 'final: true'"


# --- G004 action-from-final ---------------------------------------------------------------------

def test_action_from_final_in_a_list(check: Check) -> None:
    text = HEAD + BODY.replace("from: new,", "from: [new, closed],")
    f = check({P: text}, [("G004", *at(text, "closed]"))])
    assert f[0].message == "action 'close' leaves final state 'closed'"


def test_action_from_final_scalar(check: Check) -> None:
    text = HEAD + BODY + "  reopen: {from: closed, to: new, roles: [service_desk]}\n"
    check({P: text}, [("G004", *at(text, "closed, to: new"))])


def test_action_from_final_star_is_fine(check: Check) -> None:
    check({P: HEAD + BODY + "  note: {from: \"*\", roles: [service_desk]}\n"}, [])


# --- E001 expression-syntax ---------------------------------------------------------------------

def _guarded(when: str) -> str:
    return HEAD + BODY.replace("roles: [service_desk]}", "roles: [service_desk],\n          when: " + when + "}")


def test_expression_syntax_double_quoted(check: Check) -> None:
    text = _guarded('"urgency and and impact"')
    f = check({P: text}, [("E001", *at(text, "and impact"))])
    assert f[0].message.startswith("syntax error: ")
    assert f[0].message.endswith(" in 'urgency and and impact'")


def test_expression_syntax_single_quoted(check: Check) -> None:
    text = _guarded("'urgency and and impact'")
    check({P: text}, [("E001", *at(text, "and impact"))])


def test_expression_syntax_plain_scalar(check: Check) -> None:
    # no quote to skip: the column must still be that of the second 'and'
    text = HEAD + BODY + "  fix:\n    from: new\n    roles: [service_desk]\n    when: urgency and and impact\n"
    check({P: text}, [("E001", *at(text, "and impact"))])


def test_expression_syntax_block_scalar(check: Check) -> None:
    # a folded expression over two lines: the error is on the second line of the text
    text = HEAD + BODY + "  fix:\n    from: new\n    roles: [service_desk]\n    when: >-\n      urgency\n      and and impact\n"
    check({P: text}, [("E001", *at(text, "and impact"))])


def test_expression_syntax_in_a_set_template(check: Check) -> None:
    text = HEAD + BODY + '  fix: {from: new, roles: [service_desk], set: {title: "{{ title and and x }}"}}\n'
    # the column must skip the quote and the "{{ " in front of the expression
    check({P: text}, [("E001", *at(text, "and x"))])


def test_expression_syntax_close_criterion(check: Check) -> None:
    text = HEAD + BODY + 'close_criteria:\n  - {id: ok, when: "solution ==", label: {en: O, zh: O}}\n'
    # the expression ends early: the column is just after it (the closing quote)
    check({P: text}, [("E001", *at(text, '", label'))])


# --- E002 undeclared-name ---------------------------------------------------------------------

def test_undeclared_name(check: Check) -> None:
    text = _guarded('"urgncy == \'high\' and service.criticality == \'low\'"')
    f = check({P: text}, [("E002", *at(text, '"urgncy'))])
    assert f[0].message == ("undeclared name 'urgncy' in 'urgncy == 'high' and service.criticality == 'low''; "
                            "did you mean 'urgency'?")


def test_undeclared_name_engine_names_and_fields_are_declared(check: Check) -> None:
    text = HEAD + "fields:\n  vip: {type: bool, label: {en: VIP, zh: 贵宾}}\n" + BODY.replace(
        "roles: [service_desk]}",
        "roles: [service_desk], when: \"vip and ticket.key and input and codes and sla and now "
        "and actor and action and status_category and priority and not parent\"}")
    check({P: text}, [])


def test_undeclared_name_in_set_template(check: Check) -> None:
    text = HEAD + BODY + '  fix: {from: new, roles: [service_desk], set: {title: "{{ titel }}"}}\n'
    f = check({P: text}, [("E002", *at(text, '"{{ titel'))])
    assert "did you mean 'title'?" in f[0].message


def test_undeclared_name_in_close_criterion(check: Check) -> None:
    text = HEAD + BODY + 'close_criteria:\n  - {id: ok, when: "soltion", label: {en: O, zh: O}}\n'
    check({P: text}, [("E002", *at(text, '"soltion'))])


# --- C001 priority-matrix ---------------------------------------------------------------------

def test_priority_matrix_incomplete(check: Check) -> None:
    table = replaced("codes/priority.yaml", "  low: {high: P3, low: P4}", "  low: {high: P3}")
    f = check({"codes/priority.yaml": table}, [("C001", 12, 3)])
    assert f[0].message == "no priority for impact 'low' with urgency 'low'"


def test_priority_matrix_missing_row_and_unknown_codes(check: Check) -> None:
    table = replaced("codes/priority.yaml", "  low: {high: P3, low: P4}", "  lo: {high: P3, loww: P9}")
    f = check({"codes/priority.yaml": table}, [("C001", 10, 1), ("C001", 12, 3)])
    assert sorted(messages(f)) == ["no priority for impact 'low' with urgency 'high', 'low'",
                                   "undefined impact 'lo' in the matrix"]


def test_priority_matrix_unknown_urgency_and_priority(check: Check) -> None:
    table = replaced("codes/priority.yaml", "  low: {high: P3, low: P4}", "  low: {high: P3, low: P4, lo: P9}")
    f = check({"codes/priority.yaml": table}, [("C001", *at(table, "lo:")), ("C001", *at(table, "P9"))])
    assert messages(f) == ["undefined urgency 'lo' in the matrix", "undefined priority 'P9'"]


def test_priority_matrix_new_urgency_level(check: Check) -> None:
    urgency = replaced("codes/urgency.yaml", "  low:",
                       "  medium: {label: {en: M, zh: 中}, rank: 3, choose_when: {en: M, zh: M}}\n  low:")
    check({"codes/urgency.yaml": urgency}, [("C001", 11, 3), ("C001", 12, 3)])


# --- C002 sla-targets ---------------------------------------------------------------------

def test_sla_targets_priority_without_target(check: Check) -> None:
    priority = replaced("codes/priority.yaml", "matrix:",
                        "  P5: {label: {en: P5, zh: P5}, rank: 5, description: {en: P, zh: P}}\nmatrix:")
    f = check({"codes/priority.yaml": priority}, [("C002", 11, 5)])
    assert f[0].message == "SLA policy 'standard' has no target for priority P5"


def test_sla_targets_undefined_priority(check: Check) -> None:
    sla = replaced("codes/sla.yaml", "      P4:", "      P9: {response: 1h, resolution: 2h}\n      P4:")
    f = check({"codes/sla.yaml": sla}, [("C002", 15, 7)])
    assert f[0].message == "undefined priority 'P9'"


def test_sla_targets_duration_mixing_calendars(check: Check) -> None:
    sla = replaced("codes/sla.yaml", "resolution: 4h}", "resolution: 4h 1 business day}")
    f = check({"codes/sla.yaml": sla}, [("C002", *at(sla, "4h 1 business day"))])
    assert "mixes business and calendar time" in f[0].message


def test_sla_targets_missing_standard_priority(check: Check) -> None:
    # priorities are data (codes/priority.yaml), so coverage is lint's job, not the schema's
    sla = replaced("codes/sla.yaml", "      P4: {response: 1 business day, resolution: 5 business days}\n", "")
    f = check({"codes/sla.yaml": sla}, [("C002", 11, 5)])
    assert f[0].message == "SLA policy 'standard' has no target for priority P4"


# --- durations in a process ---------------------------------------------------------------

def test_invalid_duration_mixing_calendars_is_reported(tmp_path: Path, check: Check) -> None:
    """A timer 'after' that passes the schema's pattern but cannot be read must not
    silently become zero (the timer would fire at once)."""
    text = HEAD + BODY + """\
timers:
  auto_close:
    label: {en: A, zh: A}
    states: [new]
    after: 1h 2 business days
    action: close
"""
    repo = tmp_path / "t"
    shutil.copytree(BASE, repo)
    (repo / P).write_text(text, encoding="utf-8")
    findings = lint_paths([repo]).findings
    where = at(text, "1h 2 business days")
    assert any((f.line, f.column) == where for f in findings), \
        f"no finding at the unreadable duration (line {where[0]}, column {where[1]})"


def _reminding(after: str, before: str, extra: str = "") -> str:
    templates = "  fix: {from: new, roles: [service_desk, system]}\n"
    return HEAD + BODY + templates + f"""\
timers:
  nudge:
    label: {{en: Nudge, zh: 提醒}}
    states: [new]
    after: {after}
    remind_before: {before}
    remind: [{{to: reporter, template: nudge}}]
    action: fix
{extra}"""


NUDGE = {"processes/templates/en/nudge.txt": "Nudge\n", "processes/templates/zh/nudge.txt": "提醒\n"}


@pytest.mark.parametrize("after, before, extra, says", [
    ("3 business days", "1d", "",
     "remind_before (1d) and after (3 business days) count in different units: the runtime takes business days "
     "from business days and hours from hours, so the reminder would fall when the timer fires and never be "
     "sent; write both in business days, or both in hours or minutes"),
    ("3 business days", "8 business hours", "", None),
    ("1 business day 1 business hour", "2 business hours", "",
     "remind_before (2 business hours) has more hours than after (1 business day 1 business hour) has beside its "
     "business days: the runtime takes business days from business days and hours from hours, so the reminder "
     "would not come 2 business hours before the timer; write both in business days, or both in hours or minutes"),
    ("2 business days 1 business hour", "1 business day 2 business hours", "", None),
    ("4h", "2h", "    after_by_priority: {P1: 1h}\n",
     "remind_before (2h) is not shorter than after_by_priority P1 (1h)"),
    ("1h", "10m", "    repeat: true\n",
     "timer 'nudge' repeats: a repeating timer sends no reminder (remind_before); remove it, or send the "
     "reminder from a timer of its own"),
])
def test_invalid_duration_reminder_never_sent(check: Check, after: str, before: str, extra: str,
                                              says: str | None) -> None:
    """engine.runtime.timers: remind at after minus remind_before, days from days and
    seconds from seconds, never for a repeating timer."""
    text = _reminding(after, before, extra)
    f = check({P: text, **NUDGE}, [("T001", *at(text, f"remind_before: {before}")[:1],
                                    at(text, f"remind_before: {before}")[1] + len("remind_before: "))])
    if says:
        assert f[0].message == says


def test_invalid_duration_reminders_in_the_same_unit_are_fine(check: Check) -> None:
    check({P: _reminding("3 business days", "1 business day"), **NUDGE}, [])
    check({P: _reminding("4h", "30m", "    after_by_priority: {P1: 1h, P2: 2h}\n"), **NUDGE}, [])


def test_invalid_duration_reminder_is_what_the_runtime_does(tmp_path: Path) -> None:
    """The reminder the rule refuses falls when the timer fires (tick skips it); the one it
    takes falls before."""
    from datetime import datetime, timezone

    from engine.runtime.ticket import Ticket
    from engine.runtime.timers import due_items

    def dues(after: str, before: str) -> dict[str, datetime]:
        defs = _definitions(tmp_path / after.replace(" ", "_") / before.replace(" ", "_"),
                            _reminding(after, before))
        now = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)  # Monday 09:00 at head office
        ticket = Ticket(key="INC-000001", process="incident", state="new", values={}, definition_version="x",
                        created_at=now, updated_at=now, state_entered_at=now, version=1, status="new",
                        status_category="new")
        return {i.kind: i.due_at for i in due_items(defs, defs.processes["incident"], ticket, {}, set())}

    wrong = dues("3 business days", "1d")
    assert wrong["remind"] == wrong["timer"]
    right = dues("3 business days", "1 business day")
    assert right["remind"] < right["timer"]


# --- N001 reserved-name ------------------------------------------------------------------------

def test_reserved_name_action_and_state(check: Check) -> None:
    text = HEAD + BODY.replace("  close: {", "  trigger: {").replace("  closed: {status: closed", "  is_done: {status: closed") \
        .replace("to: closed", "to: is_done")
    f = check({P: text}, [("N001", *at(text, "is_done: {")), ("N001", *at(text, "trigger: {"))])
    assert "state id 'is_done' is reserved" in f[0].message and "action id 'trigger'" in f[1].message


def test_reserved_name_ordinary_ids_are_fine(check: Check) -> None:
    check({P: HEAD + BODY.replace("  close: {", "  tomorrow: {")}, [])


# --- N002 duplicate-code -----------------------------------------------------------------------

def test_duplicate_code_differs_only_in_case(check: Check) -> None:
    line = "  P4: {label: {en: P4, zh: P4}, rank: 4, description: {en: Low, zh: 低}}\n"
    text = replaced("codes/priority.yaml", line, line + "  p4: {label: {en: p4, zh: p4}, rank: 5, "
                                                 "description: {en: Low, zh: 低}}\n")
    f = check({"codes/priority.yaml": text}, [("N002", *at(text, "p4:")), ("C002", 11, 5)])
    assert f[0].message == "code 'p4' differs from 'P4' only in letter case"


# --- G005 shadowed-action ------------------------------------------------------------------

def test_shadowed_action_guard_bypassed(check: Check) -> None:
    text = HEAD + BODY + "  close_p1: {from: new, to: closed, roles: [service_desk], when: \"priority == 'P1'\"}\n"
    f = check({P: text}, [("G005", *at(text, "\"priority"))])
    assert f[0].message == ("the guard of 'close_p1' protects nothing: 'close' makes the same move "
                            "from 'new' to 'closed' for the same roles without a guard")


def test_shadowed_action_needs_more_or_other_people_is_fine(check: Check) -> None:
    # close asks for a solution, close_p1 does not: close_p1's guard is not bypassed by close
    text = HEAD + "fields:\n  solution: {type: text, label: {en: S, zh: 方案}}\n" + \
        BODY.replace("roles: [service_desk]}", "roles: [service_desk], requires: [solution]}") + \
        "  close_p1: {from: new, to: closed, roles: [service_desk], when: \"priority == 'P1'\"}\n" + \
        "  close_vip: {from: new, to: closed, roles: [reporter], when: \"priority == 'P2'\"}\n"
    check({P: text}, [])


# --- G006 duplicate-action -----------------------------------------------------------------

def test_duplicate_action(check: Check) -> None:
    text = HEAD + BODY + "  finish: {from: new, to: closed, roles: [service_desk]}\n"
    f = check({P: text}, [("G006", *at(text, "finish"))])
    assert f[0].message == ("action 'finish' does the same as 'close' from 'new': same target, guard, "
                            "roles and fields; remove one or tell them apart")


def test_duplicate_action_same_guard_written_differently(check: Check) -> None:
    text = HEAD + BODY.replace("roles: [service_desk]}", "roles: [service_desk], when: \"priority=='P1'\"}") + \
        "  finish: {from: [new], to: closed, roles: [service_desk], when: \"priority == 'P1'\"}\n"
    check({P: text}, [("G006", *at(text, "finish"))])


def test_duplicate_action_different_roles_or_fields_is_fine(check: Check) -> None:
    text = HEAD + BODY + "  auto_close: {from: new, to: closed, roles: [system]}\n" + \
        "  close_quietly: {from: new, to: closed, roles: [service_desk], set: {urgency: low}}\n"
    check({P: text}, [])


# --- G007 overlapping-guards ---------------------------------------------------------------

BRANCHES = """\
states:
  new: {status: new, initial: true}
  in_progress: {status: in_progress}
  closed: {status: closed, final: true}
actions:
  escalate: {from: new, to: in_progress, roles: [service_desk], when: "priority in ['P1', 'P2']"}
  close: {from: [new, in_progress], to: closed, roles: [service_desk], when: "priority != 'P2'"}
"""


def test_overlapping_guards_values(check: Check) -> None:
    text = HEAD + BRANCHES
    f = check({P: text}, [("G007", *at(text, "\"priority !="))])
    assert f[0].message == ("the guards of 'escalate' and 'close' can both hold in 'new' (both allow "
                            "priority 'P1'): the same person may send the ticket to 'in_progress' or to 'closed'")


def test_overlapping_guards_identical(check: Check) -> None:
    text = HEAD + BRANCHES.replace("\"priority != 'P2'\"", "\"priority in ['P1','P2']\"")
    f = check({P: text}, [("G007", *at(text, "\"priority in ['P1','P2']"))])
    assert "(the guards are identical)" in f[0].message


def test_overlapping_guards_eq_and_list(check: Check) -> None:
    text = HEAD + BRANCHES.replace("\"priority != 'P2'\"", "\"ticket.priority == 'P2' and urgency == 'high'\"")
    f = check({P: text}, [("G007", *at(text, "\"ticket.priority"))])
    assert "(both allow priority 'P2' and urgency 'high')" in f[0].message


@pytest.mark.parametrize("other", [
    "priority not in ['P1', 'P2']",     # the complement
    "priority == 'P3'",                 # disjoint values
    "priority == 'P1' and not urgent",  # something else tells them apart? not certain: not reported
])
def test_overlapping_guards_exclusive_or_unknown_is_fine(check: Check, other: str) -> None:
    fields = "fields:\n  urgent: {type: bool, label: {en: U, zh: 急}}\n" if "urgent" in other else ""
    text = HEAD + fields + \
        BRANCHES.replace("\"priority != 'P2'\"", f"\"{other}\"")
    check({P: text}, [])


def test_overlapping_guards_other_people_is_fine(check: Check) -> None:
    text = HEAD + BRANCHES.replace("to: closed, roles: [service_desk]", "to: closed, roles: [reporter]")
    check({P: text}, [])


# --- G008 stuck-state ----------------------------------------------------------------------

SYSTEM_CLOSES = """\
states:
  new: {status: new, initial: true}
  resolved: {status: resolved}
  closed: {status: closed, final: true}
actions:
  resolve: {from: new, to: resolved, roles: [service_desk]}
  auto_close: {from: resolved, to: closed, roles: [system]}
"""


def test_stuck_state_only_system_actions(check: Check) -> None:
    text = HEAD + SYSTEM_CLOSES
    f = check({P: text}, [("G008", *at(text, "resolved: {"))])
    assert f[0].message == ("nobody can move a ticket out of state 'resolved': 'auto_close' is a system "
                            "action that no timer of the state, SLA threshold or cascade performs")


def test_stuck_state_timer_fires_it(check: Check) -> None:
    text = HEAD + SYSTEM_CLOSES + "timers:\n  auto_close: {states: [resolved], after: 3 business days, action: auto_close}\n"
    check({P: text}, [])


def test_stuck_state_timer_of_another_state_does_not_help(check: Check) -> None:
    text = HEAD + SYSTEM_CLOSES.replace("from: resolved, to: closed", "from: [new, resolved], to: closed") + \
        "timers:\n  auto_close: {states: [new], after: 3 business days, action: auto_close}\n"
    check({P: text}, [("G008", *at(text, "resolved: {"))])


def test_stuck_state_sla_threshold_fires_it(check: Check) -> None:
    text = HEAD + SYSTEM_CLOSES + """\
sla:
  resolution:
    target: resolution
    start: {states: [new]}
    stop: {states: [closed]}
    on_breach: {action: auto_close}
"""
    # the breach fires auto_close, which the new state does not offer: timed-action says so
    check({P: text}, [("T006", *at(text, "auto_close}"))])


# --- E003 forbidden-expression -------------------------------------------------------------

def test_forbidden_expression(check: Check) -> None:
    text = _guarded("\"title.lower() == 'x' or ticket.__class__ or (title|map('upper')|list)\"")
    f = check({P: text}, [("E003", *at(text, "lower(")), ("E003", *at(text, "__class__")),
                          ("E003", *at(text, "map("))])
    assert messages(f) == [
        "call 'lower(...)' in 'title.lower() == 'x' or ticket.__class__ or (title|map('upper')|list)': "
        "expressions may not call anything; use filters (x|lower) and tests (x is none)",
        "private attribute '__class__' in 'title.lower() == 'x' or ticket.__class__ or "
        "(title|map('upper')|list)': the sandbox refuses it",
        "filter 'map' in 'title.lower() == 'x' or ticket.__class__ or (title|map('upper')|list)' loops or "
        "looks things up by name; guards compare the ticket's values directly",
    ]


def test_forbidden_expression_in_a_set_template(check: Check) -> None:
    text = HEAD + BODY + '  fix: {from: new, roles: [service_desk], set: {title: "{{ title.upper() }}"}}\n'
    check({P: text}, [("E003", *at(text, "upper("))])


def test_forbidden_expression_filters_and_tests_are_fine(check: Check) -> None:
    check({P: _guarded("\"(title|lower|length) > 3 and description is not none and "
                       "urgency in ['high', 'low']\"")}, [])


# --- E004 constant-guard -------------------------------------------------------------------

@pytest.mark.parametrize("when, says", [
    ("true", "'true' reads nothing from the ticket: it always holds"),
    ("1 == 2", "'1 == 2' reads nothing from the ticket: it never holds"),
    ("priority == 'P1' or true", "'priority == 'P1' or true' has a constant part (true under 'or'), "
                                 "so the whole guard always holds"),
    ("priority == 'P1' and (title or false)", "'priority == 'P1' and (title or false)' has a constant part "
                                              "(false under 'or'), which changes nothing"),
])
def test_constant_guard(check: Check, when: str, says: str) -> None:
    text = _guarded(f'"{when}"')
    f = check({P: text}, [("E004", *at(text, f'"{when}'))])
    assert f[0].message == says


@pytest.mark.parametrize("when, needle, says", [
    ("input.title is defined", "is defined",
     "'is defined' in 'input.title is defined' always holds: in guards every field, ticket.X, input.X and "
     "sla.CLOCK is defined (none when not set or not given); test 'is not none'"),
    ("priority == 'P1' and assignee is undefined", "is undefined",
     "'is undefined' in 'priority == 'P1' and assignee is undefined' never holds: in guards every field, "
     "ticket.X, input.X and sla.CLOCK is defined (none when not set or not given); test 'is none'"),
    ("ticket.group is defined or sla.resolution.met is defined", "is defined", None),
])
def test_constant_guard_is_defined(check: Check, when: str, needle: str, says: str | None) -> None:
    """Every field is in a guard's context (engine.runtime.context.build): 'is defined' always holds."""
    text = HEAD + BODY.replace("  closed: {status: closed, final: true}\n",
                               "  closed: {status: closed, final: true}\nsla: {resolution: {target: resolution, "
                               "start: {states: [new]}, stop: {states: [closed]}}}\n").replace(
        "roles: [service_desk]}", f'roles: [service_desk], when: "{when}"}}')
    expected = [("E004", *at(text, needle, n)) for n in ((1,) if says else (1, 2))]
    f = check({P: text}, expected)
    if says:
        assert f[0].message == says


def test_constant_guard_is_defined_where_it_can_fail(check: Check) -> None:
    """A lookup by a value (codes.closure[x]) or an attribute of service can be undefined."""
    check({P: _guarded('"codes.priority[urgency] is defined or service.criticality is defined"')}, [])


def _spec_of(text: str):  # type: ignore[no-untyped-def]
    from engine.definitions.loader import parse
    from engine.definitions.specs import build_process

    return build_process(parse(text, P), None)


def test_constant_guard_is_defined_at_runtime() -> None:
    """What the rule says is what the runtime's guard context does."""
    from engine.definitions.expressions import compile_expression
    from engine.runtime import context as ctxmod

    names = ctxmod.field_defaults(_spec_of(HEAD + BODY + "fields:\n  reason: {type: text, label: {en: R, zh: 原因}}\n"))
    ctx = dict(names, ticket=dict(names), input=dict(names))
    assert compile_expression("input.reason is defined and reason is defined").holds(ctx)
    assert not compile_expression("ticket.reason is undefined").holds(ctx)


def test_constant_guard_close_criterion(check: Check) -> None:
    text = HEAD + BODY + 'close_criteria:\n  - {id: ok, when: "1", label: {en: O, zh: O}}\n'
    check({P: text}, [("E004", *at(text, '"1"'))])


def test_constant_guard_defaults_are_not_constant_parts(check: Check) -> None:
    check({P: _guarded("\"(reporter_phone or '') != '' and (priority or 'P4') == 'P1'\"")}, [])


# --- E005 code-value-mismatch --------------------------------------------------------------

def test_code_value_mismatch(check: Check) -> None:
    text = _guarded("\"priority == 'P5' or urgency in ['high', 'hgih'] or 'emial' != ticket.service "
                    "or status_category == 'pendng'\"")
    f = check({P: text}, [("E005", *at(text, n)) for n in ("'P5'", "'hgih'", "'emial'", "'pendng'")])
    assert messages(f)[:2] == [
        "'P5' is not a code of table 'priority' in 'priority == 'P5' or urgency in ['high', 'hgih'] or "
        "'emial' != ticket.service or status_category == 'pendng'' (codes: P1, P2, P3, P4)",
        "'hgih' is not a code of table 'urgency' in 'priority == 'P5' or urgency in ['high', 'hgih'] or "
        "'emial' != ticket.service or status_category == 'pendng''; did you mean 'high'?",
    ]
    assert "did you mean 'email'?" in f[2].message and "did you mean 'pending'?" in f[3].message


def test_code_value_mismatch_code_field_and_lookup(check: Check) -> None:
    text = HEAD + "fields:\n  closure_code: {type: code, codes: closure, label: {en: C, zh: 代码}}\n" + \
        BODY.replace("roles: [service_desk]}", "roles: [service_desk], "
                     "when: \"closure_code == 'slved' or codes.closure['solvd'].resolved\"}")
    f = check({P: text}, [("E005", *at(text, "'slved'")), ("E005", *at(text, "'solvd'"))])
    assert "table 'closure'" in f[0].message


def test_code_value_mismatch_known_codes_are_fine(check: Check) -> None:
    check({P: _guarded("\"priority in ['P1', 'P2'] and service == 'email' and status_category != 'closed' "
                       "and group == 'service_desk' and codes.closure.solved.resolved and priority != none\"")},
          [])


# --- E006 undeclared-attribute ------------------------------------------------------------

def test_undeclared_attribute(check: Check) -> None:
    text = HEAD + "fields:\n  closure_code: {type: code, codes: closure, label: {en: C, zh: 代码}}\n" + \
        BODY.replace("roles: [service_desk]}", "roles: [service_desk],\n          when: \"service.owner_x "
                     "or ticket.solutoin or priority.rank or codes.closure[closure_code].resolvd or "
                     "codes.closures or sla.response or sla.resolution.elapsed\"}") + """\
sla:
  resolution: {target: resolution, start: {states: [new]}, stop: {states: [closed]}}
"""
    f = check({P: text}, [("E006", *at(text, n)) for n in (
        "owner_x", "solutoin", "priority.rank", "resolvd", "closures", "response", "elapsed")])
    assert [m.split(" in '")[0] for m in messages(f)] == [
        "'service.owner_x': no service in codes/services.yaml has it",
        "'ticket.solutoin': process 'incident' has no field 'solutoin'",
        "'priority' holds a plain value, not an object: 'priority.rank' fails when evaluated",
        "'.resolvd': no value of codes/closure.yaml has it",
        "'codes.closures': there is no code table 'closures'",
        "'sla.response': process 'incident' has no clock 'response'",
        "'sla.resolution.elapsed': a clock's record has no 'elapsed'",
    ]
    assert messages(f)[1].endswith("; did you mean 'solution'?") is False  # no such field here
    assert messages(f)[3].endswith("; did you mean 'resolved'?")
    assert messages(f)[6].endswith("; did you mean 'elapsed_seconds'?")


# --- R003 unused-declaration ---------------------------------------------------------------

def test_unused_declaration(check: Check) -> None:
    text = HEAD.replace("roles: {service_desk: {en: Service desk, zh: 热线}}",
                        "roles: {service_desk: {en: Service desk, zh: 热线}, auditor: {en: Auditor, zh: 审计}}") + \
        "fields:\n  legacy_ref: {type: string, label: {en: Old number, zh: 旧单号}}\n" + BODY
    f = check({P: text}, [("R003", *at(text, "auditor")), ("R003", *at(text, "legacy_ref"))])
    assert {x.severity for x in f} == {"info"}
    assert messages(f) == [
        "role 'auditor' is declared but no action, state, message or report uses it",
        "field 'legacy_ref' is declared but nothing sets or reads it (actions, expressions, messages, "
        "templates, reports)",
    ]


def test_unused_declaration_every_use_counts(check: Check) -> None:
    text = HEAD.replace("roles: {service_desk: {en: Service desk, zh: 热线}}",
                        "roles: {service_desk: {en: Service desk, zh: 热线}, approver: {en: A, zh: 审批}, "
                        "manager: {en: M, zh: 经理}}") + """\
fields:
  lead: {type: user, label: {en: Lead, zh: 负责人}}
  note_a: {type: text, label: {en: A, zh: 甲}}
  note_b: {type: text, label: {en: B, zh: 乙}}
  note_c: {type: text, label: {en: C, zh: 丙}}
  in_template: {type: text, public: true, label: {en: D, zh: 丁}}
states:
  new: {status: new, initial: true, owner: approver}
  closed: {status: closed, final: true}
actions:
  close: {from: new, to: closed, roles: [service_desk, lead], requires: [note_a], when: "ticket.note_b",
          notify: [{to: manager, template: closed}]}
  note: {from: "*", roles: [service_desk], set: {note_c: "{{ actor }}"}}
"""
    templates = {"processes/templates/en/closed.txt": "{{ ticket.in_template }}\n",
                 "processes/templates/zh/closed.txt": "{{ ticket.in_template }}\n"}
    check({P: text, **templates}, [])


def test_unused_declaration_a_typo_is_reported_once(check: Check) -> None:
    text = HEAD + BODY.replace("roles: [service_desk]", "roles: [service_dsk]")
    f = check({P: text}, [("R001", *at(text, "service_dsk"))])
    assert f[0].message == "undefined role 'service_dsk'"


# --- T002 clock-never-stops --------------------------------------------------------------

CANCELLABLE = """\
states:
  new: {status: new, initial: true}
  resolved: {status: resolved}
  closed: {status: closed, final: true}
  cancelled: {status: closed, final: true}
actions:
  resolve: {from: new, to: resolved, roles: [service_desk]}
  close: {from: resolved, to: closed, roles: [service_desk]}
  cancel: {from: new, to: cancelled, roles: [service_desk]}
sla:
  response:
    target: response
    start: {states: [new]}
    stop: {states: [resolved]}
"""


def test_clock_never_stops(check: Check) -> None:
    text = HEAD + CANCELLABLE
    f = check({P: text}, [("T002", *at(text, "stop: {states: [resolved]}"))])
    assert f[0].message == ("clock 'response' can still be running when a ticket reaches final state "
                            "'cancelled': add it (or the status category) to its stop")


def test_clock_never_stops_stop_category_covers_it(check: Check) -> None:
    check({P: HEAD + CANCELLABLE.replace("stop: {states: [resolved]}", "stop: {states: [resolved], categories: [closed]}")},
          [])


def test_clock_never_stops_after_resume(check: Check) -> None:
    # stopped at resolved; reopen runs it again (resume), and a reopened ticket can be cancelled
    body = """\
states:
  new: {status: new, initial: true}
  resolved: {status: resolved}
  reopened: {status: in_progress}
  closed: {status: closed, final: true}
  cancelled: {status: closed, final: true}
actions:
  resolve: {from: [new, reopened], to: resolved, roles: [service_desk]}
  close: {from: resolved, to: closed, roles: [service_desk]}
  reopen: {from: resolved, to: reopened, roles: [reporter]}
  cancel: {from: reopened, to: cancelled, roles: [service_desk]}
sla:
  resolution:
    target: resolution
    start: {states: [new]}
    stop: {states: [resolved, closed]}
    resume: {actions: [reopen]}
"""
    text = HEAD + body
    check({P: text}, [("T002", *at(text, "stop:"))])
    check({P: text.replace("    resume: {actions: [reopen]}\n", "")}, [])


# --- T003 pause-never-resumes --------------------------------------------------------------

PARKED = """\
states:
  new: {status: new, initial: true}
  parked: {status: in_progress}
  closed: {status: closed, final: true}
actions:
  park: {from: new, to: parked, roles: [service_desk]}
  close: {from: [new, parked], to: closed, roles: [service_desk]}
sla:
  resolution:
    target: resolution
    start: {states: [new]}
    pause: {states: [parked, closed]}
    stop: {categories: [resolved]}
"""


def test_pause_never_resumes(check: Check) -> None:
    text = HEAD + PARKED
    f = check({P: text}, [("T003", *at(text, "pause:"))])
    assert f[0].message == ("clock 'resolution' pauses in 'parked', 'closed' and never runs or stops again: "
                            "let the ticket leave the paused states, or stop the clock where it ends")


def test_pause_never_resumes_fine_when_the_ticket_comes_back(check: Check) -> None:
    text = HEAD + PARKED.replace("pause: {states: [parked, closed]}", "pause: {states: [parked]}") \
        .replace("stop: {categories: [resolved]}", "stop: {categories: [closed]}") + \
        "" 
    check({P: text}, [])


# --- T004 warning-after-breach -------------------------------------------------------------

def test_warning_after_breach(check: Check) -> None:
    text = HEAD + BODY + """\
sla:
  resolution: {target: resolution, start: {states: [new]}, stop: {states: [closed]}, warning: 100%}
"""
    sla = replaced("codes/sla.yaml", 'warning: "75%"', 'warning: "120%"')
    f = check({P: text, "codes/sla.yaml": sla}, [("T004", *at(text, "100%")), ("T004", *at(sla, '"120%"'))])
    assert f[1].message == ("the warning of clock 'resolution' (100%) is not before the breach (100%): "
                            "nobody is warned in time; use e.g. 75%")
    assert f[0].message.startswith("the warning of SLA policy 'standard' (120%)")


def test_warning_after_breach_number(check: Check) -> None:
    text = HEAD + BODY + """\
sla:
  resolution: {target: resolution, start: {states: [new]}, stop: {states: [closed]}, warning: 99.5}
"""
    check({P: text}, [])
    check({P: text.replace("99.5", "150")}, [("T004", *at(text, "99.5"))])


# --- T005 waiting-without-timer ----------------------------------------------------------

PENDING_STATUS = "  pending: {label: {en: Pending, zh: 挂起}, category: pending, user_text: {en: On hold, zh: 挂起}}\n"
WAITING = """\
states:
  new: {status: new, initial: true}
  waiting: {status: pending}
  closed: {status: closed, final: true}
actions:
  wait: {from: new, to: waiting, roles: [service_desk]}
  resume: {from: waiting, to: new, roles: [assignee]}
  close: {from: new, to: closed, roles: [service_desk]}
"""


def _with_pending() -> str:
    return replaced("codes/status.yaml", "  closed: {", PENDING_STATUS + "  closed: {")


def test_waiting_without_timer(check: Check) -> None:
    text = HEAD + WAITING
    f = check({P: text, "codes/status.yaml": _with_pending()}, [("T005", *at(text, "waiting: {"))])
    assert f[0].message == ("state 'waiting' waits (status 'pending', category pending) but no timer reminds "
                            "anyone or acts, and the reporter cannot end the wait")


def test_waiting_without_timer_reminder_or_reporter_is_fine(check: Check) -> None:
    timer = "timers:\n  chase: {states: [waiting], after: 2 business days, repeat: true, " \
            "notify: [{to: assignee, template: chase}]}\n"
    templates = {"processes/templates/en/chase.txt": "chase\n", "processes/templates/zh/chase.txt": "催办\n"}
    check({P: HEAD + WAITING + timer, "codes/status.yaml": _with_pending(), **templates}, [])
    check({P: HEAD + WAITING.replace("roles: [assignee]", "roles: [assignee, reporter]"),
           "codes/status.yaml": _with_pending()}, [])


# --- T006 timed-action -------------------------------------------------------------------

def test_timed_action_timer(check: Check) -> None:
    text = HEAD + BODY.replace("  closed:", "  parked: {status: in_progress}\n  closed:") + """\
  park: {from: new, to: parked, roles: [service_desk]}
  expire: {from: parked, to: closed, roles: [service_desk, system]}
timers:
  close_late: {states: [new], after: 3 business days, action: close}
  expire: {states: [parked, new], after: 5 business days, action: expire}
"""
    f = check({P: text}, [("T006", *at(text, "close}")), ("T006", *at(text, "expire}"))])
    assert messages(f) == [
        "timer 'close_late' has the system perform 'close', but 'system' is not among its roles (service_desk)",
        "timer 'expire' fires 'expire' in 'new', where the action is not available (check its from:)",
    ]


def test_timed_action_sla_threshold(check: Check) -> None:
    text = HEAD + BODY.replace("  closed:", "  in_progress: {status: in_progress}\n  closed:") \
        .replace("from: new,", "from: [new, in_progress],") + """\
  start: {from: new, to: in_progress, roles: [service_desk]}
  escalate: {from: new, roles: [system]}
sla:
  resolution:
    target: resolution
    start: {states: [new]}
    stop: {states: [closed]}
    on_breach: {action: escalate}
"""
    f = check({P: text}, [("T006", *at(text, "escalate}"))])
    assert f[0].message == ("clock 'resolution' can reach its threshold in 'in_progress', where 'escalate' "
                            "(on_breach) is not available")


def test_timed_action_requiring_a_field_asked_each_time(check: Check) -> None:
    """The system gives no input: auto-closure that requires a reason asked each time
    would be refused by every tick, silently."""
    text = HEAD + BODY.replace("  closed:", "  resolved: {status: resolved}\n  closed:") \
        .replace("roles: [service_desk]}", "roles: [service_desk]}\n  solve: {from: new, to: resolved, "
                 "roles: [service_desk]}") + """\
  auto_close: {from: resolved, to: closed, roles: [system], requires: [reason]}
fields:
  reason: {type: text, ask_each_time: true, label: {en: Reason, zh: 原因}}
timers:
  auto_close: {states: [resolved], after: 3 business days, action: auto_close}
"""
    f = check({P: text}, [("T006", *at(text, "auto_close}"))])
    assert messages(f) == ["timer 'auto_close' has the system perform 'auto_close', which requires 'reason', "
                           "asked each time (ask_each_time): the system gives no input, so it is refused every time"]
    check({P: text.replace("ask_each_time: true, ", "")}, [])  # a reason the ticket keeps: fine


def test_timers_that_never_fire(check: Check) -> None:
    """No timer of a closed ticket is ever due, and a repeat of zero length is skipped
    by every tick: both are silent at run time."""
    text = HEAD + BODY.replace("roles: [service_desk]}", "roles: [service_desk, system]}") + """\
  survey: {from: closed, roles: [system]}
  remind: {from: new, roles: [system]}
timers:
  survey: {states: [closed], after: 1 business days, action: survey}
  cadence: {states: [new], after: 0m, repeat: true, action: remind}
"""
    f = check({P: text}, [("T006", *at(text, "[closed], after")), ("T006", *at(text, "cadence:")),
                          ("G004", *at(text, "closed, roles: [system]"))])  # the action from closed, too
    assert sorted(m for x, m in zip(f, messages(f)) if x.rule == "T006") == [
        "timer 'cadence' repeats every 0m: a repeat needs a time greater than zero, or every tick would skip it "
        "without firing",
        "timer 'survey' runs in final state 'closed', where no timer fires: a closed ticket waits for nothing "
        "(fire it on the state before, or from a report)"]


# --- I001 template-translation -------------------------------------------------------------

def test_template_translation(check: Check) -> None:
    files = {"processes/templates/en/resolved.txt": "Resolved\n", "processes/templates/zh/resolved.txt": "已解决\n",
             "processes/templates/en/resolved.html": "<p>Resolved</p>\n",
             "processes/templates/zh/welcome.txt": "欢迎\n"}
    f = check(files, [("I001", 1, 1), ("I001", 1, 1)])
    assert [(x.file, x.message) for x in f] == [
        ("repo/processes/templates/en/resolved.html",
         "template 'resolved.html' has no zh version: add repo/processes/templates/zh/resolved.html"),
        ("repo/processes/templates/zh/welcome.txt",
         "template 'welcome.txt' has no en version: add repo/processes/templates/en/welcome.txt"),
    ]


def test_template_translation_named_templates_are_message_targets(check: Check) -> None:
    # a template a message names: message-target reports it, at the message
    text = HEAD + BODY.replace("roles: [service_desk]}", "roles: [service_desk], notify: [{to: reporter, template: closed}]}")
    check({P: text, "processes/templates/en/closed.txt": "Closed\n"}, [("R002", *at(text, "closed}]"))])


def test_schema_labels_need_both_languages(check: Check) -> None:
    # the i18n of labels is the schema's: a label without zh (or en) is S001
    text = HEAD + BODY.replace("roles: [service_desk]}", "roles: [service_desk], label: {en: Close}}")
    f = check({P: text}, [("S001", *at(text, "{en: Close}"))])
    assert "zh" in f[0].message


# --- P001 guidelines ---------------------------------------------------------------------------

GUIDED = HEAD.replace("owner: service_desk\n", "owner: service_desk\npolicies: [guidelines]\n")
# resolved and closed, but no confirmation, no default closure, no SLA criterion
CLOSED_BY_DESK = """\
states:
  new: {status: new, initial: true}
  resolved: {status: resolved}
  closed: {status: closed, final: true}
actions:
  resolve: {from: new, to: resolved, roles: [service_desk]}
  close: {from: resolved, to: closed, roles: [service_desk]}
"""


def test_guidelines_policy_reports_what_is_missing(check: Check) -> None:
    text = GUIDED + CLOSED_BY_DESK
    f = check({P: text}, [("P001", *at(text, "states:"))] * 3)
    messages = sorted(x.message for x in f)
    assert any("confirm with the user" in m for m in messages)
    assert any("default closure" in m for m in messages)
    assert any("SLA result" in m for m in messages)


def test_guidelines_policy_is_met(check: Check) -> None:
    body = """\
states:
  new: {status: new, initial: true}
  resolved: {status: resolved}
  closed: {status: closed, final: true}
actions:
  resolve: {from: new, to: resolved, roles: [service_desk]}
  confirm: {from: resolved, to: closed, roles: [reporter, service_desk]}
  auto_close: {from: resolved, to: closed, roles: [system]}
timers:
  auto_close: {label: {en: Close, zh: 关闭}, states: [resolved], after: 3 business days, action: auto_close}
close_criteria:
  - {id: sla, when: "sla.resolution.met is not none", label: {en: SLA recorded, zh: 已记录SLA}}
sla:  # sla.resolution must be a clock of the process (undeclared-attribute, E006)
  resolution: {target: resolution, start: {states: [new]}, stop: {states: [resolved, closed]}}
"""
    check({P: GUIDED + body}, [])


def test_guidelines_policy_applies_only_when_declared(check: Check) -> None:
    check({P: HEAD + CLOSED_BY_DESK}, [])


# --- L001, L002: in-file suppressions (engine/lint/suppressions.py) ------------------------

def suppressed_lint(tmp_path: Path, text: str) -> tuple[list[Finding], list[object]]:
    """Lint ``text`` as processes/incident.yaml the way ``itsm lint`` does (suppressions on)."""
    from engine.lint import LintConfig

    repo = tmp_path / "repo"
    shutil.copytree(BASE, repo)
    (repo / P).write_text(text, encoding="utf-8")
    result = lint_paths([repo], LintConfig())
    return result.findings, result.suppressed


TRAPPED = HEAD.replace("version: 1", "version: 010") + BODY  # Y003 at line 3


def test_suppression_reason_is_required(tmp_path: Path) -> None:
    text = TRAPPED.replace("version: 010", "version: 010  # itsmlint: disable=Y003")
    findings, hidden = suppressed_lint(tmp_path, text)
    assert sorted((f.rule, f.line, f.column) for f in findings) == [
        ("L001", 3, 15), ("Y003", 3, 10)]  # not suppressed: no reason
    assert hidden == []


def test_suppression_reason_unreadable_directive(tmp_path: Path) -> None:
    text = TRAPPED.replace("version: 010", "version: 010  # itsmlint: disable Y003 reason: x")
    findings, _ = suppressed_lint(tmp_path, text)
    assert [(f.rule, f.line, f.column) for f in findings] == [("Y003", 3, 10), ("L001", 3, 15)]
    assert "unreadable suppression" in findings[1].message


def test_suppression_reason_given_suppresses_by_id_or_slug(tmp_path: Path) -> None:
    for name in ("Y003", "yaml11-trap", "y003"):
        text = TRAPPED.replace("version: 010", f"version: 010  # itsmlint: disable={name} reason: legacy")
        findings, hidden = suppressed_lint(tmp_path / name, text)
        assert findings == [], name
        assert [(s.finding.rule, s.reason, s.line, s.column) for s in hidden] == [
            ("Y003", "legacy", 3, 15)]


def test_suppression_reason_next_line(tmp_path: Path) -> None:
    text = TRAPPED.replace("version: 010", "# itsmlint: disable-next-line=Y003 reason: legacy\nversion: 010")
    findings, hidden = suppressed_lint(tmp_path, text)
    assert findings == [] and [s.finding.line for s in hidden] == [4]


def test_unused_suppression_is_reported(tmp_path: Path) -> None:
    text = (HEAD + BODY).replace("  close: {", "  # itsmlint: disable-next-line=G004,nope reason: old\n  close: {")
    findings, hidden = suppressed_lint(tmp_path, text)
    assert [(f.rule, f.severity, f.line, f.column) for f in findings] == [
        ("L002", "info", 12, 3), ("L002", "info", 12, 3)]
    assert sorted(f.message for f in findings) == [
        "nothing to suppress: no G004 action-from-final finding on line 13",
        "suppression names unknown rule 'nope'"]
    assert hidden == []


def test_unused_suppression_not_without_a_config(tmp_path: Path) -> None:
    """The check of definitions before use (no configuration) ignores suppressions."""
    repo = tmp_path / "repo"
    shutil.copytree(BASE, repo)
    (repo / P).write_text(TRAPPED.replace("version: 010", "version: 010  # itsmlint: disable=Y003"),
                          encoding="utf-8")
    assert [f.rule for f in lint_paths([repo]).findings] == ["Y003"]


# --- calendars and durations the engine could not count in (issue #20) ------------------

def test_invalid_calendar_dates_zone_and_periods(check: Check) -> None:
    cal = replaced("codes/calendars.yaml", "timezone: Asia/Shanghai", "timezone: Asia/Shangai")
    cal = cal.replace('mon: ["09:00-18:00"]', 'mon: ["09:00-12:00", "11:00-18:00"]')
    cal = cal.replace('tue: ["09:00-18:00"]', 'tue: ["18:00-09:00"]')
    cal += ('    holidays:\n      - {date: "2026-02-30", label: {en: H, zh: H}}\n'
            '      - {from: "2026-10-07", to: "2026-10-01", label: {en: H, zh: H}}\n'
            '    workdays:\n      - {date: "2026-09-26", hours_as: sat, label: {en: W, zh: W}}\n')
    f = check({"codes/calendars.yaml": cal}, [
        ("C003", *at(cal, "Asia/Shangai")), ("C003", *at(cal, '"11:00-18:00"')),
        ("C003", *at(cal, '"18:00-09:00"')), ("C003", *at(cal, '"2026-02-30"')),
        ("C003", *at(cal, '"2026-10-01"')), ("C003", *at(cal, "sat,"))])
    assert [m.split(": ", 1)[1] for m in messages(f)] == [
        "unknown time zone 'Asia/Shangai': use an IANA name such as Asia/Shanghai or Europe/London",
        "mon: working periods overlap at 11:00",
        "tue: working period '18:00-09:00' ends before it starts: split a night shift at midnight "
        "(e.g. mon '22:00-24:00' and tue '00:00-06:00')",
        "holidays: cannot read date '2026-02-30': write 'YYYY-MM-DD' (a date that exists)",
        "holiday from 2026-10-07 to 2026-10-01 ends before it starts",
        "workday 2026-09-26 takes the hours of sat, which has none"]


def test_invalid_calendar_without_working_time(check: Check) -> None:
    cal = base_text("codes/calendars.yaml").replace('["09:00-18:00"]', "[]")
    f = check({"codes/calendars.yaml": cal}, [("C003", *at(cal, "hours:"))])
    assert f[0].message == ("calendar 'office' has no working time: give working hours for at "
                            "least one weekday, or always: true")
    closed = base_text("codes/calendars.yaml") + (
        "    holidays:\n      - {from: \"2026-01-05\", to: \"2026-12-31\", label: {en: H, zh: H}}\n"
        "      - {from: \"2027-01-01\", to: \"2029-01-31\", label: {en: H, zh: H}}\n")
    f = check({"codes/calendars.yaml": closed}, [("C003", *at(closed, "{from"))])
    assert f[0].message == ("calendar 'office' has no working time from 2026-01-03 to 2029-01-31, "
                            "more than 1098 days in a row: nothing counted in it across them could ever end")


def test_invalid_calendar_not_for_a_make_up_day_on_a_holiday(check: Check) -> None:
    cal = base_text("codes/calendars.yaml") + (
        '    holidays: [{date: "2026-02-14", label: {en: H, zh: H}}]\n'
        '    workdays: [{date: "2026-02-14", label: {en: W, zh: W}}]\n')
    check({"codes/calendars.yaml": cal}, [])


def test_duration_too_long_sla_targets(check: Check) -> None:
    sla = replaced("codes/sla.yaml", "resolution: 4h}", "resolution: 99999999999m}")
    sla = sla.replace("resolution: 5 business days}", "resolution: 1310 business days}")
    sla = sla.replace("resolution: 3 business days}", "resolution: 1300 business days}")  # 1822 days
    f = check({"codes/sla.yaml": sla}, [("T007", *at(sla, "99999999999m")),
                                         ("T007", *at(sla, "1310 business days"))])
    assert messages(f) == [
        "the resolution target of SLA policy 'standard' for P1 (99999999999m) lasts more than five "
        "years in calendar 'office': check the number and the unit (at most 1830 days)",
        "the resolution target of SLA policy 'standard' for P4 (1310 business days) lasts up to "
        "1835 days in calendar 'office', more than five years: check the number and the unit "
        "(at most 1830 days)"]


def test_duration_too_long_in_a_calendar_with_little_working_time(check: Check) -> None:
    cal = base_text("codes/calendars.yaml").replace('["09:00-18:00"]', "[]", 4).replace(
        'fri: ["09:00-18:00"]', 'fri: ["09:00-09:10"]')
    sla = replaced("codes/sla.yaml", "resolution: 8h}", "resolution: 50 business hours}")
    f = check({"codes/calendars.yaml": cal, "codes/sla.yaml": sla},
              [("T007", *at(sla, "50 business hours"))])
    assert "(50 business hours) lasts up to 2101 days in calendar 'office'" in f[0].message  # 300 Fridays


def test_duration_too_long_timers_and_window(check: Check) -> None:
    text = HEAD + BODY + """\
timers:
  remind:
    label: {en: A, zh: A}
    states: [new]
    after: 999999999 business days
    after_by_priority: {P1: 4h, P2: 12000 business hours}
    action: close
criteria:
  watch: incident
  window: 99999999999999999999 days
  rules: {p1: {label: {en: P1, zh: P1}, when: "priority == 'P1'"}}
"""
    actions = text.replace("roles: [service_desk]}", "roles: [service_desk, system]}")
    f = check({P: actions}, [("T007", *at(actions, "999999999 business days")), ("T007", *at(actions, "12000 business hours")),
                             ("T007", *at(actions, "99999999999999999999 days"))])
    assert messages(f)[0] == ("timer 'remind' (999999999 business days) lasts more than five years in "
                              "calendar 'office': check the number and the unit (at most 1830 days)")
    assert messages(f)[1] == ("timer 'remind' (12000 business hours) lasts up to 1869 days in calendar "
                              "'office', more than five years: check the number and the unit (at most 1830 days)")
    assert messages(f)[2] == ("the criteria window (99999999999999999999 days) lasts more than five "
                              "years: check the number and the unit (at most 1830 days)")


# --- message templates (issue #20) ----------------------------------------------------------

def test_template_variable(check: Check) -> None:
    text = replaced(P, '    when: "codes.closure[closure_code].resolved"\n',
                    '    when: "codes.closure[closure_code].resolved"\n'
                    '    notify: [{to: reporter, template: resolved}]\n')
    en = ("[{{ ticket.key }}] {{ ticket.title }}\n{{ ticket.solutoin }}\n{{ resolution_note }}\n"
          "{% if ticket.closure_code is defined %}{{ ticket.closure_code }}{% endif %}\n"
          "{{ event.dew if event else '' }}{{ action.label }}\n{{ ticket.title|shout }}\n")
    zh = "{{ ticket.key }} {{ ticket.closure_code }}\n{% if x %}\n"
    t = "processes/templates/{}/resolved.txt"
    f = check({P: text, t.format("en"): en, t.format("zh"): zh},
              [("R004", 2, 1), ("R004", 3, 1), ("R004", 5, 1), ("R004", 6, 1), ("R004", 2, 1)])
    assert messages(f) == [
        "ticket.solutoin is not in the messages of process 'incident' (a template sees the ticket's "
        "public fields and fields of type user): did you mean ticket.solution? Else make the field "
        "public, or test 'ticket.solutoin is defined'",
        "'resolution_note' is not something a message has: templates see action, event, note, "
        "recipient, status_url, ticket",
        "event.dew does not exist: event has at, due, kind, name",
        "the template cannot be rendered: no filter named 'shout'",
        "the template cannot be rendered: syntax error: Unexpected end of template. Jinja was looking "
        "for the following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be "
        "closed is 'if'."]


def test_template_variable_event_is_none_in_the_messages_of_an_action(check: Check) -> None:
    text = replaced(P, '    when: "codes.closure[closure_code].resolved"\n',
                    '    when: "codes.closure[closure_code].resolved"\n'
                    '    notify: [{to: reporter, template: resolved}]\n')
    en = ("{{ event.due }}\n{% if event %}{{ event.due }}{% endif %}{{ event and event.due }}\n"
          "{{ event.due if event else '' }}{{ event.due|default('') }}{{ action.label }}\n")
    t = "processes/templates/{}/resolved.txt"
    f = check({P: text, t.format("en"): en, t.format("zh"): "{{ action.id }}\n"}, [("R004", 1, 1)])
    assert messages(f) == [
        "event.due: event is none in the messages of an action that use this template (only "
        "messages of a timer or an SLA threshold have one): test it first, e.g. {% if event %}"]


def test_template_variable_is_defined_guards_only_what_it_encloses(check: Check) -> None:
    text = replaced(P, '    when: "codes.closure[closure_code].resolved"\n',
                    '    when: "codes.closure[closure_code].resolved"\n'
                    '    notify: [{to: reporter, template: resolved}]\n')
    en = ("{% if ticket.closure_code is defined %}{{ ticket.closure_code }}{% endif %}\n"
          "{{ ticket.closure_code|default('-') }}{{ ticket.closure_code if ticket.closure_code is defined }}\n"
          "{{ ticket.closure_code }}\n")
    t = "processes/templates/{}/resolved.txt"
    f = check({P: text, t.format("en"): en, t.format("zh"): "{{ ticket.key }}\n"}, [("R004", 3, 1)])
    assert messages(f)[0].startswith("ticket.closure_code is not in the messages of process 'incident'")


# --- mail: replies and mailboxes ------------------------------------------------------

REPLIES = HEAD + """\
fields:
  reason: {type: text, label: {en: Reason, zh: 原因}}
states:
  new: {status: new, initial: true}
  resolved: {status: resolved}
  closed: {status: closed, final: true}
actions:
  resolve: {from: new, to: resolved, roles: [service_desk]}
  reopen: {from: resolved, to: new, roles: [reporter], requires: [reason]}
  close: {from: [new, resolved], to: closed, roles: [service_desk, reporter], requires: [title]}
"""


def test_reply_action_accepts_an_action_the_reporter_can_take_with_the_reply(check: Check) -> None:
    check({P: REPLIES + "replies: {resolved: reopen}\n"}, [])


def test_reply_action_refuses_what_a_reply_cannot_run(check: Check) -> None:
    text = REPLIES + "replies: {resolved: resolve, new: close, gone: reopen, closed: nope}\n"
    findings = check({P: text}, [("M001", *at(text, "resolve,")), ("M001", *at(text, "resolve,")),
                                 ("M001", *at(text, "close,")),
                                 ("M001", *at(text, "gone")), ("M001", *at(text, "nope"))])
    said = " | ".join(messages(findings))
    assert "does not start from state 'resolved'" in said and "the reporter may not perform 'resolve'" in said
    assert "'close' requires title" in said and "unknown state 'gone'" in said and "unknown action 'nope'" in said


MAILBOXES = """\
schema: itsm/codes@1
table: mailboxes
version: 1
title: {en: Mailbox, zh: 邮箱}
values:
  desk: {label: {en: Desk, zh: 服务台}, address: desk@example.com, process: incident, group: service_desk}
"""


def test_mailbox_reference_accepts_known_names(check: Check) -> None:
    check({"codes/mailboxes.yaml": MAILBOXES}, [])


def test_mailbox_reference_refuses_unknown_names_and_shared_addresses(check: Check) -> None:
    text = MAILBOXES.replace("group: service_desk}", "group: nobody, service: nothing}") + \
        "  again: {label: {en: Again, zh: 再}, address: DESK@example.com, process: incidnet}\n"
    findings = check({"codes/mailboxes.yaml": text},
                     [("M002", *at(text, "desk:")), ("M002", *at(text, "desk:")),
                      ("M002", *at(text, "again:")), ("M002", *at(text, "again:"))])
    said = " | ".join(messages(findings))
    assert "unknown group 'nobody'" in said and "unknown service 'nothing'" in said
    assert "unknown process 'incidnet'" in said and "is also mailbox 'desk'" in said


# --- T008 clock-calendar -------------------------------------------------------------------

LOCAL = HEAD + BODY + """\
sla:
  resolution:
    target: resolution
    start: {states: [new]}
    stop: {states: [closed]}
    calendar: group
    sites: [head_office]
"""


def test_clock_calendar_group_at_a_known_site(check: Check) -> None:
    check({P: LOCAL}, [])
    check({P: LOCAL.replace("calendar: group", "calendar: reporter_site")
           .replace("[head_office]", "[office]")}, [])  # the calendar of that id


def test_clock_calendar_site_without_group_or_calendar(check: Check) -> None:
    text = LOCAL.replace("[head_office]", "[head_office, guangzhou]")
    f = check({P: text}, [("T008", *at(text, "guangzhou"))])
    assert f[0].message == ("clock 'resolution': no group of codes/groups.yaml works at site "
                            "'guangzhou' (sites: head_office)")
    text = LOCAL.replace("calendar: group", "calendar: reporter_site")
    f = check({P: text}, [("T008", *at(text, "head_office"))])
    assert "site 'head_office' names no calendar of codes/calendars.yaml" in f[0].message


def test_clock_calendar_sites_on_a_service_clock_and_unknown_kinds(check: Check) -> None:
    text = LOCAL.replace("    calendar: group\n", "")
    f = check({P: text}, [("T008", *at(text, "sites:"))])
    assert f[0].message.startswith("clock 'resolution' follows the service's calendar: 'sites' changes nothing")
    text = LOCAL.replace("calendar: group", "calendar: branch")
    assert [x.rule for x in check({P: text}, [("S001", *at(text, "branch"))])] == ["S001"]


# --- K001 relation-reference, K002 relation-cardinality ------------------------------------

PROBLEM = """\
schema: itsm/process@1
process: problem
version: 1
title: {en: Problem, zh: 问题}
key_prefix: PRB
owner: service_desk
roles: {service_desk: {en: Service desk, zh: 热线}}
fields: {fix: {type: text, label: {en: Fix, zh: 方案}}}
states:
  new: {status: new, initial: true}
  closed: {status: closed, final: true}
actions:
  close: {from: new, to: closed, roles: [service_desk], requires: [fix]}
"""


def test_relation_reference_names_that_do_not_exist(check: Check) -> None:
    text = HEAD + """\
relations:
  caused_by:
    label: {en: Caused by, zh: 根因}
    to: [problem, problems]
    cascade:
      finish: {action: archive, copy: [root_cause]}
""" + BODY + """\
  raise_problem: {from: new, roles: [service_desk], opens: problem, relation: cause}
  note: {from: new, roles: [service_desk], when: "links.related or linked.caused_by"}
"""
    f = check({P: text, "processes/problem.yaml": PROBLEM},
              [("K001", *at(text, "problems")), ("K001", *at(text, "finish:")),
               ("K001", *at(text, "finish:")), ("K001", *at(text, "archive")),
               ("K001", *at(text, "cause}")), ("K001", *at(text, "links.related")),
               ("K001", *at(text, "linked.caused_by"))])
    assert sorted(messages(f)) == sorted([
        "relation 'caused_by' points at undefined process 'problems'",
        "relation 'caused_by' cascades on 'finish', which 'problem' tickets do not have",
        "the cascade 'finish' of relation 'caused_by' copies 'root_cause', which 'problem' has no field for",
        "the cascade 'finish' of relation 'caused_by' performs 'archive', but 'incident' has no such action",
        "action 'raise_problem' links by undeclared relation 'cause'",
        "'links.related': process 'incident' declares no relation 'related' in "
        "'links.related or linked.caused_by'",
        "'linked.caused_by': no relation 'caused_by' points at 'incident' tickets in "
        "'links.related or linked.caused_by'"])


def test_relation_reference_declared_and_used_is_fine(check: Check) -> None:
    text = HEAD + """\
relations:
  caused_by:
    label: {en: Caused by, zh: 根因}
    to: problem
    cardinality: one
    cascade:
      close: {action: close}
""" + BODY.replace("roles: [service_desk]}", "roles: [service_desk, system]}") + """\
  raise_problem: {from: new, roles: [service_desk], opens: problem, relation: caused_by,
                  when: "not links.caused_by"}
"""
    problem = PROBLEM.replace("requires: [fix]}", "requires: [fix], when: \"linked.caused_by\"}")
    check({P: text, "processes/problem.yaml": problem}, [])


def test_a_cascade_copies_only_what_its_action_takes(check: Check) -> None:
    """The copied values are the action's input: a field it neither requires nor
    accepts would have the cascade refused every time (linked tickets stay open)."""
    text = HEAD + """\
relations:
  caused_by:
    label: {en: Caused by, zh: 根因}
    to: problem
    cascade:
      close: {action: close, copy: [fix]}
fields: {fix: {type: text, label: {en: Fix, zh: 方案}}}
""" + BODY.replace("roles: [service_desk]}", "roles: [service_desk, system]}")
    f = check({P: text, "processes/problem.yaml": PROBLEM}, [("K001", *at(text, "close: {action")),
                                                             ("R003", *at(text, "fix: {type"))])  # unused here
    f = [x for x in f if x.rule == "K001"]
    assert messages(f) == ["the cascade 'close' of relation 'caused_by' copies 'fix' into 'close', which neither "
                           "requires nor accepts it: the cascade would be refused every time"]
    check({P: text.replace("roles: [service_desk, system]}", "roles: [service_desk, system], accepts: [fix]}"),
           "processes/problem.yaml": PROBLEM}, [])


def test_relation_cardinality_ambiguous_defaults_and_opened_links(check: Check) -> None:
    text = HEAD + """\
relations:
  caused_by: {label: {en: Caused by, zh: 根因}, to: problem, default: true}
  related: {label: {en: Related, zh: 相关}, to: [incident, problem], default: true}
""" + BODY + """\
  raise_problem: {from: new, roles: [service_desk], opens: problem, relation: caused_by}
"""
    f = check({P: text, "processes/problem.yaml": PROBLEM},
              [("K002", *at(text, "caused_by:")), ("K002", *at(text, "true}", 2))])
    assert sorted(messages(f)) == sorted([
        "action 'raise_problem' opens a ticket linked by relation 'caused_by', which must then be "
        "cardinality: one",
        "relations 'caused_by' and 'related' are both the default relation to 'problem' tickets: keep one"])


def test_relation_cardinality_one_default_is_fine(check: Check) -> None:
    text = HEAD + """\
relations:
  caused_by: {label: {en: Caused by, zh: 根因}, to: problem, cardinality: one, default: true}
  related: {label: {en: Related, zh: 相关}, to: [incident, problem]}
""" + BODY + """\
  raise_problem: {from: new, roles: [service_desk], opens: problem}
"""
    check({P: text, "processes/problem.yaml": PROBLEM}, [])


# --- permissions granted to roles people can hold (issue #18) ------------------------------

PERMISSIONS = """\
schema: itsm/codes@1
table: permissions
version: 1
title: {en: Permission, zh: 权限}
roles:
  monitoring: {en: Monitoring system, zh: 监控系统}
values:
  admin: {label: {en: Administer, zh: 管理}, roles: [process_owner]}
  read: {label: {en: Read, zh: 查看}, roles: [service_desk, group_member]}
  alerts: {label: {en: Send alerts, zh: 发送告警}, roles: [process_owner, monitoring]}
"""


def test_permission_roles_must_be_declared(check: Check) -> None:
    bad = PERMISSIONS.replace("[process_owner]}", "[proces_owner]}").replace(
        "roles:\n  monitoring: {en: Monitoring system, zh: 监控系统}\n", "")
    f = check({"codes/permissions.yaml": bad},
              [("C004", *at(bad, "proces_owner")), ("C004", *at(bad, "monitoring]"))])
    assert messages(f)[0].startswith("permission 'admin' is granted to role 'proces_owner', which no process declares")


def test_permission_roles_declared_are_clean(check: Check) -> None:
    check({"codes/permissions.yaml": PERMISSIONS}, [])


def test_a_process_that_does_not_load_keeps_its_roles_from_c004(tmp_path: Path) -> None:
    """The roles a broken process declares cannot be seen; its own schema error says
    what is wrong, not C004 against codes/permissions.yaml (it blamed the wrong file)."""
    repo = tmp_path / "repo"
    shutil.copytree(BASE, repo)
    base = (repo / "processes" / "incident.yaml").read_text(encoding="utf-8")
    broken = base.replace("id: incident", "id: request").replace(
        "  service_desk: {en: Service desk agent, zh: 热线支持人员}\n",
        "  service_desk: {en: Service desk agent, zh: 热线支持人员}\n  fulfiller: {en: Fulfiller, zh: 执行人}\n"
    ) + "bogus_key: 1\n"
    (repo / "processes" / "request.yaml").write_text(broken, encoding="utf-8")
    (repo / "codes" / "permissions.yaml").write_text(
        PERMISSIONS.replace("roles: [service_desk, group_member]", "roles: [service_desk, group_member, fulfiller]"),
        encoding="utf-8")
    rules = [f.rule for f in lint_paths([repo]).findings]
    assert "S001" in rules and "C004" not in rules, rules


@pytest.mark.parametrize("name", ["sla_target", "origin", "link"])
def test_schema_a_field_may_not_take_a_name_the_journal_records_changes_under(check: Check, name: str) -> None:
    """An event's ``changes`` also records where a person's change came from, a
    link, the targets of the clocks it stopped...: a field under one of those
    names would be taken for that record (or clobbered by it) on replay."""
    text = replaced("processes/incident.yaml", "  solution: {type: text",
                    f"  {name}: {{type: text, label: {{en: X, zh: X}}}}\n  solution: {{type: text")
    f = check({"processes/incident.yaml": text}, [("S001", *at(text, f"{name}: {{type"))])
    assert f[0].message.startswith(f"key '{name}' is reserved here: A field id")


def test_the_schema_reserves_exactly_the_journal_record_keys() -> None:
    import json

    from engine.clock import sla
    from engine.journal import RECORD_KEYS

    schema = json.loads((Path(__file__).parents[2] / "engine/schemas/process.schema.json").read_text("utf-8"))
    reserved = schema["properties"]["fields"]["propertyNames"]["not"]["enum"]
    assert set(reserved) == RECORD_KEYS
    assert {sla.SWITCH, sla.JUDGED} <= RECORD_KEYS
