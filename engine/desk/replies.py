"""What a reporter's reply does besides being a public comment: the process's
``replies:`` action for the ticket's state (pending -> resume, resolved ->
reopen), performed as the reporter with the reply as its reason.  Used by mail
(engine.desk.mailgate) and the status page (engine.desk.portal)."""

from __future__ import annotations

from typing import Any

from engine.desk.context import Desk
from engine.desk.workflow import perform
from engine.errors import ActionRefused
from engine.runtime.ticket import Ticket


def user_replied(desk: Desk, repo: Any, ticket: Ticket, text: str, actor: Any, now: Any) -> str | None:
    """Perform the process's ``replies:`` action for the ticket's state as the
    reporter, if there is one; what was done, or None."""
    spec = desk.spec_for(ticket)
    action = dict(spec.replies).get(ticket.state)
    if action is None or action not in spec.actions:
        return None
    inputs = {"reason": text[:2000]} if "reason" in spec.actions[action].requires else {}
    fresh = Ticket.from_row(repo.get_ticket_by_id(ticket.id, lock=True))
    try:
        with repo.savepoint():
            perform(desk, repo, fresh, action, inputs, None, actor, now)
    except ActionRefused as exc:
        return f"{action} refused: {exc}"  # engine.desk.mailgate.DETAILS
    return f"performed {action}"
