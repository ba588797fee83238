"""Build the request authenticator from settings (used by ``create_app``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests

from cds_service.config import Settings
from cds_service.security.authenticator import Authenticator
from cds_service.security.fhir_policy import harden_session
from cds_service.security.jwks import JwksCache, KeySetUnavailable
from cds_service.security.replay import InMemoryJtiStore, JtiStore
from cds_service.security.trust import TrustConfigError, load_trust

log = logging.getLogger("cds_service.security")


def build_authenticator(
    settings: Settings,
    store: Any = None,
    http_session: Any = None,
    *,
    clock: Callable[[], datetime] | None = None,
) -> Authenticator:
    """An :class:`Authenticator` for ``settings``.

    * trust from ``settings.trust_file`` (validated now: a bad file stops start-up);
    * seen-``jti`` ids in ``store.remember_jti`` when the store has it (shared by workers),
      else in process memory;
    * JWK Sets fetched with ``http_session`` (a session of its own when None; it never
      reuses the FHIR session's credentials) from trust-file URLs only.
    Without a trust file (and outside dev mode) every authenticated request gets 401.
    """
    now = clock or (lambda: datetime.now(UTC))
    trust = load_trust(settings)
    jti_store: JtiStore
    if store is not None and callable(getattr(store, "remember_jti", None)):
        jti_store = store
    else:
        jti_store = InMemoryJtiStore(clock=now)
        if settings.workers > 1 and not trust.empty:
            log.warning(
                "jti replay store is per process (%d workers): a token replayed to another "
                "worker is not detected; configure the database store",
                settings.workers,
            )
    session = http_session if http_session is not None else harden_session(requests.Session())
    jwks = JwksCache(
        http_session=session, allowed_urls=trust.fetch_urls(), dev_mode=settings.dev_mode
    )
    for issuer in trust.issuers.values():
        if issuer.jwks_file is not None:
            try:
                count = jwks.preload(issuer.jwks_file)
            except KeySetUnavailable as exc:
                raise TrustConfigError(
                    f"trust file {trust.source}: JWK Set file {issuer.jwks_file} for issuer "
                    f"{issuer.iss!r} is unusable: {exc}"
                ) from None
            if count == 0:
                raise TrustConfigError(
                    f"trust file {trust.source}: JWK Set file {issuer.jwks_file} for issuer "
                    f"{issuer.iss!r} has no usable public signing key (kid + EC/RSA)"
                )
    if settings.dev_mode:
        log.warning("DEV MODE: JWT verification is OFF; loopback only; never use with real data")
    elif trust.empty:
        log.warning(
            "no trusted issuers (CDS_TRUST_FILE %s): every request that needs a JWT gets 401",
            "unset" if settings.trust_file is None else "lists none",
        )
    else:
        log.info("trusting %d JWT issuer(s) from %s", len(trust.issuers), trust.source)
    if not settings.dev_mode and settings.public_base_url is None and not trust.empty:
        log.warning(
            "CDS_PUBLIC_BASE_URL is unset: the JWT audience is built from the request's Host "
            "header; set it to the URL the EHR calls"
        )
    return Authenticator(
        trust,
        algorithms=settings.jwt_algorithms,
        jwks=jwks,
        jti_store=jti_store,
        leeway_seconds=settings.jwt_leeway_seconds,
        clock=now,
    )
