"""Monitoring alerts -> incidents (``itsm intake``, ``POST /api/v1/alerts``).

payload (Alertmanager webhooks and JSON events parsed and bounded), rules
(codes/alert_rules.yaml compiled: what an alert's incident gets), groups (one
open incident per alert group, through the desk's intake).  The alert groups'
table and queries are the store's (engine.store.alerts).

May import: ground, definitions, runtime, desk.
"""
