"""Schema migrations (Alembic), run under a lock so several workers can start at once.

The migration scripts live inside the package (``cds_service/store/migrations``), so an
installed wheel migrates with no ``alembic.ini`` and no checkout. The lock:

* PostgreSQL: a transaction-scoped advisory lock, then every migration in that same
  transaction (PostgreSQL has transactional DDL): the first worker migrates, the others
  wait, then find the schema at head and do nothing.
* SQLite: the engine starts every transaction with ``BEGIN IMMEDIATE``, which is the
  database's single write lock; the migrations run inside that transaction.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from cds_service.store.engine import READ_ONLY

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: pg_advisory_xact_lock key: a fixed signed 64-bit number owned by this service
_PG_LOCK_KEY = 0x2C0E_5D1B_7A64_91F3


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision``; safe to call from many processes at once.

    A database already migrated by a newer release (a revision this code does not know)
    is left alone with a warning, so an old instance can still start during a rolling
    upgrade; migrations are written to stay compatible with the previous release.
    """
    with engine.begin() as conn:
        _lock(conn)
        current = MigrationContext.configure(conn).get_current_revision()
        scripts = ScriptDirectory.from_config(alembic_config())
        if current is not None and current not in {s.revision for s in scripts.walk_revisions()}:
            log.warning("database schema %s is newer than this release; not migrating", current)
            return
        command.upgrade(alembic_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        _lock(conn)
        command.downgrade(alembic_config(conn), revision)


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    # SQLite: the transaction already holds the write lock (BEGIN IMMEDIATE).
