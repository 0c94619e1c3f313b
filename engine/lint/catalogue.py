"""docs/lint-rules.md is generated from the rule docstrings (they are the docs).

    python -m engine.lint.catalogue > docs/lint-rules.md

tests/lint/test_catalogue.py keeps the file in sync.
"""

from __future__ import annotations

import re
import textwrap

from engine.lint.registry import all_rules

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
itsm lint --format github          # GitHub Actions annotations
itsm lint --fail-level error       # exit 1 only for errors (default: any finding)
itsm lint --db                     # also open tickets the definitions no longer fit (D001, D002)
```

Each finding reads `path:line:col: severity [ID slug] message`. Exit codes: 0
clean, 1 findings, 2 usage error, 3 internal error. A rule that crashes is
reported as a finding of that rule, never as a traceback.

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

### D002 orphaned-field (warning, with `--db`)

Open tickets hold values of a field the current definition no longer declares.
The values are kept in the journal and on the ticket but no action uses them.
"""


def render() -> str:
    rules = all_rules()
    out = [HEADER]
    out += [f"| [{r.id}](#{r.id.lower()}-{r.slug}) | {r.slug} | {r.severity} |\n" for r in rules]
    out.append("| D001 | stranded-ticket | error (`--db`) |\n| D002 | orphaned-field | warning (`--db`) |\n")
    for r in rules:
        first, _, rest = r.doc.partition("\n\n")
        out.append(f"\n### {r.id} {r.slug}\n\nSeverity: {r.severity}.\n\n"
                   f"{' '.join(first.split())}\n\n{_examples(rest)}")
    out.append(DB_RULES)
    # reST literals (``x``) in docstrings -> Markdown (`x`), leaving ``` fences alone
    return re.sub(r"(?<!`)``(?!`)", "`", "".join(out))


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
