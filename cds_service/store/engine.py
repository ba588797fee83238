"""Build the SQLAlchemy engine: SQLite by default, PostgreSQL when DATABASE_URL is set."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from cds_service.config import Settings

#: how long an SQLite writer waits for the lock before giving up (other workers write too)
SQLITE_BUSY_TIMEOUT_MS = 15_000
#: execution option marking a read-only transaction (SQLite then skips the write lock)
READ_ONLY = "cds_read_only"


def database_url(settings: Settings) -> URL:
    """The URL the store connects to; ``postgres://``/``postgresql://`` use psycopg 3."""
    if settings.database_url:
        url = make_url(settings.database_url)
        if url.drivername in {"postgres", "postgresql"}:
            url = url.set(drivername="postgresql+psycopg")
        return url
    return URL.create("sqlite+pysqlite", database=settings.sqlite_path)


def make_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if url.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    raise ValueError(
        f"DATABASE_URL must be a PostgreSQL or SQLite URL, got {url.render_as_string()!r}"
    )


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (it would BEGIN lazily,
        # after reads) so that every transaction starts with an explicit BEGIN below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            # WAL + NORMAL: a commit survives a process crash; only an OS crash or power
            # loss can lose the last transactions (SQLite documentation, "WAL mode").
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: a transaction that reads and then
        # writes can then never fail with SQLITE_BUSY half way (the busy timeout applies
        # to BEGIN instead). Readers in WAL mode are never blocked by it; read-only work
        # (reports, readiness) asks for a plain deferred BEGIN.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
