"""What the ``itsm`` commands share without click: the root group's table of
commands, the desk server's API of remote mode, ``--set`` parsing, the text of
a performed action and of an error, and writing out as ``click.echo`` does.

The console script's fast path (entry.py) prints ``itsm --help`` and performs a
remote ``itsm do`` with these, without importing click (click alone costs 3x a
bare Python's start-up; issues #18 and #25); cli.py and the command modules use
the same functions, so nothing is rendered twice.  This module imports only
the standard library and, inside its functions, the ground and engine.remote.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs a remote command a few milliseconds
    from typing import Any

    from engine.errors import ItsmError

ROOT_HELP = """itsm: declarative IT service management.

Agents work tickets (new, do, show, list), auditors check definitions
(lint, graph), operators run timers and reports.

\b
Example:
  itsm new incident --title "Claims system down" --reporter li.na@example.com"""  # itsm --help

COMMAND_MODULES = {  # name -> (module of commands/, the first paragraph of its help)
    'actions': ('tickets',
        'What the acting user can do with a ticket now, and what each needs.'),
    'alerts': ('alerts',
        'List monitoring alert groups with their incident, newest activity first.'),
    'apikey': ('apikey',
        'API keys for agents and integrations using the JSON API (itsm serve).'),
    'attach': ('mail',
        'Attach a file to a ticket (a screenshot, a log). It is stored with its SHA-256, '
        'journaled, and listed in show, history and the status page.'),
    'audit': ('operations',
        'Checks for auditors.'),
    'batch': ('batch',
        'Perform many changes in one process: FILE (or stdin) holds one JSON object per '
        'line, each done in its own transaction, in order:'),
    'comment': ('tickets',
        "Add a note to a ticket's journal without changing its state."),
    'db': ('people',
        'The database: create or migrate its schema.'),
    'demo': ('demo',
        'Run a complete demonstration on a fresh SQLite database.'),
    'diff': ('design',
        'What a change to the definitions does: states, actions, roles, required fields, '
        'guards, criteria, SLA clocks and targets, timers, notifications and labels '
        'added, removed or changed -- not its YAML whitespace.'),
    'do': ('tickets',
        "Perform an action of the ticket's process."),
    'graph': ('definitions',
        'Print a process as a Mermaid state diagram or Graphviz DOT; with --all, every '
        'process and the relations between them (their inputs and outputs).'),
    'history': ('tickets',
        'The journal of a ticket: who did what, when, with which changes.'),
    'init': ('definitions',
        'Create a new process repository from the bundled defaults.'),
    'intake': ('alerts',
        'File monitoring alerts as incidents: one open incident per alert group, repeats '
        'and resolutions noted on it (codes/alert_rules.yaml maps alerts to service, '
        'urgency, impact and category). Exits 1 if a group could not be filed.'),
    'link': ('tickets',
        'Link a ticket to another by a relation its process declares.'),
    'lint': ('definitions',
        'Check process definitions and code tables.'),
    'list': ('tickets',
        'Queues: tickets matching the filters.'),
    'login': ('session',
        'Log in to a desk server (itsm serve): exchange a password, or an existing token '
        'read from stdin with --with-token, for a personal token kept in your config '
        'folder (mode 0600).'),
    'logout': ('session',
        'Revoke your token on the desk server and forget it.'),
    'mail': ('mail',
        'Mail to the desk: from an MTA pipe (receive) or IMAP mailboxes (poll).'),
    'major': ('major',
        'The major-incident procedure.'),
    'migrate': ('operations',
        'Move open tickets to the current definition of PROCESS with an explicit state '
        'map. A dry run unless --apply; each move is journaled. Only the process owner '
        'may apply.'),
    'new': ('tickets',
        'Log a new ticket: the single intake for incidents and service requests.'),
    'outbox': ('notifications',
        'Queued notifications: deliver them, inspect failures, retry.'),
    'report': ('reports',
        'Render a KPI report from reports/NAME.yaml, computed in SQL from the central '
        'database; or, with --due, run the scheduled ones.'),
    'search': ('search',
        'Full-text search over titles, descriptions, solutions, text fields and journal '
        'notes, in Chinese and English. Every term must occur (as a substring, any case);'
        ' "double quotes" keep a phrase. Best matches first, with the matched snippet. '
        'For service-desk staff.'),
    'serve': ('serve',
        'Run the self-service portal (report an incident or request, follow its status, '
        'confirm or reopen) and the JSON API for agents, integrations and monitoring '
        '(/api/v1, described at /openapi.json). Put it behind a reverse proxy for TLS; '
        'access logs go to stderr as JSON lines.'),
    'show': ('tickets',
        'Show a ticket with its fields and SLA clocks.'),
    'similar': ('search',
        'Resolved tickets most like KEY (its title and description; the same service and '
        'category weigh more), with their solution and closure code: look here before '
        'assigning. Resolve with --set solution_from=THAT-KEY to reuse one.'),
    'simulate': ('design',
        'Replay a scripted ticket against a definition, without a database: after every '
        'step the state, the changed fields, the SLA clocks, the messages that would be '
        "sent and any refusal (with the same words as 'itsm do'). Timers and SLA "
        "thresholds fire as time passes ('tick:' steps, or a later 'at:')."),
    'status': ('notifications',
        "The end user's view of a ticket: state in plain words, priority, group, SLA due "
        "date and public updates. Needs the ticket's status token."),
    'tick': ('operations',
        'Perform everything due now: SLA warnings and breaches, auto-closure, reminders '
        '(timers); render the KPI reports whose schedule is due (reports); seal the '
        'journal (audit); send queued messages (deliveries: a few at once, a mail server '
        'that is down is given up on for this run after a few failures). Run it from cron'
        ' every minute; it is idempotent and safe to run from several machines at once. '
        'On a big desk, run the reports as their own job (docs/operations.md).'),
    'unlink': ('tickets',
        'Remove a link (journaled, like itsm link).'),
    'user': ('people',
        'People, their roles and support groups.'),
    'whoami': ('session',
        'Who you are on the desk server: your user, name, roles and token.'),
}


def terminal_columns() -> int:
    """What shutil.get_terminal_size() answers ($COLUMNS, the terminal, else 80)
    without importing shutil (and with it bz2, lzma, zlib) for every --help."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def help_width() -> int:
    """The width click's help formatter gets in cli.ItsmContext (at most 78, at least 50)."""
    return max(min(terminal_columns(), 80) - 2, 50)


def write(text: str, err: bool = False) -> None:
    """``click.echo(text, nl=False, err=err)`` outside a context: the text as is,
    ANSI escape sequences removed unless the stream is a terminal, then flushed."""
    stream = sys.stderr if err else sys.stdout
    if stream is None:
        return
    if text and "\x1b" in text:
        try:
            tty = stream.isatty()
        except Exception:  # noqa: BLE001 - as click.utils.isatty
            tty = False
        if not tty:
            import re

            text = re.sub(r"\033\[[0-?]*[ -/]*[@-~]", "", text)  # click._compat._ansi_re
    if text:
        stream.write(text)
    stream.flush()


def error_text(exc: "ItsmError", json_errors: bool, lang: str) -> str:
    """An error as the CLI reports it on stderr (a line, with its newline)."""
    if json_errors:
        import json

        return json.dumps(exc.to_dict(), ensure_ascii=False) + "\n"
    return f"itsm: {exc.text(lang)}\n"


def internal_error_text(exc: BaseException, lang: str) -> str:
    """A bug's short message (the traceback comes with --debug)."""
    from engine.i18n import tr

    error = f"{type(exc).__name__}: {exc}"
    return "itsm: " + tr("internal error: {error} (run with --debug for the traceback)", lang, error=error) + "\n"


def interrupted_text(lang: str) -> str:
    from engine.i18n import tr

    return "itsm: " + tr("interrupted", lang) + "\n"


def parse_sets(sets: "tuple[str, ...] | list[str]") -> "dict[str, str]":
    from engine.errors import UsageError
    from engine.i18n import N_

    out: dict[str, str] = {}
    for item in sets:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(N_("--set {item!r}: write FIELD=VALUE, e.g. --set group=desktop_support"),
                             values={"item": item})
        out[name.strip()] = value
    return out


def desk_url(url: str | None, db: str | None, home: str | None, agent_command: bool) -> str | None:
    """The desk server the command goes to (remote mode), or None (direct mode, on
    the database): ``--url`` / ``ITSM_URL``, else ``url`` in itsm.toml for an
    agent command unless a database is named (``--db`` / ``ITSM_DATABASE_URL``)."""
    if not url and not db and agent_command:
        from engine.definitions.home import find_home  # the standard library only
        from engine.settings import Settings

        url = Settings.load(find_home(home)).url
    if url:
        from engine.remote.client import normalize_url

        url = normalize_url(url)
    return url or None


def remote_api(url: str, user: str | None, now: str | None, lang: str) -> "Any":
    """The desk server at ``url`` with the token of ``ITSM_TOKEN`` or of ``itsm login``."""
    from engine.errors import UsageError
    from engine.i18n import N_
    from engine.remote.client import RemoteApi

    if user is not None and user.strip().lower() == "system":
        raise UsageError(N_("--as system: the engine's own identity cannot be used on a desk server"))
    kept = None
    if not os.environ.get("ITSM_TOKEN"):
        from engine.remote import tokens

        kept = tokens.get(url)
    token = os.environ.get("ITSM_TOKEN") or (kept or {}).get("token")
    return RemoteApi(url, token, user, now, lang, token_user=(kept or {}).get("user"))


def done_text(ticket: "dict[str, Any]", action_label: str, lang: str) -> str:
    """What ``itsm do`` prints for a performed action (``action_label``: the
    action's label in ``lang``, its id in English)."""
    from engine.i18n import CASCADE_RESULTS, REFUSALS, retell, t, tr

    lines = [t("done", lang, key=ticket["key"], action=action_label, state=ticket["state_label"])]
    if ticket.get("opened"):
        lines.append(tr("opened {opened}, {key} linked to it ({relation})", lang, opened=ticket["opened"],
                        key=ticket["key"], relation=ticket.get("relation")))
    if ticket.get("joined"):
        lines.append(tr("joined {key}, already open for this service", lang, key=ticket["joined"]))
    if ticket.get("major_incident"):
        lines.append(tr("major-incident criteria matched: linked to {key}", lang, key=ticket["major_incident"]))
    lines += ["  " + tr("linked {line}", lang, line=retell(line, lang, CASCADE_RESULTS, nested={"reason": REFUSALS}))
              for line in ticket.get("cascade") or []]
    return "\n".join(lines) + "\n"


def comment_text(event: "dict[str, Any]", key: str, lang: str) -> str:
    """What ``itsm comment`` prints for a note added."""
    from engine.i18n import tr

    return tr("{key}: note #{seq} added", lang, key=key.upper(), seq=event["seq"]) + "\n"


def definition_list(rows: "list[tuple[str, str]]", width: int, indent: int, wrap: "Any", measure: "Any" = len,
                    col_max: int = 30, col_spacing: int = 2) -> "list[str]":
    """click.HelpFormatter.write_dl's text (terms and their help in two columns),
    without click: ``wrap(text, columns)`` fills a help to its lines, ``measure``
    counts a term's columns (Chinese characters take two).  The fast path's root
    help (entry.py) and the translated help (commands/helptext.py) both use it."""
    first_col = min(max((measure(term) for term, _ in rows), default=0), col_max) + col_spacing
    pad = " " * (first_col + indent)
    out: list[str] = []
    for term, text in rows:
        out.append(" " * indent + term)
        if not text:
            out.append("\n")
            continue
        if measure(term) <= first_col - col_spacing:
            out.append(" " * (first_col - measure(term)))
        else:
            out += ["\n", pad]
        lines = wrap(text, max(width - first_col - 2, 10))
        out.append((lines[0] if lines else "") + "\n")
        out += [pad + line + "\n" for line in lines[1:]]
    return out

