"""Discovery ``usageRequirements`` must name every resource type the service reads.

Without prefetch the service reads each prefetch query from the EHR's FHIR server, and a
401/403 on any of them answers 412. An integrator who grants exactly the read access
``usageRequirements`` lists must therefore get a working service: every resource type of
every prefetch template has to be in that text.
"""

from __future__ import annotations

import re

import orjson
import pytest
import responses
from flask.testing import FlaskClient

from tests.web.conftest import hook_request, standard_data

_RESOURCE_TYPE = re.compile(r"^([A-Z][A-Za-z]+)[/?]")


@pytest.mark.requirement("12")
@pytest.mark.requirement("34")
def test_usage_requirements_name_every_prefetched_resource_type(
    fake_client: FlaskClient,
) -> None:
    service = fake_client.get("/cds-services").get_json()["services"][0]
    usage = service["usageRequirements"]
    read: set[str] = set()
    for query in service["prefetch"].values():
        match = _RESOURCE_TYPE.match(query)
        assert match, query
        read.add(match.group(1))
    assert read >= {"Patient", "Condition", "Observation", "MedicationStatement"}
    missing = sorted(t for t in read if not re.search(rf"\b{t}\b", usage))
    assert missing == [], f"usageRequirements does not name {missing}"


@pytest.mark.requirement("16")
def test_each_discovered_service_answers_at_cds_services_slash_its_id(
    fake_client: FlaskClient, fhir_mock: responses.RequestsMock
) -> None:
    for service in fake_client.get("/cds-services").get_json()["services"]:
        body = orjson.dumps(hook_request(standard_data()))
        url = f"/cds-services/{service['id']}"
        response = fake_client.post(url, data=body, content_type="application/json")
        assert response.status_code == 200, url
        assert "cards" in response.get_json()
    assert len(fhir_mock.calls) == 0
