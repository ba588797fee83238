"""Alembic environment: runs on the connection the store hands over (see migrate.py)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from cds_service.store.schema import metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "run migrations with `cds-service db upgrade` (it supplies the connection and "
            "the lock), not with the alembic command"
        )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported")
run_migrations_online()
