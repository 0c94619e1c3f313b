"""The root ``itsm`` group: global options, the mapping of every error to the
exit codes of the CLI contract, and the output helpers the commands share."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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



def output_options(listing: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--json (and --csv for listings) on every row-printing command."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if listing:
            fn = click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")(fn)
        fn = click.option("--json", "as_json", is_flag=True,
                          help="Print JSON on stdout (errors as JSON on stderr).")(fn)
        return fn

    return decorate


def json_mode(state: State, as_json: bool) -> None:
    state.json_errors = as_json


def emit(state: State, data: Any, as_json: bool, text: Callable[[], str],
          as_csv: bool = False, csv_text: Callable[[], str] | None = None) -> None:
    from engine import render

    if as_json:
        click.echo(render.to_json(data), nl=False)
    elif as_csv and csv_text is not None:
        click.echo(csv_text(), nl=False)
    else:
        click.echo(text(), nl=False)


def parse_sets(sets: tuple[str, ...]) -> dict[str, str]:
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


def ticket_columns(lang: str) -> list[Any]:
    from engine.i18n import t

    return [("key", t("key", lang), lambda r: r["key"]),
            ("state", t("state", lang), lambda r: r["state_label"]),
            ("priority", t("priority", lang), lambda r: r["priority"]),
            ("title", t("title", lang), lambda r: r["title"]),
            ("assignee", t("assignee", lang), lambda r: r["assignee"]),
            ("group", t("group", lang), lambda r: r["group"]),
            ("service", t("service", lang), lambda r: r["service"]),
            ("due", t("due", lang), lambda r: next_due(r)),
            ("updated", t("updated", lang), lambda r: (r["updated_at"] or "")[:16])]


def next_due(ticket: dict[str, Any]) -> str:
    clocks = [c for c in (ticket.get("sla") or {}).values()
              if c.get("state") in ("running", "paused") and c.get("due")]
    if not clocks:
        return ""
    c = min(clocks, key=lambda c: c["due"])
    return c["due"][:16] + (" !" if c.get("breached") else "")


def show_text(state: State, ticket: dict[str, Any]) -> str:
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
                                    f"{t('elapsed', lang)} {hm(c.get('elapsed_seconds'))} "
                                    f"{t('of', lang)} {hm(c.get('target_seconds'))}"))
    if ticket.get("opened"):
        items.append((t("opened", lang), ticket["opened"]))
    return head + render.pairs(items)


def hm(seconds: Any) -> str:
    if seconds is None:
        return "-"
    minutes = int(seconds) // 60
    return f"{minutes // 60}h{minutes % 60:02d}m"
