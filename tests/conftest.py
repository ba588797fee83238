"""Shared fixture graph: settings, a frozen clock, counting uuids, the app and its client.

``make_app(...)`` builds the service with the real clinical engine and card renderer unless
an ``engine``/``renderer`` is passed (tests/web passes small fakes to test the HTTP pipeline
apart from the clinical rules). Outbound FHIR calls are faked with ``responses``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_service.config import Settings
from cds_service.deps import Dependencies

#: words no card may ever use (clinical honesty). Kept here, apart from the card
#: definitions' own list, so the tests do not trust the configuration they check.
FORBIDDEN_WORDS = re.compile(r"\b(?:eligible|recommended|cure)\b", re.IGNORECASE)
#: the instant every test runs at (fixture patients' dates are computed from 2026-11-01)
FROZEN_NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
#: the fake EHR FHIR server of the tests (faked with ``responses``; never contacted)
FHIR_BASE = "https://ehr.example.org/fhir"
SANDBOX_ORIGIN = "https://sandbox.cds-hooks.org"


class CountingUuids:
    """Deterministic card uuids: 00000000-0000-4000-8000-000000000001, ...002, ..."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"00000000-0000-4000-8000-{self.count:012d}"


class AllowAllAuthenticator:
    """Accepts every request (JWT verification is tested in tests/security)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, str]] = []

    def authenticate(self, authorization_header: str | None, audience: str) -> Any:
        self.calls.append((authorization_header, audience))
        return {"iss": "https://ehr.example.org", "sub": "test-client"}


class RecordingAuditSink:
    def __init__(self) -> None:
        self.records: list[Any] = []

    def record_hook_call(self, record: Any) -> None:
        self.records.append(record)


@pytest.fixture
def frozen_clock() -> Callable[[], datetime]:
    return lambda: FROZEN_NOW


@pytest.fixture
def uuid_factory() -> CountingUuids:
    return CountingUuids()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        sqlite_path=str(tmp_path / "cds-service.sqlite3"),
        allowed_fhir_servers=(FHIR_BASE,),
        cors_allowed_origins=(SANDBOX_ORIGIN,),
        public_base_url="https://cds.example.org",
        log_level="WARNING",
    )


MakeApp = Callable[..., Flask]


@pytest.fixture
def make_app(
    settings: Settings, frozen_clock: Callable[[], datetime], uuid_factory: CountingUuids
) -> MakeApp:
    def factory(
        *,
        engine: Any = None,
        renderer: Any = None,
        store: Any = None,
        http_session: Any = None,
        authenticator: Any = None,
        **overrides: Any,
    ) -> Flask:
        app = create_app_for_tests(
            settings.with_overrides(**overrides) if overrides else settings,
            Dependencies(
                clock=frozen_clock,
                uuid_factory=uuid_factory,
                http_session=http_session,
                store=store,
                authenticator=authenticator or AllowAllAuthenticator(),
                engine=engine,
                renderer=renderer,
            ),
        )
        app.testing = True
        return app

    return factory


def create_app_for_tests(settings: Settings, deps: Dependencies) -> Flask:
    from cds_service.app import create_app

    return create_app(settings, deps)


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    """The service with the real clinical engine and card renderer."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as c:
        yield c
