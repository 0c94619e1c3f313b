"""The rule registry: every rule is a module with ID, SLUG, SEVERITY and check()."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Callable, Iterable, Protocol

from engine.model import Where

from engine.lint.context import LintContext

Problem = tuple[Where, str]


class RuleModule(Protocol):
    ID: str
    SLUG: str
    SEVERITY: str

    def check(self, ctx: LintContext) -> Iterable[Problem]: ...


@dataclass(frozen=True)
class Rule:
    id: str
    slug: str
    severity: str
    doc: str
    check: Callable[[LintContext], Iterable[Problem]]
    # in the 'recommended' preset (the default); a module says RECOMMENDED, else info rules are not
    recommended: bool = True


# Order is the catalogue order in docs/lint-rules.md.
RULE_MODULES = (
    "yaml_syntax", "duplicate_key", "yaml11_trap", "schema", "id_mismatch", "field_value", "missing_file",
    "undefined_reference", "message_target", "template_variable", "reply_action",
    "mailbox_reference", "unused_declaration", "report_dimension", "kpi_reference", "report_definition",
    "computed_priority",
    "initial_state",
    "unreachable_state", "no_path_to_final", "action_from_final", "shadowed_action",
    "duplicate_action", "overlapping_guards", "stuck_state", "expression_syntax",
    "undeclared_name", "forbidden_expression", "constant_guard", "code_value_mismatch",
    "undeclared_attribute", "priority_matrix", "sla_targets", "invalid_calendar", "permission_roles",
    "invalid_duration", "clock_never_stops", "pause_never_resumes", "warning_after_breach",
    "waiting_without_timer", "timed_action", "duration_too_long", "clock_calendar", "reserved_name",
    "duplicate_code", "template_translation", "guidelines", "relation_reference",
    "relation_cardinality",
    "suppression_reason", "unused_suppression",  # L001, L002: reported by the suppression pass
)


def _rule(module: ModuleType) -> Rule:
    return Rule(module.ID, module.SLUG, module.SEVERITY, (module.__doc__ or "").strip(),
                module.check, getattr(module, "RECOMMENDED", module.SEVERITY != "info"))


def all_rules() -> list[Rule]:
    return [_rule(importlib.import_module(f"engine.lint.rules.{name}")) for name in RULE_MODULES]
