"""A business calendar (codes/calendars.yaml) that the engine cannot count in: a
time zone it does not know, a date that does not exist (``2026-02-30``), a holiday
range that ends before it starts, a working period that ends before it starts or
overlaps another, a make-up working day that takes the hours of a closed weekday,
no working hours on any weekday, or holidays that leave no working time for more
than three years in a row. Every SLA clock and timer counting in such a calendar
would fail, so every ticket would: the finding is where the calendar goes wrong.

A make-up working day (``workdays``) on a holiday is not a finding: the make-up day
wins, as documented.

Bad::

    head_office:
      timezone: Asia/Shangai
      hours: {mon: ["09:00-12:00", "11:00-18:00"], tue: [], wed: [], thu: [], fri: [], sat: [], sun: []}
      holidays:
        - {date: "2026-02-30", label: {en: Spring Festival, zh: 春节}}
        - {from: "2026-10-07", to: "2026-10-01", label: {en: National Day, zh: 国庆节}}

Good::

    head_office:
      timezone: Asia/Shanghai
      hours: {mon: ["09:00-12:00", "13:00-18:00"], tue: [], wed: [], thu: [], fri: [], sat: [], sun: []}
      holidays:
        - {date: "2026-02-17", label: {en: Spring Festival, zh: 春节}}
        - {from: "2026-10-01", to: "2026-10-07", label: {en: National Day, zh: 国庆节}}
"""

from __future__ import annotations

from typing import Iterator

from engine.clock.calendars import Calendar
from engine.lint.context import LintContext
from engine.model import Where

ID = "C003"
SLUG = "invalid-calendar"
SEVERITY = "error"


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    entry = ctx.tables.get("calendars")
    if entry is None:
        return
    doc, table = entry
    for code, value in table.values.items():
        for path, message in Calendar.problems(code, value.attrs):
            full = ("values", code, *path)
            # at the date, the period, the zone itself; at the key of a mapping or list
            yield ctx.where(doc, full, key=isinstance(doc.get(full), (dict, list))), message
