"""Operations: tick, audit verify, migrate."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from commands.common import command, emit, group, json_mode, output_options, pass_state, State
from engine.errors import ExitCode
from engine.i18n import N_


@command()
@click.argument("process")
@click.option("--map", "maps", multiple=True, metavar="OLD=NEW",
              help="Move open tickets from state OLD to state NEW (repeatable).")
@click.option("--apply", "do_apply", is_flag=True, help="Perform the moves (default: dry run).")
@output_options()
@pass_state
def migrate(state: State, process: str, maps: tuple[str, ...], do_apply: bool, as_json: bool) -> None:
    """Move open tickets to the current definition of PROCESS with an explicit
    state map. A dry run unless --apply; each move is journaled. Only the
    process owner may apply.

    \b
    Example:
      itsm --as p16.owner migrate incident --map awaiting_vendor=pending --apply
    """
    from engine.errors import UsageError
    from engine.i18n import ntr, tr

    json_mode(state, as_json)
    mapping: dict[str, str] = {}
    for item in maps:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            raise UsageError(N_("--map {item}: write OLD=NEW, e.g. --map awaiting_vendor=pending"),
                             values={"item": repr(item)})
        mapping[old.strip()] = new.strip()
    api = state.api()
    if do_apply:
        from commands.progress import Progress

        with Progress("migrate") as progress:
            result = api.migrate(process, mapping, progress=progress)
    else:
        result = api.migration_plan(process, mapping)
    lang = state.lang

    def text() -> str:
        labels = result.get("state_labels") or {}

        def state_(sid: str) -> str:
            return labels.get(sid) or f"'{sid}'"

        verb = N_("{key}: moved from {old} to {new}") if do_apply else N_("{key}: would move from {old} to {new}")
        lines = [tr(verb, lang, key=m["key"], old=state_(m["from"]), new=state_(m["to"])) + "\n"
                 for m in result["moves"]]
        lines += [tr("{key}: state '{state}' no longer exists and is not mapped", lang, key=u["key"],
                     state=u["state"]) + "\n" for u in result["unmapped"]]
        summary = [ntr("{count} ticket to move", "{count} tickets to move", len(result["moves"]), lang),
                   ntr("{count} unmapped", "{count} unmapped", len(result["unmapped"]), lang),
                   ntr("{count} on an older version (it moves on its next action)",
                       "{count} on an older version (they move on their next action)",
                       len(result["older_version"]), lang)]
        if not do_apply:
            summary.append(tr("dry run: add --apply", lang))
        lines.append(tr("; ", lang).join(summary) + "\n")
        return "".join(lines)

    emit(state, result, as_json, text)
    if result["unmapped"]:
        sys.exit(int(ExitCode.REFUSED))


@group()
def audit() -> None:
    """Checks for auditors."""


# i18n: the kinds of audit findings; in English the kind itself (auditors' scripts match it)
AUDIT_KINDS = {"altered": N_("altered"), "deleted": N_("deleted"), "reordered": N_("reordered"),
               "chain": N_("chain"), "state": N_("state"), "column": N_("column"), "link": N_("link"), "moved": N_("moved"),
               "unkeyed": N_("unkeyed"), "key": N_("key"), "desk": N_("desk"),
               "checkpoint": N_("checkpoint")}  # engine.desk.audit.KINDS, as people read them


def _problem_lines(problems: list[dict[str, Any]], lang: str) -> str:
    from engine.i18n import AUDIT_FINDINGS, retell, tr

    def kind(k: str) -> str:
        return tr(AUDIT_KINDS[k], lang) if k in AUDIT_KINDS else k

    return "".join(tr("{where}: {kind}: {message}", lang,
                       where=(p["ticket"] or tr("journal", lang)) + (f" #{p['seq']}" if p["seq"] else ""),
                       kind=kind(p["kind"]), message=retell(p["message"], lang, AUDIT_FINDINGS)) + "\n"
                   for p in problems)


@audit.command("verify")
@click.option("--checkpoints", "checkpoints", metavar="FILE",
              help="The witness file of signed checkpoints to hold the journal against "
                   "(default: the database's copies).")
@click.option("--public-key", metavar="PEM", help="The checkpoints' Ed25519 public key "
              "(default: [audit] public_key, or the signing key's).")
@click.option("--export", "export", metavar="FILE",
              help="Verify an exported journal offline (no database, no HMAC key; needs --public-key).")
@output_options()
@pass_state
def audit_verify(state: State, checkpoints: str | None, public_key: str | None, export: str | None,
                 as_json: bool) -> None:
    """Verify the journal: every event's keyed hash and chain, a replay of every
    ticket against its row (every column and field), the desk-wide log (deleted
    tickets, cut tails, moved events), and the signed checkpoints. Each problem
    names the ticket and the event (sequence number). Exit 1 if any.

    \b
    Examples:
      itsm audit verify --json
      itsm audit verify --checkpoints witness.jsonl --public-key keys/audit-signing.pub.pem
      itsm audit verify --export journal.jsonl --public-key keys/audit-signing.pub.pem
    """
    from engine.i18n import ntr, tr

    json_mode(state, as_json)
    lang = state.lang

    def verdict(problems: list[dict[str, Any]]) -> str:
        return (ntr("{count} problem", "{count} problems", len(problems), lang) if problems
                else tr("journal intact", lang))

    if export:
        from engine.api import verify_export
        from engine.errors import UsageError

        if not public_key:
            raise UsageError(N_("--export needs --public-key (the checkpoints' Ed25519 public key)"), values={})
        data = verify_export(export, public_key, checkpoints)
        problems = data["problems"]
        emit(state, data, as_json, lambda: _problem_lines(problems, lang) + tr(
            "{events} of {tickets}; {checkpoints}; {after}: {verdict}", lang,
            events=ntr("{count} event", "{count} events", data["events"], lang),
            tickets=ntr("{count} ticket", "{count} tickets", data["tickets"], lang),
            checkpoints=ntr("{count} signed checkpoint, the last at #{last}",
                            "{count} signed checkpoints, the last at #{last}", data["checkpoints"], lang,
                            last=data["last_checkpoint"] or 0),
            after=ntr("{count} event after it (not yet signed)", "{count} events after it (not yet signed)",
                      data["unproven"], lang), verdict=verdict(problems)) + "\n")
    else:
        data = state.api().audit_verify(checkpoints, public_key)
        problems = data["problems"]

        def text() -> str:
            cps = (ntr("{count} signed checkpoint verified, the last at #{last}",
                       "{count} signed checkpoints verified, the last at #{last}", data["checkpoints"], lang,
                       last=data["last_checkpoint"])
                   if data["checkpoints"] else tr("no signed checkpoint verified", lang))
            if data["checkpoints_unchecked"]:
                cps += ntr(" ({count} in the database not checked: no public key; give --public-key)",
                           " ({count} in the database not checked: no public key; give --public-key)",
                           data["checkpoints_unchecked"], lang)
            return _problem_lines(problems, lang) + tr(
                "desk log: {sealed}, {unsealed}; {checkpoints}\n{tickets}, {events}: {verdict}", lang,
                sealed=ntr("{count} sealed event", "{count} sealed events", data["sealed"], lang),
                unsealed=ntr("{count} not yet sealed", "{count} not yet sealed", data["unsealed"], lang),
                checkpoints=cps, tickets=ntr("{count} ticket", "{count} tickets", data["tickets"], lang),
                events=ntr("{count} event", "{count} events", data["events"], lang), verdict=verdict(problems)) + "\n"

        emit(state, data, as_json, text)
    if problems:
        sys.exit(int(ExitCode.REFUSED))


@audit.command("checkpoint")
@output_options()
@pass_state
def audit_checkpoint(state: State, as_json: bool) -> None:
    """Seal new events into the desk-wide log, sign its head with the Ed25519
    signing key and append it to the witness file (and the database, and the
    configured recipients' outbox). itsm tick does it at [audit] checkpoint_every.

    \b
    Example:
      ITSM_AUDIT_SIGNING_KEY=keys/audit-signing.pem itsm audit checkpoint
    """
    from engine.i18n import tr

    json_mode(state, as_json)
    data = state.api().audit_checkpoint()
    lang = state.lang
    emit(state, data, as_json, lambda: tr("checkpoint #{count} signed ({leaves} new event(s))", lang,
                                          count=data["count"], leaves=data["leaves"])
         + (tr(", appended to {file}", lang, file=data["witness"]) if data["witness"] else "")
         + (tr(", {count} message(s) queued", lang, count=data["queued"]) if data["queued"] else "") + "\n")


@audit.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
@output_options()
@pass_state
def audit_export(state: State, file: str, as_json: bool) -> None:
    """Write the sealed journal (desk order) and its checkpoints to FILE, for an
    auditor to verify offline with the public key only.

    \b
    Example:
      itsm audit export journal.jsonl
      itsm audit verify --export journal.jsonl --public-key keys/audit-signing.pub.pem
    """
    from engine.i18n import ntr, tr

    json_mode(state, as_json)
    data = state.api().audit_export(file)
    lang = state.lang
    emit(state, data, as_json, lambda: tr("{events} and {checkpoints} written to {path}", lang,
                                          events=ntr("{count} event", "{count} events", data["events"], lang),
                                          checkpoints=ntr("{count} checkpoint", "{count} checkpoints",
                                                          data["checkpoints"], lang), path=data["path"]) + "\n")


@audit.command("rekey")
@click.option("--force", is_flag=True, help="Re-key even a damaged journal (the problems are recorded "
              "in the rekey checkpoint).")
@output_options()
@pass_state
def audit_rekey(state: State, force: bool, as_json: bool) -> None:
    """Re-chain every unkeyed event (written before the keyed journal) and every
    event of an older key under the current HMAC key, seal them, and record a
    checkpoint with reason 'rekey'. itsm db upgrade runs it when needed.

    \b
    Example:
      itsm audit rekey
    """
    json_mode(state, as_json)
    data = state.api().audit_rekey(force)
    emit(state, data, as_json, lambda: rekeyed_text(data, state.lang, data["checkpoint"]))


def rekeyed_text(data: dict[str, Any], lang: str, checkpoint: dict[str, Any] | None = None) -> str:
    """What a re-keying did (itsm audit rekey, itsm db upgrade)."""
    from engine.i18n import ntr, tr

    out = tr("{events} of {tickets} re-chained under key {key}; {count} in the desk log", lang,
             events=ntr("{count} event", "{count} events", data["rechained"], lang),
             tickets=ntr("{count} ticket", "{count} tickets", data["tickets"], lang), key=data["key_id"],
             count=ntr("{count} event", "{count} events", data["count"], lang))
    if checkpoint is not None:
        out += tr("; ", lang) + (tr("checkpoint #{count} (signed)", lang, count=checkpoint["count"])
                                 if checkpoint["signed"] else
                                 tr("checkpoint #{count} (unsigned)", lang, count=checkpoint["count"]))
    return out + "\n"


@audit.command("keygen")
@click.option("--dir", "folder", type=click.Path(file_okay=False),
              help="Where to write the keys (default: the state folder, beside the default database).")
@click.option("--rotate", is_flag=True, help="Put a new current HMAC key in front of the key file's "
              "older ones (which keep verifying what they hashed).")
@output_options()
@pass_state
def audit_keygen(state: State, folder: str | None, rotate: bool, as_json: bool) -> None:
    """Write the journal's HMAC key file (audit.key) and an Ed25519 signing key
    pair (audit-signing.pem, audit-signing.pub.pem); private files are 0600 and
    never overwritten. Keep them apart (docs/auditor-guide.md).

    \b
    Example:
      itsm audit keygen --dir keys            # a new desk: an HMAC key and a signing key pair
      itsm audit keygen --dir keys --rotate   # later: a new current HMAC key
    """
    json_mode(state, as_json)
    data = state.api().audit_keygen(folder, rotate)
    emit(state, data, as_json, lambda: (f"new current key {data['key_id']} in {data['key_file']}\n" if rotate
                                        else f"HMAC key file: {data['key_file']}\nsigning key: "
                                        f"{data['signing_key']}\npublic key: {data['public_key']} "
                                        f"(id {data['public_key_id']})\n"))


TICK_STEPS = ("timers", "reports", "audit", "deliveries")  # the order they run in


# i18n: what tick's Name column says of its own steps in another language than English
TICK_STEP_NAMES = {"budget": N_("time budget"), "seal": N_("journal seal"), "checkpoint": N_("signed checkpoint"),
                   "deliver": N_("delivery"), "held": N_("held messages"), "failed": N_("failed messages")}


def report_title(api: Any, name: str, lang: str) -> str:
    """A report's title in ``lang`` (its id when its definition cannot be read)."""
    from engine.errors import ItsmError
    from engine.reports.definition import load_report

    try:
        return load_report(api.home, name, api.defs).title.get(lang) or name
    except (ItsmError, OSError, ValueError):
        return name


@command()
@click.option("--only", "only", multiple=True, type=click.Choice(TICK_STEPS),
              help="Run only this step (repeatable); default: all, in the order timers, reports, "
                   "audit, deliveries.")
@click.option("--budget", type=click.FloatRange(min=0.1, max=3600), default=50.0, show_default=True,
              help="Seconds the timers and reports steps may take: no batch of due tickets and no "
                   "due report starts once they are spent; what is left goes to the next tick.")
@output_options(listing=True)
@pass_state
def tick(state: State, only: tuple[str, ...], budget: float, as_json: bool, as_csv: bool) -> None:
    """Perform everything due now: SLA warnings and breaches, auto-closure,
    reminders (timers); render the KPI reports whose schedule is due (reports);
    seal the journal (audit); send queued messages (deliveries: a few at once, a
    mail server that is down is given up on for this run after a few failures).
    Run it from cron every minute; it is idempotent and safe to run from
    several machines at once. On a big desk, run the reports as their own job
    (docs/operations.md).

    \b
    Example:
      itsm --now 2026-03-09T09:00:00+08:00 tick
      itsm tick --only timers --only audit --only deliveries
      itsm tick --only reports
    """
    from engine import render

    json_mode(state, as_json)
    from commands.progress import Progress

    steps = set(only or TICK_STEPS)
    deadline = time.monotonic() + budget
    api = state.api()
    done: list[dict[str, Any]] = []
    if "timers" in steps:
        with Progress("tick") as progress:
            done.extend(api.tick(progress, budget=budget))
    if "reports" in steps:
        for line in api.run_due_reports(deadline):
            done.append({"key": "-", "kind": "report", "name": line["report"], "due": line["end"],
                         "outcome": line["outcome"]})
    if "audit" in steps:
        done.extend(api.audit_tick())  # seal the journal; a signed checkpoint when due
    if "deliveries" in steps:
        report = api.deliver()
        from engine.i18n import N_, Said, joined, message, retell, tr

        if report.sent or report.retrying or report.failed:
            done.append({"key": "-", "kind": "outbox", "name": "deliver", "due": None,
                         "outcome": message(N_("sent {sent}, retrying {retrying}, failed {failed}"), sent=report.sent,
                                            retrying=report.retrying, failed=report.failed)})
        from commands.notifications import CHANNELS
        from engine.api import delivery_errors

        errors = delivery_errors()
        for channel, error in report.broken.items():
            done.append({"key": "-", "kind": "outbox", "name": "held", "due": None, "outcome": joined([
                message(N_("{channel} given up on for this tick ({error})"),
                        channel=Said(channel, lambda lang, c=channel: tr(CHANNELS[c], lang) if c in CHANNELS else c),
                        error=Said(str(error), lambda lang, e=str(error): retell(e, lang, errors))),
                message(N_("{count} message(s) stay queued"), count=report.held)])})
        if report.failed_total:  # every tick says so until someone retries them
            done.append({"key": "-", "kind": "outbox", "name": "failed", "due": None, "outcome": message(
                N_("{count} message(s): itsm outbox list --status failed, itsm outbox retry"),
                count=report.failed_total)})
    from engine.i18n import retell, tick_kind, tick_name, tr

    lang = state.lang
    labels = api.event_labels("") if lang != "en" else None  # SLA clocks and timers of every process

    titles: dict[str, str] = {}

    def name(r: dict[str, Any]) -> str:  # an SLA clock, a timer or a report by its label; a step by its words
        if lang == "en":
            return str(r["name"])
        if r["kind"] == "report":
            if r["name"] not in titles:
                titles[r["name"]] = report_title(api, r["name"], lang)
            return titles[r["name"]]
        if r["kind"] in ("tick", "audit", "outbox") and r["name"] in TICK_STEP_NAMES:
            return tr(TICK_STEP_NAMES[r["name"]], lang)
        return tick_name(r, labels)

    cols = [("key", tr("Key", lang), lambda r: r["key"]), ("kind", tr("Kind", lang), lambda r: tick_kind(r["kind"], lang)),
            ("name", "Name" if lang == "en" else tr("tick column: Name", lang), name),
            ("due", tr("Due", lang), lambda r: render.when(r["due"])),
            ("outcome", tr("Outcome", lang), lambda r: retell(r["outcome"], lang))]
    emit(state, done, as_json, lambda: render.table(done, cols, max_width=70) if done
          else tr("nothing due", lang) + "\n", as_csv, lambda: render.to_csv(done, cols))
