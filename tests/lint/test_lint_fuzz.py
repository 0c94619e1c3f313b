"""Fuzzing ``itsm lint`` (issue #9): whatever the definition files hold, lint reports
findings. It never raises, never prints a traceback, and ``itsm lint`` exits 0 or 1.

- Mutation fuzzing: the real definition files (the shipped repository's
  ``processes/``, ``codes/``, ``reports/``, and ``tests/lint/cases/_base``) with
  hypothesis-chosen edits of their bytes: lines deleted, duplicated, swapped or
  re-indented; YAML special tokens, control characters, invalid UTF-8 and BOMs
  inserted; scalars replaced with another type; keys and ids renamed; files emptied,
  truncated, deleted, or copied where another kind of file belongs.
- Generation fuzzing: structurally plausible process documents (roles, fields,
  states, actions, guards, close criteria, SLA clocks, timers, with random
  references, some valid and some not) written as YAML text by a small emitter.
- Each case is written into a copy of a repository (restored after the case) and
  linted in process through ``engine.lint.lint_paths``, whose findings are then
  rendered in every format; a few hundred cases go through the real CLI
  (``itsm lint PATH`` with ``--format text|json|sarif|github``).

A rule that crashes is reported as a finding ("rule crashed: ...") instead of a
traceback; these tests count such a finding as a crash as well.

The runs are derandomized, so CI sees the same cases on every run. To look for new
ones locally: ``ITSM_FUZZ_RANDOM=1 ITSM_FUZZ_SCALE=10 pytest tests/lint/test_lint_fuzz.py``;
to shrink a failing case: ``ITSM_FUZZ_SHRINK=1``.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import cli
from engine.lint import LintConfig, LintResult, lint_paths
from engine.lint.finding import SEVERITIES
from engine.lint.formatters import Report, render

HERE = Path(__file__).resolve().parent
BASE = HERE / "cases" / "_base"
REPO = HERE.parents[1]
SCALE = max(1, int(os.environ.get("ITSM_FUZZ_SCALE", "1")))


def fuzz_settings(examples: int) -> settings:
    # no shrinking by default: a lint run is slow for hypothesis, so shrinking a failure took
    # minutes; the failure message shows the files of the case, and ITSM_FUZZ_SHRINK=1 (the
    # same cases, derandomized) shrinks it to a small one
    phases = [Phase.explicit, Phase.reuse, Phase.generate]
    if os.environ.get("ITSM_FUZZ_SHRINK") == "1":
        phases.append(Phase.shrink)
    return settings(max_examples=examples * SCALE, deadline=None, phases=phases,
                    derandomize=os.environ.get("ITSM_FUZZ_RANDOM") != "1", database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# --- repositories to break --------------------------------------------------------

@dataclass
class Workspace:
    """A copy of a process repository; every case is undone by :meth:`restore`."""

    root: Path
    files: list[str] = field(repr=False)  # the definition files, relative to root, posix
    snapshot: dict[str, bytes] = field(default_factory=dict, repr=False)
    touched: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def copy(cls, sources: dict[str, Path], dest: Path) -> Workspace:
        for sub, src in sources.items():
            shutil.copytree(src, dest / sub, dirs_exist_ok=True)
        files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.yaml")
                       if p.parent.name in ("processes", "codes", "reports"))
        return cls(dest, files, {f: (dest / f).read_bytes() for f in files})

    def write(self, rel: str, data: bytes) -> None:
        self.touched.add(rel)
        (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.root / rel).write_bytes(data)

    def delete(self, rel: str) -> None:
        self.touched.add(rel)
        (self.root / rel).unlink(missing_ok=True)

    def restore(self) -> None:
        for rel in self.touched:
            if rel in self.snapshot:
                (self.root / rel).write_bytes(self.snapshot[rel])
            else:
                (self.root / rel).unlink(missing_ok=True)
        self.touched.clear()


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Workspace]:
    root = tmp_path_factory.mktemp("fuzz")
    return {
        "base": Workspace.copy({".": BASE}, root / "base"),
        "shipped": Workspace.copy({sub: REPO / sub for sub in ("processes", "codes", "reports")},
                                  root / "shipped"),
    }


# --- checking one case ----------------------------------------------------------------

def crashes(findings: list[Any]) -> list[Any]:
    return [f for f in findings if f.file == "<lint>" or "rule crashed" in f.message]


def check_result(result: LintResult, what: str) -> None:
    assert isinstance(result, LintResult), what
    for f in result.findings:
        assert f.severity in SEVERITIES and f.line >= 1 and f.column >= 1, (f, what)
    assert not crashes(result.findings), f"{what}\n{crashes(result.findings)}"
    report = Report(result.findings, result.suppressed, True, True, Path.cwd())
    for fmt in ("text", "json", "sarif", "github"):
        out = render(fmt, report)
        if fmt in ("json", "sarif"):
            json.loads(out)


def lint_case(ws: Workspace, targets: tuple[str, ...], preset: str | None, what: str) -> LintResult:
    """Lint ``targets`` of the workspace: without a configuration (the check before
    definitions are used), or as ``itsm lint`` does with a preset."""
    paths = [ws.root / t for t in targets if (ws.root / t).exists()] or [ws.root]
    result = lint_paths(paths, LintConfig(extends=preset) if preset else None)
    check_result(result, what)
    return result


# --- mutations -------------------------------------------------------------------------

TOKENS = [
    "on", "no", "yes", "off", "On", "NO", "y", "~", "null", "true", "false", "&a", "*a", "&a x",
    "*b", "&anchor", "<<: *a", "!!python/object", "!!python/object:os.system",
    "!!python/name:os.system", "!!binary", "!!str", "!!int", "!!float", "!!map", "!!seq",
    "!!set", "!!omap", "!!timestamp", "!custom", "!<tag:x>", "{", "}", "[", "]", ",", ":", ": ",
    "- ", "-", "? ", "?", "|", ">", "|-", ">+", "#", " # c", "'", '"', "`", "@", "%",
    "%YAML 1.1", "%TAG ! x", "---", "...", "\t", "\t\t", "  ", "\n", "\r", "\r\n", "\n  \n",
    "1:30", "-1:30", "190:20:30", "0o17", "017", "0x1F", "0b101", "1_000", ".inf", "-.inf",
    ".NaN", "1e400", "-0", "99999999999999999999999999999999", "2024-01-01",
    "2024-01-01T10:00:00Z", "4h", "3 business days", "PT4H", "75%", "150%", "{{ x }}",
    "{{", "}}", "{% if %}", "\\", '"\\x"', '"\\uD800"', "'it''s'", "\u2028", "\u0085",
    "\ufeff", "\u200b", "😀", "事件", "\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b",
    "\x7f", "\x80", "\x9f", "__class__", "__import__('os')", "[]", "{}", "''", '""',
    "x" * 5000, "word " * 2000, "[" * 300, "{a: " * 200, "- " * 200, "a:\n" * 50,
]
BYTE_TOKENS = [b"\xff", b"\xfe", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
               b"\xc0\xaf", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00", b"\x80"]
REPLACEMENTS = [
    "[a, b]", "[]", "{x: 1}", "{}", "42", "-7", "0", "3.5", "1e9", ".inf", ".nan", "~", "null",
    "true", "false", "on", "no", '""', "''", "|\n    block text", ">-\n    folded", "[[1, [2]]]",
    "{a: {b: {c: [d]}}}", "1:30", "0o17", "017", "2024-01-01", "!!str 1", "!!binary aGk=", "*a",
    "&a [1]", "x" * 3000, "'{{ undefined_name }}'", "'{{ (1 }}'", "[[",
]
IDENT = st.from_regex(r"\A[a-z][a-z0-9_]{0,12}\Z")
KEYISH = st.one_of(IDENT, st.sampled_from(
    ["", "''", "on", "1", "2.5", "~", "true", "Upper", "with space", "a-b", "__init__", "-x",
     "&a", "*a", "[x]", "{x}", "?", "x" * 300, "事件", "schema", "process", "table", "values",
     "states", "actions", "from", "to", "roles", "when", "initial", "final", "status"]))
TEXT_TOKEN = st.one_of(st.sampled_from(TOKENS), st.text(max_size=12))
POS = st.integers(min_value=0, max_value=10**6)

STRUCTURAL = [  # mostly breaks the YAML
    st.tuples(st.just("delete_line"), POS),
    st.tuples(st.just("duplicate_line"), POS),
    st.tuples(st.just("swap_lines"), POS, POS),
    st.tuples(st.just("indent"), POS, st.integers(-8, 8), st.booleans()),
    st.tuples(st.just("insert"), POS, TEXT_TOKEN),
    st.tuples(st.just("insert_line"), POS, TEXT_TOKEN, st.integers(0, 8)),
    st.tuples(st.just("insert_bytes"), POS, st.sampled_from(BYTE_TOKENS)),
    st.tuples(st.just("repeat"), POS, st.sampled_from(["[", "{", "- ", "  ", "&a ", "a: ", "[*a, ",
                                                        "\t", "#", "\\", "(", "not "]),
              st.integers(2, 2000)),
    st.tuples(st.just("truncate"), POS),
    st.tuples(st.just("empty")),
    st.tuples(st.just("bom")),
    st.tuples(st.just("crlf")),
]
SEMANTIC = [  # mostly keeps the YAML readable: reaches schema, specs and the rules
    st.tuples(st.just("replace_scalar"), POS, st.one_of(st.sampled_from(REPLACEMENTS),
                                                        st.text(max_size=10))),
    st.tuples(st.just("replace_expression"), POS, st.deferred(lambda: EXPR)),
    st.tuples(st.just("rename_key"), POS, KEYISH),
    st.tuples(st.just("rename_everywhere"), POS, st.one_of(POS, KEYISH)),
    st.tuples(st.just("swap_word"), POS, POS),
]
# one in four structural (hypothesis does not weight repeated branches of a one_of)
MUTATION = st.sampled_from([0, 1, 1, 1]).flatmap(
    lambda semantic: st.one_of(*(SEMANTIC if semantic else STRUCTURAL)))

_KEY_LINE = re.compile(r"^(\s*(?:-\s+)?)([^\s:#{}\[\],'\"][^:#{}\[\],]*?)(\s*:)(?=\s|$)", re.M)
_SCALAR = re.compile(r"(:[ \t]+)([^\s{}\[\]#,][^#\n{}\[\],]*?)[ \t]*(?=$|,|\}|\]| #)", re.M)
_EXPRESSION = re.compile(r"(when:\s*|:\s*)(\"[^\"\n]*\"|'[^'\n]*')", re.M)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _nth(matches: list[re.Match[str]], pos: int) -> re.Match[str] | None:
    return matches[pos % len(matches)] if matches else None


def mutate(data: bytes, op: tuple[Any, ...]) -> bytes:
    """Apply one mutation; positions are taken modulo what the file has."""
    kind, *args = op
    lines = _lines(data)
    if kind == "delete_line":
        del lines[args[0] % len(lines)]
        return b"\n".join(lines)
    if kind == "duplicate_line":
        i = args[0] % len(lines)
        lines.insert(i, lines[i])
        return b"\n".join(lines)
    if kind == "swap_lines":
        i, j = args[0] % len(lines), args[1] % len(lines)
        lines[i], lines[j] = lines[j], lines[i]
        return b"\n".join(lines)
    if kind == "indent":
        i, delta, tab = args[0] % len(lines), args[1], args[2]
        line = lines[i]
        body = line.lstrip(b" \t")
        width = max(0, len(line) - len(body) + delta)
        lines[i] = (b"\t" * (width // 2 or 1) if tab else b" " * width) + body
        return b"\n".join(lines)
    if kind == "insert":
        i = args[0] % (len(data) + 1)
        return data[:i] + _bytes(args[1]) + data[i:]
    if kind == "insert_line":
        lines.insert(args[0] % (len(lines) + 1), b" " * args[2] + _bytes(args[1]))
        return b"\n".join(lines)
    if kind == "insert_bytes":
        i = args[0] % (len(data) + 1)
        return data[:i] + args[1] + data[i:]
    if kind == "repeat":
        i = args[0] % (len(data) + 1)
        return data[:i] + _bytes(args[1] * args[2]) + data[i:]
    if kind == "truncate":
        return data[: args[0] % (len(data) + 1)]
    if kind == "empty":
        return b""
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "crlf":
        return data.replace(b"\n", b"\r\n")
    text = _text(data)
    if kind == "replace_scalar":
        m = _nth(list(_SCALAR.finditer(text)), args[0])
        if m is None:
            return data
        return _bytes(text[: m.start(2)] + args[1] + text[m.end(2):])
    if kind == "replace_expression":  # a guard, criterion or {{ }} value
        m = _nth(list(_EXPRESSION.finditer(text)), args[0])
        if m is None:
            return data
        new = args[1] if m.group(1).strip() == "when:" else "{{ " + args[1] + " }}"
        return _bytes(text[: m.start(2)] + json.dumps(new, ensure_ascii=False) + text[m.end(2):])
    if kind == "rename_key":
        m = _nth(list(_KEY_LINE.finditer(text)), args[0])
        if m is None:
            return data
        return _bytes(text[: m.start(2)] + args[1] + text[m.end(2):])
    words = list(_WORD.finditer(text))
    if not words:
        return data
    if kind == "rename_everywhere":  # rename an id with all its references
        old = _nth(words, args[0]).group(0)  # type: ignore[union-attr]
        new = args[1] if isinstance(args[1], str) else _nth(words, args[1]).group(0)  # type: ignore[union-attr]
        return _bytes(re.sub(rf"\b{re.escape(old)}\b", lambda _: new, text))
    if kind == "swap_word":  # one reference now names something else of the file
        m, other = _nth(words, args[0]), _nth(words, args[1])
        assert m is not None and other is not None
        return _bytes(text[: m.start()] + other.group(0) + text[m.end():])
    raise AssertionError(kind)


# A file-level change: which file, what happens to it, and the mutations of its bytes.
FILE_CHANGE = st.tuples(
    POS,
    st.sampled_from(["mutate"] * 18 + ["delete", "move"]),
    st.sampled_from(["processes/extra.yaml", "codes/extra.yaml", "processes/incident.yaml",
                     "codes/status.yaml", "codes/sla.yaml", "reports/extra.yaml", "extra.yaml"]),
    st.lists(MUTATION, min_size=1, max_size=3),
)


def apply_changes(ws: Workspace, changes: list[tuple[Any, ...]]) -> str:
    """Write the changes into the workspace; return a description for failure messages."""
    described = []
    for pos, how, dest, mutations in changes:
        rel = ws.files[pos % len(ws.files)]
        current = (ws.root / rel).read_bytes() if (ws.root / rel).exists() else ws.snapshot[rel]
        if how == "delete":
            ws.delete(rel)
            described.append(f"delete {rel}")
            continue
        data = current
        for op in mutations:
            data = mutate(data, op)
        target = dest if how == "move" else rel
        if how == "move":
            ws.delete(rel)
        ws.write(target, data)
        described.append(f"{how} {rel} -> {target}: {mutations!r}\n--- {target} ---\n"
                         f"{data[:3000]!r}")
    return "\n".join(described)


def fuzz_mutations(ws: Workspace, changes: list[tuple[Any, ...]], targets: tuple[str, ...],
                   preset: str | None) -> None:
    try:
        lint_case(ws, targets, preset, apply_changes(ws, changes))
    finally:
        ws.restore()


TARGETS = st.sampled_from([(".",), (".",), (".",), ("processes",), ("codes",),
                           ("processes", "codes"), ("processes/incident.yaml",),
                           ("codes/status.yaml", "processes/incident.yaml")])
PRESETS = st.sampled_from([None, "recommended", "all", "guidelines"])


@fuzz_settings(1500)
@given(changes=st.lists(FILE_CHANGE, min_size=1, max_size=2), targets=TARGETS, preset=PRESETS)
def test_mutated_base_definitions_lint_without_crashing(
        workspaces: dict[str, Workspace], changes: list[tuple[Any, ...]],
        targets: tuple[str, ...], preset: str | None) -> None:
    fuzz_mutations(workspaces["base"], changes, targets, preset)


@fuzz_settings(150)  # the shipped repository takes several times as long to lint
@given(changes=st.lists(FILE_CHANGE, min_size=1, max_size=2), targets=TARGETS, preset=PRESETS)
def test_mutated_shipped_definitions_lint_without_crashing(
        workspaces: dict[str, Workspace], changes: list[tuple[Any, ...]],
        targets: tuple[str, ...], preset: str | None) -> None:
    fuzz_mutations(workspaces["shipped"], changes, targets, preset)


# --- generated process documents ------------------------------------------------------
# A document is drawn schema-shaped (ids mostly from small pools, so that references
# often resolve and sometimes do not), then 0-3 of its nodes are corrupted: replaced
# with something of another type or deleted.

ROLES = ["process_owner", "service_desk", "incident_manager", "approver"]
BUILTIN_ROLES = ["assignee", "reporter", "group_member", "system", "group", "nobody"]
FIELDS = ["solution", "closure_code", "reason", "workaround", "affected_users", "restored"]
STATES = ["new", "in_progress", "resolved", "closed", "assigned", "pending", "cancelled", "triage"]
ACTIONS = ["start", "resolve", "reopen", "confirm", "cancel", "assign", "escalate", "auto_close",
           "pend", "resume"]
NAMES = ["ticket", "input", "service", "codes", "sla", "now", "actor", "action", "status_category",
         "priority", "urgency", "impact", "group", "assignee", "reporter", "parent",
         "recent_on_service", "undefined_thing", "range", "lipsum", "self", "cycler", "namespace"]
DURATIONS = ["4h", "15m", "30s", "0s", "2d", "1w", "3 business days", "1 business day",
             "2 business hours", "4 business minutes", "1h 30m", "PT4H", "P1D", "P2W", "PT0S",
             "99999999999999999999 days", "999999999 business days", "0 business days"]
PERCENTS = ["75%", "100%", "999%", "0.5%", "0%", 50, 0.5, 1000, 1e-9]
LABELS = [{"en": "Label", "zh": "标签"}, {"en": "a: b # c", "zh": "'quoted'"},
          {"en": "x" * 300, "zh": "y"}, {"en": "{{ solution }}", "zh": "\t"}]
TEMPLATES = ["assigned", "resolved", "sla_breach", "sla_warning", "missing_template", "x1"]
INVALID = ["", "Upper", "1:30", "on", "no", "*", "-1h", "4 hours ago", "P1Y", "abc%", "1e400",
           0, -1, 2.5, True, None, [], {}, ["x"], {"en": "only"}, "x" * 2000, "../etc/passwd"]


def pool(names: list[str]) -> st.SearchStrategy[str]:
    """An id of the pool, now and then a new one."""
    return st.one_of(st.sampled_from(names), st.sampled_from(names), st.sampled_from(names), IDENT)


def one_or_many(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, st.lists(strategy, min_size=1, max_size=3, unique=True))


JUNK = st.one_of(
    st.sampled_from(INVALID),
    st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                           st.text(st.characters(codec="utf-8"), max_size=8)),
                 lambda inner: st.one_of(st.lists(inner, max_size=3),
                                         st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                 max_leaves=5))


def expressions() -> st.SearchStrategy[str]:
    names = st.sampled_from(FIELDS + STATES + NAMES)
    atoms = st.one_of(
        names, names, st.integers(-5, 10**20).map(str),
        # no '*' or '**' between drawn operands: Jinja folds constants while compiling, and
        # "'x' * 10**10" takes all the memory there is (a resource limit, not a crash)
        st.sampled_from(["priority * 2", "2 ** 8", "'ab' * 3", "affected_users * 10",
                         "-(2 ** 100000)", "10 ** 400"]),
        st.sampled_from(["none", "None", "true", "True", "false", "'incident'", '"x"', "1.5",
                         "codes.closure[closure_code].resolved", "sla.resolution.met",
                         "codes.priority[priority].rank", "ticket.group", "[]", "{}",
                         "service.criticality", "codes['closure']", "x.__class__.__mro__",
                         "actor.roles", "'service_desk' in actor.roles"]),
    )

    def grow(e: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(e, st.sampled_from(["and", "or", "==", "!=", "<", ">=", "in", "not in", "+",
                                          "-", "/", "//", "%", "is", "is not", "~", "|"]),
                      e).map(" ".join),
            e.map(lambda x: f"not {x}"),
            e.map(lambda x: f"({x})"),
            st.tuples(e, names).map(lambda t: f"{t[0]}.{t[1]}"),
            st.tuples(e, e).map(lambda t: f"{t[0]}[{t[1]}]"),
            st.tuples(names, st.lists(e, max_size=2)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
            st.tuples(e, e, e).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
            st.tuples(e, st.sampled_from(["length", "lower", "default", "attr", "map", "join",
                                          "nofilter"])).map(lambda t: f"{t[0]} | {t[1]}"),
            st.lists(e, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        )

    well_formed = st.recursive(atoms, grow, max_leaves=8)
    broken = st.text(alphabet="()[]{}.,:'\"+-*/ abc01=<>!|%~#", min_size=1, max_size=20)
    # nested past the recursion limit (hypothesis raises it to about 2000); not 150-700
    # deep, where Jinja's optimizer takes seconds per compile (slow, not a crash)
    deep = st.tuples(st.sampled_from(["(", "not ", "[", "-", "a.", "x + ", "f("]),
                     st.sampled_from([1, 2, 10, 60, 100, 1000, 5000])).map(
        lambda t: t[0] * t[1] + "x" + {"(": ")", "[": "]", "f(": ")"}.get(t[0], "") * t[1])
    return st.one_of(well_formed, well_formed, well_formed, well_formed, well_formed, broken,
                     deep, st.just("{{ solution }}"), st.just(" "))


EXPR = expressions()
ROLE = st.sampled_from(ROLES + BUILTIN_ROLES)
STATE = st.sampled_from(STATES + ["nowhere"])
ACTION = st.sampled_from(ACTIONS + ["no_such_action"])
FIELD = st.sampled_from(FIELDS + ["title", "group", "assignee", "urgency", "no_field"])
LABEL = st.sampled_from(LABELS)
CONDITION = st.fixed_dictionaries({}, optional={
    "states": st.lists(STATE, min_size=1, max_size=3, unique=True),
    "categories": st.lists(st.sampled_from(["new", "active", "pending", "resolved", "closed"]),
                           min_size=1, max_size=3, unique=True),
    "actions": st.lists(ACTION, min_size=1, max_size=2, unique=True)})
MESSAGE = st.fixed_dictionaries({"to": one_or_many(ROLE), "template": st.sampled_from(TEMPLATES)},
                                optional={"channel": st.sampled_from(["email", "sms", "webhook"])})
MESSAGES = st.lists(MESSAGE, min_size=1, max_size=2)
EFFECT = st.fixed_dictionaries({}, optional={"notify": MESSAGES, "action": ACTION})
PROCESS = st.fixed_dictionaries(
    {"schema": st.just("itsm/process@1"),
     "process": st.sampled_from(["incident"] * 5 + ["other"]),
     "version": st.integers(1, 3),
     "title": LABEL,
     "key_prefix": st.sampled_from(["INC", "SR"]),
     "owner": ROLE,
     "roles": st.dictionaries(pool(ROLES), LABEL, max_size=4),
     "fields": st.dictionaries(pool(FIELDS), st.fixed_dictionaries(
         {"type": st.sampled_from(["text", "string", "int", "bool", "code", "ticket", "date",
                                   "user", "duration"]), "label": LABEL},
         optional={"codes": st.sampled_from(["closure", "priority", "channels", "nope"]),
                   "public": st.booleans(), "ask_each_time": st.booleans()}), max_size=5),
     "states": st.dictionaries(pool(STATES), st.fixed_dictionaries(
         {"status": st.sampled_from(STATES)},
         optional={"initial": st.booleans(), "final": st.booleans(), "owner": ROLE,
                   "label": LABEL}), min_size=1, max_size=6),
     "actions": st.dictionaries(pool(ACTIONS), st.fixed_dictionaries(
         {"from": st.one_of(one_or_many(STATE), st.just("*")),
          "roles": st.lists(ROLE, min_size=1, max_size=3, unique=True)},
         optional={"to": STATE, "label": LABEL,
                   "requires": st.lists(FIELD, max_size=3, unique=True),
                   "accepts": st.lists(FIELD, max_size=3, unique=True),
                   "when": EXPR, "when_message": LABEL,
                   "set": st.dictionaries(FIELD, st.one_of(EXPR.map(lambda e: "{{ " + e + " }}"),
                                                           st.integers(), st.booleans(),
                                                           st.sampled_from(["x", ""])),
                                          max_size=2),
                   "notify": MESSAGES, "public": st.booleans(),
                   "note": st.sampled_from(["optional", "required"]),
                   "opens": st.sampled_from(["major_incident", "incident", "nothing"]),
                   "cascade": st.fixed_dictionaries(
                       {"action": ACTION}, optional={"copy": st.lists(FIELD, max_size=2)})}),
         max_size=6)},
    optional={
        "close_criteria": st.lists(st.fixed_dictionaries(
            {"id": IDENT, "when": EXPR, "label": LABEL},
            optional={"states": st.lists(STATE, min_size=1, max_size=2)}), max_size=3),
        "sla": st.dictionaries(st.sampled_from(["response", "resolution", "other"]),
                               st.fixed_dictionaries(
            {"target": st.sampled_from(["response", "resolution"]), "start": CONDITION,
             "stop": CONDITION},
            optional={"label": LABEL, "pause": CONDITION, "resume": CONDITION,
                      "reset": CONDITION, "warning": st.sampled_from(PERCENTS),
                      "on_warning": EFFECT, "on_breach": EFFECT}), max_size=2),
        "timers": st.dictionaries(pool(["auto_close", "chase"]), st.fixed_dictionaries(
            {"states": st.lists(STATE, min_size=1, max_size=2), "after": st.sampled_from(DURATIONS)},
            optional={"label": LABEL, "action": ACTION,
                      "calendar": st.sampled_from(["office", "nope"]), "notify": MESSAGES,
                      "remind_before": st.sampled_from(DURATIONS), "remind": MESSAGES,
                      "repeat": st.booleans(),
                      "after_by_priority": st.dictionaries(st.sampled_from(["P1", "P2", "P9"]),
                                                           st.sampled_from(DURATIONS), max_size=2),
                      "restart_on": st.lists(ACTION, max_size=2)}), max_size=2),
        "criteria": st.fixed_dictionaries({}, optional={
            "watch": st.sampled_from(["incident", "nope"]), "window": st.sampled_from(DURATIONS),
            "rules": st.dictionaries(IDENT, st.fixed_dictionaries({"when": EXPR, "label": LABEL}),
                                     max_size=2)}),
        "defaults": st.dictionaries(FIELD, st.sampled_from(["medium", "phone", 1]), max_size=2),
        "intake": st.fixed_dictionaries({"notify": MESSAGES}),
        "search": st.fixed_dictionaries({}, optional={"solution": FIELD, "reuse": FIELD}),
        "policies": st.lists(st.just("guidelines"), max_size=1),
        "priority_override": st.fixed_dictionaries({"roles": st.lists(ROLE, min_size=1,
                                                                      max_size=2)}),
        "description": LABEL,
    })


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, path + (i,))
    return out


@st.composite
def process_documents(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(draw(PROCESS))  # sampled values are shared: never change them
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        paths = _paths(doc)
        if not paths:
            break
        *parent_path, last = draw(st.sampled_from(paths))
        parent = doc
        for part in parent_path:
            parent = parent[part]
        if draw(st.integers(0, 3)) == 0:
            del parent[last]  # a required key missing, a list shorter
        else:
            parent[last] = copy.deepcopy(draw(JUNK))
    return {k: doc[k] for k in draw(st.permutations(list(doc)))}


# A small YAML emitter: block style down to a drawn depth, flow style below it;
# plain scalars where they are simple (so 'on' and 'no' stay plain: traps for lint).
_PLAIN = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")


def scalar(value: Any, quote: bool) -> str:
    if value is None:
        return "~"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    text = str(value)
    if not quote and _PLAIN.match(text) and text not in ("true", "false", "null", "True",
                                                         "False", "Null", "NULL", "TRUE", "FALSE"):
        return text
    return _NOT_PRINTABLE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", json.dumps(text, ensure_ascii=False))


_NOT_PRINTABLE = re.compile("[\x7f-\x84\x86-\x9f\ufffe\uffff]")  # YAML escapes these


def flow(value: Any, quote: bool) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k, quote)}: {flow(v, quote)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v, quote) for v in value) + "]"
    return scalar(value, quote)


def block(value: Any, indent: int, depth: int, quote: bool) -> str:
    pad = " " * indent
    nested = depth > 0
    if isinstance(value, dict) and value:
        out = []
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v and nested:
                out.append(f"{pad}{scalar(k, quote)}:\n{block(v, indent + 2, depth - 1, quote)}")
            else:
                out.append(f"{pad}{scalar(k, quote)}: {flow(v, quote)}\n")
        return "".join(out)
    if isinstance(value, list) and value:
        out = []
        for v in value:
            if isinstance(v, (dict, list)) and v and nested:
                out.append(f"{pad}-\n{block(v, indent + 2, depth - 1, quote)}")
            else:
                out.append(f"{pad}- {flow(v, quote)}\n")
        return "".join(out)
    return f"{pad}{flow(value, quote)}\n"


GENERATED = st.tuples(process_documents(), st.integers(0, 4), st.booleans(),
                      st.sampled_from(["processes/incident.yaml"] * 3 + ["processes/other.yaml"]))


def write_generated(ws: Workspace, generated: tuple[Any, ...]) -> str:
    doc, depth, quote, rel = generated
    text = block(doc, 0, depth, quote)
    ws.write(rel, text.encode("utf-8"))
    return f"{rel}:\n{text}"


@fuzz_settings(900)
@given(generated=GENERATED, preset=PRESETS)
def test_generated_processes_lint_without_crashing(workspaces: dict[str, Workspace],
                                                    generated: tuple[Any, ...],
                                                    preset: str | None) -> None:
    ws = workspaces["base"]
    try:
        lint_case(ws, (".",), preset, write_generated(ws, generated))
    finally:
        ws.restore()


def test_the_emitter_writes_yaml_that_reads_back() -> None:
    """The generated documents are YAML, and mostly the intended data."""
    import yaml

    doc = {"process": "incident", "on": "no", "n": [1, 2.5, None, True, {"a": "b c"}],
           "deep": {"x": {"y": ["z", {"w": "1:30"}]}}, "e": {}, "l": []}
    for depth in range(4):
        for quote in (False, True):
            assert yaml.safe_load(block(doc, 0, depth, quote))["deep"] == doc["deep"]


# --- the real CLI -------------------------------------------------------------------------

def run_cli(argv: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.main, argv, catch_exceptions=True)
    out, err = result.stdout, result.stderr
    detail = f"itsm {' '.join(argv)} -> exit {result.exit_code}\n{out}\n--- stderr ---\n{err}"
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"{detail}\n{result.exception!r}"
    assert result.exit_code in (0, 1), detail
    assert "Traceback" not in out + err, detail
    assert "rule crashed" not in out + err, detail
    return result.exit_code, out, err


_SARIF: list[Callable[[Any], Any]] = []


def sarif_errors(log: Any) -> list[str]:
    if not _SARIF:
        import jsonschema

        schema = json.loads((HERE / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
        _SARIF.append(jsonschema.Draft4Validator(schema).iter_errors)
    return [f"{list(e.absolute_path)}: {e.message}" for e in _SARIF[0](log)][:5]


CLI_CASE = st.one_of(
    st.tuples(st.just("mutate"), st.lists(FILE_CHANGE, min_size=1, max_size=2)),
    st.tuples(st.just("generate"), GENERATED),
)


@fuzz_settings(450)
@given(case=CLI_CASE, fmt=st.sampled_from(["text", "json", "sarif", "github"]),
       target=st.sampled_from([".", ".", "processes/incident.yaml", "ABSOLUTE"]),
       extra=st.sampled_from([[], ["--snippets"], ["--report-suppressed"],
                              ["--fail-level", "error", "--max-warnings", "3"]]))
def test_mutated_definitions_through_the_cli(workspaces: dict[str, Workspace],
                                              monkeypatch: pytest.MonkeyPatch,
                                              case: tuple[str, Any], fmt: str, target: str,
                                              extra: list[str]) -> None:
    ws = workspaces["base"]
    monkeypatch.chdir(ws.root)
    try:
        kind, payload = case
        what = apply_changes(ws, payload) if kind == "mutate" else write_generated(ws, payload)
        path = str(ws.root) if target == "ABSOLUTE" else target
        code, out, _ = run_cli(["lint", path, "--format", fmt, *extra])
        if fmt == "json":
            findings = json.loads(out)
            assert isinstance(findings, list), what
            if "--fail-level" not in extra:  # the default level: any finding fails
                assert code == int(any("suppression" not in f for f in findings)), what
        elif fmt == "sarif":
            log = json.loads(out)
            assert not sarif_errors(log), (what, sarif_errors(log))
        elif fmt == "text" and code == 0 and "--fail-level" not in extra:
            assert out == "", what
    finally:
        ws.restore()


# --- crashes the fuzzing found, kept fixed ------------------------------------------------
# (tests/lint/cases/expression_uncompilable is the golden case of the same guards)

@pytest.mark.parametrize("guard", [
    "(" * 120 + "solution" + ")" * 120,  # RecursionError in Jinja's parser: E001, E002 crashed
    "not " * 3000 + "solution",
    "solution" + ".a" * 3000,
    "1.codes or solution",  # UndefinedError while Jinja folds the constant
    "solution == 2 ** 100000",  # ValueError writing the folded constant
    "(1, 2)[5] or solution",
])
def test_an_expression_jinja_cannot_compile_is_an_expression_syntax_finding(
        workspaces: dict[str, Workspace], guard: str) -> None:
    from engine.definitions.expressions import ExpressionError, compile_expression

    with pytest.raises(ExpressionError):
        compile_expression(guard)
    ws = workspaces["base"]
    rel = "processes/incident.yaml"
    text = ws.snapshot[rel].decode("utf-8")
    old = 'when: "codes.closure[closure_code].resolved"'
    assert old in text
    try:
        ws.write(rel, text.replace(old, f"when: {json.dumps(guard)}").encode("utf-8"))
        result = lint_case(ws, (".",), "all", guard)
    finally:
        ws.restore()
    assert [f.rule for f in result.findings] == ["E001"], result.findings


def test_an_expression_too_deep_for_python_is_an_expression_error() -> None:
    """Jinja's parser takes it, Python's compiler does not (too many nested parentheses).
    Compiling takes a second (Jinja's optimizer), so lint is not run on it here."""
    from engine.definitions.expressions import ExpressionError, compile_expression

    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_expression("x + " * 200 + "solution")


def test_a_guard_folding_to_undefined_is_not_a_constant(workspaces: dict[str, Workspace]) -> None:
    """'((149.codes))' compiles (to undefined); constant-guard crashed reading its truth."""
    ws = workspaces["base"]
    rel = "processes/incident.yaml"
    text = ws.snapshot[rel].decode("utf-8")
    try:
        ws.write(rel, text.replace('"codes.closure[closure_code].resolved"',
                                   '"((149.codes))"').encode("utf-8"))
        result = lint_case(ws, (".",), "all", "((149.codes))")
    finally:
        ws.restore()
    assert not result.findings, result.findings


def test_aliases_that_expand_a_short_file_to_millions_of_values_are_a_finding(
        workspaces: dict[str, Workspace]) -> None:
    """A 'billion laughs' document (330 bytes, 10**7 values once its aliases are expanded)
    took minutes and gigabytes to load, until the operating system killed lint."""
    laughs = ["laugh0: &l0 [ha, ha, ha, ha, ha, ha, ha, ha, ha, ha]"]
    laughs += [f"laugh{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 8)]
    ws = workspaces["base"]
    rel = "codes/channels.yaml"
    try:
        ws.write(rel, ws.snapshot[rel] + "\n".join(laughs).encode("utf-8") + b"\n")
        result = lint_case(ws, (".",), "recommended", "billion laughs")
    finally:
        ws.restore()
    assert [(f.file.endswith(rel), f.rule) for f in result.findings] == [(True, "Y001")], \
        result.findings
    assert "aliases expand to more than" in result.findings[0].message
