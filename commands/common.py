"""What the command modules share: the state the root group (cli.py) opens,
the output options every row-printing command takes, the text of a ticket,
and :func:`command` / :func:`group`, which declare a command for cli.py to add
to the root group (so no command module imports cli.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import click

COMMANDS: list[click.Command] = []  # every command declared here, in declaration order
# the agent commands, which go through a desk server in remote mode (issue #18)
REMOTE_COMMANDS = frozenset({"new", "do", "comment", "link", "show", "history", "actions", "list", "search",
                             "similar", "status", "major", "report", "batch", "whoami", "logout", "login"})


def command(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """``click.command``, and cli.py adds the command to ``itsm``."""
    def decorate(fn: Callable[..., Any]) -> click.Command:
        made = click.command(*args, **kwargs)(fn)
        COMMANDS.append(made)
        return made

    return decorate


def group(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Group]:
    """``click.group``, and cli.py adds the group to ``itsm``."""
    def decorate(fn: Callable[..., Any]) -> click.Group:
        made = click.group(*args, **kwargs)(fn)
        COMMANDS.append(made)
        return made

    return decorate


@dataclass
class State:
    home: str | None = None
    db: str | None = None
    url: str | None = None  # --url / ITSM_URL: a desk server
    user: str | None = None
    now: str | None = None
    lang: str = "en"
    debug: bool = False
    json_errors: bool = False
    _api: Any = field(default=None, repr=False)

    _remote_url: Any = field(default=False, repr=False)  # False: not looked up yet

    def remote_url(self) -> str | None:
        """The desk server the agent commands go to (remote mode), or None (direct
        mode, on the database): ``--url`` / ``ITSM_URL``, else ``url`` in itsm.toml
        for an agent command unless a database is named (``--db`` /
        ``ITSM_DATABASE_URL``).  The other commands (tick, user, audit...) have no
        remote mode: itsm.toml's ``url`` leaves them on the database, and an
        explicit ``--url`` makes them say so."""
        if self._remote_url is False:
            url = self.url
            if not url and not self.db and _agent_command():
                from engine.definitions.home import find_home  # the standard library only
                from engine.settings import Settings

                url = Settings.load(find_home(self.home)).url
            if url:
                from engine.remote.client import normalize_url

                url = normalize_url(url)
            self._remote_url = url or None
        return self._remote_url  # type: ignore[no-any-return]

    @property
    def remote(self) -> bool:
        return self.remote_url() is not None

    def api(self) -> Any:
        """The engine facade, opened on first use; in remote mode the desk
        server's API with the same methods (engine.remote.client.RemoteApi)."""
        if self._api is None:
            url = self.remote_url()
            if url is not None:
                self._api = remote_api(url, self.user, self.now, self.lang)
            else:
                from engine.api import Api
                from engine.errors import ActionRefused

                if self.user and self.user.strip().lower() == "system":
                    raise ActionRefused("'system' is the engine's own actor (timers, cascades) and cannot "
                                        "be claimed with --as or ITSM_USER", allowed_roles=["system"])

                self._api = Api.open(home=self.home, db=self.db, user=self.user, now=self.now,
                                     lang=self.lang)
                self._api.direct_mode()  # the CLI on the database: the operator's mode
        return self._api


def _agent_command() -> bool:
    ctx = click.get_current_context(silent=True)
    names = ctx.command_path.split()[1:2] if ctx is not None else []
    return bool(names) and names[0] in REMOTE_COMMANDS


def remote_api(url: str, user: str | None, now: str | None, lang: str) -> Any:
    """The desk server at ``url`` with the token of ``ITSM_TOKEN`` or of ``itsm login``."""
    import os

    from engine.errors import UsageError
    from engine.remote import tokens
    from engine.remote.client import RemoteApi

    if user is not None and user.strip().lower() == "system":
        raise UsageError("--as system: the engine's own identity cannot be used on a desk server")
    kept = None if os.environ.get("ITSM_TOKEN") else tokens.get(url)
    token = os.environ.get("ITSM_TOKEN") or (kept or {}).get("token")
    return RemoteApi(url, token, user, now, lang, token_user=(kept or {}).get("user"))


pass_state = click.make_pass_decorator(State)


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
    from engine import render
    from engine.i18n import t

    return [("key", t("key", lang), lambda r: r["key"]),
            ("state", t("state", lang), lambda r: r["state_label"]),
            ("priority", t("priority", lang), lambda r: r["priority"]),
            ("title", t("title", lang), lambda r: r["title"]),
            ("assignee", t("assignee", lang), lambda r: r["assignee"]),
            ("group", t("group", lang), lambda r: r["group"]),
            ("service", t("service", lang), lambda r: r["service"]),
            ("due", t("due", lang), lambda r: next_due(r)),
            ("updated", t("updated", lang), lambda r: render.when(r["updated_at"]))]


def next_due(ticket: dict[str, Any]) -> str:
    clocks = [c for c in (ticket.get("sla") or {}).values()
              if c.get("state") in ("running", "paused") and c.get("due")]
    if not clocks:
        return ""
    from engine import render

    c = min(clocks, key=lambda c: render.instant(c["due"]))
    return render.when(c["due"]) + (" !" if c.get("breached") else "")


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
        (t("created", lang), render.when(ticket["created_at"])),
        (t("updated", lang), render.when(ticket["updated_at"])),
    ]
    labels = ticket.get("field_labels") or {}
    items += [(labels.get(k, k), v) for k, v in ticket["fields"].items()]
    for cid, c in (ticket.get("sla") or {}).items():
        if c.get("state") == "not_started":
            continue
        verdict = (t("met", lang) if c.get("met") else t("breached", lang)) if c.get("met") is not None \
            else (t("breached", lang) if c.get("breached") else t("paused" if c.get("paused") else "running", lang))
        items.append((f"SLA {cid}", f"{verdict}; {t('due_inline', lang)} {render.when(c.get('due')) or '-'}; "
                                    f"{t('elapsed', lang)} {hm(c.get('elapsed_seconds'))} "
                                    f"{t('of', lang)} {hm(c.get('target_seconds'))}"))
    if ticket.get("opened"):
        items.append((t("opened", lang), ticket["opened"]))
    items += [(m["kind_label"], f"{m['title']}  {m['url']}") for m in ticket.get("manuals") or ()]
    for link in ticket.get("links") or []:  # itsm show: typed links, both ways
        items.append((link["label"], f"{link['target']} ({link['relation']})"))
    for link in ticket.get("linked") or []:
        items.append((link["label"], f"{link['key']} ({link['relation']}, {link['category']})"))
    for f in ticket.get("attachments") or ():
        items.append((t("attachment", lang), f"#{f['id']} {f['filename']} ({f['size']} B, {f['content_type']}"
                                            f"{'' if f['public'] else ', internal'}) sha256 {f['sha256'][:12]}…"))
    return head + render.pairs(items)


def hm(seconds: Any) -> str:
    if seconds is None:
        return "-"
    minutes = int(seconds) // 60
    return f"{minutes // 60}h{minutes % 60:02d}m"
