"""What the command modules share: the state the root group (cli.py) opens,
the output options every row-printing command takes, the text of a ticket,
and :func:`command` / :func:`group`, which declare a command for cli.py to add
to the root group (so no command module imports cli.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import click
from engine.i18n import N_

from commands.plain import desk_url, parse_sets, remote_api  # noqa: F401 - click-free, shared with entry.py

COMMANDS: list[click.Command] = []  # every command declared here, in declaration order
# the agent commands, which go through a desk server in remote mode (issue #18)
REMOTE_COMMANDS = frozenset({"new", "do", "comment", "link", "show", "history", "actions", "list", "search",
                             "similar", "status", "major", "report", "batch", "whoami", "logout", "login"})


HELP_LANG = ["en"]  # the language of --help and usage errors: --lang / ITSM_LANG (commands.helptext.speaking)
JSON_USAGE = "itsm.json_usage"  # ctx.meta: --json on the command line; click's usage errors are JSON (cli.py)


def json_requested(args: "list[str]") -> bool:
    """``--json`` anywhere on the command line (before a ``--``), whichever command
    it belongs to: click's usage errors are then a JSON object, in English, as
    itsm's own errors with --json."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def translating(formatter: click.HelpFormatter) -> click.HelpFormatter:
    """``formatter``, or in a language other than English one that translates (commands.helptext)."""
    if HELP_LANG[0] == "en":
        return formatter
    from commands.helptext import Formatter

    return Formatter(HELP_LANG[0], width=formatter.width)


class Context(click.Context):
    def make_formatter(self) -> click.HelpFormatter:
        return translating(super().make_formatter())


def utf8_text(ctx: click.Context, params: "list[click.Parameter]", skip: "tuple[str, ...]" = ()) -> None:
    """Refuse text arguments and options that are not UTF-8 (bytes a GBK terminal sent
    under a UTF-8 locale reach Python as lone surrogates, which no database stores):
    a usage error naming the option.  Paths (click.Path, click.File, ``skip``) may be
    any bytes the file system allows."""
    from engine.errors import UsageError

    for param in params:
        if param.name is None or param.name in skip or not isinstance(param.type, click.types.StringParamType):
            continue
        value = ctx.params.get(param.name)
        for text in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(text, str) and any("\ud800" <= c <= "\udfff" for c in text):
                name = param.opts[-1] if isinstance(param, click.Option) else param.human_readable_name
                raise UsageError(N_("{option}: not UTF-8 text"), values={"option": name})


class Command(click.Command):
    """A command whose help speaks the language of the run (HELP_LANG); its text
    arguments and options are UTF-8 (:func:`utf8_text`; ``paths``: those that name files)."""

    context_class = Context

    def __init__(self, *args: Any, paths: "tuple[str, ...]" = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.paths = paths

    def invoke(self, ctx: click.Context) -> Any:
        utf8_text(ctx, self.params, self.paths)
        return super().invoke(ctx)

    def get_short_help_str(self, limit: int = 45) -> str:
        if HELP_LANG[0] == "en" or self.short_help:
            return super().get_short_help_str(limit)
        from commands.helptext import short_help

        return short_help(self.help or "", limit, HELP_LANG[0])

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.BadParameter as exc:
            if HELP_LANG[0] != "en" and not ctx.meta.get(JSON_USAGE):  # --json: click's English
                from commands.helptext import translate_bad_parameter

                translate_bad_parameter(exc, ctx, HELP_LANG[0])
            raise


class Group(click.Group, Command):
    command_class = Command
    group_class = type  # its subgroups are of this class too


def command(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """``click.command``, and cli.py adds the command to ``itsm``."""
    kwargs.setdefault("cls", Command)

    def decorate(fn: Callable[..., Any]) -> click.Command:
        made = click.command(*args, **kwargs)(fn)
        COMMANDS.append(made)
        return made

    return decorate


def group(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Group]:
    """``click.group``, and cli.py adds the group to ``itsm``."""
    kwargs.setdefault("cls", Group)

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
    lang_chosen: bool = False  # --lang or ITSM_LANG; else the acting person's own language
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
            self._remote_url = desk_url(self.url, self.db, self.home, _agent_command())
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
                from engine.errors import UsageError

                if self.user and self.user.strip().lower() == "system":  # exit 2, as in remote mode and batch
                    raise UsageError(N_("'system' is the engine's own actor (timers, cascades) and cannot "
                                        "be claimed with --as or ITSM_USER"))

                self._api = Api.open(home=self.home, db=self.db, user=self.user, now=self.now,
                                     lang=self.lang)
                self._api.direct_mode()  # the CLI on the database: the operator's mode
                if not self.lang_chosen and self.user:
                    self._person_language()
        return self._api

    def _person_language(self) -> None:
        """No --lang, no ITSM_LANG: speak the acting person's own language (people.lang)."""
        from engine.i18n import choose

        try:
            person_lang = self._api.user(self.user).get("lang")
        except Exception:  # noqa: BLE001 - unknown person, no database yet: English, the command reports
            return
        lang = choose(None, person_lang)
        if lang != self.lang:
            self.lang = lang
            self._api = self._api.in_language(lang)


def _agent_command() -> bool:
    ctx = click.get_current_context(silent=True)
    names = ctx.command_path.split()[1:2] if ctx is not None else []
    return bool(names) and names[0] in REMOTE_COMMANDS


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


set_option = click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
                          help="Give a field value (repeatable).")
note_option = click.option("--note", metavar="TEXT", help="A note for the journal (the reason, a message).")


def heads(cols: list[Any], lang: str) -> list[Any]:
    """Columns with their headings (marked with N_) in ``lang``."""
    from engine.i18n import tr

    return [(c[0], tr(c[1], lang), *c[2:]) for c in cols]


def ticket_columns(lang: str, labels: "Labels | None" = None) -> list[Any]:
    from engine import render
    from engine.i18n import t

    def code(name: str) -> Callable[[dict[str, Any]], Any]:
        return lambda r: labels.core(name, r[name]) if labels is not None else r[name]

    return [("key", t("key", lang), lambda r: r["key"]),
            ("state", t("state", lang), lambda r: r["state_label"]),
            ("priority", t("priority", lang), code("priority")),
            ("title", t("title", lang), lambda r: r["title"]),
            ("assignee", t("assignee", lang), lambda r: r["assignee"]),
            ("group", t("group", lang), code("group")),
            ("service", t("service", lang), code("service")),
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


CORE_CODES = {"urgency": "urgency", "impact": "impact", "priority": "priority", "service": "services",
              "classification": "categories", "category": "categories", "group": "groups"}


class Labels:
    """Code values, states, actions and SLA clocks by the labels of the definitions
    (in a language other than English; raw ids stay in ``--json`` and in English text)."""

    def __init__(self, state: State, process: str | None = None, defs: Any = None) -> None:
        self.lang = state.lang
        # in remote mode (--url) the desk server's API has no definitions here: raw ids
        self.defs = (defs or getattr(state.api(), "defs", None)) if self.lang != "en" else None
        self.spec = self.defs.processes.get(process) if self.defs is not None and process else None

    def process(self, process: str | None) -> "Labels":
        other = Labels.__new__(Labels)
        other.lang, other.defs = self.lang, self.defs
        other.spec = self.defs.processes.get(process) if self.defs is not None and process else None
        return other

    def code(self, table: str | None, value: Any) -> Any:
        if self.defs is None or value is None or value == "" or not table:
            return value
        codes = self.defs.codes.get(table)
        return codes.label(str(value), self.lang) if codes is not None else value

    def core(self, name: str, value: Any) -> Any:
        return self.code(CORE_CODES.get(name), value)

    def field(self, name: str, value: Any) -> Any:
        from engine.i18n import t

        if self.defs is None:
            return value
        spec = self.spec.fields.get(name) if self.spec is not None else None
        if isinstance(value, bool) or (spec is not None and spec.type == "bool" and value in ("true", "false")):
            return t("yes" if value in (True, "true") else "no", self.lang)
        if spec is not None and spec.type == "code":
            return self.code(spec.codes, value)
        if name == "criterion" and isinstance(value, str) and self.spec is not None and self.spec.criteria:
            from engine.i18n import relabel_criteria  # the criteria a major incident matched, by their labels

            return relabel_criteria(value, self.lang, {c.id: {"en": c.label.get("en"), "zh": c.label.get("zh")}
                                                       for c in self.spec.criteria})
        return self.core(name, value)

    def state(self, sid: Any) -> Any:
        found = self.spec.states.get(sid) if self.spec is not None and sid else None
        return found.label.get(self.lang) if found is not None else sid

    def action(self, aid: str) -> str:
        from engine.i18n import EVENT_WORDS, t

        found = self.spec.actions.get(aid) if self.spec is not None else None
        if found is not None:
            return found.label.get(self.lang)
        if self.defs is not None and aid in EVENT_WORDS:
            return t(EVENT_WORDS[aid], self.lang)
        return aid

    def clock(self, cid: str) -> str:
        from engine.i18n import tr

        found = next((c for c in self.spec.clocks if c.id == cid), None) if self.spec is not None else None
        name = found.label.get(self.lang) if found is not None and self.defs is not None else cid
        return tr("SLA {clock}", self.lang, clock=name)




def show_text(state: State, ticket: dict[str, Any]) -> str:
    from engine import render
    from engine.i18n import t

    lang = state.lang
    lab = Labels(state, ticket["process"])
    en = lang == "en"
    head = f"{ticket['key']}  {ticket['title']}\n"
    items: list[tuple[str, Any]] = [
        (t("process", lang), ticket["process"] if en or lab.spec is None else lab.spec.title.get(lang)),
        (t("state", lang), f"{ticket['state_label']} ({ticket['state']})" if en else ticket["state_label"]),
        (t("priority", lang), (lab.core("priority", ticket["priority"]) or "")
         + (f" ({t('override_label', lang)})" if ticket["priority_overridden"] else "")),
        (t("urgency_impact", lang), f"{lab.core('urgency', ticket['urgency']) or '-'} / "
                                    f"{lab.core('impact', ticket['impact']) or '-'}"),
        (t("service", lang), lab.core("service", ticket["service"])),
        (t("classification", lang), lab.core("classification", ticket["classification"])),
        (t("reporter", lang), ticket["reporter"]), (t("group", lang), lab.core("group", ticket["group"])),
        (t("assignee", lang), ticket["assignee"]), (t("parent", lang), ticket["parent"]),
        (t("created", lang), render.when(ticket["created_at"])),
        (t("updated", lang), render.when(ticket["updated_at"])),
    ]
    labels = ticket.get("field_labels") or {}
    items += [(labels.get(k, k), lab.field(k, v)) for k, v in ticket["fields"].items()]
    for cid, c in (ticket.get("sla") or {}).items():
        if c.get("state") == "not_started":
            continue
        verdict = (t("met", lang) if c.get("met") else t("breached", lang)) if c.get("met") is not None \
            else (t("breached", lang) if c.get("breached") else t("paused" if c.get("paused") else "running", lang))
        items.append((f"SLA {cid}" if en else lab.clock(cid),
                      f"{verdict}; {t('due_inline', lang)} {render.when(c.get('due')) or '-'}; "
                      f"{t('elapsed', lang)} {hm(c.get('elapsed_seconds'))} "
                      f"{t('of', lang)} {hm(c.get('target_seconds'))}"))
    if ticket.get("opened"):
        items.append((t("opened", lang), ticket["opened"]))
    items += [(m["kind_label"], f"{m['title']}  {m['url']}") for m in ticket.get("manuals") or ()]
    for link in ticket.get("links") or []:  # itsm show: typed links, both ways
        items.append((link["label"], f"{link['target']} ({link['relation']})" if en else link["target"]))
    for link in ticket.get("linked") or []:
        items.append((link["label"], f"{link['key']} ({link['relation']}, {link['category']})"
                      if en else link["key"]))
    for f in ticket.get("attachments") or ():
        items.append((t("attachment", lang), f"#{f['id']} {f['filename']} ({f['size']} B, {f['content_type']}"
                                            f"{'' if f['public'] else ', ' + t('internal', lang)}) "
                                            f"sha256 {f['sha256'][:12]}…"))
    return head + render.pairs(items)


def hm(seconds: Any) -> str:
    if seconds is None:
        return "-"
    minutes = int(seconds) // 60
    return f"{minutes // 60}h{minutes % 60:02d}m"
