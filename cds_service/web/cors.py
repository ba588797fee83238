"""CORS for browser-based CDS clients (the CDS Hooks Sandbox runs in a browser).

The preflight (``OPTIONS`` with ``Access-Control-Request-Method``) is answered here, before
authentication, allowing ``Authorization`` and ``Content-Type``. Allowed origins come from
``CDS_CORS_ALLOWED_ORIGINS`` ("*" for any); in dev mode with none configured, any origin.
"""

from __future__ import annotations

from flask import Flask, Response, request

from cds_service.config import Settings

ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type"
MAX_AGE_SECONDS = "600"


def allowed_origins(settings: Settings) -> frozenset[str]:
    origins = settings.cors_allowed_origins
    if not origins and settings.dev_mode:
        origins = ("*",)
    return frozenset(o.rstrip("/") for o in origins)


def init_app(app: Flask, settings: Settings) -> None:
    origins = allowed_origins(settings)
    any_origin = "*" in origins

    def allow_origin(response: Response) -> None:
        origin = request.headers.get("Origin")
        if not origin:
            return
        if any_origin:
            response.headers["Access-Control-Allow-Origin"] = "*"
        elif origin.rstrip("/") in origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.vary.add("Origin")

    @app.before_request
    def preflight() -> Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        response = Response(status=204)
        allow_origin(response)
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = MAX_AGE_SECONDS
        return response

    @app.after_request
    def cors_headers(response: Response) -> Response:
        if "Access-Control-Allow-Origin" not in response.headers:
            allow_origin(response)
        return response
