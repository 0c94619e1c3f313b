"""Report definitions: reports/NAME.yaml -> a frozen :class:`ReportSpec`.

The file is read with the definition loader (YAML 1.2, duplicate keys refused,
positions kept), validated against engine/schemas/report.schema.json, then
checked against the KPI registry: each KPI's parameters, the schedule and the
time zone.  Problems are :class:`DefinitionError` values with file, line and
column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import DefinitionError, NotFound
from engine.i18n import N_, message
from engine.definitions.loader import Document, load_file
from engine.model import CodeTable, Definitions, Duration, FrozenMap, Label
from engine.reports import cron
from engine.reports.kpis import KPIS
from engine.definitions import dimensions
from engine.definitions.validate import validate
from engine.definitions.home import bundled_home

FORMATS = ("md", "html", "csv", "json")  # what a report renders to
# Runs of one report missed while no tick ran, made up at once (a report's
# ``catch_up``; the default is a week and more of the weekday daily report,
# seven weeks of a weekly one); the schema bounds it, for the work of one tick.
CATCH_UP = 7
MAX_CATCH_UP = 100


@dataclass(frozen=True)
class Recipient:
    kind: str  # role | group | email
    value: str


@dataclass(frozen=True)
class KpiUse:
    id: str
    kpi: str
    title: Label
    params: Mapping[str, Any]


@dataclass(frozen=True)
class ReportSpec:
    id: str
    version: int
    title: Label
    owner: str
    schedule: str
    period: str
    kpis: tuple[KpiUse, ...]
    recipients: tuple[Recipient, ...] = ()
    timezone: str | None = None
    lang: str = "en"
    formats: tuple[str, ...] = ("html",)
    template: str = "report"
    description: Label | None = None
    file: str = ""
    folder: str = ""  # the reports/ folder it came from (templates live under it)
    catch_up: int = CATCH_UP  # missed runs made up at once (engine.reports.schedule)


def report_dir(home: Path) -> Path:
    """The reports/ folder of a process repository, else the bundled one."""
    own = Path(home) / "reports"
    return own if own.is_dir() else bundled_home() / "reports"


def report_names(home: Path) -> list[str]:
    return sorted(p.stem for p in report_dir(home).glob("*.yaml"))


def _label(value: Any) -> Label | None:
    return Label(value["en"], value["zh"]) if isinstance(value, dict) else None


def _problem(doc: Document, path: tuple[str | int, ...], message: str,
             key: bool = False) -> DefinitionError:
    mark = doc.mark(path, key=key)
    return DefinitionError(message, file=doc.file, line=mark.line, column=mark.column,
                           path=".".join(str(p) for p in path) or None, rule="report")


def _check_params(doc: Document, index: int, kpi_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    kpi = KPIS[kpi_id]
    merged = dict(kpi.PARAMS)
    for name, value in params.items():
        where = ("kpis", index, "params", name)
        if name not in kpi.PARAMS:
            raise _problem(doc, where, message(N_("KPI '{kpi_id}' has no parameter '{name}'; it takes: {PARAMS}"),
                                               kpi_id=kpi_id, name=name, PARAMS=', '.join(kpi.PARAMS)), key=True)
        if name == "buckets":
            spans = [Duration.parse(str(text)) for text in value]
            for i, span in enumerate(spans):
                if span.business:
                    raise _problem(doc, where + (i,), N_("age buckets are wall time: write e.g. 3d, not business days"))
            if [d.seconds for d in spans] != sorted({d.seconds for d in spans}):
                raise _problem(doc, where, N_("age buckets must grow from one to the next, e.g. [1d, 3d, 7d]"))
        merged[name] = value
    return merged


def build_report(doc: Document, folder: Path) -> ReportSpec:
    problems = validate(doc, "report")
    if problems:  # a misspelt key also makes a required one missing: report the cause
        raise sorted(problems, key=lambda p: p.message.startswith("missing required key"))[0]
    data = doc.data
    name = Path(doc.file).stem
    if data["report"] != name:
        raise _problem(doc, ("report",),
                       message(N_("the report id '{report}' must equal the file name '{name}'"),
                               report=data['report'], name=name))
    try:
        cron.parse(data["schedule"])
    except cron.CronError as exc:
        raise _problem(doc, ("schedule",), message("{error}", error=exc)) from None
    if data.get("timezone"):
        try:
            ZoneInfo(data["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise _problem(doc, ("timezone",), message(N_("unknown time zone {timezone!r} (use an IANA name like Asia/Shanghai)"),
                                                       timezone=data['timezone'])) from None
    uses: list[KpiUse] = []
    for i, entry in enumerate(data["kpis"]):
        uid = entry.get("id") or entry["kpi"]
        if any(u.id == uid for u in uses):
            raise _problem(doc, ("kpis", i), message(N_("KPI id '{uid}' is used twice: give each use its own 'id'"),
                                                     uid=uid))
        params = _check_params(doc, i, entry["kpi"], entry.get("params") or {})
        title = _label(entry.get("title")) or KPIS[entry["kpi"]].TITLE
        uses.append(KpiUse(uid, entry["kpi"], title, FrozenMap(params)))
    recipients = tuple(Recipient(*next(iter(r.items()))) for r in data.get("recipients") or ())
    report_title = _label(data["title"])
    assert report_title is not None  # the schema requires it
    return ReportSpec(
        id=name, version=data["version"], title=report_title, owner=data["owner"],
        schedule=data["schedule"], period=data["period"], kpis=tuple(uses), recipients=recipients,
        timezone=data.get("timezone"), lang=data.get("lang") or "en",
        formats=tuple(data.get("formats") or ("html",)), template=data.get("template") or "report",
        description=_label(data.get("description")), file=doc.file, folder=str(folder),
        catch_up=int(data.get("catch_up", CATCH_UP)))  # the schema's integer takes 7.0 too


class Schedule(NamedTuple):
    schedule: str
    period: str
    timezone: str | None
    catch_up: int = CATCH_UP


def report_schedule(home: Path, name: str) -> Schedule:
    """When the report ``name`` runs, what it covers and how many missed runs it
    makes up, read without checking the rest of its file (no JSON Schema): the
    look every tick takes at every report (the desk lints its definitions,
    reports included, when it loads them; a due report is loaded in full when
    it runs).  A file whose schedule, period, time zone or catch-up is not
    plainly right is loaded in full here, so its problem is reported with its
    position as :func:`load_report` reports it."""
    path = report_dir(Path(home)) / f"{name}.yaml"
    try:
        data = load_file(path).data
        found = Schedule(data["schedule"], data["period"], data.get("timezone"), data.get("catch_up", CATCH_UP))
        if isinstance(found.schedule, str) and found.period in cron.PERIODS \
                and (found.timezone is None or isinstance(found.timezone, str)) \
                and type(found.catch_up) is int and 1 <= found.catch_up <= MAX_CATCH_UP:
            cron.parse(found.schedule)
            if found.timezone:
                ZoneInfo(found.timezone)
            return found
    except (DefinitionError, KeyError, TypeError, ValueError, OSError, cron.CronError,
            ZoneInfoNotFoundError):
        pass
    spec = load_report(home, name)
    return Schedule(spec.schedule, spec.period, spec.timezone, spec.catch_up)


def load_report(home: Path, name: str, defs: Definitions | None = None) -> ReportSpec:
    """The report ``name`` of the repository ``home`` (reports/NAME.yaml); with
    ``defs``, its owner and recipient roles and groups are checked too."""
    folder = report_dir(Path(home))
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(report_names(Path(home))) or "none"
        raise NotFound(N_("no report '{name}' in {folder} (known: {known})"),
                       values={"name": name, "folder": folder, "known": known})
    doc = load_file(path)
    spec = build_report(doc, folder)
    if defs is not None:
        _check_names(doc, spec, defs)
    return spec


def _check_names(doc: Document, spec: ReportSpec, defs: Definitions) -> None:
    for path, problem, at_key in dimensions.report_problems(defs.processes, doc.data, defs.codes):
        raise _problem(doc, path, problem, key=at_key)
    for found in people_problems(doc, spec, {r for p in defs.processes.values() for r in p.roles},
                                 defs.codes.get("groups")):
        raise found


def people_problems(doc: Document, spec: ReportSpec, roles: set[str], groups: CodeTable | None
                    ) -> Iterator[DefinitionError]:
    """The report's owner and recipient roles that no process has, and recipient
    groups not in codes/groups.yaml (``itsm report`` and ``itsm tick`` refuse the
    report; lint R008 says so first)."""
    if spec.owner not in roles:
        yield _problem(doc, ("owner",), message(N_("unknown role '{owner}'; roles of the processes: {roles}"),
                                                owner=spec.owner, roles=', '.join(sorted(roles))))
    for i, r in enumerate(spec.recipients):
        if r.kind == "role" and r.value not in roles:
            yield _problem(doc, ("recipients", i, "role"), message(N_("unknown role '{value}'"),
                                                                   value=r.value))
        if r.kind == "group" and (groups is None or r.value not in groups.values):
            yield _problem(doc, ("recipients", i, "group"),
                           message(N_("unknown group '{value}' (codes/groups.yaml)"), value=r.value))
