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

from engine.i18n import N_, message
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
            yield where, message(N_("mailbox '{code}': unknown process '{process}'"),
                                 code=code, process=process)
        for attr, tid in (("service", "services"), ("group", "groups")):
            value = box.get(attr)
            if value and ctx.codes_known(tid) and value not in ctx.codes(tid):
                yield where, message(N_("mailbox '{code}': unknown {attr} '{value}' (codes/{tid}.yaml)"),
                                     code=code, attr=attr, value=value, tid=tid)
        address = str(box.get("address") or "").lower()
        if address in seen:
            yield where, message(N_("mailbox '{code}': address {address} is also mailbox '{seen}'"),
                                 code=code, address=address, seen=seen[address])
        seen.setdefault(address, code)
