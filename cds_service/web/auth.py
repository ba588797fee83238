"""Request authentication and security headers for every endpoint.

``init_app`` registers:

* a ``before_request`` that verifies the EHR's JWT on every request except the CORS
  preflight (``OPTIONS``) and the health probes (``/healthz``, ``/readyz``). The audience is
  ``settings.public_base_url`` + the request path; when that setting is unset (not
  recommended behind a proxy), the request's own root URL (from its ``Host`` header) is used.
  A failure answers 401 with a JSON OperationOutcome that does not say which check failed;
  the log line does (never the token). The verified :class:`AuthContext` is put in
  ``flask.g.cds_auth``.
* in dev mode no JWT check, but a warning on every request; ``create_app`` refuses dev mode
  when ``settings.host`` is not loopback.
* an ``after_request`` adding security headers to every response (errors included).
* log redaction of bearer tokens / JWTs process-wide.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, request

from cds_service.config import Settings
from cds_service.security.authenticator import AuthenticationError
from cds_service.security.dev_mode import assert_dev_mode_allowed
from cds_service.security.factory import build_authenticator
from cds_service.security.redaction import install_log_redaction

log = logging.getLogger("cds_service.security.auth")

UNAUTHENTICATED_PATHS = frozenset({"/healthz", "/readyz"})

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "interest-cohort=()",
}
HSTS = "max-age=31536000; includeSubDomains"


def unauthorized_response() -> Response:
    """401 with a body that gives nothing away."""
    response = jsonify(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "login", "diagnostics": "Unauthorized"}],
        }
    )
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="cds-service"'
    return response


def audience_for(settings: Settings) -> str:
    """The ``aud`` the JWT must carry for the current request: the endpoint URL."""
    base = settings.public_base_url or request.url_root
    return base.rstrip("/") + request.path


def init_app(app: Flask, settings: Settings, authenticator: Any) -> None:
    """Register JWT verification and security headers on ``app``.

    ``authenticator``: anything with ``authenticate(authorization_header, audience)``
    (``deps.authenticator``); None: built from settings with
    :func:`cds_service.security.build_authenticator`, sharing the app's store (when
    ``create_app`` has put one in ``app.extensions``) for seen ``jti`` ids.
    """
    install_log_redaction()
    if settings.dev_mode:
        assert_dev_mode_allowed(settings.host)
    if authenticator is None and not settings.dev_mode:
        state = app.extensions.get("cds_service")
        authenticator = build_authenticator(settings, getattr(state, "store", None), None)

    @app.before_request
    def verify_jwt() -> Response | None:
        if request.method == "OPTIONS" or request.path in UNAUTHENTICATED_PATHS:
            return None
        if settings.dev_mode:
            # said on the request's own access-log line (a WARNING), not on a second line
            g.jwt_not_verified = True
            return None
        try:
            g.cds_auth = authenticator.authenticate(
                request.headers.get("Authorization"), audience_for(settings)
            )
        except AuthenticationError as failure:
            log.warning(
                "401 %s %r: JWT check failed: %s", request.method, request.path, failure.check
            )
            return unauthorized_response()
        return None

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Pragma", "no-cache")
        if not settings.dev_mode:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
