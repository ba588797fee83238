"""``cds-service evaluate`` and ``hook-request --prefetch``: from a Bundle file, and from a
FHIR server faked with ``responses`` (answering each query from the fixture bundle, in
pages, so the command must follow ``next`` links)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
import responses
from click.testing import CliRunner

from cds_service.bundle_prefetch import bundle_resources, search, searchset
from cds_service.cli import main
from tests.fixtures.scenarios import FIXTURES_DIR, load

BASE = "https://fhir.example.org/r4"
NOW = "2026-11-01T12:00:00Z"
PAGE = 7  # when the query has no _count
MAX_PAGE = 100  # like real servers, a cap on _count: 960 Observations take 10 pages


def _fake_server(bundle: dict[str, Any], patient_id: str) -> list[str]:
    """Register a FHIR server holding ``bundle``; returns the list of URLs it was asked."""
    resources = bundle_resources(bundle)
    asked: list[str] = []

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        assert request.url is not None
        asked.append(request.url)
        parts = urlsplit(request.url)
        path = parts.path.removeprefix(urlsplit(BASE).path).lstrip("/")
        if "/" in path:
            kind, rid = path.split("/", 1)
            found = [r for r in resources if r["resourceType"] == kind and r["id"] == rid]
            if not found:
                return (
                    404,
                    {},
                    json.dumps(
                        {
                            "resourceType": "OperationOutcome",
                            "issue": [
                                {
                                    "severity": "error",
                                    "code": "not-found",
                                    "diagnostics": f"{path} not found",
                                }
                            ],
                        }
                    ),
                )
            return 200, {}, json.dumps(found[0])
        params = dict(parse_qsl(parts.query))
        offset = int(params.pop("_offset", "0"))
        size = min(int(params.get("_count", PAGE)), MAX_PAGE)
        query = f"{path}?{urlencode({k: v for k, v in params.items() if k != '_count'})}"
        matched = search(resources, query, patient_id)
        page = searchset(matched[offset : offset + size])
        page["total"] = len(matched)
        if offset + size < len(matched):
            page["link"] = [
                {
                    "relation": "next",
                    "url": f"{BASE}/{path}?{urlencode({**params, '_offset': offset + size})}",
                }
            ]
        return 200, {}, json.dumps(page)

    responses.add_callback(responses.GET, re.compile(re.escape(BASE) + r"/.*"), callback=answer)
    return asked


def _cards(output: str) -> list[dict[str, Any]]:
    cards: list[dict[str, Any]] = json.loads(output)["cards"]
    return [{k: v for k, v in c.items() if k != "uuid"} for c in cards]


def test_evaluate_bundle_prints_the_cards_for_a_clinician() -> None:
    result = CliRunner().invoke(
        main,
        ["evaluate", "--bundle", str(FIXTURES_DIR / "excluded-meld-na.bundle.json"), "--now", NOW],
    )
    assert result.exit_code == 0, result.output
    assert "excluded" in result.output
    assert "MELD-Na" in result.output


def test_evaluate_bundle_json_is_the_hook_response() -> None:
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--bundle",
            str(FIXTURES_DIR / "masld-alt.bundle.json"),
            "--now",
            NOW,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"cards"}
    assert body["cards"][0]["source"]["topic"]["code"] == "meets-screening-criteria"


def test_evaluate_not_applicable_has_no_cards() -> None:
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--bundle",
            str(FIXTURES_DIR / "healthy-adult.bundle.json"),
            "--now",
            NOW,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"cards": []}


@responses.activate
@pytest.mark.parametrize("name", ["masld-alt", "long-history-masld", "excluded-child-pugh-10"])
def test_evaluate_from_a_server_equals_evaluate_from_the_bundle(name: str) -> None:
    scenario = load(name)
    asked = _fake_server(scenario.bundle, scenario.patient_id)
    from_server = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--fhir-server",
            BASE,
            "--patient",
            scenario.patient_id,
            "--now",
            NOW,
            "--json",
            "--token",
            "t0ken",
        ],
    )
    assert from_server.exit_code == 0, from_server.output
    from_bundle = CliRunner().invoke(
        main,
        ["evaluate", "--bundle", str(FIXTURES_DIR / f"{name}.bundle.json"), "--now", NOW, "--json"],
    )
    assert _cards(from_server.stdout) == _cards(from_bundle.stdout)
    if name == "long-history-masld":
        assert any("_offset=" in url for url in asked), "paging was not exercised"
    assert all(c.request.headers["Authorization"] == "Bearer t0ken" for c in responses.calls)


@responses.activate
@pytest.mark.parametrize("name", ["masld-alt", "long-history-masld"])
def test_evaluate_no_prefetch_lets_the_service_fetch(name: str) -> None:
    scenario = load(name)
    asked = _fake_server(scenario.bundle, scenario.patient_id)
    fetched = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--fhir-server",
            BASE,
            "--patient",
            scenario.patient_id,
            "--now",
            NOW,
            "--json",
            "--no-prefetch",
            "--token",
            "t0ken",
        ],
    )
    assert fetched.exit_code == 0, fetched.output
    from_bundle = CliRunner().invoke(
        main,
        ["evaluate", "--bundle", str(FIXTURES_DIR / f"{name}.bundle.json"), "--now", NOW, "--json"],
    )
    assert _cards(fetched.stdout) == _cards(from_bundle.stdout)
    if name == "long-history-masld":
        assert any("_offset=" in url for url in asked), "paging was not exercised"


def test_no_prefetch_needs_a_server() -> None:
    result = CliRunner().invoke(
        main, ["evaluate", "--bundle", str(FIXTURES_DIR / "masld-alt.bundle.json"), "--no-prefetch"]
    )
    assert result.exit_code == 2
    assert "--no-prefetch needs --fhir-server" in result.output


@responses.activate
def test_hook_request_with_prefetch_holds_every_page() -> None:
    scenario = load("long-history-masld")
    _fake_server(scenario.bundle, scenario.patient_id)
    result = CliRunner().invoke(
        main,
        ["hook-request", "--fhir-server", BASE, "--patient", scenario.patient_id, "--prefetch"],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    observations = document["prefetch"]["observations"]
    assert observations["total"] == len(observations["entry"]) > 5 * MAX_PAGE
    assert "link" not in observations
    assert document["prefetch"]["patient"]["id"] == scenario.patient_id
    assert "fhirAuthorization" not in document


@responses.activate
def test_evaluate_unknown_patient_on_server_is_a_clear_error() -> None:
    _fake_server(load("masld-alt").bundle, "mscfx-masld-alt")
    result = CliRunner().invoke(
        main, ["evaluate", "--fhir-server", BASE, "--patient", "nobody", "--now", NOW]
    )
    assert result.exit_code == 1
    assert "HTTP 404" in result.output
    assert "Patient/nobody not found" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give either"),
        (["--fhir-server", BASE], "needs --patient"),
        (["--bundle", "x.json", "--fhir-server", BASE], "give either"),
    ],
)
def test_evaluate_usage_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["evaluate", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_evaluate_bad_bundle_files(tmp_path: Path) -> None:
    missing = CliRunner().invoke(main, ["evaluate", "--bundle", str(tmp_path / "nope.json")])
    assert missing.exit_code == 1
    assert "cannot read" in missing.output
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    bad = CliRunner().invoke(main, ["evaluate", "--bundle", str(broken)])
    assert bad.exit_code == 1
    assert "not valid JSON" in bad.output
    two = tmp_path / "two.json"
    entries = [{"resource": {"resourceType": "Patient", "id": i}} for i in ("a", "b")]
    two.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    ambiguous = CliRunner().invoke(main, ["evaluate", "--bundle", str(two)])
    assert ambiguous.exit_code == 1
    assert "name one with --patient" in ambiguous.output
    chosen = CliRunner().invoke(
        main, ["evaluate", "--bundle", str(two), "--patient", "b", "--json"]
    )
    assert chosen.exit_code == 0, chosen.output
    assert json.loads(chosen.stdout) == {"cards": []}


def test_evaluate_bad_now() -> None:
    result = CliRunner().invoke(
        main,
        ["evaluate", "--bundle", str(FIXTURES_DIR / "masld-alt.bundle.json"), "--now", "yesterday"],
    )
    assert result.exit_code == 2
    assert "ISO 8601" in result.output
