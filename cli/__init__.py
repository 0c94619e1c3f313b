"""The ``itsm`` command: click wiring only.

:mod:`cli.app` holds the root group (global options, the mapping of errors to
exit codes) and the shared output helpers; each other module registers the
commands of one area on it.  Every command parses its options, calls the engine
and renders the result.  Heavy modules are imported inside commands so that
``itsm --help`` stays fast."""

from cli.app import main
from cli import definitions, people, tickets, search, batch, notifications, reports, major, operations, demo, intake, design, apikey, serve  # noqa: F401,E402  (register commands)

__all__ = ["main"]
