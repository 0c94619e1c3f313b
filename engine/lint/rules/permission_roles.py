"""A permission (codes/permissions.yaml) is granted to roles people can hold: a
role of the processes, ``group_member`` (a member of any support group), or a
role the table declares under ``roles:`` with its labels. A misspelt role would
grant the permission to nobody, or to whoever is later given that name.

Bad::

    values:
      admin: {label: {en: Administer, zh: 管理}, roles: [proces_owner]}
      alerts: {label: {en: Send alerts, zh: 发送告警}, roles: [monitoring]}

Good::

    roles:
      monitoring: {en: Monitoring system, zh: 监控系统}
    values:
      admin: {label: {en: Administer, zh: 管理}, roles: [process_owner]}
      alerts: {label: {en: Send alerts, zh: 发送告警}, roles: [monitoring]}
"""

from engine.i18n import N_, message
from engine.lint.context import LintContext

ID = "C004"
SLUG = "permission-role"
SEVERITY = "error"


def check(ctx: LintContext):  # type: ignore[no-untyped-def]
    entry = ctx.tables.get("permissions")
    if entry is None or not ctx.repo_files or ctx.broken_processes:
        return  # a process that does not load declares roles lint cannot see: its own error says why
    doc, table = entry
    declared = {"group_member", *(table.extra.get("roles") or {})}
    for _, spec in ctx.processes.values():
        if spec is not None:
            declared.update(spec.roles)
    for code, permission in table.values.items():
        for i, role in enumerate(permission.get("roles") or ()):
            if role not in declared:
                yield ctx.where(doc, ("values", code, "roles", i), key=False), \
                    (message(N_("permission '{code}' is granted to role '{role}', which no process declares; declare it under roles: in codes/permissions.yaml, or use one of {declared}"),
                             code=code, role=role, declared=', '.join(sorted(declared))))
