"""Lint-clean means runtime-safe (issue #20, item 4), as a property test.

Hypothesis mutates the shipped repository (processes/, codes/, the message
templates) in the places where a definition can be valid YAML, pass the schema
and still be something the runtime cannot run: calendars (dates, periods, time
zones, holidays, make-up days), durations (SLA targets, timers, the criteria
window), expressions (guards, criteria, set values: names, constants, filters
that build large values), message templates (names and attributes), and the
general edits of the lint fuzz (tests/lint/test_lint_fuzz.py).

Every mutated repository lint finds no error in (the runtime's own check of
definitions) is then run, in process through engine.api: one person holding
every role and group logs a ticket of each process (intake), works each ticket
through the actions available to them (every action is tried), ticks a day, ten
days and a year and a half later, and renders every queued message as delivery
would. An ItsmError is a refusal (fine: exit 1, 4 or 5); anything else (exit 3:
a traceback, a MemoryError, minutes of work) fails the test, as does a message
that cannot be rendered. Repositories with lint errors are refused by the
runtime itself, so they need no run.

About 1,100 cases in a few minutes on two cores (each runs every shipped process, the
problem process included), derandomized (the same cases on
every run). To look for new ones: ``ITSM_FUZZ_RANDOM=1 ITSM_FUZZ_SCALE=5``.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_lint_fuzz import FILE_CHANGE, Workspace, apply_changes, fuzz_settings

from engine import api as apimod
from engine.errors import ExitCode, ItsmError
from engine.lint import context as lint_context
from engine.lint import lint_paths

REPO = Path(__file__).resolve().parents[2]
USER = "fuzz.agent"
EMAIL = "fuzz.agent@example.com"
T0 = "2026-03-02T10:00:00+08:00"
LATER = ("2026-03-03T10:00:00+08:00", "2026-03-12T10:00:00+08:00", "2027-09-01T10:00:00+08:00")
ACTION_ROUNDS = 8  # actions performed per ticket (each available action is tried first)


# --- the repository, and lint made quick ----------------------------------------------------

@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, Path]]:
    """A copy of the shipped repository, and an empty database holding the one
    person (every role, every group) that each case copies."""
    root = tmp_path_factory.mktemp("lint-clean-runs")
    ws = Workspace.copy({sub: REPO / sub for sub in ("processes", "codes")}, root / "home")
    templates = sorted(p.relative_to(ws.root).as_posix() for p in (ws.root / "processes" / "templates").rglob("*.*"))
    ws.files.extend(templates)  # templates are mutated too (not by the general edits)
    ws.snapshot.update({t: (ws.root / t).read_bytes() for t in templates})
    empty = root / "empty.db"
    api = apimod.Api.open(home=str(ws.root), db=f"sqlite:///{empty}", user=USER, now=T0)
    try:
        roles = sorted({r for p in api.defs.processes.values() for r in p.roles})
        groups = sorted(api.defs.codes["groups"].values)
        api.add_user(USER, "Fuzz Agent", EMAIL, "+8613800000000", roles, groups, "head_office")
    finally:
        api.store.close()
    yield ws, empty


@pytest.fixture(scope="module", autouse=True)
def quick_lint() -> Iterator[None]:
    """Each case changes a file or two: reading and validating the others again
    (pure functions of their text) is remembered. Lint and the runtime's check of
    definitions run as always otherwise."""
    loads: dict[tuple[Any, ...], Any] = {}
    checks: dict[tuple[Any, ...], Any] = {}
    real_load, real_validate = lint_context.load_file, lint_context.validate

    def load_file(path: Path, name: str) -> Any:
        key = (str(path), name, path.read_bytes())
        if key not in loads:
            loads[key] = real_load(path, name)
        return loads[key]

    def validate(doc: Any, schema: str) -> Any:
        key = (doc.file, doc.sha256, schema)
        if key not in checks:
            checks[key] = real_validate(doc, schema)
        return checks[key]

    mp = pytest.MonkeyPatch()
    mp.setattr(lint_context, "load_file", load_file)
    mp.setattr(lint_context, "validate", validate)
    yield
    mp.undo()


# --- mutations ------------------------------------------------------------------------------

POS = st.integers(min_value=0, max_value=10**6)
CAL = "codes/calendars.yaml"
DATES = ["2026-02-30", "2026-13-01", "2026-02-28", "2025-12-31", "2026-01-04", "2030-01-01",
         "1900-01-01", "9999-12-31", "0001-01-01", "2026-02-29", "2028-02-29"]
PERIODS = ["09:00-18:00", "18:00-09:00", "09:00-09:00", "00:00-24:00", "23:59-24:00", "11:00-13:00",
           "00:00-00:01", "08:30-12:00"]
ZONES = ["Asia/Shanghai", "Asia/Shangai", "UTC", "Europe/London", "America/New_York", "Etc/GMT+14",
         "Mars/Olympus", "Asia/Hong_Kong"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DURATIONS = ["0s", "1m", "4h", "99999999999m", "3 business days", "1830d", "1831d", "1000 business days",
             "2000 business hours", "999999999 business days", "PT0S", "P2W", "1 business minute",
             "60 business days", "99999999999999999999 days", "365d"]
EXPRESSIONS = [
    "title|wordwrap(2, wrapstring='y' * 100000)", "(title|list|join('b' * 100000))|length > 0",
    "1e999 > 0 or priority == 'P1'", "(affected_users or 0) >= 1e999", "(affected_users or 0) * 1e308 > 1",
    "title|center(99999)|length > 0", "([title] * 100000)|length > 1", "(description or '')|replace('', 'xx')",
    "title ~ title ~ title ~ title", "'%s' % title", "priority in ['P1', 'P2']", "title|truncate(2)",
    "(affected_users or 0) / 0 > 1", "priority|int > 0", "title|batch(3)|list", "title|first == 'x'",
    "title|tojson(99999)", "(title * 50000)|list|unique|list", "[]|random", "title|sum(start=[])",
    "service and service.criticality == 'critical'", "not parent", "urgency == 'high' and impact == 'high'",
    "(title|length) ** 99999 > 0", "2 ** 4097 > 0 or title", "title[::-1] == title", "now > now",
    "sla.resolution.elapsed_seconds // 0", "codes.priority[priority].rank < 3", "title.upper() == 'X'",
    "title.center(9) == title", "title|map('upper')|list", "title|groupby('y' * 2000)",
    "('%(a)s' * 10000)|format(a=title)", "title|indent(99999)", "title|urlize(target='t' * 1000)",
]
SET_VALUES = ["{{ title|wordwrap(2, wrapstring='y' * 100000) }}", "{{ (title|list|join('-'))[:20] }}",
              "{{ 1e999 }}", "{{ title|list }}", "{{ [title] * 3 }}", "{{ title|select('lower')|list }}",
              "{{ affected_users or 0 }}", "{{ none }}", "{{ (title ~ '!')[:50] }}", "{{ 2 ** 4096 }}"]
SNIPPETS = ["{{ ticket.key }}", "{{ ticket.nope }}", "{{ nope }}", "{{ event.due }}", "{{ event.nope }}",
            "{% if x %}", "{{ ticket.title|wordwrap(2) }}", "{{ action.id }}", "{{ note }}",
            "{{ ticket.offering_label }}", "{% if ticket.nope is defined %}{{ ticket.nope }}{% endif %}",
            "{{ status_url }}", "{{ recipient }}", "{{ ticket.title|shout }}", "{{ ticket.solution }}",
            "{{ ticket.reason }}", "{{ event.due if event else '' }}", "{{ ticket.manager }}"]


def _nth(text: str, pattern: str, pos: int, new: Callable[[re.Match[str]], str]) -> str:
    found = list(re.finditer(pattern, text, re.M))
    if not found:
        return text
    m = found[pos % len(found)]
    return text[: m.start()] + new(m) + text[m.end():]


def calendar_edit(kind: str, pos: int, pick: int) -> Callable[[str], str]:
    def edit(text: str) -> str:
        if kind == "zone":
            return _nth(text, r"(?<=timezone: )\S+", pos, lambda m: ZONES[pick % len(ZONES)])
        if kind == "period":
            return _nth(text, r'(?<=")\d\d:\d\d-\d\d:\d\d(?=")', pos, lambda m: PERIODS[pick % len(PERIODS)])
        if kind == "closed":
            return _nth(text, r"(?<=: )\[\"\d\d:\d\d-[^\]]*\]", pos, lambda m: "[]")
        if kind == "date":
            return _nth(text, r'(?<=")\d{4}-\d\d-\d\d(?=")', pos, lambda m: DATES[pick % len(DATES)])
        if kind == "hours_as":
            return _nth(text, r"\{date: (\"[^\"]+\"),", pos,
                        lambda m: f"{{date: {m.group(1)}, hours_as: {WEEKDAYS[pick % 7]},")
        a, b = DATES[pick % len(DATES)], DATES[(pick // len(DATES)) % len(DATES)]
        return _nth(text, r"^    holidays:.*\n", pos,
                    lambda m: m.group(0) + f'      - {{from: "{a}", to: "{b}", label: {{en: X, zh: X}}}}\n')
    return edit


def duration_edit(pos: int, pick: int) -> Callable[[str], str]:
    return lambda text: _nth(text, r"((?:response|resolution|after|window|P\d): )[^,}\n]+(?=[,}\n])", pos,
                             lambda m: m.group(1) + DURATIONS[pick % len(DURATIONS)])


def expression_edit(pos: int, pick: int, setting: bool) -> Callable[[str], str]:
    if setting:
        return lambda text: _nth(text, r'(?<=: )"\{\{[^"\n]*\}\}"', pos,
                                 lambda m: json.dumps(SET_VALUES[pick % len(SET_VALUES)]))
    return lambda text: _nth(text, r'(?<=when: )"[^"\n]*"', pos,
                             lambda m: json.dumps(EXPRESSIONS[pick % len(EXPRESSIONS)]))


def template_edit(pos: int, pick: int) -> Callable[[str], str]:
    return lambda text: _nth(text, r"\n", pos, lambda m: "\n" + SNIPPETS[pick % len(SNIPPETS)] + "\n")


@dataclass(frozen=True)
class Edit:
    file: str  # a path relative to the repository, or "template:N" (the N-th template)
    what: str
    change: Callable[[str], str]

    def __repr__(self) -> str:
        return f"Edit({self.file!r}, {self.what})"


CALENDAR_EDITS = st.builds(lambda k, p, q: Edit(CAL, f"{k} {p} {q}", calendar_edit(k, p, q)),
                           st.sampled_from(["zone", "period", "period", "closed", "date", "date",
                                            "hours_as", "holiday"]), POS, POS)
DURATION_EDITS = st.builds(lambda f, p, q: Edit(f, f"duration {p} {q}", duration_edit(p, q)),
                           st.sampled_from(["codes/sla.yaml", "processes/incident.yaml",
                                            "processes/service_request.yaml",
                                            "processes/major_incident.yaml"]), POS, POS)
EXPRESSION_EDITS = st.builds(lambda f, p, q, s: Edit(f, f"expression {p} {q} {s}", expression_edit(p, q, s)),
                             st.sampled_from(["processes/incident.yaml", "processes/service_request.yaml",
                                              "processes/major_incident.yaml"]), POS, POS, st.booleans())
TEMPLATE_EDITS = st.builds(lambda n, p, q: Edit(f"template:{n}", f"template {p} {q}", template_edit(p, q)),
                           POS, POS, POS)


def apply_edits(ws: Workspace, edits: list[Edit]) -> str:
    templates = [f for f in ws.files if "/templates/" in f]
    described = []
    for e in edits:
        rel = templates[int(e.file.split(":")[1]) % len(templates)] if e.file.startswith("template:") else e.file
        path = ws.root / rel
        text = path.read_text(encoding="utf-8")
        new = e.change(text)
        ws.write(rel, new.encode("utf-8"))
        described.append(f"{rel}: {e.what}{'' if new != text else ' (no change)'}")
    return "\n".join(described)


# --- running a lint-clean repository ---------------------------------------------------------

class InternalError(AssertionError):
    pass


def call(what: str, fn: Callable[[], Any]) -> Any:
    """``fn()``: a refusal gives None; anything else but an ItsmError is an internal error."""
    started = time.perf_counter()
    try:
        return fn()
    except ItsmError as exc:
        if exc.exit_code == ExitCode.INTERNAL:
            raise InternalError(f"{what}: {type(exc).__name__}: {exc}") from exc
        return None
    except Exception as exc:  # noqa: BLE001 - exactly what the test looks for
        raise InternalError(f"{what}: {type(exc).__name__}: {exc}") from exc
    finally:
        seconds = time.perf_counter() - started
        if seconds > 20:
            raise InternalError(f"{what} took {seconds:.0f} s")


def value_for(api: Any, spec: Any, field: str, key: str) -> Any:
    f = spec.fields.get(field)
    kind = f.type if f else {"group": "group", "assignee": "user", "reporter": "email"}.get(field, "string")
    if kind == "code" and f is not None and f.codes in api.defs.codes:
        codes = list(api.defs.codes[f.codes].values)
        return codes[hash(key) % len(codes)] if codes else "x"
    if kind == "group":
        return next(iter(api.defs.codes["groups"].values), "x")
    return {"user": USER, "email": EMAIL, "bool": "true", "int": "120", "number": "1.5",
            "date": "2026-03-10", "datetime": "2026-03-10T10:00:00+08:00", "duration": "4h",
            "ticket": key}.get(kind, f"{field} text")


def run(home: Path, db: Path) -> None:
    url = f"sqlite:///{db}"
    api = apimod.Api.open(home=str(home), db=url, user=USER, now=T0)
    try:
        keys = []
        services = list(api.defs.codes["services"].values) if "services" in api.defs.codes else []
        for pid, spec in sorted(api.defs.processes.items()):
            values = {"title": f"{pid} printer jams on floor 3", "description": "Paper jam\nagain",
                      "reporter": EMAIL, "urgency": "high", "impact": "high"}
            if services:
                values["service"] = services[len(keys) % len(services)]
            if "offering" in spec.fields and services:
                offerings = api.defs.codes["services"].values[values["service"]].get("offerings") or {}
                if offerings:
                    values["offering"] = next(iter(offerings))
            if "affected_users" in spec.fields:
                values["affected_users"] = "150"
            made = call(f"new {pid}", lambda: api.new_ticket(pid, values))
            if made:
                keys.append((made["key"], spec))
        for key, spec in keys:
            tried: set[str] = set()
            for _ in range(ACTION_ROUNDS):
                available = call(f"actions {key}", lambda: api.actions(key)) or []
                fresh = [a for a in available if a["action"] not in tried] or available
                if not fresh:
                    break
                action = fresh[0]
                tried.add(action["action"])
                inputs = {f: value_for(api, spec, f, key) for f in (*action["requires"], *action["accepts"][:1])}
                call(f"do {key} {action['action']} {inputs}", lambda: api.do(key, action["action"], inputs, "a note"))
        call("show", lambda: [api.show(k) for k, _ in keys])
    finally:
        api.store.close()
    for now in LATER:
        later = apimod.Api.open(home=str(home), db=url, user=USER, now=now)
        try:
            call(f"tick at {now}", later.tick)
            render_outbox(later)
        finally:
            later.store.close()


def render_outbox(api: Any) -> None:
    """Every queued message renders as delivery renders it (template-variable's promise)."""
    from engine.notify import templates
    from engine.notify.deliver import context

    with api.store.read() as repo:
        rows = repo.list_outbox()
    for row in rows:
        try:
            templates.render(api.home, row["template"], row["lang"], context(row, api.settings))
        except templates.TemplateProblem as exc:
            raise InternalError(f"message {row['template']} cannot be rendered: {exc}") from exc


def check_case(ws: Workspace, empty: Path, tmp: Path, describe: Callable[[], str]) -> bool:
    """Lint the workspace; run it if lint finds no error. Whether it ran."""
    what = describe()
    try:
        result = lint_paths([ws.root])
        if result.errors:
            return False
        db = tmp / "case.db"
        shutil.copyfile(empty, db)
        try:
            run(ws.root, db)
        except InternalError as exc:
            raise AssertionError(f"lint-clean definitions failed at run time:\n{exc}\n--- case ---\n{what}") from exc
        finally:
            db.unlink(missing_ok=True)
        return True
    finally:
        ws.restore()


@pytest.fixture(scope="module")
def counts() -> Iterator[dict[str, list[int]]]:
    seen: dict[str, list[int]] = {}
    yield seen
    for name, (cases, ran) in seen.items():  # shown with -s: how many cases ran
        print(f"\n{name}: {cases} cases, {ran} lint-clean and run")


def case(shipped: tuple[Workspace, Path], tmp_path_factory: pytest.TempPathFactory,
         counts: dict[str, list[int]], name: str, edits: list[Edit]) -> None:
    ws, empty = shipped
    tmp = tmp_path_factory.getbasetemp()
    tally = counts.setdefault(name, [0, 0])
    tally[0] += 1
    tally[1] += check_case(ws, empty, tmp, lambda: apply_edits(ws, edits))


@fuzz_settings(250)
@given(edits=st.lists(CALENDAR_EDITS, min_size=1, max_size=3))
def test_mutated_calendars(shipped: Any, tmp_path_factory: Any, counts: Any, edits: list[Edit]) -> None:
    case(shipped, tmp_path_factory, counts, "calendars", edits)


@fuzz_settings(200)
@given(edits=st.lists(DURATION_EDITS, min_size=1, max_size=3))
def test_mutated_durations(shipped: Any, tmp_path_factory: Any, counts: Any, edits: list[Edit]) -> None:
    case(shipped, tmp_path_factory, counts, "durations", edits)


@fuzz_settings(250)
@given(edits=st.lists(EXPRESSION_EDITS, min_size=1, max_size=2))
def test_mutated_expressions(shipped: Any, tmp_path_factory: Any, counts: Any, edits: list[Edit]) -> None:
    case(shipped, tmp_path_factory, counts, "expressions", edits)


@fuzz_settings(150)
@given(edits=st.lists(TEMPLATE_EDITS, min_size=1, max_size=3))
def test_mutated_templates(shipped: Any, tmp_path_factory: Any, counts: Any, edits: list[Edit]) -> None:
    case(shipped, tmp_path_factory, counts, "templates", edits)


@fuzz_settings(250)
@given(changes=st.lists(FILE_CHANGE, min_size=1, max_size=2))
def test_mutated_anywhere(shipped: Any, tmp_path_factory: Any, counts: Any,
                          changes: list[tuple[Any, ...]]) -> None:
    """The lint fuzz's general edits of the definition files (lines, tokens, scalars,
    keys, names), on the shipped repository."""
    ws, empty = shipped
    tmp = tmp_path_factory.getbasetemp()
    yaml_only = Workspace(ws.root, [f for f in ws.files if f.endswith(".yaml")], ws.snapshot, ws.touched)
    tally = counts.setdefault("anywhere", [0, 0])
    tally[0] += 1
    tally[1] += check_case(ws, empty, tmp, lambda: apply_changes(yaml_only, changes))
