"""Designing definitions: diff two versions, simulate a ticket without a database."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from commands.common import command, emit, json_mode, output_options, pass_state, State
from engine.errors import ExitCode
from engine.i18n import N_


@command("diff", paths=("old", "new"))  # files, or PROCESS@N
@click.argument("old")
@click.argument("new")
@output_options()
@pass_state
def diff(state: State, old: str, new: str, as_json: bool) -> None:
    """What a change to the definitions does: states, actions, roles, required
    fields, guards, criteria, SLA clocks and targets, timers, notifications and
    labels added, removed or changed -- not its YAML whitespace.

    OLD and NEW are process files, code tables, process repositories (every
    process and code table is compared), or versions stored in the database:
    PROCESS@N (the declared version), PROCESS@HASH or PROCESS@latest.
    Exit 0: identical; 1: different; 2: usage error or unreadable file;
    4: no such stored version.

    \b
    Example:
      itsm diff incident@2 processes/incident.yaml
      itsm diff ../p16-release-2026-02 . --json
    """
    from engine.definitions import diff as d
    from engine.design.versions import AMBIGUOUS, diff_sources
    from engine.i18n import retell

    json_mode(state, as_json)
    result = diff_sources(old, new, state.api)
    for warning in result.old.warnings + result.new.warnings:
        click.echo(f"itsm: {retell(warning, state.lang, (AMBIGUOUS,))}", err=True)
    emit(state, result.to_dict(), as_json, lambda: d.to_text(result, state.lang))
    if not as_json:
        click.echo(d.summary_text(result, state.lang), err=True)
    sys.exit(int(ExitCode.OK) if result.identical else int(ExitCode.REFUSED))


@command()
@click.argument("process")
@click.argument("script", type=click.Path(path_type=Path))
@output_options()
@pass_state
def simulate(state: State, process: str, script: Path, as_json: bool) -> None:
    """Replay a scripted ticket against a definition, without a database: after
    every step the state, the changed fields, the SLA clocks, the messages that
    would be sent and any refusal (with the same words as 'itsm do'). Timers
    and SLA thresholds fire as time passes ('tick:' steps, or a later 'at:').

    PROCESS is a process id of the repository, or the path of a process file
    in one (a draft). SCRIPT is YAML: start, intake, steps (see
    docs/process-design.md). Exit 0: the script ran as written; 1: a step was
    refused (unless it says 'expect: refused') or an expectation failed;
    2: the script cannot be read.

    \b
    Example:
      itsm simulate incident examples/simulate/incident_lifecycle.yaml
      itsm --lang zh simulate processes/incident.yaml my-case.yaml --json
    """
    from engine.api import parse_now
    from engine.design.simulate import simulate as run

    json_mode(state, as_json)
    result = run(process, script, state.home, state.lang, parse_now(state.now))
    emit(state, result, as_json, lambda: simulation_text(result, state.lang))
    sys.exit(int(ExitCode.OK) if result["ok"] else int(ExitCode.REFUSED))


_WORDS = {
    "intake": N_("intake"), "tick": N_("time passes"), "timer": N_("timer"), "refused": N_("REFUSED"),
    "expected": N_("as expected"), "as": N_("as"), "changed": N_("changed"), "notify": N_("notify"),
    "linked": N_("linked"), "mismatch": N_("NOT AS WRITTEN"), "ok": N_("the script ran as written"),
    "ends": N_("{key} ends in state {state}"),
}
LINKS = {"opened": N_("opened"), "joined": N_("joined"), "major_incident": N_("major incident"),
         "cascade": N_("cascade")}  # what a step linked (engine.design.simulate)


def _w(word: str, lang: str, **values: object) -> str:
    from engine.i18n import tr

    return tr(_WORDS[word], lang, **values)


def _sla_text(sla: dict, labels: dict, lang: str) -> str:
    from engine.i18n import t

    parts = []
    for cid, c in sla.items():
        if c.get("state") == "not_started":
            continue
        if c.get("met") is not None:
            verdict = t("met" if c["met"] else "breached", lang)
        else:
            verdict = t("paused" if c.get("paused") else "running", lang)
            if c.get("breached"):
                verdict += f", {t('breached', lang)}"
            if c.get("due"):
                verdict += f", {t('due_inline', lang)} {_short(c['due'])}"
        parts.append(f"{labels.get(cid, cid)} {verdict}")
    return "; ".join(parts)


def _short(iso: str | None) -> str:
    from engine import render

    return render.when(iso)


def simulation_text(result: dict, lang: str) -> str:
    """One block per step: what was done, what changed, the clocks, the messages."""
    from engine.definitions.diff import show
    from engine.design.simulate import PROBLEMS
    from engine.i18n import TICK_OUTCOMES, ntr, retell, t, tick_kind, tr

    fields, clocks = result["field_labels"], result["clock_labels"]
    timers, codes = result.get("timer_labels") or {}, result.get("value_labels") or {}

    def value(name: str, v: object) -> str:
        if isinstance(v, bool):
            return t("yes" if v else "no", lang)
        if isinstance(v, str) and v in codes.get(name, {}):
            return codes[name][v]
        return show(v)

    actions, states = result.get("action_labels") or {}, result.get("state_labels") or {}

    def of(key: str | None, table: dict) -> dict:
        return table.get((key or "").rpartition("-")[0], {})

    def fired(f: dict) -> str:
        name = (clocks if f["kind"] in ("warning", "breach") else timers).get(f["name"], f["name"])
        # from the English text (a tick's live line says actions with their ids; simulate by labels alone)
        outcome = retell(str(f["outcome"]), lang, TICK_OUTCOMES, {"action": of(f["ticket"], actions),
                                                             "state": of(f["ticket"], states)})
        return f"{f['ticket']} {tick_kind(f['kind'], lang)} {name}: {outcome}"

    lines = [f"{result['title']} ({result['process']}): {result['script']}"]
    for e in result["entries"]:
        n = f"#{e['step']}" if e["step"] else ""
        head = f"{n:>4} {_short(e['at'])}  "
        main_events = [ev for ev in e["events"] if ev["ticket"] == e["ticket"]]
        if e["kind"] == "timer":
            head += f"{_w('timer', lang)}  " + tr("; ", lang).join(fired(f) for f in e["fired"])
        elif e["kind"] == "tick":
            head += _w("tick", lang)
        else:
            what = _w("intake", lang) if e["kind"] == "intake" else e["action"]
            if e.get("action_label") and e["action_label"] != e["action"]:
                what += f" ({e['action_label']})"
            head += f"{what}  {_w('as', lang)} {e['actor']}  "
            if e["refused"]:
                head += f"{_w('refused', lang)}: {e['refused']}"
            else:
                moves = [ev for ev in main_events if ev["to"]]
                start = moves[0]["from"] if moves else e["state"]
                start = of(e["ticket"], states).get(start, start) if start else "·"
                head += f"{start} -> {e['state_label']} ({e['state']})" if moves else t("stays", lang)
            if e["refused"] and e["as_written"]:
                head += f"  [{_w('expected', lang)}]"
        lines.append(head.rstrip())
        pad = " " * 6
        if not e["as_written"]:
            lines.append(f"{pad}!! {_w('mismatch', lang)}: {retell(e['problem'], lang, PROBLEMS)}")
        if e["changes"] and e["kind"] != "intake":
            lines.append(f"{pad}{_w('changed', lang)}: " + tr("; ", lang).join(
                f"{fields.get(k, k)}: {value(k, old)} -> {value(k, new)}" for k, (old, new) in e["changes"].items()))
        elif e["changes"]:
            lines.append(f"{pad}" + tr("; ", lang).join(f"{fields.get(k, k)}: {value(k, new)}"
                                              for k, (_, new) in e["changes"].items() if new is not None))
        for ev in e["events"]:
            if ev["ticket"] != e["ticket"]:
                move = f" -> {of(ev['ticket'], states).get(ev['to'], ev['to'])}" if ev["to"] else ""
                action = of(ev["ticket"], actions).get(ev["action"], ev["action"])
                lines.append(f"{pad}{ev['ticket']}: {action}{move}" + (f" ({ev['note']})" if ev["note"] else ""))
        for name, keys in e["linked"].items():  # (not "value": the helper above, for later steps)
            text = "; ".join(keys) if isinstance(keys, list) else keys
            lines.append(f"{pad}{_w('linked', lang)}: {tr(LINKS[name], lang) if name in LINKS else name} {text}")
        if e["notifications"]:
            by_template: dict[str, list[str]] = {}
            for m in e["notifications"]:
                by_template.setdefault(m["template"], []).append(m["to"])
            lines.append(f"{pad}{_w('notify', lang)}: " + "; ".join(
                f"{tpl} -> {', '.join(to)}" for tpl, to in by_template.items()))
        sla = _sla_text(e["sla"], clocks, lang)
        if sla and e["ticket"]:
            lines.append(f"{pad}SLA: {sla}")
    if result["ticket"]:
        final = next((tk for tk in result["tickets"] if tk["key"] == result["ticket"]), None)
        if final:
            lines.append(_w("ends", lang, key=final["key"], state=f"{final['state_label']} ({final['state']})"))
    bad = sum(1 for e in result["entries"] if not e["as_written"])
    lines.append(_w("ok", lang) if result["ok"] else ntr("{count} step did not run as written",
                                                          "{count} steps did not run as written", bad or 1, lang))
    return "\n".join(lines) + "\n"
