"""Keys, JWK Sets, trust files and a token minter for the security tests (keys made here)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cds_service.config import Settings
from cds_service.security.authenticator import Authenticator
from cds_service.security.jwks import JwksCache
from cds_service.security.replay import InMemoryJtiStore
from cds_service.security.trust import load_trust_file

ISSUER = "https://ehr.example.org/fhir"
JWKS_URL = "https://ehr.example.org/.well-known/jwks.json"
SANDBOX = "https://sandbox.cds-hooks.org"
SANDBOX_JWKS = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
BASE = "https://cds.example.net"
HOOK_URL = f"{BASE}/cds-services/msc-liver-screening"
NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: Any

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        jwk.update(kid=self.kid, alg=self.alg, use="sig")
        return jwk


def make_key(alg: str, kid: str | None = None) -> SigningKey:
    if alg == "ES384":
        private: Any = ec.generate_private_key(ec.SECP384R1())
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(kid or f"{alg.lower()}-{uuid.uuid4().hex[:8]}", alg, private)


def jwks_of(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [k.public_jwk() for k in keys]}


Minter = Callable[..., str]


def mint(
    key: SigningKey,
    *,
    iss: str = ISSUER,
    aud: str | list[str] = HOOK_URL,
    now: datetime = NOW,
    iat_offset: float = 0,
    lifetime: float = 300,
    jti: str | None = "default",
    headers: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    alg: str | None = None,
    **extra: Any,
) -> str:
    iat = now.timestamp() + iat_offset
    claims: dict[str, Any] = {
        "iss": iss,
        "aud": aud,
        "iat": iat,
        "exp": iat + lifetime,
        "jti": str(uuid.uuid4()) if jti == "default" else jti,
        **extra,
    }
    for name in drop:
        claims.pop(name, None)
    header = {"kid": key.kid, "typ": "JWT", **(headers or {})}
    return jwt.encode(claims, key.private, algorithm=alg or key.alg, headers=header)


def write_trust(directory: Path, document: dict[str, Any], *, name: str = "trust.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@dataclass
class Harness:
    authenticator: Authenticator
    jwks: JwksCache
    jti_store: InMemoryJtiStore
    settings: Settings


def build(
    tmp_path: Path,
    issuers: list[dict[str, Any]],
    *,
    session: Any = None,
    settings: Settings | None = None,
    clock: Callable[[], datetime] = lambda: NOW,
    monotonic: Callable[[], float] | None = None,
) -> Harness:
    settings = settings or Settings()
    trust = load_trust_file(write_trust(tmp_path, {"version": 1, "issuers": issuers}), settings)
    jwks = JwksCache(
        http_session=session,
        allowed_urls=trust.fetch_urls(),
        dev_mode=settings.dev_mode,
        monotonic=monotonic or time.monotonic,
    )
    store = InMemoryJtiStore(clock=clock)
    authenticator = Authenticator(
        trust,
        algorithms=settings.jwt_algorithms,
        jwks=jwks,
        jti_store=store,
        leeway_seconds=settings.jwt_leeway_seconds,
        clock=clock,
    )
    return Harness(authenticator, jwks, store, settings)


def file_issuer(tmp_path: Path, *keys: SigningKey, **extra: Any) -> dict[str, Any]:
    jwks_path = tmp_path / f"jwks-{uuid.uuid4().hex[:6]}.json"
    jwks_path.write_text(json.dumps(jwks_of(*keys)), encoding="utf-8")
    return {"iss": ISSUER, "jwks_file": str(jwks_path), **extra}
