"""No input makes a 500: hypothesis-generated bodies and mutations of a valid request."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import MakeApp
from tests.web.conftest import FakeEngine, FakeRenderer, hook_request, post_hook, standard_data

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
KEYS = ["hook", "hookInstance", "fhirServer", "fhirAuthorization", "context", "prefetch"]
PREFETCH_KEYS = [
    "patient",
    "conditions",
    "observations",
    "medications",
    "medicationStatements",
    "procedures",
]


@pytest.fixture(scope="module")
def app(make_app_module: MakeApp) -> Flask:
    return make_app_module(engine=FakeEngine(), renderer=FakeRenderer())


@pytest.fixture(scope="module")
def make_app_module(tmp_path_factory: pytest.TempPathFactory) -> MakeApp:
    from datetime import UTC, datetime

    from cds_service.app import create_app
    from cds_service.config import Settings
    from cds_service.deps import Dependencies
    from tests.conftest import FHIR_BASE, AllowAllAuthenticator, CountingUuids

    class NoNetwork:
        """Outbound FHIR session for fuzzing: nothing ever leaves the machine."""

        def get(self, *args: Any, **kwargs: Any) -> Any:
            import requests

            raise requests.ConnectionError("fuzz tests make no network calls")

    def factory(**kw: Any) -> Flask:
        kw.setdefault("http_session", NoNetwork())
        return create_app(
            Settings(
                allowed_fhir_servers=(FHIR_BASE,),
                log_level="ERROR",
                sqlite_path=str(tmp_path_factory.mktemp("fuzz") / "store.sqlite3"),
            ),
            Dependencies(
                clock=lambda: datetime(2026, 11, 1, tzinfo=UTC),
                uuid_factory=CountingUuids(),
                authenticator=AllowAllAuthenticator(),
                **kw,
            ),
        )

    return factory


def _check(app: Flask, body: bytes) -> None:
    with app.test_client() as c:
        # fhirServer values point nowhere reachable; no prefetch fallback may leave loopback:
        # the policy allows only the fake base, which `responses` is not mocking here, so a
        # fetch attempt fails fast as a connection error -> 412
        response = post_hook(c, body)
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.mimetype == "application/json"


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=200))
def test_random_bytes_never_500(app: Flask, body: bytes) -> None:
    _check(app, body)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(json_values)
def test_random_json_never_500(app: Flask, document: Any) -> None:
    _check(app, json.dumps(document).encode())


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    top=st.dictionaries(st.sampled_from(KEYS), json_values, max_size=3),
    prefetch=st.dictionaries(st.sampled_from(PREFETCH_KEYS), json_values, max_size=3),
    context=st.dictionaries(
        st.sampled_from(["userId", "patientId", "encounterId"]), json_values, max_size=2
    ),
)
def test_mutated_valid_requests_never_500(
    app: Flask, top: dict[str, Any], prefetch: dict[str, Any], context: dict[str, Any]
) -> None:
    body = hook_request(standard_data(), fhir_server=None, token=None)
    body["prefetch"].update(prefetch)
    body["context"].update(context)
    body.update(top)
    _check(app, json.dumps(body).encode())


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.sampled_from(PREFETCH_KEYS),
    entries=st.lists(json_values, max_size=5),
    links=json_values,
)
def test_junk_bundles_never_500(app: Flask, key: str, entries: list[Any], links: Any) -> None:
    body = hook_request(standard_data(), fhir_server=None, token=None)
    body["prefetch"][key] = {"resourceType": "Bundle", "entry": entries, "link": links}
    _check(app, json.dumps(body).encode())


@pytest.fixture(scope="module")
def real_app(make_app_module: MakeApp) -> Flask:
    """The real clinical engine and card renderer (loaded by create_app)."""
    return make_app_module()


fhir_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "2026-10-01", "2026-13-45", "abc", "U/L", "mg/dL", "http://loinc.org"])
)
fhir_values = st.recursive(
    fhir_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["coding", "system", "code", "value", "unit", "text", "reference", "start", "end"]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=15,
)
RESOURCE_FIELDS = [
    "code",
    "status",
    "clinicalStatus",
    "verificationStatus",
    "valueQuantity",
    "valueString",
    "valueCodeableConcept",
    "effectiveDateTime",
    "effectivePeriod",
    "issued",
    "onsetDateTime",
    "abatementDateTime",
    "recordedDate",
    "subject",
    "category",
    "interpretation",
    "referenceRange",
    "performedDateTime",
    "authoredOn",
    "medicationCodeableConcept",
    "birthDate",
    "gender",
]


@st.composite
def junk_resource(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    fields = draw(st.dictionaries(st.sampled_from(RESOURCE_FIELDS), fhir_values, max_size=6))
    resource: dict[str, Any] = {"resourceType": kind, "id": draw(st.sampled_from(["a", "b", ""]))}
    resource.update(fields)
    if draw(st.booleans()):  # a plausible code so the rules look at it
        resource["code"] = {
            "coding": [
                {
                    "system": draw(st.sampled_from(["http://loinc.org", "http://snomed.info/sct"])),
                    "code": draw(
                        st.sampled_from(["1742-6", "1920-8", "777-3", "6301-6", "197321007"])
                    ),
                }
            ]
        }
    return resource


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    observations=st.lists(junk_resource("Observation"), max_size=6),
    conditions=st.lists(junk_resource("Condition"), max_size=4),
    medications=st.lists(junk_resource("MedicationRequest"), max_size=2),
    procedures=st.lists(junk_resource("Procedure"), max_size=2),
    patient_fields=st.dictionaries(st.sampled_from(RESOURCE_FIELDS), fhir_values, max_size=3),
)
def test_junk_resources_never_500_on_the_real_engine(
    real_app: Flask,
    observations: list[dict[str, Any]],
    conditions: list[dict[str, Any]],
    medications: list[dict[str, Any]],
    procedures: list[dict[str, Any]],
    patient_fields: dict[str, Any],
) -> None:
    body = hook_request(standard_data(), fhir_server=None, token=None)
    body["prefetch"]["patient"].update(patient_fields)
    body["prefetch"]["patient"]["id"] = "pat-1"

    def bundle(items: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in items],
        }

    body["prefetch"]["observations"] = bundle(observations)
    body["prefetch"]["conditions"] = bundle(conditions)
    body["prefetch"]["medications"] = bundle(medications)
    body["prefetch"]["procedures"] = bundle(procedures)
    with real_app.test_client() as c:
        response = post_hook(c, json.dumps(body).encode())
    assert response.status_code == 200, response.get_data(as_text=True)
    from tests.web.conftest import assert_valid_response

    assert_valid_response(response.get_json())


@pytest.mark.parametrize("status", [[], {"code": "final"}])
def test_observation_status_of_the_wrong_type_is_not_a_500(real_app: Flask, status: Any) -> None:
    body = hook_request(standard_data(), fhir_server=None, token=None)
    body["prefetch"]["observations"]["entry"][0]["resource"]["status"] = status
    with real_app.test_client() as c:
        response = post_hook(c, json.dumps(body).encode())
    assert response.status_code == 200
