"""``itsm lint``: whole processes, wall time, as an auditor runs it.

- the shipped repository (this checkout);
- a generated process with 250, 500 and 1,000 states and five actions per state
  (next, skip, back, hold with a guard, close with requirements; plus an SLA
  clock and a timer), in a temporary repository with the shipped ``codes/``
  and, since the codes refer to them, the shipped processes.

Baseline: ``python -c pass`` in the same run.  Targets: the 1,000-state
repository under 2 s, and cost growing roughly linearly: the generated part's
cost, t(n) - t(shipped repository), at most 5x from 250 to 1,000 states (4 for
a strictly linear cost, plus slack; a quadratic one would give ~16).  The
generated process must lint without errors, so the figure is the normal path.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from bench._util import (
    PYTHON, REPO, Config, Result, itsm_argv, median, paired, ratio_at_most, run_wall, value_below,
)

NAME = "lint"
SIZES = (250, 500, 1000)


def generate(n: int) -> str:
    """A valid process of ``n`` working states (+ closed, cancelled) and 5n actions."""
    statuses = ("new", "assigned", "in_progress", "pending", "resolved")
    out = [
        "schema: itsm/process@1",
        f"process: generated_{n}",
        "version: 1",
        f"title: {{en: Generated process of {n} states}}",
        "key_prefix: GEN",
        "owner: process_owner",
        "roles:",
        "  process_owner: {en: Process owner}",
        "  service_desk: {en: Service desk agent}",
        "fields:",
        "  reason: {type: text, ask_each_time: true, label: {en: Reason}}",
        "  closure_code: {type: code, codes: closure, label: {en: Closure code}}",
        "  counter: {type: int, label: {en: Counter}}",
        "defaults: {urgency: medium, impact: low}",
        "states:",
    ]
    for i in range(n):
        status = statuses[0] if i == 0 else statuses[1 + (i % 3)]
        initial = ", initial: true" if i == 0 else ""
        out.append(f"  s{i}: {{status: {status}, owner: service_desk{initial}}}")
    out.append("  done: {status: resolved, owner: reporter}")
    out.append("  closed: {status: closed, final: true}")
    out.append("  cancelled: {status: cancelled, final: true}")
    out.append("actions:")
    for i in range(n):
        nxt = f"s{i + 1}" if i + 1 < n else "done"
        skip = f"s{i + 2}" if i + 2 < n else "done"
        back = f"s{i - 1}" if i > 0 else "s0"
        out += [
            f"  next_{i}: {{from: s{i}, to: {nxt}, roles: [service_desk], label: {{en: Next {i}}}}}",
            f"  skip_{i}: {{from: s{i}, to: {skip}, roles: [service_desk], "
            f"when: \"priority in ['P1', 'P2']\", set: {{counter: \"{{{{ (counter or 0) + 1 }}}}\"}}}}",
            f"  back_{i}: {{from: s{i}, to: {back}, roles: [service_desk, assignee], requires: [reason]}}",
            f"  hold_{i}: {{from: s{i}, roles: [service_desk], requires: [reason], "
            f"when: \"urgency != 'high' or counter\"}}",
            f"  close_{i}: {{from: [s{i}], to: cancelled, roles: [service_desk], requires: [closure_code], "
            "when: \"codes.closure[closure_code].cancellation\"}",
        ]
    out += [
        "  confirm: {from: done, to: closed, roles: [reporter, service_desk]}",
        "sla:",
        "  resolution:",
        "    label: {en: Resolution}",
        "    target: resolution",
        "    start: {categories: [new]}",
        "    pause: {categories: [pending]}",
        "    stop: {categories: [resolved, closed]}",
        "timers:",
        "  auto_close: {label: {en: Default closure}, states: [done], after: 3 business days, "
        "action: confirm_auto}",
    ]
    out.insert(out.index("  confirm: {from: done, to: closed, roles: [reporter, service_desk]}") + 1,
               "  confirm_auto: {from: done, to: closed, roles: [system]}")
    text = "\n".join(out) + "\n"
    return re.sub(r"\{en: ([^{}]*)\}", r"{en: \1, zh: \1}", text)  # labels in both languages


def make_repo(cfg: Config, n: int) -> Path:
    home = cfg.scratch(f"lint-{n}")
    shutil.copytree(REPO / "codes", home / "codes")
    shutil.copytree(REPO / "processes", home / "processes")  # the codes refer to them
    (home / "processes" / f"generated_{n}.yaml").write_text(generate(n), encoding="utf-8")
    return home


def check_clean(cfg: Config, home: Path) -> None:
    proc = subprocess.run(itsm_argv("lint", str(home), "--format", "json"), env=cfg.env(),
                          capture_output=True, text=True)
    findings = json.loads(proc.stdout or "[]")
    findings = findings.get("findings", findings) if isinstance(findings, dict) else findings
    errors = [f for f in findings if f.get("severity") == "error"]
    if errors:
        raise RuntimeError(f"the generated process {home.name} has lint errors: {errors[:5]}")


def run(cfg: Config) -> list[Result]:
    env = cfg.env()
    reps = cfg.pick(3, 5, 7)
    base_argv = [PYTHON, "-c", "pass"]
    results = []

    def lint_wall(home: Path) -> float:
        return run_wall(itsm_argv("lint", str(home)), env, check=False)

    figs, bases = paired(lambda: lint_wall(REPO), lambda: run_wall(base_argv, env), reps)
    results.append(Result(NAME, "itsm lint (shipped repository)", median(figs), "s", median(bases),
                          "python -c pass", samples=figs, baseline_samples=bases))
    per_size = {}
    for n in SIZES:
        home = make_repo(cfg, n)
        check_clean(cfg, home)
        figs, bases = paired(lambda h=home: lint_wall(h), lambda: run_wall(base_argv, env), reps)
        per_size[n] = median(figs)
        r = Result(NAME, f"itsm lint, generated {n} states / {5 * n + 2} actions", median(figs), "s",
                   median(bases), "python -c pass", samples=figs, baseline_samples=bases)
        results.append(value_below(r, 2.0) if n == 1000 else r)
    shipped = results[0].value or 0.0
    growth = Result(NAME, "lint growth t(1000) / t(250), whole runs", per_size[1000], "s", per_size[250],
                    "t(250 states)", extra={"seconds": per_size},
                    note="information: includes start-up and the shipped processes")
    results.append(growth)
    marginal = Result(NAME, "lint growth of the generated part, 1000 / 250", per_size[1000] - shipped,
                      "s", per_size[250] - shipped, "t(250) - t(shipped)",
                      note="t(n) - t(shipped repository); linear: 4")
    results.append(ratio_at_most(marginal, 5.0))
    return results
