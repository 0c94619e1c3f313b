"""The ``itsm`` command: click wiring only.  Every command parses its options,
calls the engine and renders the result; errors are mapped to exit codes in one
place (:func:`main`).  Heavy modules are imported inside commands so that
``itsm --help`` stays fast."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import click

from engine import __version__
from engine.errors import ExitCode, ItsmError


@dataclass
class State:
    home: str | None = None
    db: str | None = None
    user: str | None = None
    now: str | None = None
    lang: str = "en"
    debug: bool = False
    json_errors: bool = False
    _api: Any = field(default=None, repr=False)

    def api(self) -> Any:
        """The engine facade, opened on first use."""
        if self._api is None:
            from engine.api import Api

            self._api = Api.open(home=self.home, db=self.db, user=self.user, now=self.now,
                                 lang=self.lang)
        return self._api


pass_state = click.make_pass_decorator(State)


def _report_error(state: State | None, exc: ItsmError) -> int:
    if state is not None and state.json_errors:
        click.echo(json.dumps(exc.to_dict(), ensure_ascii=False), err=True)
    else:
        click.echo(f"itsm: {exc}", err=True)
    return int(exc.exit_code)


class ItsmGroup(click.Group):
    """Maps every error to the exit codes of the CLI contract."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ItsmError as exc:
            ctx.exit(_report_error(ctx.find_object(State), exc))
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("itsm: interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug: short message, traceback only with --debug
            state = ctx.find_object(State)
            if state is not None and state.debug:
                raise
            click.echo(f"itsm: internal error: {type(exc).__name__}: {exc} "
                       "(run with --debug for the traceback)", err=True)
            ctx.exit(int(ExitCode.INTERNAL))


@click.group(cls=ItsmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", envvar="ITSM_HOME", metavar="DIR",
              help="Process repository (default: $ITSM_HOME, the nearest folder upward with "
                   "processes/ and codes/, else the bundled defaults).")
@click.option("--db", envvar="ITSM_DATABASE_URL", metavar="URL",
              help="Database URL (default: SQLite in the repository's .itsm/ folder).")
@click.option("--as", "user", envvar="ITSM_USER", metavar="USER", help="Acting user (id or e-mail).")
@click.option("--now", envvar="ITSM_NOW", metavar="ISO8601",
              help="The current time, for simulation and back-filling.")
@click.option("--lang", envvar="ITSM_LANG", type=click.Choice(["en", "zh"]), default="en",
              show_default=True, help="Language of labels and messages.")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.version_option(__version__, "--version", prog_name="itsm")
@click.pass_context
def main(ctx: click.Context, home: str | None, db: str | None, user: str | None,
         now: str | None, lang: str, debug: bool) -> None:
    """itsm: declarative IT service management.

    Agents work tickets (new, do, show, list), auditors check definitions
    (lint, graph), operators run timers and reports.

    \b
    Example:
      itsm new incident --title "Claims system down" --reporter li.na@example.com
    """
    ctx.obj = State(home=home, db=db, user=user, now=now, lang=lang, debug=debug)


# --- definitions -------------------------------------------------------------

@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="Output format.")
@click.option("--fail-level", type=click.Choice(["error", "warning", "info"]), default="info",
              show_default=True, help="Lowest severity that makes lint exit 1.")
@click.option("--db", "with_db", is_flag=True,
              help="Also check open tickets in the database against the definitions "
                   "(states or fields the definitions no longer have).")
@pass_state
def lint(state: State, paths: tuple[Path, ...], fmt: str, fail_level: str, with_db: bool) -> None:
    """Check process definitions and code tables.

    Without PATH, lints the current process repository. Given the repository
    (or its processes/ and codes/ folders), cross-file checks run too.
    Exit 0: clean; 1: findings; 2: usage; 3: internal error.

    \b
    Example:
      itsm lint processes codes --format json
    """
    from engine.lint import lint_paths, severity_at_least
    from engine.lint.formatters import FORMATS
    from engine.workspace import find_home

    targets = list(paths) or [find_home(state.home)]
    result = lint_paths(targets)
    findings = list(result.findings)
    if with_db:
        if result.errors:
            click.echo("itsm: --db skipped: fix the definitions' errors first", err=True)
        else:
            from engine.migrate import db_findings

            findings += db_findings(state.api())
    result.findings = findings
    out = FORMATS[fmt](findings)
    if out:
        click.echo(out, nl=False)
    if fmt == "text":
        errors, warnings = result.count("error"), result.count("warning")
        if result.findings:
            click.echo(f"{errors} error(s), {warnings} warning(s)", err=True)
    failing = [f for f in result.findings if severity_at_least(f.severity, fail_level)]
    sys.exit(int(ExitCode.REFUSED) if failing else 0)


@main.command()
@click.argument("process")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True)
@pass_state
def graph(state: State, process: str, fmt: str) -> None:
    """Print a process as a Mermaid state diagram or Graphviz DOT.

    \b
    Example:
      itsm graph incident --format mermaid
    """
    from engine.errors import NotFound
    from engine.graph import FORMATS
    from engine.workspace import find_home, load_definitions

    defs = load_definitions(find_home(state.home))
    if process not in defs.processes:
        raise NotFound(f"no process '{process}'; known: {', '.join(defs.processes)}")
    click.echo(FORMATS[fmt](defs.processes[process], state.lang), nl=False)


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
def init(directory: Path) -> None:
    """Create a new process repository from the bundled defaults.

    \b
    Example:
      itsm init ./p16-processes
    """
    from engine.repo_init import init_repository

    created = init_repository(directory)
    click.echo(f"created process repository {directory} ({len(created)} files)")


# --- shared options ----------------------------------------------------------

def output_options(listing: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--json (and --csv for listings) on every row-printing command."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if listing:
            fn = click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")(fn)
        fn = click.option("--json", "as_json", is_flag=True,
                          help="Print JSON on stdout (errors as JSON on stderr).")(fn)
        return fn

    return decorate


def _json_mode(state: State, as_json: bool) -> None:
    state.json_errors = as_json


def _emit(state: State, data: Any, as_json: bool, text: Callable[[], str],
          as_csv: bool = False, csv_text: Callable[[], str] | None = None) -> None:
    from engine import render

    if as_json:
        click.echo(render.to_json(data), nl=False)
    elif as_csv and csv_text is not None:
        click.echo(csv_text(), nl=False)
    else:
        click.echo(text(), nl=False)


def _parse_sets(sets: tuple[str, ...]) -> dict[str, str]:
    from engine.errors import UsageError

    out: dict[str, str] = {}
    for item in sets:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set {item!r}: write FIELD=VALUE, e.g. --set group=desktop_support")
        out[name.strip()] = value
    return out


set_option = click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
                          help="Give a field value (repeatable).")
note_option = click.option("--note", metavar="TEXT", help="A note for the journal (the reason, a message).")


def _ticket_columns(lang: str) -> list[Any]:
    from engine.i18n import t

    return [("key", t("key", lang), lambda r: r["key"]),
            ("state", t("state", lang), lambda r: r["state_label"]),
            ("priority", t("priority", lang), lambda r: r["priority"]),
            ("title", t("title", lang), lambda r: r["title"]),
            ("assignee", t("assignee", lang), lambda r: r["assignee"]),
            ("group", t("group", lang), lambda r: r["group"]),
            ("service", t("service", lang), lambda r: r["service"]),
            ("due", t("due", lang), lambda r: _next_due(r)),
            ("updated", t("updated", lang), lambda r: (r["updated_at"] or "")[:16])]


def _next_due(ticket: dict[str, Any]) -> str:
    clocks = [c for c in (ticket.get("sla") or {}).values()
              if c.get("state") in ("running", "paused") and c.get("due")]
    if not clocks:
        return ""
    c = min(clocks, key=lambda c: c["due"])
    return c["due"][:16] + (" !" if c.get("breached") else "")


def _show_text(state: State, ticket: dict[str, Any]) -> str:
    from engine import render
    from engine.i18n import t

    lang = state.lang
    head = f"{ticket['key']}  {ticket['title']}\n"
    items: list[tuple[str, Any]] = [
        (t("process", lang), ticket["process"]), (t("state", lang), f"{ticket['state_label']} ({ticket['state']})"),
        (t("priority", lang), (ticket["priority"] or "")
         + (f" ({t('override_label', lang)})" if ticket["priority_overridden"] else "")),
        (t("urgency_impact", lang), f"{ticket['urgency'] or '-'} / {ticket['impact'] or '-'}"),
        (t("service", lang), ticket["service"]), (t("classification", lang), ticket["classification"]),
        (t("reporter", lang), ticket["reporter"]), (t("group", lang), ticket["group"]),
        (t("assignee", lang), ticket["assignee"]), (t("parent", lang), ticket["parent"]),
        (t("created", lang), ticket["created_at"]), (t("updated", lang), ticket["updated_at"]),
    ]
    labels = ticket.get("field_labels") or {}
    items += [(labels.get(k, k), v) for k, v in ticket["fields"].items()]
    for cid, c in (ticket.get("sla") or {}).items():
        if c.get("state") == "not_started":
            continue
        verdict = (t("met", lang) if c.get("met") else t("breached", lang)) if c.get("met") is not None \
            else (t("breached", lang) if c.get("breached") else t("paused" if c.get("paused") else "running", lang))
        items.append((f"SLA {cid}", f"{verdict}; {t('due_inline', lang)} {c.get('due') or '-'}; "
                                    f"{t('elapsed', lang)} {_hm(c.get('elapsed_seconds'))} "
                                    f"{t('of', lang)} {_hm(c.get('target_seconds'))}"))
    if ticket.get("opened"):
        items.append((t("opened", lang), ticket["opened"]))
    return head + render.pairs(items)


def _hm(seconds: Any) -> str:
    if seconds is None:
        return "-"
    minutes = int(seconds) // 60
    return f"{minutes // 60}h{minutes % 60:02d}m"


# --- database and people --------------------------------------------------------

@main.group()
def db() -> None:
    """The database: create or migrate its schema."""


@db.command("upgrade")
@pass_state
def db_upgrade(state: State) -> None:
    """Create the database or migrate it to the newest schema.

    \b
    Example:
      itsm --db postgresql+psycopg://itsm@dbhost/itsm db upgrade
    """
    from engine.store.db import redact

    api = state.api()
    before, after = api.upgrade_db()
    click.echo(f"database {redact(api.db_url)}: schema {before or 'new'} -> {after}")


@main.group()
def user() -> None:
    """People, their roles and support groups."""


@user.command("add")
@click.argument("user_id")
@click.option("--name", help="Display name (default: the id).")
@click.option("--email", required=True, help="E-mail address.")
@click.option("--phone", help="Mobile number for SMS notifications.")
@click.option("--role", "roles", multiple=True, help="A role (repeatable), e.g. service_desk.")
@click.option("--group", "groups", multiple=True, help="A support group (repeatable).")
@click.option("--site", help="Site (e.g. head_office, guangzhou).")
@output_options()
@pass_state
def user_add(state: State, user_id: str, name: str | None, email: str, phone: str | None,
             roles: tuple[str, ...], groups: tuple[str, ...], site: str | None, as_json: bool) -> None:
    """Register a person with roles and groups.

    \b
    Example:
      itsm user add wang.lei --email wang.lei@example.com --role service_desk --group service_desk
    """
    _json_mode(state, as_json)
    person = state.api().add_user(user_id, name, email, phone, roles, groups, site)
    _emit(state, person, as_json, lambda: f"added {person['id']} <{person['email']}> "
                                           f"roles: {', '.join(person['roles']) or '-'}; "
                                           f"groups: {', '.join(person['groups']) or '-'}\n")


@user.command("list")
@output_options(listing=True)
@pass_state
def user_list(state: State, as_json: bool, as_csv: bool) -> None:
    """List people with their roles and groups."""
    from engine import render
    from engine.i18n import t

    _json_mode(state, as_json)
    people = state.api().list_users()
    lang = state.lang
    cols = [("id", t("id", lang), lambda r: r["id"]), ("name", t("name", lang), lambda r: r["name"]),
            ("email", t("email", lang), lambda r: r["email"]), ("roles", t("roles", lang), lambda r: r["roles"]),
            ("groups", t("groups", lang), lambda r: r["groups"]), ("site", t("site", lang), lambda r: r["site"])]
    _emit(state, people, as_json, lambda: render.table(people, cols), as_csv,
          lambda: render.to_csv(people, cols))


# --- tickets -------------------------------------------------------------------------

@main.command()
@click.argument("process")
@click.option("--title", help="Short summary.")
@click.option("--reporter", metavar="EMAIL", help="Who reports it (default: the acting user).")
@click.option("--description", help="What happened, in the user's words.")
@click.option("--urgency")
@click.option("--impact")
@click.option("--service", help="Service from the catalogue (codes/services.yaml).")
@set_option
@note_option
@output_options()
@pass_state
def new(state: State, process: str, title: str | None, reporter: str | None, description: str | None,
        urgency: str | None, impact: str | None, service: str | None, sets: tuple[str, ...],
        note: str | None, as_json: bool) -> None:
    """Log a new ticket: the single intake for incidents and service requests.

    \b
    Example:
      itsm new incident --title "Cannot log in to claims" --reporter li.na@example.com \\
          --urgency high --impact medium --service claims
    """
    from engine.i18n import t

    _json_mode(state, as_json)
    values: dict[str, Any] = _parse_sets(sets)
    for name, value in (("title", title), ("reporter", reporter), ("description", description),
                        ("urgency", urgency), ("impact", impact), ("service", service)):
        if value is not None:
            values[name] = value
    ticket = state.api().new_ticket(process, values, note)
    _emit(state, ticket, as_json,
          lambda: t("created_ticket", state.lang, key=ticket["key"]) + "\n" + _show_text(state, ticket)
          + (f"major-incident criteria matched: linked to {ticket['major_incident']}\n"
             if ticket.get("major_incident") else "")
          + f"{t('status_token', state.lang)}: {ticket['status_token']}\n")


@main.command("do")
@click.argument("key")
@click.argument("action")
@set_option
@note_option
@click.option("--expect-version", type=int, metavar="N",
              help="Refuse (exit 5) unless the ticket is still at version N.")
@output_options()
@pass_state
def do_action(state: State, key: str, action: str, sets: tuple[str, ...], note: str | None,
              expect_version: int | None, as_json: bool) -> None:
    """Perform an action of the ticket's process.

    \b
    Example:
      itsm do INC-000042 resolve --set solution="Reset the VPN token" \\
          --set closure_code=solved --set service_restored=true
    """
    from engine.i18n import t

    _json_mode(state, as_json)
    ticket = state.api().do(key, action, _parse_sets(sets), note, expect_version)
    def text() -> str:
        lines = [t("done", state.lang, key=ticket["key"], action=action, state=ticket["state_label"])]
        if ticket.get("opened"):
            lines.append(f"opened {ticket['opened']}, linked as the parent of {ticket['key']}")
        if ticket.get("joined"):
            lines.append(f"joined {ticket['joined']}, already open for this service")
        if ticket.get("major_incident"):
            lines.append(f"major-incident criteria matched: linked to {ticket['major_incident']}")
        lines += [f"  linked {line}" for line in ticket.get("cascade") or []]
        return "\n".join(lines) + "\n"

    _emit(state, ticket, as_json, text)


@main.command()
@click.argument("key")
@output_options()
@pass_state
def actions(state: State, key: str, as_json: bool) -> None:
    """What the acting user can do with a ticket now, and what each needs.

    \b
    Example:
      itsm --as wang.lei actions INC-000042
    """
    from engine import render
    from engine.i18n import t

    _json_mode(state, as_json)
    rows = state.api().actions(key)
    lang = state.lang
    cols = [("action", t("action", lang), lambda r: r["action"]), ("label", "", lambda r: r["label"]),
            ("to", t("to", lang), lambda r: r["to"] or t("stays", lang)),
            ("requires", t("requires", lang), lambda r: r["requires"]),
            ("roles", t("roles", lang), lambda r: r["roles"])]
    _emit(state, [{k: r[k] for k in ("action", "to", "requires", "accepts", "roles", "label", "note")}
                  for r in rows], as_json,
          lambda: render.table(rows, cols) if rows else "no action available to you now\n")


@main.command()
@click.argument("key")
@output_options()
@pass_state
def show(state: State, key: str, as_json: bool) -> None:
    """Show a ticket with its fields and SLA clocks.

    \b
    Example:
      itsm show INC-000042 --json
    """
    _json_mode(state, as_json)
    ticket = state.api().show(key)
    _emit(state, ticket, as_json, lambda: _show_text(state, ticket))


@main.command()
@click.argument("key")
@output_options(listing=True)
@pass_state
def history(state: State, key: str, as_json: bool, as_csv: bool) -> None:
    """The journal of a ticket: who did what, when, with which changes.

    \b
    Example:
      itsm history INC-000042
    """
    from engine import render
    from engine.i18n import t

    _json_mode(state, as_json)
    events = state.api().history(key)
    lang = state.lang

    def change_text(e: dict[str, Any]) -> str:
        move = f"{e['from'] or '·'} -> {e['to']}  " if e["to"] else ""
        return move + "; ".join(f"{k}={v[1]}" for k, v in e["changes"].items()
                                if isinstance(v, list) and len(v) == 2)

    cols = [("ticket", t("key", lang), lambda e: e["ticket"]),
            ("seq", "#", lambda e: e["seq"]), ("at", t("at", lang), lambda e: (e["at"] or "")[:16]),
            ("actor", t("actor", lang), lambda e: e["actor"]), ("action", t("action", lang), lambda e: e["action"]),
            ("change", t("change", lang), change_text), ("note", t("note", lang), lambda e: e["note"])]
    _emit(state, events, as_json, lambda: render.table(events, cols, max_width=60), as_csv,
          lambda: render.to_csv(events, cols))


@main.command("list")
@click.option("--process", help="Only this process.")
@click.option("--state", "states", multiple=True, help="Only tickets in this state (repeatable).")
@click.option("--open", "open_only", is_flag=True, help="Only tickets not closed.")
@click.option("--assignee", help="Only tickets assigned to this user.")
@click.option("--group", help="Only tickets of this support group.")
@click.option("--service", help="Only tickets of this service.")
@click.option("--priority", help="Only tickets of this priority.")
@click.option("--parent", help="Only tickets linked to this parent.")
@click.option("--breached", is_flag=True, help="Only open tickets with a breached SLA clock.")
@click.option("--at-risk", is_flag=True, help="Only open tickets past an SLA warning threshold, not yet breached.")
@click.option("--limit", type=int, help="At most this many tickets.")
@output_options(listing=True)
@pass_state
def list_tickets(state: State, process: str | None, states: tuple[str, ...], open_only: bool,
                 assignee: str | None, group: str | None, service: str | None, priority: str | None,
                 parent: str | None, breached: bool, at_risk: bool, limit: int | None,
                 as_json: bool, as_csv: bool) -> None:
    """Queues: tickets matching the filters.

    \b
    Example:
      itsm list --open --group desktop_support
    """
    from engine import render

    _json_mode(state, as_json)
    rows = state.api().list(process=process, states=states, open_only=open_only, assignee=assignee,
                            group=group, service=service, priority=priority,
                            parent=parent.upper() if parent else None, limit=limit,
                            breached=breached, at_risk=at_risk)
    cols = _ticket_columns(state.lang)
    _emit(state, rows, as_json, lambda: render.table(rows, cols), as_csv, lambda: render.to_csv(rows, cols))


@main.command()
@click.argument("key")
@click.argument("text")
@click.option("--public", is_flag=True, help="Visible to the end user in the status view.")
@output_options()
@pass_state
def comment(state: State, key: str, text: str, public: bool, as_json: bool) -> None:
    """Add a note to a ticket's journal without changing its state.

    \b
    Example:
      itsm comment INC-000042 "Called the user, waiting for a screenshot"
    """
    _json_mode(state, as_json)
    event = state.api().comment(key, text, public)
    _emit(state, event, as_json, lambda: f"{key.upper()}: note #{event['seq']} added\n")


@main.command()
@click.argument("key")
@click.argument("parent")
@output_options()
@pass_state
def link(state: State, key: str, parent: str, as_json: bool) -> None:
    """Link a ticket to a parent (e.g. an incident to its major incident).

    \b
    Example:
      itsm link INC-000043 MI-000001
    """
    _json_mode(state, as_json)
    ticket = state.api().link(key, parent)
    _emit(state, ticket, as_json, lambda: f"{ticket['key']} linked to {ticket['parent']}\n")


# --- end users and notifications ----------------------------------------------------

@main.command()
@click.argument("key")
@click.option("--token", required=True, help="The status token from the acknowledgement message.")
@output_options()
@pass_state
def status(state: State, key: str, token: str, as_json: bool) -> None:
    """The end user's view of a ticket: state in plain words, priority, group,
    SLA due date and public updates. Needs the ticket's status token.

    \b
    Example:
      itsm status INC-000042 --token 3q2-X...
    """
    from engine import render

    _json_mode(state, as_json)
    view = state.api().status(key, token)

    def text() -> str:
        head = f"{view['key']}  {view['title']}\n"
        body = render.pairs([("Status", f"{view['state_label']}: {view['status_text'] or ''}"),
                             ("Priority", view["priority_label"]), ("Service", view["service_label"]),
                             ("Handled by", view["group_label"]), ("Due", view["due"]),
                             ("Solution", view.get("solution")), ("Workaround", view.get("workaround")),
                             ("Fulfilment", view.get("fulfilment_note"))])
        updates = "".join(f"  {(u['at'] or '')[:16]}  {u['label']}" + (f": {u['note']}" if u["note"] else "")
                          + "\n" for u in view["updates"])
        can = f"You can: {', '.join(view['can'])}\n" if view["can"] else ""
        return head + body + ("Updates:\n" + updates if updates else "") + can

    _emit(state, view, as_json, text)


@main.group()
def outbox() -> None:
    """Queued notifications: deliver them, inspect failures, retry."""


@outbox.command("deliver")
@output_options()
@pass_state
def outbox_deliver(state: State, as_json: bool) -> None:
    """Send pending messages (SMTP e-mail, webhook for SMS/IM). Failures retry
    with exponential backoff, then stay 'failed' for 'itsm outbox retry'.

    \b
    Example:
      ITSM_SMTP_HOST=mail.example.com itsm outbox deliver
    """
    _json_mode(state, as_json)
    report = state.api().deliver()
    data = {"sent": report.sent, "retrying": report.retrying, "failed": report.failed,
            "messages": report.lines}
    _emit(state, data, as_json, lambda: "".join(f"#{m['id']} {m['channel']} {m['to']} "
                                                f"{m['template']}: {m['outcome']}\n" for m in report.lines)
          + f"sent {report.sent}, retrying {report.retrying}, failed {report.failed}\n")


@outbox.command("list")
@click.option("--status", "status_", type=click.Choice(["pending", "sending", "sent", "failed"]),
              help="Only messages in this delivery status.")
@output_options(listing=True)
@pass_state
def outbox_list(state: State, status_: str | None, as_json: bool, as_csv: bool) -> None:
    """List queued, sent and failed messages.

    \b
    Example:
      itsm outbox list --status failed
    """
    from engine import render

    _json_mode(state, as_json)
    rows = state.api().outbox(status_)
    cols = [("id", "#", lambda r: r["id"]), ("ticket", "Ticket", lambda r: r["ticket"]),
            ("channel", "Channel", lambda r: r["channel"]), ("recipient", "To", lambda r: r["recipient"]),
            ("template", "Template", lambda r: r["template"]), ("status", "Status", lambda r: r["status"]),
            ("attempts", "Tries", lambda r: r["attempts"]), ("last_error", "Last error", lambda r: r["last_error"])]
    _emit(state, rows, as_json, lambda: render.table(rows, cols), as_csv, lambda: render.to_csv(rows, cols))


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int)
@pass_state
def outbox_retry(state: State, ids: tuple[int, ...]) -> None:
    """Put failed messages back in the queue (all failed ones without IDS).

    \b
    Example:
      itsm outbox retry 17 18
    """
    n = state.api().retry_outbox(list(ids) or None)
    click.echo(f"{n} message(s) queued again")


@main.command()
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
      itsm migrate incident --map awaiting_vendor=pending --apply
    """
    from engine import migrate as mig
    from engine.errors import UsageError

    _json_mode(state, as_json)
    mapping: dict[str, str] = {}
    for item in maps:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            raise UsageError(f"--map {item!r}: write OLD=NEW, e.g. --map awaiting_vendor=pending")
        mapping[old.strip()] = new.strip()
    api = state.api()
    result = mig.apply(api, process, mapping, None) if do_apply else mig.plan(api, process, mapping)

    def text() -> str:
        verb = "moved" if do_apply else "would move"
        lines = [f"{m['key']}: {verb} {m['from']} -> {m['to']}\n" for m in result["moves"]]
        lines += [f"{u['key']}: state '{u['state']}' no longer exists and is not mapped\n"
                  for u in result["unmapped"]]
        lines.append(f"{len(result['moves'])} to move, {len(result['unmapped'])} unmapped, "
                     f"{len(result['older_version'])} on an older version (they move on their next action)"
                     + ("" if do_apply else "; dry run: add --apply") + "\n")
        return "".join(lines)

    _emit(state, result, as_json, text)
    if result["unmapped"]:
        sys.exit(int(ExitCode.REFUSED))


# --- reports ---------------------------------------------------------------------------

@main.command()
@click.argument("name", required=False)
@click.option("--due", is_flag=True, help="Run every report whose schedule is due and mail it "
                                          "to its recipients through the outbox (itsm tick does this too).")
@click.option("--from", "start", metavar="DATE", help="Start of the period (default: the last complete period).")
@click.option("--to", "end", metavar="DATE", help="End of the period (exclusive).")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "csv", "json"]), default="md",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout.")
@pass_state
def report(state: State, name: str | None, due: bool, start: str | None, end: str | None, fmt: str,
           output: Path | None) -> None:
    """Render a KPI report from reports/NAME.yaml, computed in SQL from the
    central database; or, with --due, run the scheduled ones.

    \b
    Example:
      itsm report weekly --from 2026-03-02 --to 2026-03-09 --format html -o weekly.html
      itsm report --due
    """
    from engine.errors import UsageError
    from engine.reports import run

    api = state.api()
    if due:
        for line in api.run_due_reports():
            click.echo(f"{line['report']} {line['start']} - {line['end']}: {line['outcome']}")
        return
    if not name:
        raise UsageError("give a report NAME (see reports/), or --due")
    text = run(api, name, start, end, fmt, api.lang)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


# --- major incidents -----------------------------------------------------------------

@main.group()
def major() -> None:
    """The major-incident procedure."""


@major.command("board")
@click.option("--watch", "watch", type=float, default=None, metavar="SECONDS",
              help="Refresh every SECONDS on a terminal (Ctrl-C to stop).")
@output_options(listing=True)
@pass_state
def major_board(state: State, watch: float | None, as_json: bool, as_csv: bool) -> None:
    """Every open major incident: manager, lead, age, SLA, time since the last
    update (overdue marked !), linked incidents, state.

    \b
    Example:
      itsm major board --watch 30
    """
    import time

    from engine import render

    _json_mode(state, as_json)
    cols = [("key", "Key", lambda r: r["key"]), ("state", "State", lambda r: r["state"]),
            ("priority", "Prio", lambda r: r["priority"]), ("title", "Title", lambda r: r["title"]),
            ("manager", "Manager", lambda r: r["manager"]), ("lead", "Lead", lambda r: r["technical_lead"]),
            ("age", "Age", lambda r: _hm((r["age_minutes"] or 0) * 60)),
            ("sla", "SLA due", lambda r: ((r["sla_due"] or "")[:16] + (" BREACHED" if r["sla_breached"] else ""))),
            ("update", "Since update", lambda r: "" if r["minutes_since_update"] is None else
             _hm(r["minutes_since_update"] * 60) + (" !" if r["update_overdue"] else "")),
            ("linked", "Linked", lambda r: f"{r['linked_open']}/{r['linked']}")]
    while True:
        rows = state.api().major_board()
        if watch and not as_json and not as_csv and sys.stdout.isatty():
            click.clear()
        _emit(state, rows, as_json, lambda: render.table(rows, cols) if rows
              else "no open major incident\n", as_csv, lambda: render.to_csv(rows, cols))
        if not watch or as_json or as_csv:
            return
        time.sleep(watch)


# --- audit -------------------------------------------------------------------------------

@main.group()
def audit() -> None:
    """Checks for auditors."""


@audit.command("verify")
@output_options()
@pass_state
def audit_verify(state: State, as_json: bool) -> None:
    """Verify every ticket's hash-chained journal; report altered, deleted or
    reordered events (ticket and sequence number). Exit 1 if any.

    \b
    Example:
      itsm audit verify --json
    """
    _json_mode(state, as_json)
    tickets_, events, problems = state.api().audit()
    data = {"tickets": tickets_, "events": events, "problems": problems}
    _emit(state, data, as_json, lambda: "".join(
        f"{p['ticket']}" + (f" #{p['seq']}" if p["seq"] else "") + f": {p['kind']}: {p['message']}\n"
        for p in problems) + f"{tickets_} tickets, {events} events: "
        + (f"{len(problems)} problem(s)\n" if problems else "journal intact\n"))
    if problems:
        sys.exit(int(ExitCode.REFUSED))


# --- timers ----------------------------------------------------------------------------

@main.command()
@output_options(listing=True)
@pass_state
def tick(state: State, as_json: bool, as_csv: bool) -> None:
    """Perform everything due now: SLA warnings and breaches, auto-closure,
    reminders. Run it from cron every minute; it is idempotent and safe to run
    from several machines at once.

    \b
    Example:
      itsm tick --now 2026-03-09T09:00:00+08:00
    """
    from engine import render

    _json_mode(state, as_json)
    api = state.api()
    done = api.tick()
    for line in api.run_due_reports():
        done.append({"key": "-", "kind": "report", "name": line["report"], "due": line["end"],
                     "outcome": line["outcome"]})
    report = api.deliver()
    if report.sent or report.retrying or report.failed:
        done.append({"key": "-", "kind": "outbox", "name": "deliver", "due": None,
                     "outcome": f"sent {report.sent}, retrying {report.retrying}, failed {report.failed}"})
    cols = [("key", "Key", lambda r: r["key"]), ("kind", "Kind", lambda r: r["kind"]),
            ("name", "Name", lambda r: r["name"]), ("due", "Due", lambda r: r["due"]),
            ("outcome", "Outcome", lambda r: r["outcome"])]
    _emit(state, done, as_json, lambda: render.table(done, cols, max_width=70) if done
          else "nothing due\n", as_csv, lambda: render.to_csv(done, cols))


# --- demo ----------------------------------------------------------------------------

@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where to put the demo database (default: a new temporary folder).")
@output_options()
@pass_state
def demo(state: State, directory: Path | None, as_json: bool) -> None:
    """Run a complete demonstration on a fresh SQLite database.

    A small organisation works a simulated week: first-contact resolution,
    assignment, pending and reopen, approval of a service request, a major
    incident with its review. Prints the story and a summary.

    \b
    Example:
      itsm demo --dir /tmp/itsm-demo
    """
    import tempfile

    from engine import render
    from engine.demo import run

    _json_mode(state, as_json)
    target = directory or Path(tempfile.mkdtemp(prefix="itsm-demo-"))
    target.mkdir(parents=True, exist_ok=True)
    say = (lambda line: None) if as_json else (lambda line: click.echo(line))
    result = run(target, say, home=state.home, lang=state.lang)
    if as_json:
        click.echo(render.to_json({k: v for k, v in result.items() if k != "rows"}), nl=False)
        return
    click.echo("")
    cols = _ticket_columns(state.lang)
    click.echo(render.table(result["rows"], cols), nl=False)
    click.echo(f"\n{result['tickets']} tickets; resolution SLA met: {result['sla_met']}, "
               f"breached: {result['sla_breached']}")
    click.echo(f"Explore: itsm --db sqlite:///{target / 'itsm-demo.db'} --as wang.lei list")


if __name__ == "__main__":  # pragma: no cover
    main()
