"""The KPI catalogue of docs/reports.md, generated from the KPI modules.

``python -m engine.reports.catalogue docs/reports.md`` rewrites the part between
the ``kpis:start`` and ``kpis:end`` markers; a test keeps it in sync.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine.reports.kpis import KPIS, formula

START, END = "<!-- kpis:start (generated: python -m engine.reports.catalogue docs/reports.md) -->", \
    "<!-- kpis:end -->"


def section() -> str:
    parts = ["| KPI | title | parameters (defaults) |", "| --- | --- | --- |"]
    for kid, kpi in KPIS.items():
        params = ", ".join(f"`{k}: {json.dumps(v, ensure_ascii=False)}`" for k, v in kpi.PARAMS.items())
        parts.append(f"| [`{kid}`](#{kid}) | {kpi.TITLE.en} / {kpi.TITLE.zh} | {params} |")
    for kid, kpi in KPIS.items():
        text = formula(kpi)
        first, _, rest = text.partition("\n")
        parts += ["", f"### {kid}", "", f"**{kpi.TITLE.en}** ({kpi.TITLE.zh}). {first}", ""]
        if rest.strip():
            parts += ["```text", _dedent(rest).strip("\n"), "```"]
    return "\n".join(parts) + "\n"


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text)


def rewrite(path: Path) -> bool:
    """Put the generated section into ``path``; True when it changed."""
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    new = f"{head}{START}\n{section()}{END}{tail}"
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


if __name__ == "__main__":  # pragma: no cover
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/reports.md")
    print(f"{target}: {'updated' if rewrite(target) else 'up to date'}")
