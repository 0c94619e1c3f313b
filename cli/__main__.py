"""``python -m cli``: the ``itsm`` command."""

from cli import main

main()
