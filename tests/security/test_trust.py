"""Trust file: validated at start-up with a JSON Schema; mistakes fail loudly and clearly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from cds_service.config import Settings
from cds_service.resources import data_dir  # noqa: F401  (the package locates data this way)
from cds_service.security import build_authenticator
from cds_service.security.trust import TrustConfigError, load_trust, load_trust_file

from .keys import ISSUER, JWKS_URL, SANDBOX, SANDBOX_JWKS, SigningKey, jwks_of, write_trust

REPO = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, document: Any, settings: Settings | None = None) -> Any:
    return load_trust_file(write_trust(tmp_path, document), settings or Settings())


def test_shipped_sandbox_example_is_valid() -> None:
    trust = load_trust_file(REPO / "examples" / "trust.sandbox.yaml", Settings())
    sandbox = trust.issuer(SANDBOX)
    assert sandbox is not None
    assert sandbox.jwks_url == SANDBOX_JWKS
    assert SANDBOX_JWKS in sandbox.jku_allowlist
    assert sandbox.algorithms == ("ES384",)


def test_yaml_and_json_both_load(tmp_path: Path) -> None:
    yaml_path = tmp_path / "trust.yaml"
    yaml_path.write_text(f"issuers:\n  - iss: {ISSUER}\n    jwks_url: {JWKS_URL}\n")
    assert load_trust_file(yaml_path, Settings()).issuer(ISSUER) is not None
    assert load(tmp_path, {"issuers": [{"iss": ISSUER, "jwks_url": JWKS_URL}]}).issuers


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "'issuers' is a required property"),
        ({"issuers": [{"jwks_url": JWKS_URL}]}, "issuers[0]"),
        ({"issuers": [{"iss": ISSUER}]}, "exactly one of jwks_url or jwks_file"),
        (
            {"issuers": [{"iss": ISSUER, "jwks_url": JWKS_URL, "jwks_file": "x.json"}]},
            "exactly one of jwks_url or jwks_file",
        ),
        ({"issuers": [{"iss": ISSUER, "jwks_url": "ftp://x/jwks"}]}, "issuers[0].jwks_url"),
        (
            {"issuers": [{"iss": ISSUER, "jwks_url": JWKS_URL, "algorithms": ["HS256"]}]},
            "issuers[0].algorithms[0]",
        ),
        (
            {"issuers": [{"iss": ISSUER, "jwks_url": JWKS_URL, "algorithms": ["none"]}]},
            "issuers[0].algorithms[0]",
        ),
        ({"issuers": [{"iss": ISSUER, "jwks_url": JWKS_URL, "tenant": ["x"]}]}, "tenant"),
        (
            {"issuers": [{"iss": ISSUER, "jwks_url": JWKS_URL}] * 2},
            "listed twice",
        ),
        (
            {"issuers": [{"iss": ISSUER, "jwks_url": "http://ehr.example.org/jwks"}]},
            "https outside dev mode",
        ),
        (
            {"issuers": [{"iss": ISSUER, "jwks_url": JWKS_URL, "algorithms": ["RS256"]}]},
            "CDS_JWT_ALGORITHMS",
        ),
        ({"issuers": [{"iss": ISSUER, "jwks_file": "missing.json"}]}, "does not exist"),
        ([], "is not of type 'object'"),
    ],
)
def test_invalid_trust_files_fail_clearly(tmp_path: Path, document: Any, message: str) -> None:
    with pytest.raises(TrustConfigError) as info:
        load(tmp_path, document)
    assert message in str(info.value)
    assert "trust file" in str(info.value)


def test_unreadable_and_unparsable_files(tmp_path: Path) -> None:
    with pytest.raises(TrustConfigError, match="CDS_TRUST_FILE: cannot read"):
        load_trust_file(tmp_path / "nope.yaml", Settings())
    broken = tmp_path / "broken.yaml"
    broken.write_text("issuers: [\n")
    with pytest.raises(TrustConfigError, match="not valid YAML/JSON"):
        load_trust_file(broken, Settings())


def test_http_jwks_allowed_in_dev_mode(tmp_path: Path) -> None:
    document = {"issuers": [{"iss": ISSUER, "jwks_url": "http://127.0.0.1:9/jwks"}]}
    assert load(tmp_path, document, Settings(dev_mode=True)).issuers


def test_jwks_file_relative_to_trust_file(tmp_path: Path, es384: SigningKey) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "ehr.json").write_text(json.dumps(jwks_of(es384)))
    trust = load(tmp_path, {"issuers": [{"iss": ISSUER, "jwks_file": "keys/ehr.json"}]})
    issuer = trust.issuer(ISSUER)
    assert issuer is not None
    assert issuer.jwks_file == (tmp_path / "keys" / "ehr.json").resolve()


def test_no_trust_file_means_no_trusted_issuer() -> None:
    assert load_trust(Settings()).empty


def test_trust_file_from_environment(tmp_path: Path) -> None:
    path = write_trust(tmp_path, {"issuers": [{"iss": ISSUER, "jwks_url": JWKS_URL}]})
    settings = Settings.from_env({"CDS_TRUST_FILE": str(path)})
    assert load_trust(settings).issuer(ISSUER) is not None


def test_build_authenticator_rejects_a_jwks_file_without_keys(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_text(json.dumps({"keys": []}))
    path = write_trust(tmp_path, {"issuers": [{"iss": ISSUER, "jwks_file": "empty.json"}]})
    with pytest.raises(TrustConfigError, match="no usable public signing key"):
        build_authenticator(Settings(trust_file=str(path)))


def test_build_authenticator_uses_the_store_for_jti(tmp_path: Path, es384: SigningKey) -> None:
    class Store:
        def __init__(self) -> None:
            self.seen: list[str] = []

        def remember_jti(self, jti: str, expires_at: Any) -> bool:
            if jti in self.seen:
                return False
            self.seen.append(jti)
            return True

    (tmp_path / "k.json").write_text(json.dumps(jwks_of(es384)))
    path = write_trust(tmp_path, {"issuers": [{"iss": ISSUER, "jwks_file": "k.json"}]})
    store = Store()
    from .keys import HOOK_URL, NOW, mint

    authenticator = build_authenticator(
        Settings(trust_file=str(path)), store, requests.Session(), clock=lambda: NOW
    )
    authenticator.authenticate("Bearer " + mint(es384, jti="j-1"), HOOK_URL)
    assert store.seen == [f"{ISSUER}|j-1"]
