"""The facade of itsm: what the CLI and the web layer call.

It opens the deployment (process repository, definitions, settings, database,
clock, who is acting) as one :class:`engine.desk.context.Desk` and composes the
desk's modules, each of which takes that desk as its first argument:

- engine.desk.tickets: the ticket commands (new, do, comment, link, show, history...);
- engine.desk.workflow and engine.desk.writes: actions, intake, journal events and
  due work inside a transaction;
- engine.desk.ticking: ``itsm tick``; engine.desk.operations: the outbox, due
  reports, audit, the schema;
- engine.desk.people, major, search, portal, apikeys; engine.alerts.groups.

Every write is one transaction: lock the ticket, check and perform the action
(engine.runtime), recompute the SLA clocks from the journal (engine.clock.sla),
update the row with a version check, append the hash-chained journal event.
The facade adds nothing to what those modules do.

May import: ground, definitions, workspace, desk, alerts, reports.
"""

from __future__ import annotations

import copy
import gc
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from engine.definitions.home import find_home
from engine.desk import (apikeys, attachments, forms, links, major, operations, passwords, people,
                         permissions, portal, search, ticking, tickets)
from engine.desk.context import ORIGIN, Desk, parse_now
from engine.errors import ActionRefused
from engine.model import Definitions, ProcessSpec
from engine.settings import Settings
from engine.workspace import load_definitions

__all__ = ["Api", "parse_now", "verify_export"]

_FROZEN = False


def mail_words() -> tuple[Mapping[str, str], tuple[str, ...], Mapping[str, str]]:
    """What a mail did (outcome -> English msgid), the shapes of its ``detail``
    (msgids for engine.i18n.retell) and what it was (kind -> English msgid):
    engine.desk.mailgate."""
    from engine.desk import mailgate  # mail parsing: not imported by commands without mail

    return mailgate.OUTCOMES, mailgate.DETAILS, mailgate.KINDS


def delivery_errors() -> tuple[str, ...]:
    """The shapes of why a send failed (msgids for engine.i18n.retell)."""
    return operations.delivery_errors()


def verify_export(path: str, public_key: str, checkpoints: str | None = None) -> dict[str, Any]:
    """Verify an exported journal offline: no database, no HMAC key, only the
    public key (engine.desk.export)."""
    from engine.desk.export import verify_export as check

    return check(path, public_key, checkpoints)


def _freeze_once() -> None:
    """The modules and definitions loaded by the first Api of a process live as long
    as the process: take them out of the cyclic collector's scans, which otherwise
    walk them again and again in a long run (itsm batch, serve, tick: 4% of an
    action).  Once: freezing again would also keep whatever garbage is around."""
    global _FROZEN
    if not _FROZEN:
        _FROZEN = True
        gc.freeze()


class Api:
    def __init__(self, home: Path, definitions: Definitions, settings: Settings,
                 db: str | None, user: str | None, now: datetime | None, lang: str) -> None:
        self.desk = Desk(home, definitions, settings, db, user, now, lang)

    @classmethod
    def open(cls, home: str | None = None, db: str | None = None, user: str | None = None,
             now: str | None = None, lang: str = "en") -> "Api":
        root = find_home(home)
        api = cls(root, load_definitions(root), Settings.load(root), db, user, parse_now(now), lang)
        _freeze_once()
        return api

    def in_language(self, lang: str) -> "Api":
        """The same open deployment (and database) speaking ``lang``."""
        clone = copy.copy(self)
        clone.desk = copy.copy(self.desk)
        clone.desk.lang = lang
        return clone

    def at(self, now: str) -> "Api":
        """The same open deployment (and database) with its clock at ``now`` (the
        ``--now`` of a remote client, where the server lets clients set the time)."""
        clone = copy.copy(self)
        clone.desk = copy.copy(self.desk)
        clone.desk.fixed_now = parse_now(now)  # the display zone stays the desk's: no clock changes it
        return clone

    # -- the open deployment (engine.desk.context) ----------------------------------------
    @property
    def home(self) -> Path:
        return self.desk.home

    @property
    def defs(self) -> Definitions:
        return self.desk.defs

    @property
    def settings(self) -> Settings:
        return self.desk.settings

    @property
    def lang(self) -> str:
        return self.desk.lang

    @property
    def tz(self) -> Any:
        return self.desk.tz

    @property
    def db_url(self) -> str:
        return self.desk.db_url

    @property
    def store(self) -> Any:
        return self.desk.store

    def now(self) -> datetime:
        return self.desk.now()

    def process(self, pid: str) -> ProcessSpec:
        return self.desk.process(pid)

    # -- who is acting, and from where (engine.desk.context.ORIGIN) ---------------------------
    def direct_mode(self) -> None:
        """This is a CLI command on the database (the operator's mode): its writes are
        journaled with the OS login and host next to the acting person (``--as``)."""
        import getpass
        import socket

        try:
            login = getpass.getuser()
        except Exception:  # no login name in the environment or the password database
            login = "unknown"
        ORIGIN.set({"mode": "direct", "os_user": login[:64], "host": socket.gethostname()[:255]})

    def serving(self) -> None:
        """This process answers web requests (``itsm serve``): not direct mode; each
        request says where it comes from (:meth:`act_from`)."""
        ORIGIN.set(None)

    def act_from(self, origin: Mapping[str, Any] | None) -> None:
        """Journal the writes of this request (this context) with where they come
        from, e.g. {"mode": "api", "key": 3, "by": "wang.lei"}; None: nothing."""
        ORIGIN.set(dict(origin) if origin else None)

    # -- people (engine.desk.people) ---------------------------------------------------------
    def add_user(self, pid: str, name: str | None, email: str, phone: str | None,
                 roles: Sequence[str], groups: Sequence[str], site: str | None,
                 lang: str | None = None, actor_id: str | None = None) -> dict[str, Any]:
        """Register a person (the acting person needs the admin permission)."""
        return people.add_user(self.desk, pid, name, email, phone, roles, groups, site, lang, actor_id)

    def user(self, ident: str) -> dict[str, Any]:
        """One person (id, name, email, roles, groups, permissions...); NotFound otherwise."""
        return people.find_user(self.desk, ident)

    def caller(self, ident: str) -> dict[str, Any]:
        """A caller at the hotline: a person by id, e-mail or phone number; NotFound otherwise."""
        return people.find_caller(self.desk, ident)

    def make_admin(self, pid: str, email: str | None = None, name: str | None = None) -> dict[str, Any]:
        """The first admin (``itsm db upgrade --admin ID``)."""
        return people.make_admin(self.desk, pid, email, name)

    def set_password(self, user: str, password: str, actor_id: str | None = None) -> dict[str, Any]:
        """Set a password: one's own, or anyone's with the admin permission."""
        return passwords.set_password(self.desk, user, password, actor_id)

    def login(self, user: str, password: str) -> dict[str, Any]:
        """A personal token for a password: {token, user, expires_at}; InvalidApiKey otherwise."""
        return passwords.login(self.desk, user, password)

    def list_users(self) -> list[dict[str, Any]]:
        return people.list_users(self.desk)

    # -- intake ------------------------------------------------------------------------
    def new_ticket(self, process: str, values: Mapping[str, Any], note: str | None = None,
                   actor_id: str | None = None) -> dict[str, Any]:
        return tickets.new_ticket(self.desk, process, values, note, actor_id)

    def ingest_alerts(self, payload: Any, format: str = "auto",
                      source: str | None = None) -> dict[str, Any]:
        """Monitoring alerts (an Alertmanager webhook, or JSON events; text or
        decoded) -> one open incident per alert group (engine.alerts.groups).  Returns
        {alerts, groups, created, noted, counted, resolved_noted, ignored, failed,
        results}; a malformed payload raises engine.alerts.payload.PayloadError first."""
        from engine.alerts.groups import ingest

        return ingest(self.desk, payload, format, source)

    def alert_groups(self, ticket: str | None = None, open_only: bool = False,
                     limit: int = 1000) -> list[dict[str, Any]]:
        from engine.alerts.groups import alert_groups

        return alert_groups(self.desk, ticket, open_only, limit)

    # -- actions -----------------------------------------------------------------------
    def do(self, key: str, action: str, inputs: Mapping[str, Any], note: str | None = None,
           expect_version: int | None = None, actor_id: str | None = None) -> dict[str, Any]:
        return tickets.do(self.desk, key, action, inputs, note, expect_version, actor_id)

    def comment(self, key: str, text: str, public: bool = False,
                actor_id: str | None = None) -> dict[str, Any]:
        return tickets.comment(self.desk, key, text, public, actor_id)

    def link(self, key: str, target: str, relation: str | None = None,
             actor_id: str | None = None) -> dict[str, Any]:
        """Link ``key`` to ``target`` by a declared relation (default: the default
        relation between their processes; engine.desk.links)."""
        return links.link(self.desk, key, target, relation, actor_id)

    def unlink(self, key: str, target: str, relation: str | None = None,
               actor_id: str | None = None) -> dict[str, Any]:
        return links.link(self.desk, key, target, relation, actor_id, unlink=True)

    def tick(self, progress: Callable[[int, int], None] | None = None,
             budget: float | None = None) -> list[dict[str, Any]]:
        """Perform everything due at now: SLA thresholds, timers, reminders, in
        batches of engine.desk.ticking.TICK_BATCH tickets per transaction; each
        effect once, however many ticks run (engine.desk.ticking).  With a
        ``budget`` (seconds) no batch starts after it is spent: the rest stays
        due for the next tick."""
        return ticking.tick(self.desk, progress, budget)

    # -- reading -------------------------------------------------------------------------
    def show(self, key: str) -> dict[str, Any]:
        """The ticket, with its SLA clocks computed as of now."""
        return tickets.show(self.desk, key)

    def history(self, key: str, actor_id: str | None = None) -> list[dict[str, Any]]:
        """The journal; a major incident's includes its linked incidents' key events.
        For ``actor_id`` without the internal_notes permission: public events only."""
        return tickets.history(self.desk, key, actor_id)

    def actions(self, key: str, actor_id: str | None = None) -> list[dict[str, Any]]:
        return tickets.actions(self.desk, key, actor_id)

    def action_forms(self, key: str, actor_id: str | None = None) -> list[dict[str, Any]]:
        """The actions ``actor_id`` may take on ``key`` now, each with its fields
        (type, label, required, code table options): the console's forms (engine.desk.forms)."""
        return forms.action_forms(self.desk, key, actor_id)

    def note_kinds(self, key: str, actor_id: str | None = None) -> list[str]:
        """The notes ``actor_id`` may add to ``key`` (public, internal): the console's note form."""
        return forms.note_kinds(self.desk, key, actor_id)

    def intake_form(self, actor_id: str | None, process: str | None = None,
                    offering: str | None = None) -> dict[str, Any]:
        """The console's hotline intake form: the processes ``actor_id`` logs, the
        catalogue's offerings and the fields of the chosen one (engine.desk.forms)."""
        return forms.intake_form(self.desk, actor_id, process, offering)

    def labels(self) -> dict[str, Any]:
        """The definitions' labels a CLI in remote mode shows (engine.desk.forms)."""
        return forms.labels(self.desk)

    def event_labels(self, process: str) -> dict[str, dict[str, str]]:
        """The labels of a journal's actions and states (engine.desk.forms): the console's history."""
        return forms.event_labels(self.desk, process)

    def shown_fields(self, view: dict[str, Any]) -> list[dict[str, Any]]:
        """A ticket view's fields with their labels and their codes' labels (engine.desk.forms)."""
        return forms.shown_fields(self.desk, view)

    def code_options(self, table: str) -> list[dict[str, str]]:
        """The active entries of a code table: [{id, label}]."""
        return forms.code_options(self.desk, table)

    def priority_preview(self, impact: str | None, urgency: str | None) -> dict[str, Any] | None:
        """The priority the matrix gives ``impact`` and ``urgency`` ({id, label}), or None."""
        return forms.priority_preview(self.desk, impact, urgency)

    def list(self, breached: bool = False, at_risk: bool = False, **filters: Any) -> list[dict[str, Any]]:
        return tickets.list_tickets(self.desk, breached, at_risk, filters)

    def page(self, breached: bool = False, at_risk: bool = False,
             **filters: Any) -> tuple[int, list[dict[str, Any]]]:
        """(the count of tickets the filters select, one page of them: ``limit``
        and ``offset``, ``order`` a column of engine.store.repository.ORDER_BY)."""
        return tickets.page_tickets(self.desk, breached, at_risk, filters)

    def search(self, text: str, process: str | None = None, resolved: bool = False,
               limit: int = 20, actor_id: str | None = None) -> list[dict[str, Any]]:
        """Tickets whose text contains every term, best first (engine.desk.search)."""
        return search.search(self.desk, text, process, resolved, limit, actor_id)

    def offered(self, key: str, actor_id: str | None = None, limit: int = 3) -> list[dict[str, Any]] | None:
        """The known solutions to show the agent who just logged ``key`` (None for an
        end user): a bounded look-up, apart from the intake (engine.desk.search.offered)."""
        return search.offered(self.desk, key, actor_id, limit)

    def similar(self, key: str, limit: int = 5, actor_id: str | None = None) -> list[dict[str, Any]]:
        """Resolved tickets most like ``key``, with their solutions (engine.desk.search)."""
        return search.similar(self.desk, key, limit, actor_id)

    def reindex_search(self, progress: Callable[[int, int | None], None] | None = None) -> int:
        """Rebuild the search index from the tickets and journals; returns the count."""
        return search.reindex(self.desk, progress)

    def major_board(self) -> list[dict[str, Any]]:
        return major.board(self.desk)

    # -- API keys (engine.desk.apikeys) ------------------------------------------------------
    def create_api_key(self, user: str, label: str | None = None, actor_id: str | None = None,
                       scopes: Sequence[str] | str | None = None,
                       expires_at: datetime | None = None) -> dict[str, Any]:
        """A new API key acting as ``user`` with ``scopes`` (read, write, alerts;
        default all, capped by the person's roles); its ``key`` is in the result once
        and never again (only its hash is stored)."""
        return apikeys.create(self.desk, user, label, actor_id, scopes, expires_at)

    def api_keys(self, user: str | None = None, actor_id: str | None = None) -> list[dict[str, Any]]:
        """The acting user's keys (the process owner's: everyone's, or ``user``'s)."""
        return apikeys.list_keys(self.desk, user, actor_id)

    def revoke_api_key(self, key_id: int, actor_id: str | None = None) -> dict[str, Any]:
        return apikeys.revoke(self.desk, key_id, actor_id)

    def authenticate(self, key: str | None) -> str:
        """The user id an API key acts as; engine.errors.InvalidApiKey otherwise."""
        return str(apikeys.authenticate(self.desk, key)["user"])

    def authenticate_key(self, key: str | None) -> dict[str, Any]:
        """What an API key may do: {user, key_id, label, scopes, expires_at,
        permissions}; engine.errors.InvalidApiKey (also for an expired key) otherwise."""
        return apikeys.authenticate(self.desk, key)

    def console_refusal(self, key: Mapping[str, Any], need: str) -> ActionRefused | None:
        """Why the agent console refuses a page (``need`` read) or a form (write) to
        the holder of ``key`` (:meth:`authenticate_key`'s answer), whose scopes are
        capped by their roles; None when it may."""
        return permissions.console_refusal(str(key["user"]), key["scopes"], need)

    def session(self, key: Mapping[str, Any]) -> dict[str, Any]:
        """Who a key acts as (``itsm whoami``), from :meth:`authenticate_key`'s answer:
        {user, name, roles, key_id, expires_at, scopes}."""
        return apikeys.session(self.desk, key)

    def end_session(self, key: Mapping[str, Any]) -> None:
        """Revoke the key a request presented (``itsm logout``), from :meth:`authenticate_key`'s answer."""
        apikeys.end_session(self.desk, key)

    def report(self, name: str, start: str | None = None, end: str | None = None, fmt: str = "md",
               current: bool = False, progress: Callable[[int, int], None] | None = None) -> str:
        """Report ``name`` (reports/NAME.yaml) over [start, end) rendered as md, html,
        csv or json (engine.reports); ``progress(done, total)`` KPI by KPI."""
        from engine.reports import run

        return run(self, name, start, end, fmt, self.lang, current, progress)

    def status(self, key: str, token: str) -> dict[str, Any]:
        """The end user's view, for whoever holds the ticket's status token; a
        wrong key and a wrong token get the same answer (engine.desk.portal)."""
        return portal.status_view(self.desk, key, token)

    # -- the self-service portal (engine.desk.portal) -----------------------------------------
    def portal_form(self) -> dict[str, Any]:
        """What the portal's intake form offers: incident fields, services,
        urgency levels, the catalogue's offerings with the fields each needs."""
        return portal.form(self.desk)

    def portal_report(self, kind: str, values: Mapping[str, str],
                      session: str | None = None) -> dict[str, Any]:
        """File the portal's form as the end user (``kind``: incident or an
        offering ``service.offering``); the public view plus ``status_token``.
        ``session``: the portal session, marked if it searched self-help first."""
        return portal.report(self.desk, kind, values, session)

    def portal_self_help(self, text: str, session: str | None = None) -> dict[str, Any]:
        """Self-help: the public solutions matching ``text``; the search counts
        into the portal ``session`` (engine.desk.portal.self_help)."""
        return portal.self_help(self.desk, text, session)

    def portal_status(self, key: str, token: str) -> dict[str, Any]:
        """:meth:`status` plus the reporter's actions with the fields they need."""
        return portal.status(self.desk, key, token)

    def portal_act(self, key: str, token: str, action: str, inputs: Mapping[str, str]) -> dict[str, Any]:
        """Confirm, reopen...: a reporter's action for the holder of the status token."""
        return portal.act(self.desk, key, token, action, inputs)

    def portal_reply(self, key: str, token: str, text: str,
                     files: Sequence[tuple[str, bytes]] = ()) -> dict[str, Any]:
        """The reporter's reply on the status page, with files: a public comment
        and the process's ``replies:`` action."""
        return portal.reply(self.desk, key, token, text, files)

    def portal_attachment(self, key: str, token: str, attachment_id: int) -> tuple[dict[str, Any], bytes]:
        """A public attachment of the ticket, for the holder of its status token."""
        return portal.attachment(self.desk, key, token, attachment_id)

    # -- mail and attachments (engine.desk.mailgate, attachments) --------------------------
    def mail_receive(self, raw: bytes, mailbox: str | None = None) -> dict[str, Any]:
        """One RFC 5322 message (``itsm mail receive``)."""
        from engine.desk import mailgate  # mail parsing: not imported by commands without mail

        return mailgate.receive(self.desk, raw, mailbox)

    def mail_poll(self, on_each: Callable[[dict[str, Any]], None] | None = None,
                  mailbox: str | None = None) -> list[dict[str, Any]]:
        """Fetch and handle the configured IMAP mailboxes' unseen mail (``itsm mail poll``)."""
        from engine.desk import mailgate  # mail parsing: not imported by commands without mail

        return mailgate.poll(self.desk, on_each, mailbox)

    def mail_log(self, key: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The mail received, newest first (``itsm mail log``)."""
        from engine.desk import mailgate  # mail parsing: not imported by commands without mail

        return mailgate.log(self.desk, key, limit)

    def attach(self, key: str, filename: str, data: bytes, public: bool = True,
               actor_id: str | None = None) -> dict[str, Any]:
        return attachments.attach(self.desk, key, filename, data, public, actor_id)

    def attachment(self, key: str, attachment_id: int,
                   actor_id: str | None = None) -> tuple[dict[str, Any], bytes]:
        return attachments.download(self.desk, key, attachment_id, actor_id)

    # -- definition versions (engine.desk.migrate) -------------------------------------
    def version_findings(self) -> list[Any]:
        """Lint findings about the database: open tickets the definitions strand,
        and versions declared again with other content (``itsm lint --db``)."""
        from engine.desk import migrate

        return migrate.db_findings(self.desk)

    def migration_plan(self, process: str, mapping: Mapping[str, str]) -> dict[str, Any]:
        """What ``itsm migrate`` would move (a dry run)."""
        from engine.desk import migrate

        return migrate.plan(self.desk, process, mapping)

    def migrate(self, process: str, mapping: Mapping[str, str], actor_id: str | None = None,
                progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Move open tickets to the current definition version, journaled."""
        from engine.desk import migrate

        return migrate.apply(self.desk, process, mapping, actor_id, progress)

    # -- operations (engine.desk.operations) ----------------------------------------------
    def deliver(self) -> Any:
        return operations.deliver(self.desk)

    def outbox(self, status: str | None = None) -> list[dict[str, Any]]:
        return operations.outbox(self.desk, status)

    def retry_outbox(self, ids: Sequence[int] | None) -> int:
        return operations.retry_outbox(self.desk, ids)

    # -- the journal's audit (engine.desk.audit, sealing, checkpoints, export) --------------
    def audit_verify(self, checkpoints: str | None = None, public_key: str | None = None) -> dict[str, Any]:
        """Verify the journal: its keyed chains, a replay of every ticket, the desk-wide
        log, and the signed checkpoints (the witness file ``checkpoints``, else the
        database's copies); {tickets, events, problems, sealed, unsealed, checkpoints...}."""
        return operations.audit(self.desk, checkpoints, public_key)

    def audit(self) -> tuple[int, int, list[dict[str, Any]]]:
        """(tickets, events, problems) of :meth:`audit_verify` against the database's checkpoints."""
        result = self.audit_verify()
        return result["tickets"], result["events"], result["problems"]

    def audit_seal(self) -> dict[str, Any]:
        """Seal committed events into the desk-wide log (``itsm tick`` does)."""
        from engine.desk.sealing import seal

        return seal(self.desk)

    def audit_checkpoint(self, reason: str = "manual") -> dict[str, Any]:
        """Seal, sign the desk-wide log's head, write it to the witness file, the
        database and the outbox."""
        from engine.desk.checkpoints import checkpoint

        return checkpoint(self.desk, reason)

    def audit_tick(self) -> list[dict[str, Any]]:
        """What ``itsm tick`` does for the journal: seal, and a checkpoint when due."""
        from engine.desk.checkpoints import due
        from engine.desk.sealing import seal

        return operations.audit_tick(self.desk, seal, due)

    def audit_rekey(self, force: bool = False) -> dict[str, Any]:
        """Re-chain unkeyed and old-key events under the current key, seal, and
        record a checkpoint with reason 'rekey'."""
        return operations.rekey(self.desk, force)

    def audit_export(self, path: str) -> dict[str, Any]:
        """Write the sealed journal and its checkpoints for offline verification."""
        from engine.desk.export import export

        return export(self.desk, path)

    def audit_keygen(self, folder: str | None = None, rotate: bool = False) -> dict[str, Any]:
        """Write the journal's HMAC key file and an Ed25519 signing key pair (0600);
        ``rotate``: a new current HMAC key in front of the old ones."""
        from engine.desk.export import keygen

        return keygen(self.desk, folder, rotate)

    def run_due_reports(self, deadline: float | None = None) -> list[dict[str, Any]]:
        """Render every report whose schedule is due and queue it for its recipients;
        each report and period runs once (a unique key in report_runs); none starts
        after ``deadline`` (a ``time.monotonic()`` instant): it stays due."""
        return operations.run_due_reports(self.desk, deadline)

    def upgrade_db(self) -> tuple[str | None, str]:
        """Migrate the schema (and re-key the journal when needed: :meth:`upgrade`)."""
        before, after, _ = operations.upgrade_db(self.desk)
        return before, after

    def upgrade(self) -> dict[str, Any]:
        """Migrate the schema; {before, after, rekey: the journal's re-keying (its
        result, {"refused": why}, or None when nothing needed it)}."""
        before, after, keyed = operations.upgrade_db(self.desk)
        return {"before": before, "after": after, "rekey": keyed}
