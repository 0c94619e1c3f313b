"""Alembic environment: itsm passes the connection in (engine.store.db.upgrade)."""

from alembic import context

from engine.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via engine.store.db.upgrade
    raise RuntimeError("run migrations with 'itsm db upgrade'")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
