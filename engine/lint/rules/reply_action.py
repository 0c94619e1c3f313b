"""``replies:`` maps a state to the action a reporter's reply performs, and that
action cannot run there as the reporter: the state or action does not exist,
the action does not start from that state, the reporter may not perform it, or
it requires a field a reply cannot give (a reply gives its text, which fills
``reason`` when the action requires one; nothing else).

Bad::

    replies: {pending: resolve}   # the reporter may not resolve; resolve needs a solution

Good::

    replies: {pending: resume, resolved: reopen}
"""

from __future__ import annotations

from typing import Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.model import Where

ID = "M001"
SLUG = "reply-action"
SEVERITY = "error"

REPLY_FILLS = ("reason",)  # what the reply's text fills


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, spec in ctx.valid_processes():
        for state, aid in spec.replies:
            at = ctx.where(doc, ("replies", state), key=False)
            if state not in spec.states:
                yield ctx.where(doc, ("replies", state)), message(N_("replies: unknown state '{state}'"),
                                                                  state=state)
                continue
            action = spec.actions.get(aid)
            if action is None:
                yield at, message(N_("replies: unknown action '{aid}'"), aid=aid)
                continue
            if state not in action.sources:
                yield at, message(N_("replies: action '{aid}' does not start from state '{state}'"),
                                  aid=aid, state=state)
            if "reporter" not in action.roles:
                yield at, message(N_("replies: the reporter may not perform '{aid}' (roles: {roles})"),
                                  aid=aid, roles=', '.join(action.roles))
            extra = [f for f in action.requires if f not in REPLY_FILLS]
            if extra:
                yield at, message(N_("replies: '{aid}' requires {extra}, which a reply cannot give"),
                                  aid=aid, extra=', '.join(extra))
