"""docs/lint-rules.md is generated from the rule docstrings (they are the docs).

    python -m engine.lint.catalogue > docs/lint-rules.md

tests/lint/test_catalogue.py keeps the file in sync.
"""

from __future__ import annotations

import re
import textwrap

from engine.lint.registry import Rule, all_rules
from engine.lint.versioning import RULES as VERSION_RULES

HEADER = """# Lint rules

`itsm lint` checks process definitions and code tables before anyone runs a
ticket through them. This page lists every rule with what it catches, a failing
(Bad) and a passing (Good) example. It is generated from the rules' docstrings
(`python -m engine.lint.catalogue > docs/lint-rules.md`); a test keeps it in sync.

## Using lint

```sh
itsm lint                          # the current process repository
itsm lint processes codes          # given folders (cross-file checks included)
itsm lint processes/incident.yaml  # one file (cross-file checks need its repository)
itsm lint --format json            # findings as JSON: file, line, column, rule, slug, severity, message
itsm lint --format sarif           # SARIF 2.1.0, for code scanning (GitHub, Azure DevOps, IDEs)
itsm lint --format github          # GitHub Actions annotations
itsm lint --fail-level error       # exit 1 only for errors (default: any finding)
itsm lint --max-warnings 10        # ... and also when there are more than 10 warnings
itsm lint --snippets               # the source line and a caret under each finding (default on a terminal)
itsm lint --config strict.yaml     # another configuration than the repository's .itsmlint.yaml
itsm lint --report-suppressed      # also list the suppressed findings with their reasons
itsm lint --db                     # also open tickets the definitions no longer fit (D001, D002),
                                   # and version: numbers against the versions tickets ran under (D003, D004)
itsm lint --against ../base        # version: numbers against an earlier copy, e.g. a git worktree (D003, D004)
```

Each finding reads `path:line:col: severity [ID slug] message`, in the language
asked for (`itsm --lang zh lint`, or `ITSM_LANG=zh`): Chinese messages, severities
and counts; ids, slugs, paths and the definitions' own values stay as written.
`--format json` keeps the English `message` and adds `message_zh` in Chinese. Exit codes: 0
clean, 1 findings at or above `--fail-level` (or more warnings than
`--max-warnings`), 2 usage error (a bad option or a bad `.itsmlint.yaml`), 3
internal error. A rule that crashes is reported as a finding of that rule, never
as a traceback.

`.itsmlint.yaml` beside `processes/` chooses a preset (`extends: recommended`,
the default; `all`; `guidelines`, which applies the P rules to every process)
and changes a rule's severity (`rules: {Y003: error}`), everywhere or for some
files (`overrides: [{files: [codes/*.yaml], rules: {Y003: off}}]`). A finding
is suppressed by a comment on its line, `# itsmlint: disable=ID reason: why`
(or on the line before, `disable-next-line=`); the reason is required (L001),
and a suppression that hides nothing is reported (L002). See
[auditor-guide.md](auditor-guide.md) for the details.

Definitions with errors are refused at run time too: the first time a content
version is loaded, every error-level rule runs, and an error stops the command
with the finding's position.

## Rules

| id | slug | severity |
|---|---|---|
"""

DB_RULES = """
### D001 stranded-ticket (error, with `--db`)

Open tickets are in a state the current definition no longer has (or their
process no longer exists). They cannot act until moved: `itsm migrate PROCESS
--map OLD=NEW --apply` (see docs/operations.md).

Bad (the database holds open incidents in `awaiting_vendor`):

```yaml
states:
  new: {status: new, initial: true}
  pending: {status: pending}        # awaiting_vendor removed in this version
```

Good: keep the state until no open ticket is in it, or move them with the
definition change:

```sh
itsm migrate incident --map awaiting_vendor=pending --apply
```

### D002 orphaned-field (warning, with `--db`)

Open tickets hold values of a field the current definition no longer declares.
The values are kept in the journal and on the ticket but no action uses them.

Bad (open incidents hold `vendor_ticket`, which this version drops):

```yaml
fields:
  solution: {type: text, label: {en: Solution, zh: 解决方案}}
```

Good: keep the field while open tickets use it (or accept the warning when the
values only need to stay in the journal):

```yaml
fields:
  solution: {type: text, label: {en: Solution, zh: 解决方案}}
  vendor_ticket: {type: string, label: {en: Vendor ticket number, zh: 供应商工单号}}
```

D003 and D004 compare each process's declared `version:` with its earlier
versions: those stored in the database (every version a ticket ran under, with
`--db`), or those of an earlier copy of the repository or of a process file
(`--against OLD`, e.g. a git worktree of the main branch; see
[auditor-guide.md](auditor-guide.md#versioning)). Both sources report the same
rule, so one setting in `.itsmlint.yaml` covers both. The finding is on the
`version:` line. Like D001 and D002 they are configurable but not suppressible
by a comment.
"""


def render() -> str:
    rules = all_rules()
    out = [HEADER]
    out += [f"| [{r.id}](#{r.id.lower()}-{r.slug}) | {r.slug} | {r.severity}"
            f"{'' if r.recommended else ' (`all`)'} |\n" for r in rules]
    out.append("| D001 | stranded-ticket | error (`--db`) |\n| D002 | orphaned-field | warning (`--db`) |\n")
    out += [f"| [{r.id}](#{r.id.lower()}-{r.slug}) | {r.slug} | {r.severity} (`--db`, `--against`) |\n"
            for r in VERSION_RULES]
    for r in rules:
        out.append(f"\n### {r.id} {r.slug}\n\n{rule_markdown(r)}")
    out.append(DB_RULES)
    for r in VERSION_RULES:
        text = rule_markdown(r).replace(f"Severity: {r.severity}.",
                                        f"Severity: {r.severity}, with `--db` or `--against OLD`.", 1)
        out.append(f"\n### {r.id} {r.slug}\n\n{text}")
    return markdown_literals("".join(out))


def rule_markdown(rule: Rule) -> str:
    """A rule's documentation in Markdown: severity, what it catches, Bad and Good
    examples (its section of docs/lint-rules.md, and its help in SARIF)."""
    first, _, rest = rule.doc.partition("\n\n")
    severity = rule.severity if rule.recommended else \
        f"{rule.severity} (reported by the `all` preset, or when configured)"
    return markdown_literals(f"Severity: {severity}.\n\n{' '.join(first.split())}\n\n"
                              f"{_examples(rest)}")


def markdown_literals(text: str) -> str:
    # reST literals (``x``) in docstrings -> Markdown (`x`), leaving ``` fences alone
    return re.sub(r"(?<!`)``(?!`)", "`", text)


def _examples(text: str) -> str:
    """The docstring's prose, and its 'Bad::' / 'Good::' blocks as YAML code blocks."""
    out: list[str] = []
    block: list[str] = []
    in_code = False

    def flush() -> None:
        body = textwrap.dedent("\n".join(block)).strip("\n")
        if body:
            out.append(f"```yaml\n{body}\n```\n\n")
        block.clear()

    for line in textwrap.dedent(text).strip().splitlines():
        if in_code and (line.startswith(" ") or not line.strip()):
            block.append(line)
            continue
        if in_code:
            flush()
            in_code = False
        if line.strip().endswith("::"):
            out.append(f"{line.strip()[:-2]}:\n\n")
            in_code = True
        else:
            out.append(line + "\n")
    flush()
    return "".join(out).rstrip("\n") + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
