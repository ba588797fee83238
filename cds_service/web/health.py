"""``GET /healthz`` (liveness: the process answers) and ``GET /readyz`` (readiness)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response

from cds_service.logging import log_event
from cds_service.web.responses import json_response
from cds_service.web.state import current_state

blueprint = Blueprint("health", __name__)
_log = logging.getLogger("cds_service.health")


@blueprint.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@blueprint.get("/readyz")
def readyz() -> Response:
    """Ready when the ruleset and card definitions are loaded and the store answers."""
    state = current_state()
    checks: dict[str, str] = {}
    ready = True
    try:
        checks["ruleset"] = state.engine.version
        checks["cards"] = "loaded" if state.renderer is not None else "missing"
        ready = state.renderer is not None
    except Exception:
        checks["ruleset"] = "error"
        ready = False
    if state.store is not None:
        try:
            state.store.ping()
            checks["store"] = "ok"
        except Exception:
            log_event(_log, "store-ping-failed", logging.WARNING)
            checks["store"] = "unavailable"
            ready = False
    return json_response(
        {"status": "ready" if ready else "not-ready", "checks": checks}, 200 if ready else 503
    )
