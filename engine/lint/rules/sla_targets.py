"""Every SLA policy (codes/sla.yaml) needs a response and a resolution target for
every priority, or some tickets would have no due date.

Bad::

    gold:
      targets:
        P1: {response: 15m, resolution: 4h}

Good::

    gold:
      targets:
        P1: {response: 15m, resolution: 4h}
        P2: {response: 30m, resolution: 8h}
        P3: {response: 2h, resolution: 2 business days}
        P4: {response: 4h, resolution: 5 business days}
"""

from engine.lint.rules._load import error_text
from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.model import Duration

ID = "C002"
SLUG = "sla-targets"
SEVERITY = "error"


def check(ctx: LintContext):  # type: ignore[no-untyped-def]
    entry = ctx.tables.get("sla")
    if entry is None:
        return
    doc, table = entry
    priorities = ctx.codes("priority")
    for code, policy in table.values.items():
        targets = policy.get("targets") or {}
        for prio in sorted(priorities):
            if prio not in targets:
                yield ctx.where(doc, ("values", code, "targets")), \
                    message(N_("SLA policy '{code}' has no target for priority {prio}"), code=code, prio=prio)
        for prio, target in targets.items():
            if priorities and prio not in priorities:
                yield ctx.where(doc, ("values", code, "targets", prio)), message(N_("undefined priority '{prio}'"),
                                                                                 prio=prio)
            for clock in ("response", "resolution"):
                raw = (target or {}).get(clock)
                if raw is None:
                    yield ctx.where(doc, ("values", code, "targets", prio)), \
                        message(N_("SLA policy '{code}' priority {prio} has no {clock} target"),
                                code=code, prio=prio, clock=clock)
                    continue
                try:
                    Duration.parse(str(raw))
                except ValueError as exc:
                    yield ctx.where(doc, ("values", code, "targets", prio, clock), key=False), error_text(exc)
