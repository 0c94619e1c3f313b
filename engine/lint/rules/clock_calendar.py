"""An SLA clock's ``calendar:`` declaration that cannot do what it says. A clock
counts in the service's calendar (``calendar: service``, the default), the
working group's (``group``) or the reporter's site's (``reporter_site``: the
calendar of the same id as the site, e.g. ``guangzhou_branch``); ``sites:``
limits the last two to some sites and leaves the service's calendar elsewhere.
Reported: ``sites`` on a clock that follows the service (it would change
nothing); with ``group``, a listed site where no group of codes/groups.yaml
works, or a group there without a calendar of codes/calendars.yaml; with
``reporter_site``, a listed site that names no calendar. Such a clock would
silently keep the service's hours. Any other ``calendar:`` value is refused
by the schema (S001).

Bad::

    sla:
      resolution:
        target: resolution
        start: {states: [new]}
        stop: {states: [closed]}
        calendar: group
        sites: [guangzhou]        # no group works at 'guangzhou'

Good::

    sla:
      resolution:
        target: resolution
        start: {states: [new]}
        stop: {states: [closed]}
        calendar: group
        sites: [guangzhou_branch]  # codes/groups.yaml: branch_it_guangzhou
"""

from __future__ import annotations

from typing import Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.model import Where

ID = "T008"
SLUG = "clock-calendar"
SEVERITY = "error"


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    groups = ctx.table("groups")
    calendars = ctx.codes("calendars")
    for doc, spec in ctx.valid_processes():
        for clock in spec.clocks:
            if not clock.sites:
                continue
            at = ctx.where(doc, ("sla", clock.id, "sites"))
            if clock.calendar == "service":
                yield at, (message(N_("clock '{id}' follows the service's calendar: 'sites' changes nothing; declare calendar: group or reporter_site, or remove 'sites'"),
                                   id=clock.id))
                continue
            for i, site in enumerate(clock.sites):
                where = ctx.where(doc, ("sla", clock.id, "sites", i), key=False)
                if clock.calendar == "reporter_site":
                    if ctx.codes_known("calendars") and site not in calendars:
                        yield where, (message(N_("clock '{id}': site '{site}' names no calendar of codes/calendars.yaml: a reporter there would keep the service's hours"),
                                              id=clock.id, site=site))
                    continue
                if groups is None:
                    continue
                there = [g for g in groups.values.values() if g.get("site") == site]
                if not there:
                    known = sorted({str(g.get("site")) for g in groups.values.values()})
                    yield where, (message(N_("clock '{id}': no group of codes/groups.yaml works at site '{site}' (sites: {known})"),
                                          id=clock.id, site=site, known=', '.join(known)))
                elif ctx.codes_known("calendars"):
                    for g in there:
                        if g.get("calendar") not in calendars:
                            yield where, (message(N_("clock '{id}': group '{code}' at site '{site}' has no calendar of codes/calendars.yaml"),
                                                  id=clock.id, code=g.code, site=site))
