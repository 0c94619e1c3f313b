"""``itsm lint``: check definitions and report findings as data.

context (the definitions read for linting), rules/ (one module per rule, in a
registry), config and suppressions (``.itsmlint.yaml``, in-file comments),
formatters and sarif (text, JSON, SARIF, GitHub), versioning (D003/D004), sides
(a definition version read from files, for comparisons).

Of reports, lint imports the definitions only (engine.reports.definition and the KPIs'
parameters import neither SQLAlchemy nor jinja2): R008 builds each report as ``itsm
report`` and ``itsm tick`` will.

May import: ground, definitions, clock, runtime, notify, reports.
"""

from __future__ import annotations

import gc

from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.i18n import N_, message
from engine.lint.config import LintConfig
from engine.lint.context import LintContext, build_context
from engine.lint.finding import SEVERITIES, Finding
from engine.lint.registry import Rule, all_rules
from engine.lint.suppressions import Suppressed, apply, read_directives

__all__ = ["Finding", "LintConfig", "LintResult", "Suppressed", "lint_paths", "run_rules",
           "all_rules", "Rule"]


@dataclass
class LintResult:
    findings: list[Finding]
    context: LintContext
    suppressed: list[Suppressed] = field(default_factory=list)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]


def run_rules(ctx: LintContext, rules: list[Rule] | None = None) -> list[Finding]:
    findings: set[Finding] = set()
    for rule in rules if rules is not None else all_rules():
        try:
            for where, text in rule.check(ctx):
                if where.file in ctx.targets or where.file not in ctx.docs:
                    findings.add(Finding(where.file, where.line, where.column, rule.id,
                                         rule.slug, rule.severity, text))
        except Exception as exc:  # a crashing rule is a finding, never a traceback
            findings.add(Finding("<lint>", 1, 1, rule.id, rule.slug, "error",
                                 message(N_("rule crashed: {kind}: {exc}"), kind=type(exc).__name__, exc=exc)))
    return sorted(findings, key=_position)


def lint_paths(paths: list[Path], config: LintConfig | None = None) -> LintResult:
    """Lint ``paths``.  Without ``config``: every rule at its default severity,
    nothing suppressed (the check of definitions before they are used).  With one
    (``itsm lint``): the configured severities, and in-file suppressions apply."""
    enabled = gc.isenabled()
    gc.disable()  # the documents and specs built here all live to the end: collecting
    try:          # them over and over made lint grow faster than the definitions
        return _lint(paths, config)
    finally:
        if enabled:
            gc.enable()


def _lint(paths: list[Path], config: LintConfig | None) -> LintResult:
    ctx = build_context(paths)
    if config is None:
        return LintResult(run_rules(ctx), ctx)
    for policy in config.policies:
        _enforce_policy(ctx, policy)
    rules = all_rules()
    findings = run_rules(ctx, rules)
    reported = {f.file for f in findings} | ctx.targets
    kept, suppressed, problems = apply(findings, read_directives(sorted(reported)), rules,
                                       ctx.targets)
    shown = config.apply(kept + problems)
    hidden = [replace(sup, finding=f) for sup in suppressed for f in config.apply([sup.finding])]
    return LintResult(sorted(shown, key=_position), ctx,
                      sorted(hidden, key=lambda sup: _position(sup.finding)))


def _position(f: Finding) -> tuple[str, int, int, str, str]:
    return f.file, f.line, f.column, f.rule, f.message


def _enforce_policy(ctx: LintContext, policy: str) -> None:
    """Check every process as if it declared ``policies: [policy]``."""
    for pid, (doc, spec) in ctx.processes.items():
        if spec is not None and policy not in spec.policies:
            ctx.processes[pid] = (doc, replace(spec, policies=(*spec.policies, policy)))


def severity_at_least(severity: str, level: str) -> bool:
    return SEVERITIES.index(severity) <= SEVERITIES.index(level)
