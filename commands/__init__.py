"""The commands of ``itsm``, one module per area; cli.py adds them to the root group."""
