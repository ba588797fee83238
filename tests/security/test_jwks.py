"""JWK Set fetching: allowlisted URLs only, https, no redirects, size cap, private keys ignored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import responses

from cds_service.security.jwks import JwksCache, KeySetUnavailable, parse_jwks

from .keys import JWKS_URL, SigningKey, jwks_of, make_key


def cache(**kwargs: object) -> JwksCache:
    options: dict[str, object] = {
        "http_session": requests.Session(),
        "allowed_urls": frozenset({JWKS_URL, "http://127.0.0.1:9/jwks"}),
    }
    options.update(kwargs)
    return JwksCache(**options)  # type: ignore[arg-type]


def test_url_not_in_trust_file_is_never_fetched() -> None:
    with responses.RequestsMock() as mock:
        with pytest.raises(KeySetUnavailable, match="not in the trust file"):
            cache().key_for("https://evil.example/jwks", "k")
        assert len(mock.calls) == 0


def test_http_refused_outside_dev_mode() -> None:
    with responses.RequestsMock() as mock:
        with pytest.raises(KeySetUnavailable, match="https"):
            cache().key_for("http://127.0.0.1:9/jwks", "k")
        assert len(mock.calls) == 0


@responses.activate(assert_all_requests_are_fired=True)
def test_redirect_is_not_followed() -> None:
    responses.get(JWKS_URL, status=302, headers={"Location": "https://evil.example/jwks"})
    with pytest.raises(KeySetUnavailable, match="HTTP 302"):
        cache().key_for(JWKS_URL, "k")
    assert len(responses.calls) == 1


@responses.activate(assert_all_requests_are_fired=True)
def test_oversized_jwks_is_refused(es384: SigningKey) -> None:
    responses.get(JWKS_URL, body=b"{" + b" " * 300_000 + b"}")
    with pytest.raises(KeySetUnavailable, match="larger than"):
        cache(max_bytes=1024).key_for(JWKS_URL, es384.kid)


@responses.activate(assert_all_requests_are_fired=True)
def test_timeout_is_passed() -> None:
    def check(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        return (200, {}, json.dumps({"keys": []}))

    responses.add_callback(responses.GET, JWKS_URL, callback=check)
    cache().key_for(JWKS_URL, "k")
    request = responses.calls[0].request
    assert request.req_kwargs["timeout"] == (3.05, 5.0)  # type: ignore[attr-defined]


@responses.activate(assert_all_requests_are_fired=True)
def test_failed_refresh_keeps_known_keys(es384: SigningKey) -> None:
    clock = [0.0]
    responses.get(JWKS_URL, json=jwks_of(es384))
    keys = cache(monotonic=lambda: clock[0], ttl_seconds=100.0)
    assert keys.key_for(JWKS_URL, es384.kid) is not None
    responses.replace(responses.GET, JWKS_URL, status=500)
    clock[0] = 200.0  # past the TTL: a refresh is attempted and fails
    assert keys.key_for(JWKS_URL, es384.kid) is not None
    assert len(responses.calls) == 2


def test_private_and_unusable_keys_are_ignored(es384: SigningKey) -> None:
    public = es384.public_jwk()
    leaked = dict(public, kid="leaked", d="AAAA")
    symmetric = {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}
    encryption = dict(make_key("RS384", "enc").public_jwk(), use="enc")
    no_kid = {k: v for k, v in public.items() if k != "kid"}
    keys = parse_jwks({"keys": [public, leaked, symmetric, encryption, no_kid, "junk"]})
    assert set(keys) == {es384.kid}


def test_not_a_jwks() -> None:
    with pytest.raises(KeySetUnavailable):
        parse_jwks({"kty": "EC"})


def test_file_source_is_read_and_reread_on_unknown_kid(tmp_path: Path, es384: SigningKey) -> None:
    clock = [0.0]
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks_of(es384)))
    keys = cache(monotonic=lambda: clock[0])
    assert keys.preload(path) == 1
    rotated = make_key("ES384", "rotated")
    path.write_text(json.dumps(jwks_of(es384, rotated)))
    assert keys.key_for(path, "rotated") is None  # within the refresh interval
    clock[0] = 61.0
    assert keys.key_for(path, "rotated") is not None
