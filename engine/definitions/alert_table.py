"""The vocabulary of ``codes/alert_rules.yaml``: what a rule may decide and how
its texts name an alert's facts.  Shared by lint (engine.lint.rules._alerts) and
by intake (engine.alerts.rules), which compiles and applies the rules."""

from __future__ import annotations

import re

TABLE = "alert_rules"
OUTCOME_KEYS = ("service", "service_from", "urgency", "impact", "category", "group", "title",
                "description", "fields", "group_by")
PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def placeholders(template: str) -> list[str]:
    """The ``{{ expressions }}`` of a rule's title or description."""
    return [m.group(1).strip() for m in PLACEHOLDER.finditer(template)]
