"""No token, JWT, lab value or patient id in any log output: the real engine and card renderer.

Every fixture scenario is sent twice through ``create_app`` with a valid JWT: with full
prefetch, and without prefetch so the data comes from a (faked) FHIR server with an access
token. Each lab value is nudged to a distinctive string (``45`` -> ``45.000317``) so it can be
searched for in the log output without matching timestamps or latencies.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask

from cds_service.config import Settings
from cds_service.security import build_authenticator
from tests.conftest import FHIR_BASE, FROZEN_NOW, MakeApp
from tests.web.conftest import FakeFhirServer, post_hook

from .keys import SigningKey, jwks_of, mint, write_trust
from .test_web_security import CaptureAll, capture_every_logger

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hook-requests"
PUBLIC = "https://cds.example.org"
SERVICE_PATH = "/cds-services/msc-liver-screening"
ISS = "https://ehr.example.org/fhir"
FHIR_TOKEN = "fhir-access-token-7Q2x9LmZ"


def nudged(request: dict[str, Any], counter: list[int]) -> tuple[dict[str, Any], list[str]]:
    """A copy whose Observation values are distinctive strings; returns them too."""
    document = copy.deepcopy(request)
    values: list[str] = []
    observations = document["prefetch"].get("observations") or {}
    for entry in observations.get("entry", []):
        quantity = entry.get("resource", {}).get("valueQuantity")
        if isinstance(quantity, dict) and isinstance(quantity.get("value"), int | float):
            counter[0] += 1
            value = round(float(quantity["value"]) + counter[0] / 1_000_000 + 0.0003, 6)
            quantity["value"] = value
            values.append(repr(value))
    return document, values


@pytest.fixture
def real_app(make_app: MakeApp, settings: Settings, tmp_path: Path, es384: SigningKey) -> Flask:
    (tmp_path / "jwks.json").write_text(json.dumps(jwks_of(es384)))
    trust = write_trust(tmp_path, {"issuers": [{"iss": ISS, "jwks_file": "jwks.json"}]})
    authenticator = build_authenticator(
        settings.with_overrides(trust_file=str(trust)), None, None, clock=lambda: FROZEN_NOW
    )
    return make_app(authenticator=authenticator, trust_file=str(trust))


@pytest.fixture
def capture() -> Iterator[CaptureAll]:
    with capture_every_logger() as handler:
        yield handler


def test_real_engine_logs_no_token_jwt_lab_value_or_patient_id(
    real_app: Flask,
    es384: SigningKey,
    capture: CaptureAll,
    capfd: pytest.CaptureFixture[str],
) -> None:
    requests_with_prefetch = sorted(EXAMPLES.glob("*.prefetch.json"))
    assert len(requests_with_prefetch) >= 10
    counter = [0]
    secrets: list[str] = [FHIR_TOKEN]
    lab_values: list[str] = []
    patient_ids: list[str] = []
    statuses: list[int] = []
    fhir_calls = 0
    with real_app.test_client() as client:
        for path in requests_with_prefetch:
            document, values = nudged(json.loads(path.read_text()), counter)
            lab_values += values
            patient_ids.append(document["context"]["patientId"])
            for with_prefetch in (True, False):
                body = copy.deepcopy(document)
                if not with_prefetch:
                    body.pop("prefetch")
                    body["fhirServer"] = FHIR_BASE
                    body["fhirAuthorization"] = {
                        "access_token": FHIR_TOKEN,
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "scope": "patient/*.read",
                        "subject": "msc-liver-screening",
                    }
                token = mint(es384, iss=ISS, aud=f"{PUBLIC}{SERVICE_PATH}", now=FROZEN_NOW)
                secrets.append(token)
                with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
                    FakeFhirServer(mock, document["prefetch"])
                    response = post_hook(client, body, headers={"Authorization": f"Bearer {token}"})
                    fhir_calls += len(mock.calls)
                statuses.append(response.status_code)
    stdout, stderr = capfd.readouterr()
    everything = "\n".join(capture.lines) + stdout + stderr
    assert statuses.count(200) >= len(statuses) * 0.9, statuses  # the pipeline really ran
    assert capture.lines
    assert len(lab_values) > 50
    assert fhir_calls >= len(requests_with_prefetch) * 4  # the no-prefetch calls read the server
    for secret in secrets:
        assert secret not in everything
    assert "eyJ" not in everything
    leaked = [v for v in lab_values if v in everything]
    assert leaked == []
    leaked_ids = [p for p in patient_ids if p in everything]
    assert leaked_ids == []
