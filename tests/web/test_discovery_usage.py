"""Discovery ``usageRequirements`` must name every resource type the service reads.

Without prefetch the service reads each prefetch query from the EHR's FHIR server, and a
401/403 on any of them answers 412. An integrator who grants exactly the read access
``usageRequirements`` lists must therefore get a working service: every resource type of
every prefetch template has to be in that text.
"""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

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
