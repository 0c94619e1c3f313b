"""A notification names a recipient or template that does not exist. Recipients
are a declared role, a field holding a person (``reporter``, ``assignee`` or a
field of type user/email), ``group`` (every member of the ticket's support
group), ``group_mailbox`` (the group's shared mailbox from codes/groups.yaml,
else its members) or an e-mail address; the template must exist in every language under
``processes/templates/<lang>/NAME.txt``.

Bad::

    notify: [{to: reportr, template: resolvd}]

Good::

    notify: [{to: reporter, template: resolved}]
"""

from __future__ import annotations

from typing import Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.lint.rules.undefined_reference import known_roles
from engine.model import LANGS, Message, ProcessSpec, Where

ID = "R002"
SLUG = "message-target"
SEVERITY = "error"


def messages_of(spec: ProcessSpec) -> Iterator[tuple[tuple[str | int, ...], Message]]:
    for aid, action in spec.actions.items():
        for i, m in enumerate(action.notify):
            yield ("actions", aid, "notify", i), m
    for i, m in enumerate(spec.intake_notify):
        yield ("intake", "notify", i), m
    for clock in spec.clocks:
        for eff in ("on_warning", "on_breach"):
            for i, m in enumerate(getattr(clock, eff).notify):
                yield ("sla", clock.id, eff, "notify", i), m
    for timer in spec.timers:
        for i, m in enumerate(timer.notify):
            yield ("timers", timer.id, "notify", i), m
        for i, m in enumerate(timer.remind):
            yield ("timers", timer.id, "remind", i), m


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, spec in ctx.valid_processes():
        allowed = known_roles(spec) | {"group", "group_mailbox"} | \
            {f.id for f in spec.fields.values() if f.type == "email"}
        for path, msg in messages_of(spec):
            listed = isinstance(doc.get(path + ("to",)), list)
            for i, target in enumerate(msg.to):
                if "@" not in target and target not in allowed:
                    at = path + ("to", i) if listed else path + ("to",)
                    yield ctx.where(doc, at, key=False), message(N_("unknown recipient '{target}'"),
                                                                 target=target)
            for repo in ctx.repos:
                for lang in LANGS:
                    if not (repo / "processes" / "templates" / lang / f"{msg.template}.txt").is_file():
                        yield ctx.where(doc, path + ("template",), key=False), \
                            message(N_("template '{template}' is missing in processes/templates/{lang}/"),
                                    template=msg.template, lang=lang)
