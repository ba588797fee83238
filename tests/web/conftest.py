"""Fakes for the HTTP pipeline tests: a tiny engine and renderer, a fake FHIR server.

The fake engine turns the data it receives into card text (ids of every resource, the
fetch notes), so two runs give identical cards exactly when identical data reached it.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient

from cds_service.clinical.model import (
    OUTCOME_CODE_SYSTEM,
    Assessment,
    Outcome,
    PatientData,
    PatientSummary,
    RuleKind,
    RuleResult,
    Status,
)
from cds_service.hooks.validation import errors as schema_errors
from tests.conftest import FHIR_BASE, MakeApp

FAKE_CODES = ("http://loinc.org|1742-6", "http://loinc.org|1920-8", "http://loinc.org|777-3")
SERVICE_URL = "/cds-services/msc-liver-screening"
PATIENT_ID = "pat-1"
TOKEN = "secret-fhir-token-xyz"


class FakeEngine:
    version = "fake-ruleset-1"

    def __init__(self) -> None:
        self.seen: list[PatientData] = []

    def observation_code_tokens(self) -> tuple[str, ...]:
        return FAKE_CODES

    def evaluate(self, data: PatientData, now: datetime) -> Assessment:
        self.seen.append(data)

        def ids(resources: Sequence[Mapping[str, Any]]) -> str:
            return ",".join(sorted(str(r.get("id")) for r in resources))

        digest = (
            f"obs={ids(data.observations)} cond={ids(data.conditions)} "
            f"med={ids(data.medications)} proc={ids(data.procedures)}"
        )
        patient_ref = f"Patient/{data.patient['id']}" if data.patient else None
        return Assessment(
            outcome=Outcome.DOES_NOT_MEET if data.observations else Outcome.WORKUP_INCOMPLETE,
            evaluated_at=now,
            ruleset_version=self.version,
            patient=PatientSummary(resource_ref=patient_ref, age_years=None, sex=None),
            rules=(
                RuleResult(
                    id="fake.data",
                    kind=RuleKind.INDICATION,
                    label="data",
                    status=Status.MET,
                    reason=digest,
                ),
            ),
            data_quality=data.fetch_notes,
        )


class FakeRenderer:
    def render(
        self, assessment: Assessment, patient_id: str, uuid_factory: Callable[[], str]
    ) -> list[dict[str, Any]]:
        notes = "; ".join(f"{n.code}: {n.message}" for n in assessment.data_quality)
        return [
            {
                "uuid": uuid_factory(),
                "summary": f"Fake screening result: {assessment.outcome.value}",
                "indicator": "info",
                "detail": f"{assessment.rules[0].reason}\n\n{notes}",
                "source": {
                    "label": "Fake clinic",
                    "url": None,
                    "topic": {
                        "system": OUTCOME_CODE_SYSTEM,
                        "code": assessment.outcome.value,
                        "display": "",
                    },
                },
                "links": [],
                "suggestions": [],
            }
        ]


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def fake_app(make_app: MakeApp, fake_engine: FakeEngine) -> Flask:
    return make_app(engine=fake_engine, renderer=FakeRenderer())


@pytest.fixture
def fake_client(fake_app: Flask) -> Iterator[FlaskClient]:
    with fake_app.test_client() as c:
        yield c


# --- FHIR data builders -------------------------------------------------------------------


def patient(pid: str = PATIENT_ID) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "gender": "male", "birthDate": "1970-01-01"}


def observation(n: int, pid: str = PATIENT_ID) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"obs-{n}",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1742-6"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": "2026-10-01",
        "valueQuantity": {"value": 40 + n, "unit": "U/L"},
    }


def condition(n: int, pid: str = PATIENT_ID) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": f"cond-{n}",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "197321007"}]},
        "subject": {"reference": f"Patient/{pid}"},
    }


def searchset(
    resources: Sequence[Mapping[str, Any]], next_url: str | None = None
) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": dict(r)} for r in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def operation_outcome() -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "exception", "diagnostics": "prefetch failed"}],
    }


def standard_data() -> dict[str, Any]:
    """Prefetch for the standard patient: 1 Patient, 5 Observations, 2 Conditions."""
    return {
        "patient": patient(),
        "conditions": searchset([condition(1), condition(2)]),
        "observations": searchset([observation(n) for n in range(5)]),
        "medications": searchset([]),
        "medicationStatements": searchset([]),
        "procedures": searchset([]),
    }


def hook_request(
    prefetch: Mapping[str, Any] | None = None,
    *,
    fhir_server: str | None = FHIR_BASE,
    token: str | None = TOKEN,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hookInstance": str(uuid.UUID(int=7)),
        "hook": "patient-view",
        "context": {"userId": "Practitioner/dr-1", "patientId": PATIENT_ID},
    }
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
    if token is not None:
        body["fhirAuthorization"] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/Patient.read user/Observation.read user/Condition.read",
            "subject": "msc-liver-screening",
        }
    if prefetch is not None:
        body["prefetch"] = copy.deepcopy(dict(prefetch))
    body.update(extra)
    return body


def post_hook(client: FlaskClient, body: Any, **kwargs: Any) -> Any:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    kwargs.setdefault("content_type", "application/json")
    return client.post(SERVICE_URL, data=data, **kwargs)


def assert_valid_response(document: Any) -> None:
    problems = schema_errors("response", document)
    assert problems == [], problems


def assert_operation_outcome(response: Any, status: int, expression: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    issue = body["issue"][0]
    assert issue["severity"] == "error"
    assert issue["diagnostics"]
    if expression is not None:
        assert issue["expression"] == [expression]


# --- fake FHIR server ---------------------------------------------------------------------


class FakeFhirServer:
    """Answers FHIR reads and searches for one patient from fixed data, like a real server
    that holds exactly the prefetch data; pages searches when ``page_size`` is set."""

    def __init__(
        self, mock: responses.RequestsMock, data: Mapping[str, Any], page_size: int | None = None
    ) -> None:
        self.mock = mock
        self.page_size = page_size
        self.resources: dict[str, list[dict[str, Any]]] = {}
        self.patient = data.get("patient")
        for key, value in data.items():
            if key == "patient" or value is None:
                continue
            for entry in value.get("entry", []):
                resource = entry["resource"]
                self.resources.setdefault(resource["resourceType"], []).append(resource)
        mock.add_callback(
            responses.GET, re.compile(re.escape(FHIR_BASE) + r"/.*"), callback=self._answer
        )

    @property
    def calls(self) -> list[Any]:
        return [c.request for c in self.mock.calls]

    def _answer(self, request: Any) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(request.url)
        path = parts.path[len(urlsplit(FHIR_BASE).path) :].strip("/")
        query = parse_qs(parts.query)
        if path.startswith("Patient/"):
            if self.patient is None:
                return 404, {}, orjson.dumps(operation_outcome())
            return 200, {"Content-Type": "application/fhir+json"}, orjson.dumps(self.patient)
        found = list(self.resources.get(path, []))
        offset = int(query.get("_offset", ["0"])[0])
        next_url = None
        if self.page_size is not None:
            page = found[offset : offset + self.page_size]
            if offset + self.page_size < len(found):
                next_url = f"{FHIR_BASE}/{path}?_offset={offset + self.page_size}"
            found = page
        return (
            200,
            {"Content-Type": "application/fhir+json"},
            orjson.dumps(searchset(found, next_url)),
        )


@pytest.fixture
def fhir_mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
