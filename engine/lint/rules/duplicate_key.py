"""A key appears twice in one mapping. YAML readers silently keep the last one,
so half of the definition would be ignored; itsm refuses the file.

Bad::

    actions:
      assign: {from: new, to: assigned, roles: [service_desk]}
      assign: {from: assigned, to: assigned, roles: [service_desk]}

Good::

    actions:
      assign: {from: [new, assigned], to: assigned, roles: [service_desk]}
"""

from engine.lint.rules._load import load_problems

ID = "Y002"
SLUG = "duplicate-key"
SEVERITY = "error"


def check(ctx):  # type: ignore[no-untyped-def]
    return load_problems(ctx, "duplicate-key")
