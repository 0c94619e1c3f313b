"""The open deployment every desk module works in: :class:`Desk`.

One object, made by the facade (engine.api) when a command opens the desk and
passed down to the desk's modules as their first argument: the process
repository and its definitions, the deployment settings, the database (opened
on first use), the clock (``--now`` or the wall clock), who is acting, the
language and display time zone, and how a ticket is shown.  The modules never
see the facade, and the facade adds nothing to what they do.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from datetime import datetime, timezone, tzinfo
from functools import cached_property
from pathlib import Path
from typing import Any

from engine.definitions.home import bundled_home
from engine.i18n import N_
from engine.errors import ActionRefused, NotFound, UsageError
from engine.journal import KeyRing, load_ring
from engine.limits import TIME_RANGE
from engine.model import Definitions, ProcessSpec
from engine.runtime.actions import SYSTEM, Actor
from engine.runtime.ticket import Ticket
from engine.settings import Settings, state_dir
from engine.desk.views import display_tz, ticket_view


# Where the writes of this request or command come from, journaled with each event
# a person makes (engine.desk.writes.event): {"os_user", "host"} in direct mode
# (the CLI on the database), {"key", "by"} over the API ("by": the person who
# acts on behalf of the actor, X-Itsm-As).  A ContextVar: ``itsm serve`` answers
# requests in threads, each with its own copy.
ORIGIN: ContextVar[dict[str, Any] | None] = ContextVar("itsm_origin", default=None)


def wall() -> datetime:
    """The wall clock (UTC), when no --now is given."""
    return datetime.now(timezone.utc)


NOW_RANGE = TIME_RANGE  # --now: the times itsm computes with (engine.limits)

ISO_MEMO = 4096  # times Desk.iso remembers (the memo starts afresh when full)


def parse_now(text: str | None) -> datetime | None:
    """``--now`` / ``$ITSM_NOW``: an ISO 8601 time with its UTC offset, in the
    years 1900 to 8999 (:data:`NOW_RANGE`)."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(N_("--now: {text!r} is not an ISO 8601 time (e.g. 2026-03-02T09:00:00+08:00)"),
                         values={"text": text}) from None
    if value.tzinfo is None:
        raise UsageError(N_("--now: {text!r} needs a UTC offset (e.g. +08:00)"), values={"text": text})
    if not NOW_RANGE[0] <= value < NOW_RANGE[1]:
        raise UsageError(N_("--now: {text!r} is out of range: itsm computes with times from the year {year} "
                            "to {value}"),
                         values={"text": text, "year": NOW_RANGE[0].year, "value": NOW_RANGE[1].year - 1})
    return value


class Desk:
    """The open deployment: definitions, settings, store, clock, actor, views."""

    def __init__(self, home: Path, definitions: Definitions, settings: Settings,
                 db: str | None, user: str | None, now: datetime | None, lang: str) -> None:
        self.home = home
        self.defs = definitions
        self.settings = settings
        self.db = db
        self.user = user or settings.user
        self.fixed_now = now  # --now; None: the wall clock
        self.lang = lang
        self.tz = display_tz(settings.timezone, definitions)
        self.stored_versions: set[str] = set()  # definition versions seen in the database
        self._write_ring: KeyRing | None = None

    # -- the database ----------------------------------------------------------------
    @cached_property
    def state_dir(self) -> Path:
        """Where the deployment keeps its state by default: the SQLite database, the
        audit key (``.itsm/`` of a writable process repository, else the user data folder)."""
        return state_dir(self.home, self.home != bundled_home() and os.access(self.home, os.W_OK))

    @cached_property
    def db_url(self) -> str:
        if self.db:
            return self.db
        if self.settings.database_url:
            return self.settings.database_url
        return f"sqlite:///{self.state_dir / 'itsm.db'}"

    @cached_property
    def store(self) -> Any:
        from engine.store.repository import Store

        return Store(self.db_url, keys=self.write_keys)

    # -- the journal's keys ------------------------------------------------------------
    def keyring(self, create: bool = False) -> KeyRing | None:
        """The HMAC keys of the journal (engine.journal.load_ring): ITSM_AUDIT_KEY, the
        configured key file, else ``audit.key`` in the state folder, made on the first
        write when ``create``.  None when there is none (and none was made)."""
        audit = self.settings.audit
        return load_ring(audit.hmac_key, Path(audit.key_file) if audit.key_file else None,
                         self.state_dir / "audit.key", create)

    def write_keys(self) -> KeyRing:
        """The keys events are written with: loaded once for this open desk (a
        long-running ``itsm serve`` or ``batch`` takes a new key when restarted)."""
        if self._write_ring is None:
            self._write_ring = self.keyring(create=True)
        assert self._write_ring is not None  # create=True makes one or raises
        return self._write_ring

    # -- the clock -------------------------------------------------------------------
    def now(self) -> datetime:
        return self.fixed_now or wall()

    # -- definitions -----------------------------------------------------------------
    def process(self, pid: str) -> ProcessSpec:
        spec = self.defs.processes.get(pid)
        if spec is None:
            raise NotFound(N_("no process '{process}'; known: {known}"),
                           values={"process": pid, "known": ", ".join(self.defs.processes)})
        return spec

    def spec_for(self, ticket: Ticket) -> ProcessSpec:
        """The process of ``ticket``, refusing a state its definition no longer has."""
        spec = self.process(ticket.process)
        if ticket.state not in spec.states:
            raise ActionRefused(N_("{key} is in state '{state}', which process '{id}' no longer has: move it "
                                   "with 'itsm migrate'"),
                                values={"key": ticket.key, "state": ticket.state, "id": spec.id})
        return spec

    def register(self, repo: Any, spec: ProcessSpec) -> str:
        """The stored version of ``spec``'s definition, recorded on first use.  A
        version seen committed is remembered (rows of definition_versions are
        never deleted); one inserted now is checked again next time, in case this
        transaction rolls back."""
        version = self.defs.version(spec.id)
        if version in self.stored_versions:
            return version
        path = self.home / "processes" / f"{spec.id}.yaml"
        source = {"process": path.read_text(encoding="utf-8") if path.exists() else "",
                  "codes": {tid: t.sha256 for tid, t in self.defs.codes.items()}}
        if repo.ensure_definition_version(version, spec.id, spec.version, source, self.now()):
            self.stored_versions.add(version)
        return version

    # -- who is acting ---------------------------------------------------------------
    def actor(self, repo: Any, ident: str | None = None) -> Actor:
        ident = ident or self.user  # the CLI refuses --as system (commands/common.py)
        if not ident:
            raise UsageError(N_("who is acting? give --as USER or set ITSM_USER"))
        if ident == "system":
            return SYSTEM
        person = repo.find_person(ident)
        if person is None:
            if "@" in ident:  # an end user known only by e-mail: may act as reporter
                return Actor(ident.lower(), ident.lower(), ident)
            raise NotFound(N_("no user '{user}' (see 'itsm user list')"), values={"user": ident})
        return Actor(person["id"], person["email"].lower(), person["name"],
                     frozenset(person["roles"]), frozenset(person["groups"]))

    # -- how things are shown --------------------------------------------------------
    @property
    def tz(self) -> tzinfo:
        """The display time zone (engine.desk.views.display_tz)."""
        return self._tz

    @tz.setter
    def tz(self, zone: tzinfo) -> None:
        self._tz = zone
        self._shown: dict[datetime, str] = {}  # iso's memo (a copy of the desk in another zone: its own)

    def iso(self, t: Any) -> str | None:
        """A time as shown: ISO 8601 with its offset, in the display time zone (a
        naive time is UTC, as the database stores it)."""
        if not isinstance(t, datetime):
            return t if t else None
        shown = self._shown.get(t)  # a naive and an aware time are never equal: both may be kept
        if shown is None:
            if len(self._shown) >= ISO_MEMO:
                self._shown.clear()
            shown = self._shown[t] = (t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t
                                      ).astimezone(self._tz).isoformat(timespec="seconds")
        return shown

    def view(self, ticket: Ticket) -> dict[str, Any]:
        """The staff view of a ticket (``itsm show``)."""
        return ticket_view(self.defs, ticket, self.lang, self.iso)
