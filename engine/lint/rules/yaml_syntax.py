"""The file is not well-formed YAML (or not UTF-8 text).

Bad::

    actions:
      assign: {from: [new, to: assigned}

Good::

    actions:
      assign: {from: [new], to: assigned}
"""

from engine.lint.rules._load import load_problems

ID = "Y001"
SLUG = "yaml-syntax"
SEVERITY = "error"


def check(ctx):  # type: ignore[no-untyped-def]
    return load_problems(ctx, "yaml-syntax")
