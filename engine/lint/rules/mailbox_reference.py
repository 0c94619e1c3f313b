"""A mailbox of codes/mailboxes.yaml names a process, service or support group
that does not exist, or two mailboxes share an address: mail to it could not
open a ticket (or would open it twice).

Bad::

    values:
      servicedesk: {label: {en: Desk, zh: 服务台}, address: desk@example.com, process: incidnet}

Good::

    values:
      servicedesk: {label: {en: Desk, zh: 服务台}, address: desk@example.com, process: incident}
"""

from __future__ import annotations

from typing import Iterator

from engine.lint.context import LintContext
from engine.model import Where

ID = "M002"
SLUG = "mailbox-reference"
SEVERITY = "error"


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    table = ctx.table("mailboxes")
    if table is None:
        return
    seen: dict[str, str] = {}
    for code, box in table.values.items():
        where = box.where
        process = box.get("process")
        if process and not ctx.known_process(str(process)):
            yield where, f"mailbox '{code}': unknown process '{process}'"
        for attr, tid in (("service", "services"), ("group", "groups")):
            value = box.get(attr)
            if value and ctx.codes_known(tid) and value not in ctx.codes(tid):
                yield where, f"mailbox '{code}': unknown {attr} '{value}' (codes/{tid}.yaml)"
        address = str(box.get("address") or "").lower()
        if address in seen:
            yield where, f"mailbox '{code}': address {address} is also mailbox '{seen[address]}'"
        seen.setdefault(address, code)
