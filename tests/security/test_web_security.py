"""Security end to end through ``create_app`` and the Flask test client.

JWT on every endpoint (401, no detail), audience from the public base URL, security headers,
dev mode, SSRF (412, no request leaves), request limits, and no token / JWT / lab value in
any log output.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient

from cds_service.config import Settings
from cds_service.security import DevModeNotAllowed, build_authenticator
from tests.conftest import FHIR_BASE, FROZEN_NOW, MakeApp, RecordingAuditSink
from tests.web.conftest import (
    TOKEN,
    FakeEngine,
    FakeRenderer,
    hook_request,
    observation,
    patient,
    post_hook,
    searchset,
    standard_data,
)

from .keys import SigningKey, jwks_of, make_key, mint, write_trust

PUBLIC = "https://cds.example.org"  # tests/conftest.py settings.public_base_url
SERVICE_PATH = "/cds-services/msc-liver-screening"
ISS = "https://ehr.example.org/fhir"
PRIVATE_FHIR = "https://10.20.0.5/fhir"


@pytest.fixture
def trust_settings(tmp_path: Path, es384: SigningKey, rs384: SigningKey) -> dict[str, Any]:
    (tmp_path / "ehr.jwks.json").write_text(json.dumps(jwks_of(es384, rs384)))
    path = write_trust(
        tmp_path, {"version": 1, "issuers": [{"iss": ISS, "jwks_file": "ehr.jwks.json"}]}
    )
    return {"trust_file": str(path)}


@pytest.fixture
def make_secure_app(
    make_app: MakeApp, settings: Settings, trust_settings: dict[str, Any]
) -> Callable[..., Flask]:
    """The service with real JWT checks (trusted issuer ISS); ``deps`` as for make_app."""

    def build(**deps: Any) -> Flask:
        secured = settings.with_overrides(
            **trust_settings, allowed_fhir_servers=(FHIR_BASE, PRIVATE_FHIR)
        )
        authenticator = build_authenticator(secured, None, None, clock=lambda: FROZEN_NOW)
        return make_app(
            engine=FakeEngine(),
            renderer=FakeRenderer(),
            authenticator=authenticator,
            **trust_settings,
            allowed_fhir_servers=(FHIR_BASE, PRIVATE_FHIR),
            **deps,
        )

    return build


@pytest.fixture
def secure_app(make_secure_app: Callable[..., Flask]) -> Flask:
    return make_secure_app()


@pytest.fixture
def client(secure_app: Flask) -> Iterator[FlaskClient]:
    with secure_app.test_client() as c:
        yield c


@pytest.fixture
def no_network() -> Iterator[responses.RequestsMock]:
    """Every outbound request is recorded; none is answered unless a test registers it."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def auth(key: SigningKey, path: str = SERVICE_PATH, **claims: Any) -> dict[str, str]:
    token = mint(key, iss=ISS, aud=f"{PUBLIC}{path}", now=FROZEN_NOW, **claims)
    return {"Authorization": f"Bearer {token}"}


def assert_security_headers(response: Any) -> None:
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"


# --- JWT on every endpoint ------------------------------------------------------------------


@pytest.mark.requirement("176")
@pytest.mark.requirement("177")
def test_hook_with_valid_jwt_answers(client: FlaskClient, es384: SigningKey) -> None:
    response = post_hook(client, hook_request(standard_data()), headers=auth(es384))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert_security_headers(response)


def test_discovery_requires_jwt_for_its_own_url(client: FlaskClient, rs384: SigningKey) -> None:
    assert client.get("/cds-services").status_code == 401
    ok = client.get("/cds-services", headers=auth(rs384, "/cds-services"))
    assert ok.status_code == 200
    # a token minted for the hook endpoint is not valid for discovery
    assert client.get("/cds-services", headers=auth(rs384)).status_code == 401


def test_feedback_requires_jwt(client: FlaskClient) -> None:
    response = client.post(f"{SERVICE_PATH}/feedback", json={"feedback": []})
    assert response.status_code == 401


def test_a_refused_hook_call_is_audited_without_reading_the_body(
    make_secure_app: Callable[..., Flask], es384: SigningKey
) -> None:
    sink = RecordingAuditSink()
    app = make_secure_app(store=sink)
    with app.test_client() as c:
        assert post_hook(c, hook_request(standard_data())).status_code == 401
        assert c.post(f"{SERVICE_PATH}/feedback", json={"feedback": []}).status_code == 401
        assert c.get("/cds-services").status_code == 401
        assert post_hook(c, hook_request(standard_data()), headers=auth(es384)).status_code == 200
    # the hook calls only (feedback and discovery are not hook calls), refused one first
    assert [r.status_code for r in sink.records] == [401, 200]
    refused = sink.records[0]
    assert refused.service_id == "msc-liver-screening"
    assert refused.hook_instance is None
    assert refused.user_id is None
    assert refused.patient_id is None
    assert refused.outcome is None


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://cds.example.org/cds-services/other"},
        {"iat_offset": -4000},
        {"iat_offset": 600},
        {"iss": "https://evil.example"},
        {"jti": None},
    ],
    ids=["wrong-aud", "expired", "iat-future", "unknown-iss", "no-jti"],
)
def test_bad_tokens_get_401_without_detail(
    client: FlaskClient,
    es384: SigningKey,
    claims: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    if claims.get("jti", "x") is None:
        token = mint(es384, iss=ISS, aud=f"{PUBLIC}{SERVICE_PATH}", now=FROZEN_NOW, drop=("jti",))
    else:
        fields = {"iss": ISS, "aud": f"{PUBLIC}{SERVICE_PATH}", **claims}
        token = mint(es384, now=FROZEN_NOW, **fields)
    with caplog.at_level(logging.INFO, logger="cds_service.security"):
        response = post_hook(
            client, hook_request(standard_data()), headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 401
    assert response.get_json() == {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "login", "diagnostics": "Unauthorized"}],
    }
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_security_headers(response)
    failure_lines = [r.getMessage() for r in caplog.records if "JWT check failed" in r.getMessage()]
    assert len(failure_lines) == 1
    assert token not in caplog.text


def test_replayed_token_is_refused_over_http(client: FlaskClient, es384: SigningKey) -> None:
    headers = auth(es384)
    assert post_hook(client, hook_request(standard_data()), headers=headers).status_code == 200
    assert post_hook(client, hook_request(standard_data()), headers=headers).status_code == 401


def test_preflight_and_health_need_no_jwt(client: FlaskClient) -> None:
    preflight = client.options(
        SERVICE_PATH,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 204
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)
    assert_security_headers(client.get("/healthz"))


def test_unknown_paths_are_401_before_404(client: FlaskClient, es384: SigningKey) -> None:
    assert client.get("/admin").status_code == 401
    response = client.get("/nothing-here", headers=auth(es384, "/nothing-here"))
    assert response.status_code == 404
    assert_security_headers(response)


def test_audience_falls_back_to_request_url_without_public_base_url(
    make_app: MakeApp, trust_settings: dict[str, Any], es384: SigningKey
) -> None:
    app = make_app(
        engine=FakeEngine(),
        renderer=FakeRenderer(),
        authenticator=build_authenticator(
            Settings(**trust_settings), None, None, clock=lambda: FROZEN_NOW
        ),
        public_base_url=None,
        **trust_settings,
    )
    with app.test_client() as c:
        token = mint(es384, iss=ISS, aud=f"https://cds.internal:8443{SERVICE_PATH}", now=FROZEN_NOW)
        response = post_hook(
            c,
            hook_request(standard_data()),
            headers={"Authorization": f"Bearer {token}"},
            base_url="https://cds.internal:8443",
        )
        assert response.status_code == 200


def test_production_without_trust_file_refuses_everything(
    make_app: MakeApp, es384: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="cds_service.security"):
        authenticator = build_authenticator(Settings(public_base_url=PUBLIC))
    assert "no trusted issuers" in caplog.text
    strict = make_app(engine=FakeEngine(), renderer=FakeRenderer(), authenticator=authenticator)
    with strict.test_client() as c:
        response = post_hook(c, hook_request(standard_data()), headers=auth(es384))
        assert response.status_code == 401


def test_init_app_builds_the_strict_default_when_no_authenticator_is_given(
    es384: SigningKey,
) -> None:
    from cds_service.app import create_app
    from cds_service.deps import Dependencies

    app = create_app(
        Settings(public_base_url=PUBLIC, log_level="WARNING"),
        Dependencies(engine=FakeEngine(), renderer=FakeRenderer()),
    )
    with app.test_client() as c:
        response = post_hook(c, hook_request(standard_data()), headers=auth(es384))
        assert response.status_code == 401


# --- dev mode -------------------------------------------------------------------------------


def test_dev_mode_skips_jwt_and_warns_on_every_request(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(engine=FakeEngine(), renderer=FakeRenderer(), authenticator=None, dev_mode=True)
    with app.test_client() as c, caplog.at_level(logging.WARNING, logger="cds_service"):
        for _ in range(2):
            assert post_hook(c, hook_request(standard_data())).status_code == 200
    # one access-log line per request, raised to WARNING and saying so
    warnings = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING
        and getattr(r, "cds_fields", {}).get("auth") == "DEV MODE: JWT not verified"
    ]
    assert len(warnings) == 2
    assert len([r for r in caplog.records if r.name == "cds_service.access"]) == 2


def test_dev_mode_refuses_a_non_loopback_host(make_app: MakeApp) -> None:
    with pytest.raises(DevModeNotAllowed):
        make_app(
            engine=FakeEngine(),
            renderer=FakeRenderer(),
            authenticator=None,
            dev_mode=True,
            host="0.0.0.0",
        )


# --- SSRF -------------------------------------------------------------------------------------


def without_observations() -> dict[str, Any]:
    data = standard_data()
    del data["observations"]  # forces a FHIR query
    return data


@pytest.mark.parametrize(
    "server",
    [
        "https://unlisted.example.org/fhir",
        "https://169.254.169.254/latest",
        "http://ehr.example.org/fhir",
        "https://ehr.example.org/fhirx",
        "https://user:pw@ehr.example.org/fhir",
        PRIVATE_FHIR,  # listed, but a private address the operator did not allow
    ],
)
def test_hook_naming_a_refused_fhir_server_gets_412_and_no_request_leaves(
    client: FlaskClient, es384: SigningKey, no_network: responses.RequestsMock, server: str
) -> None:
    response = post_hook(
        client, hook_request(without_observations(), fhir_server=server), headers=auth(es384)
    )
    assert response.status_code == 412, response.get_data(as_text=True)
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert "FHIR server" in body["issue"][0]["diagnostics"]
    assert len(no_network.calls) == 0
    assert_security_headers(response)


def test_redirect_to_another_host_gets_412_and_is_not_followed(
    client: FlaskClient, es384: SigningKey, no_network: responses.RequestsMock
) -> None:
    no_network.get(
        f"{FHIR_BASE}/Observation",
        status=302,
        headers={"Location": "https://attacker.example/steal"},
    )
    response = post_hook(client, hook_request(without_observations()), headers=auth(es384))
    assert response.status_code == 412
    assert [str(c.request.url).split("?")[0] for c in no_network.calls] == [
        f"{FHIR_BASE}/Observation"
    ]


def test_next_link_to_another_host_gets_412_and_is_not_followed(
    client: FlaskClient, es384: SigningKey, no_network: responses.RequestsMock
) -> None:
    no_network.get(
        f"{FHIR_BASE}/Observation",
        json=searchset([observation(1)], next_url="https://attacker.example/fhir/Observation"),
    )
    response = post_hook(client, hook_request(without_observations()), headers=auth(es384))
    assert response.status_code == 412
    assert all(str(c.request.url).startswith(FHIR_BASE) for c in no_network.calls)


def test_fhir_token_goes_only_to_the_allowlisted_server(
    client: FlaskClient, es384: SigningKey, no_network: responses.RequestsMock
) -> None:
    no_network.get(f"{FHIR_BASE}/Observation", json=searchset([observation(1)]))
    response = post_hook(client, hook_request(without_observations()), headers=auth(es384))
    assert response.status_code == 200
    assert len(no_network.calls) == 1
    call = no_network.calls[0].request
    assert str(call.url).startswith(FHIR_BASE + "/")
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"


# --- limits -----------------------------------------------------------------------------------


def test_body_size_limit(make_app: MakeApp, es384: SigningKey) -> None:
    app = make_app(engine=FakeEngine(), renderer=FakeRenderer(), max_body_bytes=4096)
    with app.test_client() as c:
        body = hook_request(standard_data(), padding="x" * 5000)
        response = post_hook(c, body, headers=auth(es384))
        assert response.status_code == 413
        assert_security_headers(response)


def test_json_depth_limit(client: FlaskClient, es384: SigningKey) -> None:
    nested: Any = "x"
    for _ in range(80):
        nested = {"n": nested}
    response = post_hook(client, hook_request(standard_data(), deep=nested), headers=auth(es384))
    assert response.status_code == 400


def test_prefetch_entry_limit(make_app: MakeApp, es384: SigningKey) -> None:
    app = make_app(engine=FakeEngine(), renderer=FakeRenderer(), max_prefetch_entries=3)
    data = standard_data()
    with app.test_client() as c:
        response = post_hook(c, hook_request(data), headers=auth(es384))
        assert response.status_code == 400
        assert "prefetch" in response.get_json()["issue"][0]["diagnostics"]


def test_page_limit(
    make_app: MakeApp, es384: SigningKey, no_network: responses.RequestsMock
) -> None:
    app = make_app(engine=FakeEngine(), renderer=FakeRenderer(), fhir_max_pages=2)
    for page in range(5):
        no_network.get(
            f"{FHIR_BASE}/Observation?_offset={page}" if page else f"{FHIR_BASE}/Observation",
            json=searchset(
                [observation(page)], next_url=f"{FHIR_BASE}/Observation?_offset={page + 1}"
            ),
        )
    with app.test_client() as c:
        response = post_hook(c, hook_request(without_observations()), headers=auth(es384))
    assert response.status_code == 200  # capped: answers with what it read, and says so
    assert len(no_network.calls) == 2  # never follows all five pages


# --- no secrets or PHI in logs ----------------------------------------------------------------

LAB_VALUE = "987.654"


def lab_data() -> dict[str, Any]:
    data = standard_data()
    observations = []
    for n in range(3):
        obs = observation(n)
        obs["valueQuantity"] = {"value": float(LAB_VALUE), "unit": "U/L"}
        observations.append(obs)
    data["observations"] = searchset(observations)
    data["patient"] = patient()
    return data


class CaptureAll(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(
            logging.Formatter("%(name)s %(levelname)s %(message)s %(exc_text)s %(stack_info)s")
        )

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        extras = {
            k: v
            for k, v in vars(record).items()
            if k not in logging.LogRecord("", 0, "", 0, "", None, None).__dict__
        }
        self.lines.append(f"{text} {extras!r}")


@contextlib.contextmanager
def capture_every_logger() -> Iterator[CaptureAll]:
    """A :class:`CaptureAll` on every logger, the service's own turned up to DEBUG.

    The service's loggers go to DEBUG (an operator may set CDS_LOG_LEVEL=DEBUG); third-party
    loggers keep the levels the service runs with (turning SQLAlchemy's engine logger up to
    INFO would print SQL parameters: see docs/security.md).
    """
    handler = CaptureAll()
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        if logger.name.startswith("cds_service"):
            logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for logger, level in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)


def test_no_token_jwt_or_lab_value_in_any_log_output(
    secure_app: Flask,
    es384: SigningKey,
    no_network: responses.RequestsMock,
    capfd: pytest.CaptureFixture[str],
) -> None:
    no_network.get(f"{FHIR_BASE}/Observation", json=lab_data()["observations"])
    no_network.get(f"{FHIR_BASE}/Patient/pat-1", json=patient())
    tokens: list[str] = []
    with capture_every_logger() as capture, secure_app.test_client() as c:
        for body in (
            hook_request(lab_data()),  # full prefetch with lab values
            hook_request(without_observations() | {"observations": None}),
            hook_request({"patient": patient()}),  # fetched from the FHIR server
            hook_request(lab_data(), fhir_server="https://unlisted.example/fhir"),
        ):
            headers = auth(es384)
            tokens.append(headers["Authorization"].split()[1])
            post_hook(c, body, headers=headers)
        # refused tokens are logged as failures: still without the token
        bad = mint(make_key("ES384"), iss=ISS, aud=f"{PUBLIC}{SERVICE_PATH}", now=FROZEN_NOW)
        tokens.append(bad)
        post_hook(c, hook_request(lab_data()), headers={"Authorization": f"Bearer {bad}"})
        post_hook(c, hook_request(lab_data()), headers={"Authorization": f"Bearer {tokens[0]}"})
        post_hook(c, b'{"broken": ', headers=auth(es384))
        c.get("/cds-services", headers=auth(es384, "/cds-services"))
    stdout, stderr = capfd.readouterr()
    everything = "\n".join(capture.lines) + stdout + stderr
    assert capture.lines, "nothing was logged: the capture is broken"
    assert "JWT check failed" in everything
    for token in tokens:
        assert token not in everything
        for part in token.split("."):
            assert part not in everything
    assert TOKEN not in everything
    assert "eyJ" not in everything
    assert LAB_VALUE not in everything
    assert "pat-1" not in everything  # CDS_LOG_PATIENT_IDS is off


def test_invalid_trust_file_stops_start_up(make_app: MakeApp, tmp_path: Path) -> None:
    from cds_service.app import create_app
    from cds_service.deps import Dependencies
    from cds_service.security import TrustConfigError

    bad = write_trust(tmp_path, {"issuers": [{"iss": ISS, "jwks_url": "http://x.example/j"}]})
    with pytest.raises(TrustConfigError, match="https outside dev mode"):
        create_app(
            Settings(trust_file=str(bad), log_level="WARNING"),
            Dependencies(engine=FakeEngine(), renderer=FakeRenderer()),
        )


def test_feedback_with_a_token_for_its_own_url_passes_authentication(
    client: FlaskClient, es384: SigningKey
) -> None:
    path = f"{SERVICE_PATH}/feedback"
    response = client.post(path, json={"feedback": []}, headers=auth(es384, path))
    assert response.status_code != 401
    wrong = client.post(path, json={"feedback": []}, headers=auth(es384))  # hook URL as aud
    assert wrong.status_code == 401
