"""Build the SQLAlchemy engine: SQLite by default, PostgreSQL when DATABASE_URL is set."""

from __future__ import annotations

import sqlite3
import time
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
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if url.database not in (None, "", ":memory:"):
                _ensure_wal(cursor)
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


def _ensure_wal(cursor: Any) -> None:
    """Put the database file in WAL mode (persistent: once set, every connection sees it).

    Switching a new file to WAL needs an exclusive lock and SQLite answers "database is
    locked" at once, without its busy handler, while another connection (a second worker
    starting at the same moment) holds any lock. So: skip when already WAL, else retry
    within the busy timeout.
    """
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)
