"""``cds-service fixtures load`` / ``hook-request`` against a fake server (``responses``):
progress output, and a clear message with a non-zero exit for each way a server fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import responses
from click.testing import CliRunner

from cds_service.cli import main
from tests.fixtures.scenarios import FIXTURES_DIR

BASE = "https://fhir.example.org/r4"
METADATA = {"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1", "status": "active"}


def _transaction_response(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
    assert request.body is not None
    bundle = json.loads(request.body)
    entries = [{"response": {"status": "201 Created"}} for _ in bundle["entry"]]
    body = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
    return 200, {"Content-Type": "application/fhir+json"}, json.dumps(body)


def _two_fixtures(tmp_path: Path) -> Path:
    for name in ("healthy-adult", "masld-alt"):
        src = FIXTURES_DIR / f"{name}.bundle.json"
        (tmp_path / src.name).write_text(src.read_text())
    return tmp_path


@responses.activate
def test_load_posts_every_bundle_with_progress_and_token(tmp_path: Path) -> None:
    responses.get(f"{BASE}/metadata", json=METADATA)
    responses.add_callback(responses.POST, BASE, callback=_transaction_response)
    result = CliRunner().invoke(
        main,
        [
            "fixtures",
            "load",
            "--fhir-server",
            BASE,
            "--dir",
            str(_two_fixtures(tmp_path)),
            "--token",
            "s3cret",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "[1/2] healthy-adult" in result.output
    assert "[2/2] masld-alt" in result.output
    assert "Loaded 2 bundles" in result.output
    posts = [c for c in responses.calls if c.request.method == "POST"]
    assert len(posts) == 2
    assert all(c.request.headers["Authorization"] == "Bearer s3cret" for c in posts)
    assert posts[0].request.headers["Content-Type"] == "application/fhir+json"
    assert "s3cret" not in result.output


@responses.activate
def test_load_all_shipped_fixtures_by_default() -> None:
    responses.get(f"{BASE}/metadata", json=METADATA)
    responses.add_callback(responses.POST, BASE, callback=_transaction_response)
    result = CliRunner().invoke(main, ["fixtures", "load", "--fhir-server", BASE])
    assert result.exit_code == 0, result.output
    count = len(list(FIXTURES_DIR.glob("*.bundle.json")))
    assert f"Loaded {count} bundles" in result.output


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    # port 9 on loopback: nothing listens there, the connection is refused at once
    result = CliRunner().invoke(
        main,
        [
            "fixtures",
            "load",
            "--fhir-server",
            "http://127.0.0.1:9/fhir",
            "--dir",
            str(_two_fixtures(tmp_path)),
        ],
    )
    assert result.exit_code == 1
    assert "cannot reach the FHIR server at http://127.0.0.1:9" in result.output


@responses.activate
def test_401_says_to_check_the_token(tmp_path: Path) -> None:
    responses.get(f"{BASE}/metadata", status=401, json={"error": "unauthorized"})
    result = CliRunner().invoke(
        main, ["fixtures", "load", "--fhir-server", BASE, "--dir", str(_two_fixtures(tmp_path))]
    )
    assert result.exit_code == 1
    assert "HTTP 401" in result.output
    assert "--token" in result.output


@responses.activate
def test_operation_outcome_text_is_shown(tmp_path: Path) -> None:
    responses.get(f"{BASE}/metadata", json=METADATA)
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "invalid",
                "diagnostics": "Observation.status: field required",
                "expression": ["Bundle.entry[3].resource"],
            }
        ],
    }
    responses.post(BASE, status=400, json=outcome)
    result = CliRunner().invoke(
        main, ["fixtures", "load", "--fhir-server", BASE, "--dir", str(_two_fixtures(tmp_path))]
    )
    assert result.exit_code == 1
    assert (
        "[1/2] healthy-adult: HTTP 400: error invalid: Observation.status: field required"
        in result.output
    )
    assert "Bundle.entry[3].resource" in result.output


@responses.activate
def test_not_a_fhir_r4_server(tmp_path: Path) -> None:
    responses.get(f"{BASE}/metadata", json={**METADATA, "fhirVersion": "5.0.0"})
    result = CliRunner().invoke(
        main, ["fixtures", "load", "--fhir-server", BASE, "--dir", str(_two_fixtures(tmp_path))]
    )
    assert result.exit_code == 1
    assert "FHIR version 5.0.0" in result.output


def test_unknown_scenario_is_refused() -> None:
    result = CliRunner().invoke(
        main, ["fixtures", "load", "--fhir-server", BASE, "--only", "no-such-patient"]
    )
    assert result.exit_code == 1
    assert "no such scenario" in result.output


@pytest.mark.parametrize("args", [["--patient", "x"], []])
def test_hook_request_needs_server_and_patient(args: list[str]) -> None:
    result = CliRunner().invoke(main, ["hook-request", *args])
    assert result.exit_code == 2


def test_hook_request_without_prefetch_is_ready_to_post() -> None:
    result = CliRunner().invoke(
        main, ["hook-request", "--fhir-server", BASE, "--patient", "p1", "--token", "abc"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["hook"] == "patient-view"
    assert document["context"]["patientId"] == "p1"
    assert document["fhirServer"] == BASE
    assert document["fhirAuthorization"]["access_token"] == "abc"
    assert "prefetch" not in document


@responses.activate
def test_load_files_reports_the_patient_ids_the_server_chose(tmp_path: Path) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:1",
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
        ],
    }
    path = tmp_path / "synthea_patient.json"
    path.write_text(json.dumps(bundle))
    responses.get(f"{BASE}/metadata", json=METADATA)
    responses.post(
        BASE,
        json={
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [
                {
                    "response": {
                        "status": "201 Created",
                        "location": f"{BASE}/Patient/server-7/_history/1",
                    }
                }
            ],
        },
    )
    result = CliRunner().invoke(
        main, ["fixtures", "load", "--fhir-server", BASE, "--file", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert "[1/1] synthea_patient: 1 resources (1 created, 0 updated)" in result.output
    assert "-> Patient/server-7" in result.output
    mixed = CliRunner().invoke(
        main,
        ["fixtures", "load", "--fhir-server", BASE, "--file", str(path), "--only", "masld-alt"],
    )
    assert mixed.exit_code == 2
