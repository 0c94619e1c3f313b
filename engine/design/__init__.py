"""The process designer's tools, built on the facade: simulate (a scripted ticket
through a definition without a database) and versions (``itsm diff`` with
versions stored in the database).

May import: ground, definitions, clock, runtime, lint, workspace, api.
"""
