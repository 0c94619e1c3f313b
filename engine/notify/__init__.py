"""Notifications: recipients, the outbox, delivery channels and templates.

Message templates run in the same bounded sandbox as expressions
(engine.definitions.expressions), so a template cannot build anything huge.

May import: ground, definitions, mail.
"""
