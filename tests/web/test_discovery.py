"""Discovery: GET /cds-services (CDS Hooks 2.0, Discovery)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import pytest
from flask.testing import FlaskClient

from cds_service.hooks.validation import errors as schema_errors
from tests.web.conftest import FAKE_CODES

# The 2.0 prefetch query subset: search parameters we may use, by kind
_ALLOWED_PARAMS = {"patient", "code", "_sort", "_count"}
_TOKEN = re.compile(r"\{\{([^}]*)\}\}")


def _service(client: FlaskClient) -> dict[str, object]:
    response = client.get("/cds-services")
    assert response.status_code == 200
    services = response.get_json()["services"]
    assert len(services) == 1
    service: dict[str, object] = services[0]
    return service


@pytest.mark.requirement("4")
@pytest.mark.requirement("5")
@pytest.mark.requirement("6")
@pytest.mark.requirement("13")
def test_discovery_lists_one_service_and_is_valid(fake_client: FlaskClient) -> None:
    response = fake_client.get("/cds-services")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert schema_errors("discovery", response.get_json()) == []


@pytest.mark.requirement("7")
@pytest.mark.requirement("8")
@pytest.mark.requirement("9")
@pytest.mark.requirement("10")
@pytest.mark.requirement("12")
def test_service_attributes(fake_client: FlaskClient) -> None:
    service = _service(fake_client)
    assert service["id"] == "msc-liver-screening"
    assert service["hook"] == "patient-view"
    assert service["title"]
    assert "investigational" in str(service["description"])
    assert service["usageRequirements"]


@pytest.mark.requirement("11")
@pytest.mark.requirement("29")
@pytest.mark.requirement("36")
def test_prefetch_templates(fake_client: FlaskClient) -> None:
    prefetch = _service(fake_client)["prefetch"]
    assert prefetch == {
        "patient": "Patient/{{context.patientId}}",
        "conditions": "Condition?patient={{context.patientId}}",
        "observations": "Observation?patient={{context.patientId}}&code="
        + ",".join(FAKE_CODES)
        + "&_sort=-date&_count=200",
        "medications": "MedicationRequest?patient={{context.patientId}}",
        "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
        "procedures": "Procedure?patient={{context.patientId}}",
    }


def test_observation_codes_come_from_the_engine_and_page_size_from_settings(
    make_app: object, fake_engine: object
) -> None:
    from tests.web.conftest import FakeRenderer

    class OtherCodes:
        version = "x"

        def observation_code_tokens(self) -> tuple[str, ...]:
            return ("http://loinc.org|2345-7", "http://loinc.org|2345-7", "http://loinc.org|718-7")

    app = make_app(engine=OtherCodes(), renderer=FakeRenderer(), observation_page_size=50)  # type: ignore[operator]
    with app.test_client() as c:
        template = _service(c)["prefetch"]["observations"]  # type: ignore[index]
    assert template.endswith(
        "&code=http://loinc.org|2345-7,http://loinc.org|718-7&_sort=-date&_count=50"
    )


@pytest.mark.requirement("55")
@pytest.mark.requirement("56")
@pytest.mark.requirement("57")
@pytest.mark.requirement("58")
@pytest.mark.requirement("59")
def test_templates_use_only_the_2_0_query_subset(fake_client: FlaskClient) -> None:
    prefetch = _service(fake_client)["prefetch"]
    assert isinstance(prefetch, dict)
    for key, template in prefetch.items():
        for token in _TOKEN.findall(template):
            assert token == "context.patientId", (key, token)
        path, _, query = template.partition("?")
        if not query:  # instance read of a resource with a known id
            assert path == "Patient/{{context.patientId}}"
            continue
        assert "/" not in path, "type-level search only"
        for name, value in parse_qsl(query, keep_blank_values=True):
            assert name in _ALLOWED_PARAMS, (key, name)  # no modifiers (':') either
            if name == "_sort":
                assert value in {"-date", "date"}
            if name == "_count":
                assert value.isdigit()


def test_cli_discovery_prints_the_same_document(fake_client: FlaskClient) -> None:
    from click.testing import CliRunner

    from cds_service.cli import main

    result = CliRunner().invoke(main, ["discovery"], catch_exceptions=False)
    if result.exit_code != 0:
        pytest.skip(f"real engine not loadable yet: {result.output[:200]}")
    import json

    printed = json.loads(result.output)
    assert printed["services"][0]["id"] == "msc-liver-screening"
    assert schema_errors("discovery", printed) == []
