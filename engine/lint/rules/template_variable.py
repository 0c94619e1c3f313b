"""A message template reads something its messages do not have, or cannot be
rendered at all (bad syntax, an unknown filter or test). Templates render with
strict undefined values, so such a message fails when ``itsm outbox deliver``
sends it, long after the action that queued it, and is retried until it is
marked failed: the user never hears.

A template sees ``ticket`` (what the ticket shows its reporter: key, title,
description, state, status text, priority, service and group with labels, due,
solution, workaround, fulfilment note, assignee, reporter, group, reason, and
the process's public fields and fields of type user), ``action`` (``id``,
``label``: messages of an action), ``event`` (``kind``, ``name``, ``at``,
``due``: timers and SLA thresholds), ``note``, ``recipient`` and
``status_url``. An attribute of ``ticket`` must be there for every process whose
messages use the template; ask ``ticket.x is defined`` to read one that is not.
``event`` is none in the messages of actions and of the intake, ``action`` in
those of the intake, timers and SLA thresholds: a template any of them uses reads
their attributes under a test (``{% if event %}``, ``event and event.due``,
``event.due if event``). The finding is on the template's line.

Bad (processes/templates/en/resolved.txt, the message of an action)::

    We resolved {{ ticket.key }}: {{ ticket.solutoin }}
    {{ resolution_note }} (due {{ event.due }})

Good::

    We resolved {{ ticket.key }}: {{ ticket.solution }}
    {% if ticket.resolution_note is defined %}{{ ticket.resolution_note }}{% endif %}
    {% if event %}(due {{ event.due }}){% endif %}
"""

from __future__ import annotations

from difflib import get_close_matches
from pathlib import Path
from typing import Iterator

from engine.i18n import N_, message, names
from engine.lint.context import LintContext, display
from engine.lint.rules.message_target import messages_of
from engine.model import LANGS, ProcessSpec, Where
from engine.notify.template_names import (
    ACTION_KEYS, CONTEXT_NAMES, EVENT_KEYS, globals_of, read, ticket_keys, variants,
)

ID = "R004"
SLUG = "template-variable"
SEVERITY = "error"

KEYS = {"event": EVENT_KEYS, "action": ACTION_KEYS}
GIVEN_BY = {"event": {"timer"}, "action": {"action"}}  # the messages that have one
SENDERS = {"action": N_("an action"), "intake": N_("the intake"), "timer": N_("a timer or an SLA threshold")}


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    users: dict[str, list[ProcessSpec]] = {}  # template -> the processes whose messages use it
    kinds: dict[str, set[str]] = {}  # template -> what its messages are sent by
    for _, spec in ctx.valid_processes():
        for path, message in messages_of(spec):
            users.setdefault(message.template, [])
            if spec not in users[message.template]:
                users[message.template].append(spec)
            kinds.setdefault(message.template, set()).add(
                "action" if path[0] == "actions" else "intake" if path[0] == "intake" else "timer")
    for repo in ctx.repos:
        root = repo / "processes" / "templates"
        for name in sorted(users):
            specs = users[name]
            for lang in LANGS:
                folder = root / lang
                for path in variants(folder, name):
                    yield from _check_file(path, specs, kinds[name], globals_of())


def _check_file(path: Path, specs: list[ProcessSpec], kinds: set[str],
                known: frozenset[str]) -> Iterator[tuple[Where, str]]:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        yield Where(display(path), 1, 1), message(N_("cannot read the template: {exc}"), exc=exc)
        return
    problems, uses = read(source)
    file = display(path)
    for problem in problems:
        yield Where(file, problem.line, 1), message(N_("the template cannot be rendered: {message}"),
                                                    message=problem.message)
    for use in uses:
        if use.guarded:
            continue
        if use.name not in CONTEXT_NAMES:
            if use.name not in known:
                yield Where(file, use.line, 1), \
                    (message(N_("'{name}' is not something a message has: templates see {CONTEXT_NAMES}"),
                             name=use.name, CONTEXT_NAMES=', '.join(sorted(CONTEXT_NAMES))))
            continue
        if use.attr is None:
            continue
        if use.name == "ticket":
            lacking = [s for s in specs if use.attr not in ticket_keys(s)]
            if lacking:
                close = get_close_matches(use.attr, sorted(ticket_keys(lacking[0])), n=1)
                hint = message(N_("did you mean ticket.{name}? Else make"), name=close[0]) if close else message(N_("make"))
                yield Where(file, use.line, 1), \
                    (message(N_("ticket.{attr} is not in the messages of process {value} (a template sees the ticket's public fields and fields of type user): {hint} the field public, or test 'ticket.{attr} is defined'"),
                             attr=use.attr, value=', '.join(repr(p.id) for p in lacking), hint=hint))
        elif use.name in KEYS and use.attr not in KEYS[use.name]:
            yield Where(file, use.line, 1), \
                (message(N_("{name}.{attr} does not exist: {name} has {KEYS}"),
                         name=use.name, attr=use.attr, KEYS=', '.join(sorted(KEYS[use.name]))))
        elif use.name in KEYS and not use.tested and kinds - GIVEN_BY[use.name]:
            senders = names([message(SENDERS[k]) for k in sorted(kinds - GIVEN_BY[use.name])], " and of ")
            givers = names([message(SENDERS[k]) for k in sorted(GIVEN_BY[use.name])], " and of ")
            yield Where(file, use.line, 1), \
                (message(N_("{name}.{attr}: {name} is none in the messages of {senders} that use this template (only messages of {givers} have one): test it first, e.g. {{% if {name} %}}"),
                         name=use.name, attr=use.attr, senders=senders, givers=givers))
