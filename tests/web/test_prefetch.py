"""Prefetch semantics (CDS Hooks 2.0, "Prefetch Template") and the FHIR fallback."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
import requests
import responses
from flask.testing import FlaskClient

from tests.conftest import FHIR_BASE, CountingUuids, MakeApp
from tests.web.conftest import (
    PATIENT_ID,
    TOKEN,
    FakeEngine,
    FakeFhirServer,
    FakeRenderer,
    assert_operation_outcome,
    assert_valid_response,
    condition,
    hook_request,
    observation,
    operation_outcome,
    patient,
    post_hook,
    searchset,
    standard_data,
)

pytestmark = pytest.mark.usefixtures("fhir_mock")


@pytest.mark.requirement("28")
@pytest.mark.requirement("74")
def test_full_prefetch_answers_without_any_fhir_call(
    fake_client: FlaskClient, fhir_mock: responses.RequestsMock, fake_engine: FakeEngine
) -> None:
    response = post_hook(fake_client, hook_request(standard_data()))
    assert response.status_code == 200
    body = response.get_json()
    assert_valid_response(body)
    assert len(fhir_mock.calls) == 0
    data = fake_engine.seen[0]
    assert data.patient is not None
    assert data.patient["id"] == PATIENT_ID
    assert [o["id"] for o in data.observations] == [f"obs-{n}" for n in range(5)]
    assert len(data.conditions) == 2


@pytest.mark.requirement("3")
def test_response_has_no_null_or_empty_attributes(fake_client: FlaskClient) -> None:
    card = post_hook(fake_client, hook_request(standard_data())).get_json()["cards"][0]
    # the fake renderer emits url None, display "", links [] and suggestions []
    assert "links" not in card
    assert "suggestions" not in card
    assert "url" not in card["source"]
    assert "display" not in card["source"]["topic"]


def test_full_prefetch_needs_no_fhir_server(fake_client: FlaskClient) -> None:
    response = post_hook(fake_client, hook_request(standard_data(), fhir_server=None, token=None))
    assert response.status_code == 200


@pytest.mark.requirement("52")
def test_null_prefetch_is_known_empty_and_makes_no_call(
    fake_client: FlaskClient, fhir_mock: responses.RequestsMock, fake_engine: FakeEngine
) -> None:
    prefetch = {
        "patient": patient(),
        "conditions": None,
        "observations": None,
        "medications": None,
        "medicationStatements": None,
        "procedures": None,
    }
    response = post_hook(fake_client, hook_request(prefetch, fhir_server=None, token=None))
    assert response.status_code == 200
    assert len(fhir_mock.calls) == 0
    data = fake_engine.seen[0]
    assert data.observations == ()
    assert data.conditions == ()


@pytest.mark.requirement("52")
@pytest.mark.parametrize(
    "outcome",
    [operation_outcome(), searchset([operation_outcome()])],
    ids=["OperationOutcome", "Bundle-of-OperationOutcome"],
)
def test_operation_outcome_prefetch_falls_back_to_the_server(
    fake_client: FlaskClient,
    fhir_mock: responses.RequestsMock,
    fake_engine: FakeEngine,
    outcome: dict[str, Any],
) -> None:
    data = standard_data()
    FakeFhirServer(fhir_mock, data)
    prefetch = dict(data, observations=outcome)
    response = post_hook(fake_client, hook_request(prefetch))
    assert response.status_code == 200
    assert [c.request.url.split("?")[0] for c in fhir_mock.calls] == [f"{FHIR_BASE}/Observation"]
    assert len(fake_engine.seen[0].observations) == 5


@pytest.mark.requirement("60")
@pytest.mark.requirement("61")
def test_missing_keys_are_fetched_with_the_bearer_token(
    fake_client: FlaskClient, fhir_mock: responses.RequestsMock
) -> None:
    data = standard_data()
    FakeFhirServer(fhir_mock, data)
    prefetch = {"patient": data["patient"], "medications": None}  # 4 keys absent
    response = post_hook(fake_client, hook_request(prefetch))
    assert response.status_code == 200
    urls = sorted(c.request.url for c in fhir_mock.calls)
    assert urls == [
        f"{FHIR_BASE}/Condition?patient={PATIENT_ID}",
        f"{FHIR_BASE}/MedicationStatement?patient={PATIENT_ID}",
        f"{FHIR_BASE}/Observation?patient={PATIENT_ID}&code=http://loinc.org%7C1742-6,"
        "http://loinc.org%7C1920-8,http://loinc.org%7C777-3&_sort=-date&_count=200",
        f"{FHIR_BASE}/Procedure?patient={PATIENT_ID}",
    ]
    for call in fhir_mock.calls:
        assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert "fhir+json" in call.request.headers["Accept"]


@pytest.mark.requirement("34")
def test_same_cards_with_full_prefetch_and_with_no_prefetch(
    make_app: MakeApp, fhir_mock: responses.RequestsMock, uuid_factory: CountingUuids
) -> None:
    data = standard_data()
    data["medications"] = searchset(
        [{"resourceType": "MedicationRequest", "id": "med-1", "status": "active"}]
    )
    FakeFhirServer(fhir_mock, data)

    def answer(prefetch: dict[str, Any] | None) -> Any:
        uuid_factory.count = 0
        app = make_app(engine=FakeEngine(), renderer=FakeRenderer())
        with app.test_client() as c:
            response = post_hook(c, hook_request(prefetch))
        assert response.status_code == 200
        return response.get_json()

    with_prefetch = answer(data)
    assert len(fhir_mock.calls) == 0
    without_prefetch = answer(None)
    assert len(fhir_mock.calls) == 6
    assert with_prefetch == without_prefetch
    assert "med-1" in with_prefetch["cards"][0]["detail"]


def test_unknown_context_fields_and_extensions_are_accepted(fake_client: FlaskClient) -> None:
    body = hook_request(standard_data(), extension={"org.example.flag": True})
    body["context"]["encounterId"] = "enc-9"
    body["context"]["org.example.tab"] = {"name": "summary"}
    body["fhirAuthorization"]["patient"] = PATIENT_ID
    body["somethingNew"] = [1, 2, 3]
    body["prefetch"]["user"] = "Practitioner/dr-1"  # a key we did not ask for
    response = post_hook(fake_client, body)
    assert response.status_code == 200


def test_other_resource_types_in_a_bundle_are_ignored(
    fake_client: FlaskClient, fake_engine: FakeEngine
) -> None:
    data = standard_data()
    data["observations"]["entry"].append({"resource": condition(99)})
    data["observations"]["entry"].append({"search": {"mode": "outcome"}})  # no resource
    data["observations"]["entry"].append({"resource": operation_outcome()})
    assert post_hook(fake_client, hook_request(data)).status_code == 200
    assert len(fake_engine.seen[0].observations) == 5


# --- 412: data cannot be obtained ---------------------------------------------------------


@pytest.mark.requirement("54")
@pytest.mark.parametrize(
    ("fhir_server", "token"), [(None, None), (FHIR_BASE, None)], ids=["no-server", "no-token"]
)
def test_412_when_keys_are_missing_and_no_server_access(
    fake_client: FlaskClient, fhir_server: str | None, token: str | None
) -> None:
    prefetch = dict(standard_data())
    del prefetch["observations"]
    response = post_hook(fake_client, hook_request(prefetch, fhir_server=fhir_server, token=token))
    assert_operation_outcome(response, 412, "prefetch.observations")
    assert "fhirServer" in response.get_json()["issue"][0]["diagnostics"]


@pytest.mark.requirement("54")
@pytest.mark.parametrize("status", [401, 403, 404, 500, 502, 503])
def test_412_when_the_server_refuses_or_fails(
    fake_client: FlaskClient, fhir_mock: responses.RequestsMock, status: int
) -> None:
    fhir_mock.add(responses.GET, re.compile(re.escape(FHIR_BASE) + "/.*"), status=status)
    response = post_hook(fake_client, hook_request({}))
    assert_operation_outcome(response, 412)
    diagnostics = response.get_json()["issue"][0]["diagnostics"]
    assert f"HTTP {status}" in diagnostics
    assert TOKEN not in response.get_data(as_text=True)


@pytest.mark.requirement("54")
def test_412_on_timeout(fake_client: FlaskClient, fhir_mock: responses.RequestsMock) -> None:
    fhir_mock.add(responses.GET, re.compile(re.escape(FHIR_BASE) + "/.*"), body=requests.Timeout())
    response = post_hook(fake_client, hook_request({}))
    assert_operation_outcome(response, 412)
    assert response.get_json()["issue"][0]["code"] == "timeout"


@pytest.mark.requirement("54")
def test_412_when_the_hook_deadline_passes(
    make_app: MakeApp, fhir_mock: responses.RequestsMock
) -> None:
    import time

    def slow(request: Any) -> tuple[int, dict[str, str], bytes]:
        time.sleep(0.3)
        return 200, {}, orjson.dumps(searchset([]))

    fhir_mock.add_callback(responses.GET, re.compile(re.escape(FHIR_BASE) + "/.*"), callback=slow)
    app = make_app(engine=FakeEngine(), renderer=FakeRenderer(), hook_deadline_seconds=0.1)
    with app.test_client() as c:
        started = time.monotonic()
        response = post_hook(c, hook_request({"patient": patient()}))
        elapsed = time.monotonic() - started
    assert_operation_outcome(response, 412)
    assert response.get_json()["issue"][0]["code"] == "timeout"
    assert elapsed < 0.3, "the answer must not wait for the slow queries"


@pytest.mark.requirement("54")
@pytest.mark.parametrize(
    "body",
    [b"<html>not json</html>", b"[1, 2]", b'{"resourceType": "Observation", "id": "x"}'],
    ids=["not-json", "not-a-resource", "not-a-bundle"],
)
def test_412_on_a_malformed_server_answer(
    fake_client: FlaskClient, fhir_mock: responses.RequestsMock, body: bytes
) -> None:
    fhir_mock.add(responses.GET, re.compile(re.escape(FHIR_BASE) + "/Condition.*"), body=body)
    prefetch = dict(standard_data())
    del prefetch["conditions"]
    assert_operation_outcome(
        post_hook(fake_client, hook_request(prefetch)), 412, "prefetch.conditions"
    )


@pytest.mark.requirement("54")
def test_412_when_the_policy_refuses_the_server(
    fake_client: FlaskClient, fhir_mock: responses.RequestsMock
) -> None:
    fhir_mock.add(responses.GET, re.compile("https://evil.example.com/.*"), json=searchset([]))
    body = hook_request({}, fhir_server="https://evil.example.com/fhir")
    response = post_hook(fake_client, body)
    assert_operation_outcome(response, 412, "fhirServer")
    assert len(fhir_mock.calls) == 0, "no request may leave for a refused server"


def test_redirects_are_not_followed(
    fake_client: FlaskClient, fhir_mock: responses.RequestsMock
) -> None:
    fhir_mock.add(
        responses.GET,
        re.compile(re.escape(FHIR_BASE) + "/.*"),
        status=302,
        headers={"Location": "https://evil.example.com/steal"},
    )
    response = post_hook(fake_client, hook_request({}))
    assert_operation_outcome(response, 412)
    assert all("evil" not in c.request.url for c in fhir_mock.calls)


def test_prefetch_patient_must_match_the_context(fake_client: FlaskClient) -> None:
    data = standard_data()
    data["patient"] = patient("someone-else")
    assert_operation_outcome(post_hook(fake_client, hook_request(data)), 400, "prefetch.patient")


@pytest.mark.parametrize(
    ("key", "value"),
    [("patient", {"resourceType": "Observation"}), ("observations", patient())],
)
def test_prefetch_of_the_wrong_kind_is_a_400(
    fake_client: FlaskClient, key: str, value: dict[str, Any]
) -> None:
    data = standard_data()
    data[key] = value
    assert_operation_outcome(post_hook(fake_client, hook_request(data)), 400, f"prefetch.{key}")


# --- paging ---------------------------------------------------------------------------------


def test_prefetch_bundle_pages_are_followed_on_the_server(
    fake_client: FlaskClient, fhir_mock: responses.RequestsMock, fake_engine: FakeEngine
) -> None:
    data = standard_data()
    page2 = f"{FHIR_BASE}/Observation?_getpages=abc&_offset=5"
    data["observations"] = searchset([observation(n) for n in range(5)], next_url=page2)
    fhir_mock.add(responses.GET, page2, json=searchset([observation(n) for n in range(5, 8)]))
    response = post_hook(fake_client, hook_request(data))
    assert response.status_code == 200
    assert len(fake_engine.seen[0].observations) == 8
    assert fhir_mock.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_prefetch_bundle_with_more_pages_and_no_server_is_412(fake_client: FlaskClient) -> None:
    data = standard_data()
    data["observations"] = searchset([observation(1)], next_url=f"{FHIR_BASE}/Observation?p=2")
    response = post_hook(fake_client, hook_request(data, fhir_server=None, token=None))
    assert_operation_outcome(response, 412, "prefetch.observations")


def test_next_link_to_another_origin_is_not_followed(
    fake_client: FlaskClient, fhir_mock: responses.RequestsMock
) -> None:
    data = standard_data()
    data["observations"] = searchset([observation(1)], next_url="https://evil.example.com/x")
    fhir_mock.add(responses.GET, "https://evil.example.com/x", json=searchset([]))
    response = post_hook(fake_client, hook_request(data))
    assert_operation_outcome(response, 412, "prefetch.observations")
    assert len(fhir_mock.calls) == 0


def test_server_searches_are_paged(
    fake_client: FlaskClient, fhir_mock: responses.RequestsMock, fake_engine: FakeEngine
) -> None:
    data = standard_data()
    data["observations"] = searchset([observation(n) for n in range(7)])
    FakeFhirServer(fhir_mock, data, page_size=3)
    response = post_hook(fake_client, hook_request({"patient": patient()}))
    assert response.status_code == 200
    assert len(fake_engine.seen[0].observations) == 7
    observation_calls = [c for c in fhir_mock.calls if "/Observation" in c.request.url]
    assert len(observation_calls) == 3
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in observation_calls)


@pytest.mark.parametrize(("pages", "resources"), [(2, 5000), (20, 4)])
def test_page_cap_is_reported_on_the_card(
    make_app: MakeApp, fhir_mock: responses.RequestsMock, pages: int, resources: int
) -> None:
    data = standard_data()
    data["observations"] = searchset([observation(n) for n in range(9)])
    FakeFhirServer(fhir_mock, data, page_size=3)
    engine = FakeEngine()
    app = make_app(
        engine=engine, renderer=FakeRenderer(), fhir_max_pages=pages, fhir_max_resources=resources
    )
    with app.test_client() as c:
        response = post_hook(c, hook_request({"patient": patient()}))
    assert response.status_code == 200
    observations = engine.seen[0].observations
    assert len(observations) == min(pages * 3, resources)
    notes = engine.seen[0].fetch_notes
    assert [n.code for n in notes] == ["page-cap"]
    assert "page-cap" in response.get_json()["cards"][0]["detail"]


def test_prefetch_over_the_resource_cap_is_capped_too(
    make_app: MakeApp, fhir_mock: responses.RequestsMock
) -> None:
    engine = FakeEngine()
    app = make_app(engine=engine, renderer=FakeRenderer(), fhir_max_resources=3)
    data = standard_data()
    with app.test_client() as c:
        assert post_hook(c, hook_request(data)).status_code == 200
    assert len(engine.seen[0].observations) == 3
    assert [n.code for n in engine.seen[0].fetch_notes] == ["page-cap"]
    assert len(fhir_mock.calls) == 0


def test_too_many_prefetched_resources_is_a_400(make_app: MakeApp) -> None:
    app = make_app(engine=FakeEngine(), renderer=FakeRenderer(), max_prefetch_entries=4)
    with app.test_client() as c:
        response = post_hook(c, hook_request(standard_data()))
    assert_operation_outcome(response, 400, "prefetch")


def test_missing_keys_are_fetched_in_parallel(
    fake_client: FlaskClient, fhir_mock: responses.RequestsMock
) -> None:
    import threading

    # Every query waits until all six are in flight at once: one after another, the
    # barrier would break (after its timeout) and the hook would answer 412. No clock
    # is asserted: this checks concurrency, not speed.
    all_in_flight = threading.Barrier(6, timeout=10)

    def gated(request: Any) -> tuple[int, dict[str, str], bytes]:
        all_in_flight.wait()
        if "/Patient/" in request.url:
            return 200, {}, orjson.dumps(patient())
        return 200, {}, orjson.dumps(searchset([]))

    fhir_mock.add_callback(responses.GET, re.compile(re.escape(FHIR_BASE) + "/.*"), callback=gated)
    response = post_hook(fake_client, hook_request({}))
    assert response.status_code == 200
    assert len(fhir_mock.calls) == 6


def test_data_source_is_mixed_when_some_keys_are_fetched(
    make_app: MakeApp, fhir_mock: responses.RequestsMock
) -> None:
    from tests.conftest import RecordingAuditSink

    data = standard_data()
    FakeFhirServer(fhir_mock, data)
    sink = RecordingAuditSink()
    app = make_app(engine=FakeEngine(), renderer=FakeRenderer(), store=sink)
    prefetch = dict(data)
    del prefetch["procedures"]
    with app.test_client() as c:
        assert post_hook(c, hook_request(prefetch)).status_code == 200
    assert sink.records[0].data_source == "mixed"
    assert sink.records[0].fhir_requests == ("Procedure?patient={{context.patientId}}",)
