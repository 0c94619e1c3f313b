"""The clock: business calendars (working hours, holidays, make-up working days,
time zones) and SLA clocks computed from a ticket's state changes.  Pure
functions over definitions; no database.

May import: ground.
"""
