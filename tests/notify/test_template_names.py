"""What lint's template-variable rule (R004) believes a template sees is what the
engine gives it: the names of engine.notify.deliver.context, and the ticket of a
queued message (engine.notifying.message_ticket) for each process."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from engine.notify.deliver import context
from engine.notify.template_names import CONTEXT_NAMES, read, ticket_keys
from engine.settings import Settings
from engine.workspace import load_definitions
from engine.definitions.home import bundled_home

NOW = "2026-03-02T10:00:00+08:00"


def test_the_names_are_those_delivery_gives() -> None:
    row = {"payload": {"ticket": {"key": "INC-000001"}}, "recipient": "li.na@example.com"}
    assert set(context(row, Settings())) == CONTEXT_NAMES


def queued_tickets(db_url: str) -> dict[str, dict[str, Any]]:
    engine = sa.create_engine(db_url)
    try:
        table = sa.Table("outbox", sa.MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            rows = conn.execute(sa.select(table.c.payload)).scalars().all()
    finally:
        engine.dispose()
    out = {}
    for payload in rows:
        ticket = (json.loads(payload) if isinstance(payload, str) else payload)["ticket"]
        out[ticket["process"]] = ticket
    return out


def test_the_ticket_keys_are_those_a_queued_message_has(itsm: Any, org: Any, db_url: str) -> None:
    itsm("new", "incident", "--title", "Mail down", "--reporter", org.reporter, user=org.agent.id, now=NOW)
    itsm("new", "service_request", "--title", "Password", "--reporter", org.reporter, "--service",
         "identity", "--set", "offering=password_reset", user=org.agent.id, now=NOW)
    defs = load_definitions(bundled_home())
    queued = queued_tickets(db_url)
    assert set(queued) == {"incident", "service_request"}
    for process, ticket in queued.items():
        assert set(ticket) - {"offering_label"} == ticket_keys(defs.processes[process]), process
    assert "offering_label" in queued["service_request"]  # there when the ticket has an offering


def test_what_a_template_reads() -> None:
    """Names it sets (set, for, macro parameters, loop) are its own; an attribute it
    asks 'is defined' about is guarded. (The rule's tests: tests/lint/test_rules.py.)"""
    problems, uses = read("{% set t = ticket.title %}{% for x in y %}{{ loop.index }}{{ x.a }}{% endfor %}"
                          "{% macro m(v) %}{{ v.b }}{% endmacro %}{{ m(event.due) }}"
                          "{% if ticket.offering is defined %}{{ ticket.offering }}{% endif %}")
    assert problems == ()
    assert [(u.name, u.attr, u.guarded) for u in uses] == [
        ("event", "due", False), ("ticket", "offering", True), ("ticket", "offering", True),
        ("ticket", "title", False), ("y", None, False)]
