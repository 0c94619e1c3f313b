"""Definitions change; open tickets must not be stranded (design 5.5).

``itsm lint --db`` lists open tickets whose state the current definition no
longer has (and values of fields it no longer declares); ``itsm migrate`` moves
them with an explicit state map, as a dry run unless ``--apply``, each move
journaled with the new definition version.  It also compares each process's
declared ``version:`` with the versions tickets ran under (D003, D004; see
engine/lint/versioning.py).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Mapping

from engine.errors import ActionRefused, NotFound, UsageError
from engine.i18n import N_, message
from engine.lint.finding import Finding
from engine.runtime.ticket import CORE_COLUMNS, Ticket
from engine.clock import sla as slamod
from engine.desk import clockstate, permissions
from engine.desk.context import Desk
from engine.desk.writes import event, refresh_due



def _keys(keys: list[str], n: int = 5) -> str:
    more = message(N_(" and {count} more"), count=len(keys) - n) if len(keys) > n else ""
    return message(N_("{parts}{more}"), parts=", ".join(keys[:n]), more=more)


def db_findings(desk: Desk) -> list[Finding]:
    """Open tickets the current definitions no longer fit."""
    by_state: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_field: dict[tuple[str, str], list[str]] = defaultdict(list)
    unknown: dict[str, list[str]] = defaultdict(list)
    with desk.store.read() as repo:
        for row in repo.list_all_open():
            spec = desk.defs.processes.get(row["process"])
            if spec is None:
                unknown[row["process"]].append(row["key"])
                continue
            if row["state"] not in spec.states:
                by_state[(row["process"], row["state"])].append(row["key"])
            for name, value in (row.get("fields") or {}).items():
                if value is not None and name not in spec.fields and name not in CORE_COLUMNS:
                    by_field[(row["process"], name)].append(row["key"])
    out = []
    for process, keys in sorted(unknown.items()):
        out.append(Finding(f"processes/{process}.yaml", 1, 1, "D001", "stranded-ticket", "error",
                           message(N_("{count} open ticket(s) of process '{process}', which no longer "
                                      "exists: {keys}"), count=len(keys), process=process, keys=_keys(keys))))
    for (process, state), keys in sorted(by_state.items()):
        spec = desk.defs.processes[process]
        line = spec.where.line
        out.append(Finding(spec.file or f"processes/{process}.yaml", line, 1, "D001", "stranded-ticket",
                           "error", message(N_("{count} open ticket(s) in state '{state}', which process "
                                               "'{process}' no longer has: {keys}; move them with "
                                               "'itsm migrate {process} --map {state}=NEW_STATE'"),
                                            count=len(keys), state=state, process=process, keys=_keys(keys))))
    for (process, name), keys in sorted(by_field.items()):
        spec = desk.defs.processes[process]
        out.append(Finding(spec.file or f"processes/{process}.yaml", spec.where.line, 1, "D002",
                           "orphaned-field", "warning",
                           message(N_("{count} open ticket(s) hold a value of field '{name}', which process "
                                      "'{process}' no longer declares: {keys}"),
                                   count=len(keys), name=name, process=process, keys=_keys(keys))))
    return out + version_findings(desk)


def _stored_versions(repo: Any) -> dict[str, list[dict[str, Any]]]:
    """process -> its rows of definition_versions (without the source), oldest first."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in repo.definition_versions():
        out[row["process"]].append(row)
    return out


def version_findings(desk: Desk) -> list[Finding]:
    """D003 version-not-bumped and D004 version-went-back: each process's declared
    ``version:`` against the versions stored in the database."""
    from datetime import datetime, timezone

    from engine.lint.context import display
    from engine.lint.versioning import Earlier, check, current_from_file, spec_from_text

    out: list[Finding] = []
    with desk.store.read() as repo:
        stored = _stored_versions(repo)
        for pid in desk.defs.processes:
            rows = stored.get(pid)
            if not rows:
                continue
            path = desk.home / "processes" / f"{pid}.yaml"
            current = current_from_file(path, display(path))
            if current is None:
                continue
            declared, this = current.spec.version, desk.defs.version(pid)
            top = max(r["declared_version"] for r in rows)
            earlier = []
            for row in rows:
                spec = None
                wanted = row["declared_version"] == declared or (
                    row["declared_version"] == top and top > declared)
                if row["version"] != this and wanted:
                    source = (repo.definition_source(row["version"]) or {}).get("source") or {}
                    text = source.get("process") or ""
                    if text == current.text and row["declared_version"] == declared:
                        continue  # the same file: only the code tables differ
                    spec = spec_from_text(text, f"{pid}@{row['declared_version']}")
                loaded = row["loaded_at"]
                if isinstance(loaded, datetime):  # stored as naive UTC
                    loaded = loaded.replace(tzinfo=loaded.tzinfo or timezone.utc).astimezone(desk.tz)
                    loaded = loaded.isoformat(timespec="minutes")
                earlier.append(Earlier(
                    row["declared_version"], spec,
                    message(N_("stored version {version} ({sha}, first used {loaded}) that tickets ran under"),
                            version=row['declared_version'], sha=row['version'][:12], loaded=loaded),
                    f"{pid}@{row['version'][:8]}"))
            out += check(current, earlier)
    return out


def plan(desk: Desk, process: str, mapping: Mapping[str, str]) -> dict[str, Any]:
    spec = desk.process(process)
    bad = {new for new in mapping.values() if new not in spec.states}
    if bad:
        raise UsageError(N_("--map targets not in process '{process}': {bad}; its states: {states}"),
                         values={"process": process, "bad": ', '.join(sorted(bad)), "states": ', '.join(spec.states)})
    version = desk.defs.version(process)
    moves, stranded, stale = [], [], []
    with desk.store.read() as repo:
        for row in repo.list_all_open(process):
            if row["state"] in mapping and mapping[row["state"]] != row["state"]:
                moves.append({"key": row["key"], "from": row["state"], "to": mapping[row["state"]]})
            elif row["state"] not in spec.states:
                stranded.append({"key": row["key"], "state": row["state"]})
            elif row["definition_version"] != version:
                stale.append({"key": row["key"], "state": row["state"],
                              "definition_version": row["definition_version"]})
    return {"process": process, "definition_version": version, "moves": moves,
            "unmapped": stranded, "older_version": stale,
            "state_labels": {sid: s.label.get(desk.lang) for sid, s in spec.states.items()}}


def apply(desk: Desk, process: str, mapping: Mapping[str, str], actor_id: str | None,
          progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Perform the moves of :func:`plan`, each journaled, in one transaction;
    ``progress(done, total)`` after each move."""
    result = plan(desk, process, mapping)
    spec = desk.process(process)
    now = desk.now()
    with desk.store.write() as repo:
        actor = desk.actor(repo, actor_id)
        if spec.owner not in actor.roles and not actor.system:
            raise ActionRefused(N_("only the process owner ({owner}) may migrate tickets"),
                                allowed_roles=[spec.owner], values={"owner": spec.owner})
        permissions.require(desk.defs, actor, "admin", message(N_("migrate {process} tickets"),
                                                               process=process))
        version = desk.register(repo, spec)
        total = len(result["moves"])
        for done, move in enumerate(result["moves"], 1):
            if progress is not None:
                progress(done - 1, total)
            try:
                ticket = Ticket.from_row(repo.get_ticket(move["key"], lock=True))
            except NotFound:
                continue
            target = spec.states[move["to"]]
            category = desk.defs.category_of(target.status)
            new = event("migrate", actor, spec.owner, ticket.state, target.id, {},
                        f"moved to definition version {version} (state map {ticket.state}={target.id})",
                        version, now, False)
            # the clock state of the new definition: by replay of the whole journal
            events = repo.events(ticket.id) + [new]
            sets = slamod.settings(spec, desk.defs, ticket.values, clockstate.in_force(events))
            clocks = clockstate.replayed(desk, spec, events, sets, ticket.version + 1)
            repo.update_ticket(ticket.id, ticket.version, {
                "state": target.id, "status": target.status, "status_category": category,
                "definition_version": version, "state_entered_at": now, "updated_at": now,
                "clock_state": clocks.to_json()})
            repo.append_event(ticket.id, new, last=events[-2] if len(events) > 1 else None,
                              key=ticket.key, process=ticket.process)
            ticket.state, ticket.version = target.id, ticket.version + 1
            ticket.clock_state = clocks.to_json()
            ticket.state_entered_at, ticket.updated_at = now, now
            ticket.definition_version = version
            refresh_due(desk, repo, spec, ticket, starts=clockstate.timer_starts(spec, ticket, clocks))
        if progress is not None and total:
            progress(total, total)
    result["applied"] = True
    return result
