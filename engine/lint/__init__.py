"""``itsm lint``: check definitions and report findings as data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.lint.context import LintContext, build_context
from engine.lint.finding import SEVERITIES, Finding
from engine.lint.registry import Rule, all_rules

__all__ = ["Finding", "LintResult", "lint_paths", "run_rules", "all_rules", "Rule"]


@dataclass
class LintResult:
    findings: list[Finding]
    context: LintContext

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]


def run_rules(ctx: LintContext, rules: list[Rule] | None = None) -> list[Finding]:
    findings: set[Finding] = set()
    for rule in rules if rules is not None else all_rules():
        try:
            for where, message in rule.check(ctx):
                if where.file in ctx.targets or where.file not in ctx.docs:
                    findings.add(Finding(where.file, where.line, where.column, rule.id,
                                         rule.slug, rule.severity, message))
        except Exception as exc:  # a crashing rule is a finding, never a traceback
            findings.add(Finding("<lint>", 1, 1, rule.id, rule.slug, "error",
                                 f"rule crashed: {type(exc).__name__}: {exc}"))
    return sorted(findings, key=lambda f: (f.file, f.line, f.column, f.rule, f.message))


def lint_paths(paths: list[Path]) -> LintResult:
    ctx = build_context(paths)
    return LintResult(run_rules(ctx), ctx)


def severity_at_least(severity: str, level: str) -> bool:
    return SEVERITIES.index(severity) <= SEVERITIES.index(level)
