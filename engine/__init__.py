"""itsm: a declarative IT-service-management engine.

The public entry point is :mod:`engine.api`; definitions are loaded through
:class:`engine.workspace.Workspace`.
"""

__version__ = "0.1.0"
