"""JWT verification as CDS Hooks 2.0 "Trusting CDS Clients" asks (the Authenticator, directly)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
import responses
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.config import Settings
from cds_service.security.authenticator import AuthenticationError

from .keys import (
    HOOK_URL,
    ISSUER,
    JWKS_URL,
    NOW,
    SANDBOX,
    SANDBOX_JWKS,
    Harness,
    SigningKey,
    build,
    file_issuer,
    jwks_of,
    make_key,
    mint,
)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def rejected(harness: Harness, token: str, check: str, audience: str = HOOK_URL) -> None:
    with pytest.raises(AuthenticationError) as info:
        harness.authenticator.authenticate(bearer(token), audience)
    assert info.value.check == check
    assert token not in str(info.value)


@pytest.fixture
def harness(tmp_path: Path, es384: SigningKey, rs384: SigningKey) -> Harness:
    return build(tmp_path, [file_issuer(tmp_path, es384, rs384)])


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# --- accepted -----------------------------------------------------------------------


@pytest.mark.requirement("176")
@pytest.mark.requirement("205")
@pytest.mark.parametrize("key_name", ["es384", "rs384"])
def test_valid_es384_and_rs384_tokens_are_accepted(
    harness: Harness, key_name: str, request: pytest.FixtureRequest
) -> None:
    key: SigningKey = request.getfixturevalue(key_name)
    context = harness.authenticator.authenticate(bearer(mint(key, tenant="t1")), HOOK_URL)
    assert context.issuer == ISSUER
    assert context.algorithm == key.alg
    assert context.kid == key.kid
    assert context.tenant == "t1"
    assert context.audience == HOOK_URL


def test_aud_may_be_a_list_containing_the_endpoint(harness: Harness, es384: SigningKey) -> None:
    token = mint(es384, aud=["https://other.example/x", HOOK_URL])
    assert harness.authenticator.authenticate(bearer(token), HOOK_URL).issuer == ISSUER


def test_iat_within_leeway_in_the_future_is_accepted(harness: Harness, es384: SigningKey) -> None:
    harness.authenticator.authenticate(bearer(mint(es384, iat_offset=4.9)), HOOK_URL)


@responses.activate(assert_all_requests_are_fired=True)
def test_sandbox_like_token_is_accepted_when_trusted(tmp_path: Path) -> None:
    """ES384, iss https://sandbox.cds-hooks.org, aud the exact endpoint, iat 0.5 s ahead."""
    sandbox_key = make_key("ES384", "sandbox-kid")
    responses.get(SANDBOX_JWKS, json=jwks_of(sandbox_key))
    issuer = {"iss": SANDBOX, "jwks_url": SANDBOX_JWKS, "jku_allowlist": [SANDBOX_JWKS]}
    harness = build(tmp_path, [issuer], session=requests.Session())
    token = mint(
        sandbox_key,
        iss=SANDBOX,
        aud=HOOK_URL,
        iat_offset=0.5,
        headers={"jku": SANDBOX_JWKS},
        tenant="2ddd6c3a-8e9a-44c6-a305-52111ad302a2",
    )
    context = harness.authenticator.authenticate(bearer(token), HOOK_URL)
    assert context.issuer == SANDBOX


@pytest.mark.requirement("199")
@responses.activate(assert_all_requests_are_fired=True)
def test_jwks_url_is_fetched_once_and_cached(tmp_path: Path, es384: SigningKey) -> None:
    responses.get(JWKS_URL, json=jwks_of(es384))
    harness = build(tmp_path, [{"iss": ISSUER, "jwks_url": JWKS_URL}], session=requests.Session())
    for _ in range(3):
        harness.authenticator.authenticate(bearer(mint(es384)), HOOK_URL)
    assert len(responses.calls) == 1


# --- refused ------------------------------------------------------------------------


@pytest.mark.requirement("201")
def test_alg_none_is_refused(harness: Harness) -> None:
    header = {"alg": "none", "typ": "JWT", "kid": "es384-key"}
    claims = {"iss": ISSUER, "aud": HOOK_URL, "iat": NOW.timestamp(), "exp": NOW.timestamp() + 60}
    token = f"{b64(header)}.{b64({**claims, 'jti': 'n1'})}."
    rejected(harness, token, "algorithm-not-allowed")


@pytest.mark.requirement("203")
def test_hs256_signed_with_the_public_key_is_refused(harness: Harness, rs384: SigningKey) -> None:
    """The classic key-confusion attack: HMAC keyed with the issuer's public key."""
    pem = rs384.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": rs384.kid}
    claims = {
        "iss": ISSUER,
        "aud": HOOK_URL,
        "iat": NOW.timestamp(),
        "exp": NOW.timestamp() + 60,
        "jti": "hs",
    }
    signing_input = f"{b64(header)}.{b64(claims)}".encode()
    import hashlib
    import hmac

    signature = hmac.new(pem, signing_input, hashlib.sha256).digest()
    token = signing_input.decode() + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    rejected(harness, token, "algorithm-not-allowed")


@pytest.mark.parametrize("alg", ["HS384", "HS512", "PS384", "ES512", "EdDSA", "ES256", "RS256"])
def test_algorithms_not_configured_are_refused(
    harness: Harness, es384: SigningKey, alg: str
) -> None:
    header = {"alg": alg, "typ": "JWT", "kid": es384.kid}
    claims = {"iss": ISSUER, "aud": HOOK_URL, "iat": 1, "exp": 2, "jti": "x"}
    rejected(harness, f"{b64(header)}.{b64(claims)}.c2ln", "algorithm-not-allowed")


def test_es256_accepted_only_when_configured(tmp_path: Path) -> None:
    key = make_key("ES256", "p256")
    strict = build(tmp_path, [file_issuer(tmp_path, key)])
    rejected(strict, mint(key), "algorithm-not-allowed")
    relaxed = build(
        tmp_path,
        [file_issuer(tmp_path, key)],
        settings=Settings(jwt_algorithms=("ES384", "ES256")),
    )
    assert relaxed.authenticator.authenticate(bearer(mint(key)), HOOK_URL).algorithm == "ES256"


def test_key_type_must_match_alg_family(tmp_path: Path, rs384: SigningKey) -> None:
    """An RSA key published under a kid, used with an ES384 header: refused before verifying."""
    ec_key = make_key("ES384", rs384.kid)
    jwk = rs384.public_jwk()
    jwk.pop("alg")  # a JWK without alg: the key type alone must decide
    path = tmp_path / "rsa-only.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    harness = build(tmp_path, [{"iss": ISSUER, "jwks_file": str(path)}])
    rejected(harness, mint(ec_key), "key-does-not-match-alg")


def test_wrong_curve_is_refused(tmp_path: Path) -> None:
    """A P-256 key must not verify an ES384 token (curve bound to the algorithm)."""
    p256 = make_key("ES256", "same-kid")
    jwk = p256.public_jwk()
    jwk.pop("alg")
    path = tmp_path / "p256.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    harness = build(tmp_path, [{"iss": ISSUER, "jwks_file": str(path)}])
    header = {"alg": "ES384", "typ": "JWT", "kid": "same-kid"}
    claims = {"iss": ISSUER, "aud": HOOK_URL, "iat": NOW.timestamp(), "exp": NOW.timestamp() + 60}
    signing_input = f"{b64(header)}.{b64({**claims, 'jti': 'c'})}".encode()
    der = p256.private.sign(signing_input, ec.ECDSA(hashes.SHA384()))
    r, s_value = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s_value.to_bytes(32, "big")
    token = signing_input.decode() + "." + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    rejected(harness, token, "key-does-not-match-alg")


def test_wrong_audience_is_refused(harness: Harness, es384: SigningKey) -> None:
    rejected(harness, mint(es384, aud="https://cds.example.net/cds-services/other"), "audience")
    rejected(harness, mint(es384, aud=HOOK_URL + "/"), "audience")


def test_expired_token_is_refused(harness: Harness, es384: SigningKey) -> None:
    rejected(harness, mint(es384, iat_offset=-400, lifetime=300), "expired")


def test_expiry_within_leeway_is_accepted(harness: Harness, es384: SigningKey) -> None:
    harness.authenticator.authenticate(bearer(mint(es384, iat_offset=-304, lifetime=300)), HOOK_URL)


def test_iat_far_in_the_future_is_refused(harness: Harness, es384: SigningKey) -> None:
    rejected(harness, mint(es384, iat_offset=3600), "issued-in-future")
    rejected(harness, mint(es384, iat_offset=5.5), "issued-in-future")


@pytest.mark.parametrize("claim", ["jti", "exp", "iat", "aud", "iss"])
def test_missing_required_claims_are_refused(
    harness: Harness, es384: SigningKey, claim: str
) -> None:
    expected = "untrusted-issuer" if claim == "iss" else f"missing-{claim}"
    rejected(harness, mint(es384, drop=(claim,)), expected)


def test_non_numeric_exp_is_refused(harness: Harness, es384: SigningKey) -> None:
    rejected(harness, mint(es384, exp="tomorrow"), "invalid-exp")
    rejected(harness, mint(es384, iat=True), "invalid-iat")


def test_replayed_jti_is_refused(harness: Harness, es384: SigningKey) -> None:
    token = mint(es384, jti="once")
    harness.authenticator.authenticate(bearer(token), HOOK_URL)
    rejected(harness, token, "replayed-jti")
    rejected(harness, mint(es384, jti="once"), "replayed-jti")


def test_invalid_tokens_do_not_use_up_their_jti(harness: Harness, es384: SigningKey) -> None:
    rejected(harness, mint(es384, jti="keep", aud="https://wrong.example/"), "audience")
    harness.authenticator.authenticate(bearer(mint(es384, jti="keep")), HOOK_URL)


def test_unknown_issuer_is_refused(harness: Harness, es384: SigningKey) -> None:
    rejected(harness, mint(es384, iss="https://evil.example/"), "untrusted-issuer")


@pytest.mark.requirement("195")
@responses.activate(assert_all_requests_are_fired=True)
def test_jku_not_on_allowlist_is_refused_without_fetching(
    tmp_path: Path, es384: SigningKey
) -> None:
    responses.get(JWKS_URL, json=jwks_of(es384))
    issuer = {"iss": ISSUER, "jwks_url": JWKS_URL, "jku_allowlist": [JWKS_URL]}
    harness = build(tmp_path, [issuer], session=requests.Session())
    harness.authenticator.authenticate(bearer(mint(es384)), HOOK_URL)  # the configured JWKS
    assert len(responses.calls) == 1
    token = mint(es384, headers={"jku": "https://evil.example/jwks.json"})
    rejected(harness, token, "jku-not-allowed")
    assert len(responses.calls) == 1  # nothing was fetched for the foreign jku


def test_jku_not_on_allowlist_makes_no_request_at_all(tmp_path: Path, es384: SigningKey) -> None:
    """With responses active and nothing registered, any request would raise ConnectionError."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        harness = build(
            tmp_path, [{"iss": ISSUER, "jwks_url": JWKS_URL}], session=requests.Session()
        )
        rejected(harness, mint(es384, headers={"jku": JWKS_URL}), "jku-not-allowed")
        assert len(mock.calls) == 0


@responses.activate(assert_all_requests_are_fired=True)
def test_unknown_kid_triggers_one_rate_limited_refresh_then_401(
    tmp_path: Path, es384: SigningKey
) -> None:
    clock = [1000.0]
    first = responses.get(JWKS_URL, json=jwks_of(es384))
    harness = build(
        tmp_path,
        [{"iss": ISSUER, "jwks_url": JWKS_URL}],
        session=requests.Session(),
        monotonic=lambda: clock[0],
    )
    harness.authenticator.authenticate(bearer(mint(es384)), HOOK_URL)  # initial load
    assert first.call_count == 1

    clock[0] += 120  # past the refresh interval
    stranger = make_key("ES384", "rotated-out")
    rejected(harness, mint(stranger), "unknown-kid")
    assert first.call_count == 2  # exactly one refresh

    for _ in range(5):  # a flood of unknown kids: no more fetches within the interval
        rejected(harness, mint(make_key("ES384")), "unknown-kid")
    assert first.call_count == 2


@responses.activate(assert_all_requests_are_fired=True)
def test_key_rotation_is_picked_up_by_the_refresh(tmp_path: Path, es384: SigningKey) -> None:
    clock = [1000.0]
    rotated = make_key("ES384", "next-key")
    responses.get(JWKS_URL, json=jwks_of(es384))
    harness = build(
        tmp_path,
        [{"iss": ISSUER, "jwks_url": JWKS_URL}],
        session=requests.Session(),
        monotonic=lambda: clock[0],
    )
    harness.authenticator.authenticate(bearer(mint(es384)), HOOK_URL)
    responses.replace(responses.GET, JWKS_URL, json=jwks_of(es384, rotated))
    clock[0] += 61
    harness.authenticator.authenticate(bearer(mint(rotated)), HOOK_URL)


def test_tampered_signature_is_refused(harness: Harness, es384: SigningKey) -> None:
    token = mint(es384)
    head, payload, signature = token.split(".")
    flipped = ("A" if signature[5] != "A" else "B").join((signature[:5], signature[6:]))
    rejected(harness, f"{head}.{payload}.{flipped}", "signature")


def test_tampered_payload_is_refused(harness: Harness, es384: SigningKey) -> None:
    head, _, signature = mint(es384).split(".")
    other = mint(es384, tenant="someone-else").split(".")[1]
    rejected(harness, f"{head}.{other}.{signature}", "signature")


def test_signed_by_another_key_with_a_trusted_kid_is_refused(
    harness: Harness, es384: SigningKey
) -> None:
    impostor = make_key("ES384", es384.kid)
    rejected(harness, mint(impostor), "signature")


def test_tenant_not_allowed_is_refused(tmp_path: Path, es384: SigningKey) -> None:
    harness = build(tmp_path, [file_issuer(tmp_path, es384, tenants=["hospital-a"])])
    harness.authenticator.authenticate(bearer(mint(es384, tenant="hospital-a")), HOOK_URL)
    rejected(harness, mint(es384, tenant="hospital-b"), "tenant-not-allowed")
    rejected(harness, mint(es384), "tenant-not-allowed")


def test_issuer_algorithm_subset(tmp_path: Path, es384: SigningKey, rs384: SigningKey) -> None:
    harness = build(tmp_path, [file_issuer(tmp_path, es384, rs384, algorithms=["RS384"])])
    rejected(harness, mint(es384), "algorithm-not-allowed-for-issuer")
    harness.authenticator.authenticate(bearer(mint(rs384)), HOOK_URL)


def test_token_lifetime_is_capped(harness: Harness, es384: SigningKey) -> None:
    rejected(harness, mint(es384, lifetime=7 * 24 * 3600), "lifetime-too-long")


def test_critical_header_extensions_are_refused(harness: Harness, es384: SigningKey) -> None:
    """PyJWT refuses unknown ``crit`` itself; the authenticator also refuses any ``b64``."""
    rejected(harness, mint(es384, headers={"crit": ["exp"], "exp": 1}), "malformed-token")
    # hand-built (PyJWT's encoder drops b64=true): otherwise a valid, correctly signed token
    header = {"alg": "ES384", "typ": "JWT", "kid": es384.kid, "b64": True}
    claims = {
        "iss": ISSUER,
        "aud": HOOK_URL,
        "iat": NOW.timestamp(),
        "exp": NOW.timestamp() + 60,
        "jti": "b64",
    }
    signing_input = f"{b64(header)}.{b64(claims)}".encode()
    signature = jwt.get_algorithm_by_name("ES384").sign(signing_input, es384.private)
    token = signing_input.decode() + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    rejected(harness, token, "unsupported-header")


def test_missing_kid_and_bad_typ_are_refused(harness: Harness, es384: SigningKey) -> None:
    token = jwt.encode(
        {"iss": ISSUER, "aud": HOOK_URL, "iat": NOW.timestamp(), "exp": NOW.timestamp() + 60},
        es384.private,
        algorithm="ES384",
    )
    rejected(harness, token, "missing-kid")
    rejected(harness, mint(es384, headers={"typ": "at+jwt"}), "typ-not-jwt")


@pytest.mark.parametrize(
    ("header", "check"),
    [
        (None, "missing-authorization"),
        ("", "missing-authorization"),
        ("Basic dXNlcjpwYXNz", "malformed-authorization"),
        ("Bearer", "malformed-authorization"),
        ("Bearer not-a-jwt", "malformed-authorization"),
        ("Bearer a.b.c", "malformed-token"),
        ("Bearer " + "a" * 20000 + ".b.c", "token-too-large"),
    ],
)
def test_malformed_authorization_headers(harness: Harness, header: str | None, check: str) -> None:
    with pytest.raises(AuthenticationError) as info:
        harness.authenticator.authenticate(header, HOOK_URL)
    assert info.value.check == check


def test_no_trusted_issuers_refuses_everything(tmp_path: Path, es384: SigningKey) -> None:
    harness = build(tmp_path, [])
    rejected(harness, mint(es384), "no-trusted-issuers")


def test_unreachable_jwks_gives_401_not_500(tmp_path: Path, es384: SigningKey) -> None:
    with responses.RequestsMock() as mock:
        mock.get(JWKS_URL, body=requests.ConnectionError("down"))
        harness = build(
            tmp_path, [{"iss": ISSUER, "jwks_url": JWKS_URL}], session=requests.Session()
        )
        rejected(harness, mint(es384), "jwks-unavailable")


@responses.activate(assert_all_requests_are_fired=True)
def test_allowlisted_jku_is_fetched_instead_of_the_configured_jwks(
    tmp_path: Path, es384: SigningKey
) -> None:
    other_set = "https://keys.ehr.example.org/v2/jwks.json"
    rotated = make_key("ES384", "v2-key")
    responses.get(other_set, json=jwks_of(rotated))
    issuer = {"iss": ISSUER, "jwks_url": JWKS_URL, "jku_allowlist": [other_set]}
    harness = build(tmp_path, [issuer], session=requests.Session())
    token = mint(rotated, headers={"jku": other_set})
    assert harness.authenticator.authenticate(bearer(token), HOOK_URL).kid == "v2-key"
    assert [c.request.url for c in responses.calls] == [other_set]


def test_jku_only_issuer_requires_a_jku(tmp_path: Path, es384: SigningKey) -> None:
    issuer = {"iss": ISSUER, "jku_allowlist": ["https://keys.ehr.example.org/jwks.json"]}
    harness = build(tmp_path, [issuer], session=requests.Session())
    rejected(harness, mint(es384), "jku-required")


@pytest.fixture(scope="module")
def fuzz_harness(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    directory = tmp_path_factory.mktemp("fuzz")
    return build(directory, [file_issuer(directory, make_key("ES384", "es384-key"))])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.one_of(
        st.none(),
        st.text(max_size=300),
        st.builds(lambda s: "Bearer " + s, st.text(max_size=300)),
        st.builds(
            lambda a, b, c: f"Bearer {a}.{b}.{c}",
            st.from_regex(r"[A-Za-z0-9_\-]{0,60}", fullmatch=True),
            st.from_regex(r"[A-Za-z0-9_\-]{0,60}", fullmatch=True),
            st.from_regex(r"[A-Za-z0-9_\-]{0,60}", fullmatch=True),
        ),
        st.builds(
            lambda h, p: f"Bearer {b64(h)}.{b64(p)}.c2ln",
            st.dictionaries(
                st.sampled_from(["alg", "kid", "typ", "jku", "x"]),
                st.one_of(st.text(max_size=10), st.integers(), st.none(), st.booleans()),
            ),
            st.dictionaries(
                st.sampled_from(["iss", "aud", "exp", "iat", "jti", "tenant"]),
                st.one_of(st.text(max_size=10), st.integers(), st.none(), st.floats()),
            ),
        ),
    )
)
def test_no_authorization_header_makes_anything_but_authentication_error(
    fuzz_harness: Harness, header: str | None
) -> None:
    with pytest.raises(AuthenticationError):
        fuzz_harness.authenticator.authenticate(header, HOOK_URL)
