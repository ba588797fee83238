"""CORS preflight (CDS Hooks 2.0, Cross-Origin Resource Sharing), health probes, access log."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import SANDBOX_ORIGIN, MakeApp
from tests.web.conftest import (
    SERVICE_URL,
    TOKEN,
    FakeEngine,
    FakeRenderer,
    hook_request,
    post_hook,
    standard_data,
)


class RefuseAll:
    """An authenticator that refuses every request."""

    def authenticate(self, authorization_header: str | None, audience: str) -> Any:
        from cds_service.security.authenticator import AuthenticationError

        raise AuthenticationError("signature")


def _preflight(client: FlaskClient, origin: str = SANDBOX_ORIGIN) -> Any:
    return client.options(
        SERVICE_URL,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


@pytest.mark.requirement("208")
def test_preflight_is_answered_without_authentication(make_app: MakeApp) -> None:
    app = make_app(engine=FakeEngine(), renderer=FakeRenderer(), authenticator=RefuseAll())
    with app.test_client() as c:
        response = _preflight(c)
        assert response.status_code == 204
        assert response.headers["Access-Control-Allow-Origin"] == SANDBOX_ORIGIN
        allowed = {
            h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
        }
        assert {"authorization", "content-type"} <= allowed
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        # the real request still needs authentication
        assert post_hook(c, hook_request(standard_data())).status_code == 401


@pytest.mark.requirement("208")
def test_actual_response_carries_the_allowed_origin(fake_client: FlaskClient) -> None:
    response = post_hook(
        fake_client, hook_request(standard_data()), headers={"Origin": SANDBOX_ORIGIN}
    )
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX_ORIGIN
    assert "Origin" in response.headers.get("Vary", "")
    discovery = fake_client.get("/cds-services", headers={"Origin": SANDBOX_ORIGIN})
    assert discovery.headers["Access-Control-Allow-Origin"] == SANDBOX_ORIGIN


def test_other_origins_get_no_cors_headers(fake_client: FlaskClient) -> None:
    response = _preflight(fake_client, origin="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in response.headers


def test_star_allows_any_origin(make_app: MakeApp) -> None:
    app = make_app(engine=FakeEngine(), renderer=FakeRenderer(), cors_allowed_origins=("*",))
    with app.test_client() as c:
        assert (
            _preflight(c, "https://anywhere.example")["Access-Control-Allow-Origin" and "headers"]
            if False
            else True
        )
        response = _preflight(c, "https://anywhere.example")
        assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_healthz(fake_client: FlaskClient) -> None:
    response = fake_client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_ruleset_and_store(make_app: MakeApp) -> None:
    class Store:
        healthy = True

        def ping(self) -> None:
            if not self.healthy:
                raise OSError("down")

        def record_hook_call(self, record: object) -> None:
            pass

    store = Store()
    app = make_app(engine=FakeEngine(), renderer=FakeRenderer(), store=store)
    with app.test_client() as c:
        ready = c.get("/readyz")
        assert ready.status_code == 200
        assert ready.get_json()["checks"] == {
            "ruleset": "fake-ruleset-1",
            "cards": "loaded",
            "store": "ok",
        }
        store.healthy = False
        not_ready = c.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.get_json()["checks"]["store"] == "unavailable"


def test_access_log_is_json_with_request_id_and_no_secrets(
    fake_client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.getLogger("cds_service").setLevel(logging.INFO)
    response = post_hook(
        fake_client, hook_request(standard_data()), headers={"X-Request-ID": "req-123"}
    )
    assert response.headers["X-Request-ID"] == "req-123"
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    access = [line for line in lines if line.get("event") == "request"]
    assert access, lines
    entry = access[-1]
    assert entry["request_id"] == "req-123"
    assert entry["status"] == 200
    assert entry["path"] == SERVICE_URL
    assert isinstance(entry["latency_ms"], float)
    assert "patient_id" not in entry  # CDS_LOG_PATIENT_IDS is off
    text = json.dumps(lines)
    assert TOKEN not in text
    assert "pat-1" not in text
    assert "obs-1" not in text


def test_unsafe_request_ids_are_replaced(fake_client: FlaskClient) -> None:
    response = fake_client.get("/healthz", headers={"X-Request-ID": "bad id; with <script>"})
    assert response.headers["X-Request-ID"] != "bad id; with <script>"
    assert len(response.headers["X-Request-ID"]) == 32


def test_patient_ids_are_logged_only_when_enabled(
    make_app: MakeApp, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(
        engine=FakeEngine(), renderer=FakeRenderer(), log_patient_ids=True, log_level="INFO"
    )
    with app.test_client() as c:
        post_hook(c, hook_request(standard_data()))
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    assert any(line.get("patient_id") == "pat-1" for line in lines)
