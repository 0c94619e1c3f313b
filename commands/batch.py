"""Many changes in one process: itsm batch."""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any

import click

from commands.common import command, pass_state, State
from engine.i18n import N_, json_problem, message, said, tr

OPS = ("new", "do", "comment")


def _op(line: dict[str, Any]) -> str:
    found = [op for op in OPS if op in line]
    if len(found) != 1:
        raise ValueError(message(N_('each line needs exactly one of "new", "do" or "comment"')))
    return found[0]


def _text(line: dict[str, Any], name: str) -> str | None:
    """The value of ``name`` in ``line``: a string, or None when absent (or null)."""
    from engine.errors import UsageError

    value = line.get(name)
    if value is not None and not isinstance(value, str):
        raise UsageError(N_('"{name}" must be a string'), values={"name": name})
    if value is not None and any("\ud800" <= c <= "\udfff" for c in value):
        raise UsageError(N_('"{name}" is not UTF-8 text'), values={"name": name})
    return value


def _sets(line: dict[str, Any]) -> dict[str, Any]:
    """The line's "set": FIELD: VALUE, each value a string, number, boolean or null
    (as the JSON API takes them); a list or an object is no field value."""
    from engine.errors import UsageError

    sets = line.get("set") or {}
    if not isinstance(sets, dict):
        raise UsageError(N_('"set" must be an object of FIELD: VALUE'))
    for name, value in sets.items():
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise UsageError(N_('"set": the value of {field} must be a string, a number or true/false'),
                             values={"field": name})
        if isinstance(value, str) and any("\ud800" <= c <= "\udfff" for c in value):
            raise UsageError(N_('"set": the value of {field} is not UTF-8 text'), values={"field": name})
    return sets


def _expect_version(line: dict[str, Any]) -> int | None:
    from engine.errors import UsageError
    from engine.limits import MAX_ROW_ID

    value = line.get("expect_version")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ROW_ID:
        raise UsageError(N_('"expect_version" must be a whole number from 0 (the "version" of itsm show)'))
    return value


def _run_line(api: Any, line: dict[str, Any]) -> dict[str, Any]:
    """One line: one transaction of the engine.  Its shape is checked first, as the
    JSON API checks a body: a wrongly typed value is a usage error of this line."""
    from engine.errors import UsageError

    sets = _sets(line)
    actor = _text(line, "as")
    if actor is not None and actor.strip().lower() == "system":
        raise UsageError(N_('"as": "system" is the engine\'s own actor and cannot be claimed'))
    note = _text(line, "note")
    op = _op(line)
    target = _text(line, op)
    if op == "new":
        ticket = api.new_ticket(str(target), sets, note, actor_id=actor)
        return {"key": ticket["key"], "state": ticket["state"], "version": ticket.get("version"),
                "status_token": ticket.get("status_token")}  # for the reporter, as itsm new prints it
    if op == "do":
        key = _text(line, "key")
        if not key:
            raise UsageError(N_('"do" needs the ticket\'s "key"'))
        ticket = api.do(key, str(target), sets, note, _expect_version(line), actor_id=actor)
        return {"key": ticket["key"], "state": ticket["state"], "version": ticket.get("version")}
    text = _text(line, "text")
    if not text:
        raise UsageError(N_('"comment" needs its "text"'))
    public = line.get("public", False)
    if not isinstance(public, bool):
        raise UsageError(N_('"public" must be true or false'))
    event = api.comment(str(target), text, public, actor_id=actor)
    return {"key": str(target).upper(), "seq": event.get("seq")}


@command()
@click.argument("file", type=click.File("rb"), default="-")
@click.option("--stop-on-error", is_flag=True, help="Stop at the first line that fails.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON result per line of input (stdout) instead of failures only.")
@pass_state
def batch(state: State, file: IO[bytes], stop_on_error: bool, as_json: bool) -> None:
    """Perform many changes in one process: FILE (or stdin) holds one JSON
    object per line, each done in its own transaction, in order:

    \b
      {"new": "incident", "set": {"title": "...", "reporter": "..."}, "note": "..."}
      {"do": "assign", "key": "INC-000042", "set": {"group": "desktop_support"}}
      {"comment": "INC-000042", "text": "Called the user back", "public": true}

    "as" names the acting user of a line (default: --as); "expect_version"
    guards a "do" like --expect-version. A line that fails changes nothing and
    is reported with its line number; the others go on (unless
    --stop-on-error). The summary (lines, failures, actions/s) goes to stderr;
    the exit code is 0 when every line succeeded, else that of the first
    failure (1 refused, 2 usage, 4 not found, 5 conflict).

    \b
    Example:
      itsm --as wang.lei batch assignments.jsonl
      printf '%s\\n' '{"do": "start", "key": "INC-000042"}' | itsm --as chen.jie batch -
    """
    from commands.progress import Progress
    from engine.errors import ExitCode, ItsmError

    api = state.api()
    if not state.remote:
        api.store  # noqa: B018 - open the database first: one clear error if it is down, and
        #           the rate below measures the lines, not the start-up
    done = failed = 0
    first_failure: int | None = None
    started = time.perf_counter()
    with Progress("batch") as progress:
        for number, raw in enumerate(file, start=1):
            if not raw.strip():
                continue
            result: dict[str, Any] = {"line": number}
            try:
                try:  # each line decoded on its own: a line in another encoding fails alone
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ValueError(message(N_("not UTF-8 text (byte {start})"), start=exc.start)) from None
                try:
                    line = json.loads(text.rstrip("\r\n"))  # a line's column, not the next line's
                except json.JSONDecodeError as exc:
                    raise ValueError(message(N_("not JSON: {error} at column {column}"),
                                             error=json_problem(exc.msg),
                                             column=exc.pos + 1)) from None
                if not isinstance(line, dict):
                    raise ValueError(message(N_("each line must be a JSON object")))
                result.update(_run_line(api, line), ok=True)
                done += 1
            except (ItsmError, ValueError, KeyError, TypeError) as exc:  # TypeError: a safety net
                if isinstance(exc, ItsmError):
                    code, detail, said_as = int(exc.exit_code), exc.to_dict(), exc.text(state.lang)
                else:
                    code = int(ExitCode.USAGE)
                    problem = message(N_("missing {key}"),
                                      key=exc) if isinstance(exc, KeyError) else said(exc, "en")
                    detail = {"error": "usage", "message": str(problem), "exit_code": code}
                    said_as = str(said(problem if isinstance(exc, KeyError) else exc, state.lang))
                failed += 1
                first_failure = first_failure if first_failure is not None else code
                result.update(ok=False, **detail)
                if not as_json:
                    progress.note("itsm batch: " + tr("line {number}: {message}", state.lang, number=number,
                                                      message=said_as))
            if as_json:
                click.echo(json.dumps(result, ensure_ascii=False, default=str))
            progress(done + failed)
            if failed and stop_on_error:
                break
    elapsed = time.perf_counter() - started
    rate = done / elapsed if elapsed > 0 else 0.0

    seconds, per_second = f"{elapsed:.2f}", f"{rate:.0f}"
    click.echo("itsm batch: " + tr("{done} done, {failed} failed in {seconds} s ({rate} actions/s)", state.lang,
                                   done=done, failed=failed, seconds=seconds, rate=per_second), err=True)
    if first_failure is not None:
        sys.exit(first_failure)
