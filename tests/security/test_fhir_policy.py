"""FHIR server allowlist (SSRF): normalised prefix match, https, private addresses, redirects."""

from __future__ import annotations

import pytest
import requests
import responses

from cds_service.config import ConfigError, Settings
from cds_service.security.fhir_policy import (
    FhirServerNotAllowed,
    FhirServerPolicy,
    harden_session,
    parse_server_url,
    redirect_guard,
)

ALLOWED = ("https://FHIR.Example.org:443/R4/", "https://ehr.example.com:8443/api/FHIR/R4")


def policy(dev: bool = False, **changes: object) -> FhirServerPolicy:
    settings = Settings(allowed_fhir_servers=ALLOWED, dev_mode=dev).with_overrides(**changes)
    return FhirServerPolicy(settings)


@pytest.mark.parametrize(
    "url",
    [
        "https://fhir.example.org/R4",
        "https://fhir.example.org/R4/",
        "https://FHIR.EXAMPLE.ORG/R4",
        "https://fhir.example.org:443/R4",
        "https://fhir.example.org./R4",
        "https://fhir.example.org/R4/Patient",
        "https://ehr.example.com:8443/api/FHIR/R4",
        "https://fhir.example.org/R4/Observation?patient=1&code=http://loinc.org|1742-6",
    ],
)
def test_allowed_urls_pass(url: str) -> None:
    assert policy().check(url).host in {"fhir.example.org", "ehr.example.com"}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://fhir.example.org/R4x", "list of allowed"),  # prefix on a segment boundary only
        ("https://fhir.example.org/", "list of allowed"),
        ("https://fhir.example.org:8443/R4", "list of allowed"),
        ("https://ehr.example.com/api/FHIR/R4", "list of allowed"),  # default port differs
        ("https://fhir.example.org.evil.test/R4", "list of allowed"),
        ("https://evil.test/R4", "list of allowed"),
        ("http://fhir.example.org/R4", "https"),
        ("https://user:pw@fhir.example.org/R4", "user information"),
        ("https://fhir.example.org@evil.test/R4", "user information"),
        ("https://fhir.example.org/R4/../admin", "dot-segments"),
        ("https://fhir.example.org/R4/%2e%2e/admin", "dot-segments"),
        ("https://fhir.example.org/R4#x", "fragment"),
        ("https://fhir.example.org/R4x?y=/R4", "list of allowed"),
        ("https://fhir.example.org\\@evil.test/R4", "back-slashes"),
        ("ftp://fhir.example.org/R4", "http(s)"),
        ("file:///etc/passwd", "http(s)"),
        ("https:///R4", "no host"),
        ("not a url", "whitespace"),
        ("", "usable"),
        ("https://fhir.example.org:99999/R4", "valid URL"),
    ],
)
def test_refused_urls(url: str, reason: str) -> None:
    with pytest.raises(FhirServerNotAllowed, match=None) as info:
        policy().check(url)
    assert reason in info.value.reason


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "2130706433",
        "0x7f.1",
        "127.1",
        "10.1.2.3",
        "192.168.0.10",
        "169.254.169.254",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[fe80::1]",
        "0.0.0.0",
        "localhost",
        "api.localhost",
    ],
)
def test_private_addresses_refused_even_when_listed(host: str) -> None:
    settings = Settings(allowed_fhir_servers=(f"https://{host}/fhir",))
    with pytest.raises(FhirServerNotAllowed) as info:
        FhirServerPolicy(settings).check(f"https://{host}/fhir")
    assert "private" in info.value.reason


def test_private_address_allowed_when_network_explicitly_allowed() -> None:
    settings = Settings(
        allowed_fhir_servers=("https://10.20.0.5/fhir",),
        allowed_private_fhir_networks=("10.20.0.0/16",),
    )
    assert FhirServerPolicy(settings).check("https://10.20.0.5/fhir/").ip is not None
    with pytest.raises(FhirServerNotAllowed):
        FhirServerPolicy(
            settings.with_overrides(allowed_fhir_servers=("https://10.30.0.5/fhir",))
        ).check("https://10.30.0.5/fhir")


def test_dev_mode_allows_http_and_loopback_but_keeps_the_allowlist() -> None:
    settings = Settings(dev_mode=True, allowed_fhir_servers=("http://127.0.0.1:8090/fhir",))
    dev = FhirServerPolicy(settings)
    assert dev.check("http://127.0.0.1:8090/fhir").port == 8090
    with pytest.raises(FhirServerNotAllowed):
        dev.check("http://127.0.0.1:8091/fhir")


def test_resolver_refuses_name_pointing_inside() -> None:
    settings = Settings(allowed_fhir_servers=ALLOWED)
    inside = FhirServerPolicy(settings, resolver=lambda host: ["10.0.0.7"])
    with pytest.raises(FhirServerNotAllowed, match="private"):
        inside.check("https://fhir.example.org/R4")
    outside = FhirServerPolicy(settings, resolver=lambda host: ["93.184.215.14"])
    outside.check("https://fhir.example.org/R4")


def test_bad_allowlist_entry_fails_at_start_up() -> None:
    with pytest.raises(ConfigError, match="CDS_ALLOWED_FHIR_SERVERS"):
        FhirServerPolicy(Settings(allowed_fhir_servers=("https://u:p@x.example/fhir",)))
    with pytest.raises(ConfigError, match="CDS_ALLOWED_PRIVATE_FHIR_NETWORKS"):
        FhirServerPolicy(Settings(allowed_private_fhir_networks=("10.0.0.0/33",)))


def test_normalised_form() -> None:
    url = parse_server_url("HTTPS://Fhir.Example.ORG:443//R4//")
    assert str(url) == "https://fhir.example.org/R4"


def test_check_follow_stays_under_base() -> None:
    p = policy()
    base = "https://fhir.example.org/R4"
    assert p.check_follow(base, "https://fhir.example.org/R4/Observation?_page=2").path.endswith(
        "Observation"
    )
    assert p.check_follow(base, "Observation?_page=2").path == "/R4/Observation"
    for bad in (
        "https://evil.test/R4/Observation",
        "https://fhir.example.org/other",
        "http://fhir.example.org/R4/Observation",
        "//evil.test/R4",
    ):
        with pytest.raises(FhirServerNotAllowed):
            p.check_follow(base, bad)


@responses.activate(assert_all_requests_are_fired=True)
def test_redirect_to_another_host_is_not_followed() -> None:
    responses.get(
        "https://fhir.example.org/R4/Patient/1",
        status=302,
        headers={"Location": "http://169.254.169.254/latest/meta-data"},
    )
    session = harden_session(requests.Session())
    base = "https://fhir.example.org/R4"
    with pytest.raises(FhirServerNotAllowed):
        session.get(
            f"{base}/Patient/1",
            headers={"Authorization": "Bearer secret"},
            hooks={"response": redirect_guard(policy(), base)},
            timeout=2,
        )
    assert len(responses.calls) == 1  # the redirect target was never requested


@responses.activate(assert_all_requests_are_fired=True)
def test_redirect_within_base_is_followed() -> None:
    responses.get(
        "https://fhir.example.org/R4/Patient/1",
        status=301,
        headers={"Location": "/R4/Patient/2"},
    )
    responses.get("https://fhir.example.org/R4/Patient/2", json={"resourceType": "Patient"})
    session = harden_session(requests.Session())
    base = "https://fhir.example.org/R4"
    answer = session.get(
        f"{base}/Patient/1", hooks={"response": redirect_guard(policy(), base)}, timeout=2
    )
    assert answer.json() == {"resourceType": "Patient"}


def test_long_search_urls_are_checked_not_refused() -> None:
    codes = ",".join(f"http://loinc.org|{n}-{n % 10}" for n in range(10000, 10400))
    url = f"https://fhir.example.org/R4/Observation?patient=p1&code={codes}"
    assert len(url) > 8000
    assert policy().check(url).path == "/R4/Observation"
    with pytest.raises(FhirServerNotAllowed):
        policy().check("https://fhir.example.org/R4/" + "a" * 40000)
