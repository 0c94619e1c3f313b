"""Runtime: what a ticket may do next, decided without a database.

machine (the only importer of transitions: one shared machine per process
version), actions (who may perform which action now, with which fields, guards
and close criteria: :func:`engine.runtime.actions.available` and ``perform``),
fields (coercion and checks of field values), context (what expressions see),
ticket (a ticket as a plain object), timers (due work: timers, SLA thresholds,
reminders).

May import: ground, definitions, clock.
"""
