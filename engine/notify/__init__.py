"""Notifications: recipients, the outbox, delivery channels and templates.

May import: ground.
"""
