"""A plain value that YAML 1.1 tools read differently: ``on``/``off``/``yes``/``no``
become booleans, ``1:30`` becomes 90, ``010`` becomes 8. itsm reads YAML 1.2 and
keeps them as written, but editors, yamllint and other tools will not: quote them.

Bad::

    states:
      on: {status: active}
    timers:
      remind: {states: [pending], after: 1:30}

Good::

    states:
      "on": {status: active}
    timers:
      remind: {states: [pending], after: 90m}
"""

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.model import Where

ID = "Y003"
SLUG = "yaml11-trap"
SEVERITY = "warning"


def check(ctx: LintContext):  # type: ignore[no-untyped-def]
    for doc in ctx.docs.values():
        for trap in doc.traps:
            what = message(N_("key") if trap.is_key else N_("value"))
            advice = (message(N_("write a duration such as 90m instead")) if trap.yaml11 == "a sexagesimal number"
                      else message(N_("quote it (\"{text}\") so every tool reads the same"), text=trap.text))
            yield (Where(doc.file, trap.mark.line, trap.mark.column),
                   message(N_("{what} '{text}' is {yaml11} in YAML 1.1; {advice}"), what=what, text=trap.text,
                           yaml11=message(trap.yaml11), advice=advice))
