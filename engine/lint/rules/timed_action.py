"""The system performs an action it cannot: a timer fires an action that is not
available in the timer's state, or an action (of a timer, an SLA threshold or a
major-incident cascade) that the ``system`` role may not perform; or an SLA
threshold fires an action not available in a state where the clock can be
running, or one that requires a field asked each time (``ask_each_time``: the
system gives no input). ``itsm tick`` would log "refused" every time and nothing
would happen. A timer on a final state (no timer of a closed ticket is ever due)
and a repeating timer of zero length (skipped by every tick) never fire either.

Bad::

    actions:
      close: {from: resolved, to: closed, roles: [reporter]}
    timers:
      auto_close: {label: {en: Close, zh: 关闭}, states: [resolved, pending], after: 3 business days, action: close}

Good::

    actions:
      close: {from: resolved, to: closed, roles: [reporter, system]}
    timers:
      auto_close: {label: {en: Close, zh: 关闭}, states: [resolved], after: 3 business days, action: close}
"""

from __future__ import annotations

from typing import Iterator

from engine.i18n import N_, message, names
from engine.lint.context import LintContext
from engine.lint.rules._clock import ClockGraph
from engine.model import ActionSpec, ProcessSpec, Where

ID = "T006"
SLUG = "timed-action"
SEVERITY = "error"


def _not_system(action: ActionSpec, by: str) -> str:
    return message(N_("{by} has the system perform '{action}', but 'system' is not among its roles ({roles})"),
                   by=by, action=action.id, roles=', '.join(action.roles))


def _asked(spec: ProcessSpec, action: ActionSpec, by: str) -> Iterator[str]:
    """The system gives an action no input: a required field asked each time
    (``ask_each_time``) refuses it every time, whatever the ticket holds."""
    for name in action.requires:
        fs = spec.fields.get(name)
        if fs is not None and fs.ask_each_time:
            yield message(N_("{by} has the system perform '{action}', which requires '{field}', asked each time "
                             "(ask_each_time): the system gives no input, so it is refused every time"),
                          by=by, action=action.id, field=name)


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, spec in ctx.valid_processes():
        for timer in spec.timers:
            final = [s for s in timer.states if s in spec.states and spec.states[s].final]
            if final:  # a closed ticket waits for nothing: its timers are never due
                yield ctx.where(doc, ("timers", timer.id, "states"), key=False), \
                    message(N_("timer '{id}' runs in final state {names}, where no timer fires: a closed ticket "
                               "waits for nothing (fire it on the state before, or from a report)"),
                            id=timer.id, names=names(f"'{s}'" for s in final))
            if timer.repeat:
                zero = [d.text or "0" for d in (timer.after, *(d for _, d in timer.after_by_priority))
                        if not (d.seconds or d.business_days)]
                if zero:
                    yield ctx.where(doc, ("timers", timer.id), key=True), \
                        message(N_("timer '{id}' repeats every {after}: a repeat needs a time greater than "
                                   "zero, or every tick would skip it without firing"),
                                id=timer.id, after=zero[0])
            action = spec.actions.get(timer.action or "")
            if action is None:
                continue  # no action, or undefined-reference's finding
            where = ctx.where(doc, ("timers", timer.id, "action"), key=False)
            if "system" not in action.roles:
                yield where, _not_system(action, message(N_("timer '{id}'"), id=timer.id))
            for text in _asked(spec, action, message(N_("timer '{id}'"), id=timer.id)):
                yield where, text
            missing = [s for s in timer.states if s in spec.states and s not in action.sources]
            if missing:
                listed = names(f"'{s}'" for s in missing)
                yield where, (message(N_("timer '{id}' fires '{id2}' in {names}, where the action is not available (check its from:)"),
                                      id=timer.id, id2=action.id, names=listed))
        for clock in spec.clocks:
            effects = [(eff, name) for eff, name in ((clock.on_warning, "on_warning"),
                                                     (clock.on_breach, "on_breach"))
                       if eff.action in spec.actions]
            if not effects:
                continue
            running = ClockGraph(ctx, spec, clock).states_with("running")
            for eff, name in effects:
                action = spec.actions[eff.action or ""]
                where = ctx.where(doc, ("sla", clock.id, name, "action"), key=False)
                if "system" not in action.roles:
                    yield where, _not_system(action, message(N_("clock '{id}' ({name})"), id=clock.id, name=name))
                for text in _asked(spec, action, message(N_("clock '{id}' ({name})"), id=clock.id, name=name)):
                    yield where, text
                missing = [s for s in running if s not in action.sources]
                if missing:
                    listed = names(f"'{s}'" for s in missing)
                    yield where, (message(N_("clock '{id}' can reach its threshold in {names}, where '{id2}' ({name}) is not available"),
                                          id=clock.id, names=listed, id2=action.id, name=name))
        # linked children: the tickets a major incident watches, or that open this process
        children = [other for _, other in ctx.valid_processes()
                    if other.id == spec.criteria_watch
                    or any(a.opens == spec.id for a in other.actions.values())]
        for action in spec.actions.values():
            if not action.cascade:
                continue
            where = ctx.where(doc, ("actions", action.id, "cascade", "action"), key=False)
            for child_spec in children:
                child = child_spec.actions.get(action.cascade)
                if child is None:
                    yield where, (message(N_("the cascade of '{id}' performs '{cascade}' on linked '{id2}' tickets, which have no such action"),
                                          id=action.id, cascade=action.cascade, id2=child_spec.id))
                elif "system" not in child.roles:
                    yield where, _not_system(child, message(N_("the cascade of '{id}'"), id=action.id))
        for rel in spec.relations.values():  # a relation's cascade: this process's action
            for c in rel.cascade:
                own = spec.actions.get(c.action)
                if own is not None and "system" not in own.roles:
                    yield ctx.where(doc, ("relations", rel.id, "cascade", c.on, "action"), key=False), \
                        _not_system(own, message(N_("the cascade '{on}' of relation '{id}'"), on=c.on, id=rel.id))
