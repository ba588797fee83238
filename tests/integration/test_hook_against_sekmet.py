"""The hook WITHOUT prefetch against a real FHIR server gives the same cards as WITH prefetch.

Every fixture patient was loaded into sekmet-fhir by ``cds-service fixtures load``. For each
one the service is called twice through ``create_app`` (dev mode: http on loopback allowed;
the server is in the allowlist): once with the complete prefetch built from the bundle and
the discovery templates, once with no prefetch so the service queries the server itself
(paging included). Outcomes must match the expected file and the cards must be identical.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from cds_service.bundle_prefetch import hook_instance_for, hook_request, prefetch_from_bundle
from cds_service.clinical.model import OUTCOME_CODE_SYSTEM, POST_INFUSION_MONITORING
from cds_service.config import Settings
from tests.fixtures.hook_app import HookApp, build_hook_app
from tests.fixtures.scenarios import load, scenario_names
from tests.integration.sekmet_server import SekmetServer, cli_command

pytestmark = pytest.mark.integration

NAMES = scenario_names()


@pytest.fixture(scope="module")
def harness(sekmet: SekmetServer) -> Iterator[HookApp]:
    settings = Settings(
        dev_mode=True,
        allowed_fhir_servers=(sekmet.base_url,),
        log_level="WARNING",
        hook_deadline_seconds=30.0,  # a busy 2-core CI machine must not turn into 412s
    )
    hook_app = build_hook_app(settings, load(NAMES[0]).evaluation_time)
    with hook_app.client:
        yield hook_app


def _outcome_codes(cards: list[dict[str, Any]]) -> list[str]:
    codes = []
    for card in cards:
        topic = card["source"]["topic"]
        assert topic["system"] == OUTCOME_CODE_SYSTEM
        codes.append(topic["code"])
    return codes


@pytest.mark.parametrize("name", NAMES)
def test_no_prefetch_matches_prefetch(harness: HookApp, sekmet: SekmetServer, name: str) -> None:
    scenario = load(name)
    pid = scenario.patient_id
    with_prefetch = hook_request(
        pid,
        hook_instance=hook_instance_for(f"{name}:prefetch"),
        prefetch=prefetch_from_bundle(scenario.bundle, pid, harness.templates),
    )
    without = hook_request(
        pid,
        hook_instance=hook_instance_for(f"{name}:no-prefetch"),
        fhir_server=sekmet.base_url,
        access_token="integration-test-token",
    )
    status_a, body_a = harness.call(with_prefetch, scenario.evaluation_time)
    status_b, body_b = harness.call(without, scenario.evaluation_time)
    assert status_a == 200, body_a
    assert status_b == 200, body_b
    record = harness.store.records[-1]
    assert record.data_source == "fhir-server"
    assert body_b == body_a, "cards differ between the FHIR server and the prefetch"

    codes = _outcome_codes(body_b["cards"])
    if scenario.outcome == "not-applicable":
        assert [c for c in codes if c != POST_INFUSION_MONITORING] == []
    else:
        assert scenario.outcome in codes
    if scenario.expected["post_infusion_monitoring"]:
        assert POST_INFUSION_MONITORING in codes


def test_long_history_is_read_over_several_pages(harness: HookApp, sekmet: SekmetServer) -> None:
    scenario = load("long-history-masld")
    pid = scenario.patient_id
    document = hook_request(
        pid,
        hook_instance=hook_instance_for("paging"),
        fhir_server=sekmet.base_url,
        access_token="integration-test-token",
    )
    status, body = harness.call(document, scenario.evaluation_time)
    assert status == 200, body
    record = harness.store.records[-1]
    observation_requests = [
        p for p in record.fhir_requests if p.split("?")[0].endswith("Observation")
    ]
    assert len(observation_requests) >= 3, record.fhir_requests
    assert "meets-screening-criteria" in _outcome_codes(body["cards"])
    # the server holds every Observation of the bundle
    count = requests.get(
        f"{sekmet.base_url}/Observation",
        params={"patient": pid, "_summary": "count"},
        timeout=10,
    ).json()["total"]
    expected = sum(
        1 for e in scenario.bundle["entry"] if e["resource"]["resourceType"] == "Observation"
    )
    assert count == expected


def test_loading_twice_is_harmless(sekmet: SekmetServer) -> None:
    def count(kind: str, **params: str) -> int:
        r = requests.get(
            f"{sekmet.base_url}/{kind}", params={**params, "_summary": "count"}, timeout=10
        )
        return int(r.json()["total"])

    assert f"Loaded {len(NAMES)} bundles" in sekmet.load_output
    for name in NAMES:
        assert f"-> Patient/{load(name).patient_id}" in sekmet.load_output
    before = count("Patient")
    observations = count("Observation", patient="mscfx-long-history-masld")
    again = subprocess.run(
        [
            *cli_command(),
            "fixtures",
            "load",
            "--fhir-server",
            sekmet.base_url,
            "--only",
            "masld-alt",
            "--only",
            "long-history-masld",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert "0 created" in again.stderr
    assert count("Patient") == before
    assert count("Observation", patient="mscfx-long-history-masld") == observations


@pytest.mark.parametrize("mode", [[], ["--no-prefetch"]], ids=["cli-prefetch", "service-fetch"])
def test_cli_evaluate_against_the_server(
    sekmet: SekmetServer, harness: HookApp, mode: list[str]
) -> None:
    scenario = load("long-history-masld")
    base = [
        *cli_command(),
        "evaluate",
        "--fhir-server",
        sekmet.base_url,
        "--patient",
        scenario.patient_id,
        "--now",
        scenario.expected["evaluation_time"],
        *mode,
    ]
    as_json = subprocess.run(
        [*base, "--json"], capture_output=True, text=True, timeout=120, check=False
    )
    assert as_json.returncode == 0, as_json.stderr
    cli_cards = json.loads(as_json.stdout)["cards"]
    with_prefetch = hook_request(
        scenario.patient_id,
        hook_instance=hook_instance_for("cli"),
        prefetch=prefetch_from_bundle(scenario.bundle, scenario.patient_id, harness.templates),
    )
    _, body = harness.call(with_prefetch, scenario.evaluation_time)
    strip = lambda cards: [{k: v for k, v in c.items() if k != "uuid"} for c in cards]  # noqa: E731
    assert strip(cli_cards) == strip(body["cards"])

    text = subprocess.run(base, capture_output=True, text=True, timeout=120, check=False)
    assert text.returncode == 0, text.stderr
    assert "meets-screening-criteria" in text.stdout
