"""The hook end to end on the real clinical engine and card renderer, with fixture patients.

Each fixture (``fhir_fixtures/<scenario>.bundle.json``) is answered twice: with full
prefetch, and with no prefetch from a fake FHIR server holding the same resources. The
answers must be identical and valid against our CDS Hooks 2.0 response schema.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import responses

from cds_service.clinical.model import OUTCOME_CODE_SYSTEM
from cds_service.resources import data_dir
from tests.conftest import CountingUuids, MakeApp
from tests.web.conftest import FakeFhirServer, assert_valid_response, hook_request, post_hook

FIXTURES = data_dir("fhir_fixtures")
GOLDEN = Path(__file__).parent / "golden"
SCENARIOS = [
    "masld-alt",
    "healthy-adult",
    "excluded-liver-cancer",
    "workup-stale-labs",
    "cirrhosis-child-pugh-a",
    "msc-infusion-overdue-monitoring",
]
SEARCH_KEYS = {
    "Condition": "conditions",
    "Observation": "observations",
    "MedicationRequest": "medications",
    "MedicationStatement": "medicationStatements",
    "Procedure": "procedures",
}


def scenario_prefetch(name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(patient id, prefetch built from the fixture bundle, expected outcome file)."""
    bundle = json.loads((FIXTURES / f"{name}.bundle.json").read_text())
    expected = json.loads((FIXTURES / f"{name}.expected.json").read_text())
    prefetch: dict[str, Any] = {
        key: {"resourceType": "Bundle", "type": "searchset", "entry": []}
        for key in (
            "conditions",
            "observations",
            "medications",
            "medicationStatements",
            "procedures",
        )
    }
    for entry in bundle["entry"]:
        resource = entry["resource"]
        kind = resource["resourceType"]
        if kind == "Patient":
            prefetch["patient"] = resource
        elif kind in SEARCH_KEYS:
            prefetch[SEARCH_KEYS[kind]]["entry"].append({"resource": resource})
    return expected["patient_id"], prefetch, expected


def _request(patient_id: str, prefetch: dict[str, Any] | None) -> dict[str, Any]:
    body = hook_request(prefetch)
    body["context"]["patientId"] = patient_id
    return body


@pytest.mark.requirement("34")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_prefetch_and_fhir_server_give_identical_cards(
    scenario: str,
    make_app: MakeApp,
    fhir_mock: responses.RequestsMock,
    uuid_factory: CountingUuids,
) -> None:
    patient_id, prefetch, expected = scenario_prefetch(scenario)
    FakeFhirServer(fhir_mock, prefetch)
    answers = []
    for sent in (prefetch, None):
        uuid_factory.count = 0
        app = make_app()
        with app.test_client() as c:
            response = post_hook(c, _request(patient_id, sent))
        assert response.status_code == 200, response.get_data(as_text=True)
        answers.append(response.get_json())
    assert len(fhir_mock.calls) == 6  # only the no-prefetch call reached the server
    with_prefetch, without_prefetch = answers
    assert with_prefetch == without_prefetch
    assert_valid_response(with_prefetch)
    topics = {c["source"]["topic"]["code"] for c in with_prefetch["cards"]}
    if expected["outcome"] == "not-applicable":
        assert topics <= {"post-infusion-monitoring"}
    else:
        assert expected["outcome"] in topics
    assert all(
        c["source"]["topic"]["system"] == OUTCOME_CODE_SYSTEM for c in with_prefetch["cards"]
    )


def test_page_cap_note_reaches_the_real_card(
    make_app: MakeApp, fhir_mock: responses.RequestsMock
) -> None:
    patient_id, prefetch, _ = scenario_prefetch("long-history-masld")
    FakeFhirServer(fhir_mock, prefetch, page_size=5)
    app = make_app(fhir_max_pages=2)
    with app.test_client() as c:
        response = post_hook(c, _request(patient_id, {"patient": prefetch["patient"]}))
    assert response.status_code == 200
    body = response.get_json()
    assert_valid_response(body)
    text = json.dumps(body)
    assert "page or resource limit was reached" in text


def test_golden_answer(make_app: MakeApp) -> None:
    """The full answer for one patient, byte for byte (frozen clock, counting uuids).

    After an intended change to card text: ``UPDATE_GOLDEN=1 pytest tests/web -k golden``
    and review the diff.
    """
    patient_id, prefetch, _ = scenario_prefetch("masld-alt")
    app = make_app()
    with app.test_client() as c:
        body = post_hook(c, _request(patient_id, prefetch)).get_json()
    assert_valid_response(body)
    golden = GOLDEN / "masld-alt.response.json"
    rendered = json.dumps(body, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1" or not golden.exists():
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(rendered)
    assert rendered == golden.read_text()


@pytest.mark.requirement("77")
def test_no_decision_support_is_an_empty_card_list(make_app: MakeApp) -> None:
    patient_id, prefetch, expected = scenario_prefetch("healthy-adult")
    assert expected["outcome"] == "not-applicable"
    with make_app().test_client() as c:
        response = post_hook(c, _request(patient_id, prefetch))
    assert response.status_code == 200
    assert response.get_data() == b'{"cards":[]}'
