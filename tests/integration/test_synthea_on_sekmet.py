"""Synthea output (written by nobody here) through a real FHIR server: loaded unchanged
with ``cds-service fixtures load --file`` (POST entries, server-assigned ids, urn:uuid
references), then the hook without prefetch must conclude exactly what it concludes from
the bundle with prefetch: same outcome, same reasons, same cards."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from cds_service.bundle_prefetch import (
    hook_instance_for,
    hook_request,
    patient_ids,
    prefetch_from_bundle,
)
from cds_service.config import Settings
from tests.fixtures.hook_app import HookApp, build_hook_app
from tests.fixtures.test_synthea_robustness import BUNDLES, FROZEN, newest_observation
from tests.integration.sekmet_server import SekmetServer, cli_command

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def loaded(sekmet: SekmetServer) -> dict[str, str]:
    """file name -> the Patient id the server assigned."""
    if not BUNDLES:
        pytest.skip(
            "Synthea sample folder absent (tests/fixtures/test_synthea_robustness.py "
            "fails in CI when it is)"
        )
    args = [a for path in BUNDLES for a in ("--file", str(path))]
    done = subprocess.run(
        [*cli_command(), "fixtures", "load", "--fhir-server", sekmet.base_url, *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ids: dict[str, str] = {}
    for path in BUNDLES:
        stem = path.name.removesuffix(".json")
        match = re.search(rf"\] {re.escape(stem)}: .* -> Patient/([A-Za-z0-9\-.]+)", done.stderr)
        assert match, done.stderr
        ids[path.name] = match.group(1)
    return ids


@pytest.fixture(scope="module")
def harness(sekmet: SekmetServer) -> Iterator[HookApp]:
    settings = Settings(
        dev_mode=True,
        allowed_fhir_servers=(sekmet.base_url,),
        log_level="WARNING",
        hook_deadline_seconds=30.0,
    )
    app = build_hook_app(settings, FROZEN)
    with app.client:
        yield app


@pytest.mark.parametrize("path", BUNDLES, ids=[p.name.split("_")[0] for p in BUNDLES])
def test_synthea_patient_same_conclusion_from_server_and_prefetch(
    harness: HookApp, sekmet: SekmetServer, loaded: dict[str, str], path: Path
) -> None:
    bundle = json.loads(path.read_text())
    (bundle_patient,) = patient_ids(bundle)
    now = newest_observation(bundle) + timedelta(days=1)

    prefetched = hook_request(
        bundle_patient,
        hook_instance=hook_instance_for(f"synthea:{path.name}"),
        prefetch=prefetch_from_bundle(bundle, bundle_patient, harness.templates),
    )
    status_a, body_a = harness.call(prefetched, now)
    record_a = harness.store.records[-1]

    server_patient = loaded[path.name]
    fetched = hook_request(
        server_patient,
        hook_instance=hook_instance_for(f"synthea-server:{path.name}"),
        fhir_server=sekmet.base_url,
        access_token="integration-test-token",
    )
    status_b, body_b = harness.call(fetched, now)
    record_b = harness.store.records[-1]

    assert (status_a, status_b) == (200, 200), (body_a, body_b)
    assert record_b.data_source == "fhir-server"
    assert record_b.outcome == record_a.outcome == "not-applicable"
    assert record_b.reason_ids == record_a.reason_ids
    assert body_b == body_a == {"cards": []}
