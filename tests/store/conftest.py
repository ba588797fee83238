"""Fixtures for the store tests: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``TEST_DATABASE_URL`` (``.ci/run`` starts a throw-away server and
sets it). Without it the PostgreSQL half is skipped locally, but FAILS when ``CI=true``:
CI must never pass on SQLite alone. Each PostgreSQL test gets a fresh schema (via
``search_path``), so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cds_service.config import Settings
from cds_service.store import Store, open_store

from .helpers import feedback_app


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def postgres_base_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if url:
        return url
    if in_ci():
        pytest.fail(
            "CI=true but TEST_DATABASE_URL is not set: the PostgreSQL store tests must run "
            "in CI (.ci/run installs and starts PostgreSQL and exports it)"
        )
    pytest.skip("TEST_DATABASE_URL not set: PostgreSQL store tests run in CI")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: an SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    base = make_url(postgres_base_url())
    if base.drivername in {"postgres", "postgresql"}:
        base = base.set(drivername="postgresql+psycopg")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def make_store(store_settings: Settings) -> Iterator[Callable[..., Store]]:
    """Open (and migrate) stores on the test database; all closed at teardown."""
    opened: list[Store] = []

    def make(**overrides: Any) -> Store:
        chosen = store_settings.with_overrides(**overrides) if overrides else store_settings
        store = open_store(chosen)
        store.upgrade()
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    return make_store()


@pytest.fixture
def app(store: Store) -> Flask:
    return feedback_app(store)
