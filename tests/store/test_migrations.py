"""Migrations run from an empty database on SQLite and PostgreSQL, under a lock."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

import cds_service
from cds_service.config import Settings
from cds_service.store import Store, StoreUnavailableError, migrate, open_store
from cds_service.store.schema import metadata

TABLES = {"hook_calls", "issued_cards", "feedback", "seen_jtis"}


def test_upgrade_from_empty_creates_the_schema_the_code_uses(store_settings: Settings) -> None:
    store = open_store(store_settings)
    try:
        assert migrate.current_revision(store.engine) is None
        store.upgrade()
        assert migrate.current_revision(store.engine) == migrate.head_revision()
        assert set(inspect(store.engine).get_table_names()) >= TABLES
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
    finally:
        store.close()


def test_upgrade_twice_is_a_no_op_and_downgrade_returns_to_empty(store_settings: Settings) -> None:
    store = open_store(store_settings)
    try:
        store.upgrade()
        store.upgrade()
        assert migrate.current_revision(store.engine) == migrate.head_revision()
        migrate.downgrade(store.engine, "base")
        assert migrate.current_revision(store.engine) is None
        assert not TABLES & set(inspect(store.engine).get_table_names())
        store.upgrade()
        assert set(inspect(store.engine).get_table_names()) >= TABLES
    finally:
        store.close()


def test_a_schema_from_a_newer_release_is_left_alone(store_settings: Settings) -> None:
    store = open_store(store_settings)
    try:
        store.upgrade()
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
        store.upgrade()  # an older instance starting during a rolling upgrade
        assert migrate.current_revision(store.engine) == "9999_future"
        store.ping()
    finally:
        store.close()


def test_ping_fails_before_upgrade_and_passes_after(store_settings: Settings) -> None:
    store = open_store(store_settings)
    try:
        with pytest.raises(StoreUnavailableError, match="db upgrade"):
            store.ping()
        store.upgrade()
        store.ping()
    finally:
        store.close()


def test_concurrent_upgrades_from_threads_all_succeed(store_settings: Settings) -> None:
    stores = [open_store(store_settings) for _ in range(6)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def run(store: Store) -> None:
        start.wait()
        try:
            store.upgrade()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert migrate.current_revision(stores[0].engine) == migrate.head_revision()
    finally:
        for s in stores:
            s.close()


def test_concurrent_upgrades_from_processes_outside_the_checkout(
    store_settings: Settings, tmp_path: Path
) -> None:
    """Like gunicorn workers starting together; run from another directory, as installed."""
    code = "from cds_service.config import Settings; from cds_service.store import open_store; " \
        "s = open_store(Settings.from_env()); s.upgrade(); s.ping(); s.close()"  # fmt: skip
    env = {**os.environ, "DATABASE_URL": store_settings.database_url or ""}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    store = open_store(store_settings)
    try:
        assert migrate.current_revision(store.engine) == migrate.head_revision()
    finally:
        store.close()


def test_migration_scripts_ship_inside_the_package() -> None:
    package_dir = Path(cds_service.__file__).resolve().parent
    assert migrate.MIGRATIONS_DIR.is_relative_to(package_dir)
    assert (migrate.MIGRATIONS_DIR / "env.py").is_file()
    assert list((migrate.MIGRATIONS_DIR / "versions").glob("0001_*.py"))


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(
    make_store: Callable[..., Store],
) -> None:
    store = make_store()
    if store.dialect != "sqlite":
        return
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 5000


def test_a_new_sqlite_file_locked_by_another_worker_still_opens(tmp_path: Path) -> None:
    """Switching a new file to WAL needs an exclusive lock, and SQLite refuses at once
    (no busy wait) while another connection holds one: two workers starting together
    made one fail with "database is locked". The store now waits for the lock."""
    import sqlite3

    path = tmp_path / "new.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE other_worker (x)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO other_worker VALUES (1)")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    store = open_store(Settings(database_url=f"sqlite:///{path}"))
    try:
        store.upgrade()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        release.join()
        holder.close()
        store.close()
