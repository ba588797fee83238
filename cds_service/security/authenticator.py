"""Verifies the EHR's JWT as CDS Hooks 2.0 specifies ("Trusting CDS Clients").

Order of checks (cheap and key-independent first, so nothing is fetched for a token that
is refused anyway):

1. ``Authorization: Bearer <JWT>`` present and well-formed; size cap.
2. Header: ``alg`` on the allowlist (``none`` and HMAC never are) *before* any key is chosen;
   ``typ`` is ``JWT`` when present; ``kid`` present.
3. ``iss`` (read unverified) is a trusted issuer; ``alg`` allowed for that issuer.
4. Key source: the issuer's ``jku`` allowlist when the header has ``jku`` (a ``jku`` not on it
   is refused and never fetched), else the issuer's configured JWKS (URL or file).
5. ``kid`` selects the key (unknown: one rate-limited refresh); the key type and curve must
   match the ``alg`` family (EC P-256/P-384 for ES256/ES384, RSA >= 2048 bits for RS*).
6. Signature, ``iss``, ``aud`` (the endpoint URL) verified by PyJWT; ``exp``/``iat``/``jti``
   required.
7. ``exp`` and ``iat`` against our clock with leeway; lifetime cap.
8. ``tenant`` allowlist (when configured for the issuer).
9. ``jti`` not seen before (recorded until ``exp`` + leeway).

Failures raise :class:`AuthenticationError` whose ``check`` names the failed step (for the
log line); the token itself is never logged or put in an exception.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cds_service.security.jwks import JwksCache, KeySetUnavailable, KeySource
from cds_service.security.replay import JtiStore
from cds_service.security.trust import IssuerTrust, TrustConfig

log = logging.getLogger("cds_service.security.auth")

MAX_TOKEN_BYTES = 16 * 1024
_BEARER = re.compile(r"^Bearer +([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*) *$", re.I)
_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1"}
MIN_RSA_BITS = 2048


class AuthenticationError(Exception):
    """The request is not authenticated. ``check`` names the failed check (log, never body)."""

    def __init__(self, check: str) -> None:
        super().__init__(check)
        self.check = check


@dataclass(frozen=True, slots=True)
class AuthContext:
    """Who called: the verified claims the rest of the service may use."""

    issuer: str
    jti: str
    kid: str
    algorithm: str
    expires_at: datetime
    issued_at: datetime
    audience: str
    tenant: str | None = None
    subject: str | None = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _key_matches_alg(key: Any, alg: str) -> bool:
    if alg.startswith("ES"):
        return isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == _CURVES.get(alg)
    if alg.startswith("RS"):
        return isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS
    return False


class Authenticator:
    """Verifies bearer JWTs against a :class:`TrustConfig`."""

    def __init__(
        self,
        trust: TrustConfig,
        *,
        algorithms: Sequence[str],
        jwks: JwksCache,
        jti_store: JtiStore,
        leeway_seconds: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.trust = trust
        # Asymmetric algorithms only, whatever a caller passes in.
        self._algorithms = frozenset(a for a in algorithms if a[:2] in {"ES", "RS"})
        self._jwks = jwks
        self._jti_store = jti_store
        self._leeway = float(leeway_seconds)
        self._clock = clock

    @property
    def trusts_anyone(self) -> bool:
        return not self.trust.empty

    def authenticate(self, authorization_header: str | None, audience: str) -> AuthContext:
        """Verify ``Authorization`` for a request to ``audience``; raise AuthenticationError."""
        token = self._bearer_token(authorization_header)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.exceptions.PyJWTError:
            raise AuthenticationError("malformed-token") from None

        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise AuthenticationError("algorithm-not-allowed")
        # RFC 7515 4.1.11: critical extensions we do not implement must be refused; and no
        # unencoded (RFC 7797 b64=false) payloads.
        if "crit" in header or "b64" in header:
            raise AuthenticationError("unsupported-header")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
            raise AuthenticationError("typ-not-jwt")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise AuthenticationError("missing-kid")

        if self.trust.empty:
            raise AuthenticationError("no-trusted-issuers")
        issuer = self._issuer_of(token)
        if alg not in issuer.algorithms:
            raise AuthenticationError("algorithm-not-allowed-for-issuer")

        source = self._key_source(issuer, header.get("jku"))
        try:
            jwk = self._jwks.key_for(source, kid)
        except KeySetUnavailable:
            raise AuthenticationError("jwks-unavailable") from None
        if jwk is None:
            raise AuthenticationError("unknown-kid")
        declared = jwk.declared_alg
        if (declared is not None and declared != alg) or not _key_matches_alg(jwk.key, alg):
            raise AuthenticationError("key-does-not-match-alg")

        claims = self._verified_claims(token, jwk.key, alg, issuer.iss, audience)
        now = self._clock()
        expires_at, issued_at = self._check_times(claims, now)
        tenant = claims.get("tenant")
        if issuer.tenants and (not isinstance(tenant, str) or tenant not in issuer.tenants):
            raise AuthenticationError("tenant-not-allowed")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti or len(jti) > 512:
            raise AuthenticationError("missing-jti")
        # Namespaced by issuer: two EHRs may pick the same nonce.
        replay_until = expires_at + timedelta(seconds=self._leeway)
        if not self._jti_store.remember_jti(f"{issuer.iss}|{jti}", replay_until):
            raise AuthenticationError("replayed-jti")

        subject = claims.get("sub")
        return AuthContext(
            issuer=issuer.iss,
            jti=jti,
            kid=kid,
            algorithm=alg,
            expires_at=expires_at,
            issued_at=issued_at,
            audience=audience,
            tenant=tenant if isinstance(tenant, str) else None,
            subject=subject if isinstance(subject, str) else None,
        )

    @staticmethod
    def _bearer_token(authorization_header: str | None) -> str:
        if authorization_header is None or not authorization_header.strip():
            raise AuthenticationError("missing-authorization")
        if len(authorization_header) > MAX_TOKEN_BYTES:
            raise AuthenticationError("token-too-large")
        match = _BEARER.match(authorization_header.strip())
        if match is None:
            raise AuthenticationError("malformed-authorization")
        return match.group(1)

    def _issuer_of(self, token: str) -> IssuerTrust:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.exceptions.PyJWTError:
            raise AuthenticationError("malformed-token") from None
        iss = unverified.get("iss")
        issuer = self.trust.issuer(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise AuthenticationError("untrusted-issuer")
        return issuer

    @staticmethod
    def _key_source(issuer: IssuerTrust, jku: Any) -> KeySource:
        if jku is not None:
            # Honoured only when listed for this issuer; otherwise refused, never fetched.
            if not isinstance(jku, str) or jku not in issuer.jku_allowlist:
                raise AuthenticationError("jku-not-allowed")
            return jku
        if issuer.jwks_url is not None:
            return issuer.jwks_url
        if issuer.jwks_file is not None:
            return issuer.jwks_file
        raise AuthenticationError("jku-required")  # issuer configured with a jku allowlist only

    def _verified_claims(
        self, token: str, key: Any, alg: str, iss: str, audience: str
    ) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=audience,
                issuer=iss,
                options={
                    "require": ["iss", "aud", "exp", "iat", "jti"],
                    # Times are checked below against the injected clock.
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.exceptions.MissingRequiredClaimError as exc:
            raise AuthenticationError(f"missing-{exc.claim}") from None
        except jwt.exceptions.InvalidSignatureError:
            raise AuthenticationError("signature") from None
        except jwt.exceptions.InvalidAudienceError:
            raise AuthenticationError("audience") from None
        except jwt.exceptions.InvalidIssuerError:
            raise AuthenticationError("untrusted-issuer") from None
        except jwt.exceptions.InvalidAlgorithmError:
            raise AuthenticationError("algorithm-not-allowed") from None
        except jwt.exceptions.PyJWTError:
            raise AuthenticationError("malformed-token") from None
        return claims

    def _check_times(self, claims: dict[str, Any], now: datetime) -> tuple[datetime, datetime]:
        exp = _number(claims.get("exp"))
        iat = _number(claims.get("iat"))
        if exp is None:
            raise AuthenticationError("invalid-exp")
        if iat is None:
            raise AuthenticationError("invalid-iat")
        stamp = now.timestamp()
        if exp <= stamp - self._leeway:
            raise AuthenticationError("expired")
        if iat > stamp + self._leeway:
            raise AuthenticationError("issued-in-future")
        nbf = claims.get("nbf")
        if nbf is not None:
            nbf_number = _number(nbf)
            if nbf_number is None or nbf_number > stamp + self._leeway:
                raise AuthenticationError("not-yet-valid")
        if exp < iat or exp - iat > self.trust.max_token_lifetime_seconds:
            raise AuthenticationError("lifetime-too-long")
        try:
            return (datetime.fromtimestamp(exp, UTC), datetime.fromtimestamp(iat, UTC))
        except (OverflowError, OSError, ValueError):
            raise AuthenticationError("malformed-token") from None
