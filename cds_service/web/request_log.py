"""Request id and one structured access-log line per request (method, path, status, latency)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

from cds_service.config import Settings
from cds_service.logging import log_event, request_id_var

_log = logging.getLogger("cds_service.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
REQUEST_ID_HEADER = "X-Request-ID"
#: the ``auth`` field of an access-log line in dev mode (the line is then a WARNING)
DEV_MODE_AUTH = "DEV MODE: JWT not verified"


def init_app(app: Flask, settings: Settings) -> None:
    @app.before_request
    def start() -> None:
        g.started = time.perf_counter()
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request_id_var.set(g.request_id)

    @app.after_request
    def finish(response: Response) -> Response:
        started = g.get("started")
        latency_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        fields: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "latency_ms": latency_ms,
        }
        hook_instance = g.get("hook_instance")
        if hook_instance:
            fields["hook_instance"] = hook_instance
        if settings.log_patient_ids and g.get("patient_id"):
            fields["patient_id"] = g.patient_id
        if g.get("jwt_not_verified"):
            fields["auth"] = DEV_MODE_AUTH
            log_event(_log, "request", logging.WARNING, **fields)
        else:
            log_event(_log, "request", **fields)
        return response

    @app.teardown_request
    def forget(_: BaseException | None) -> None:
        request_id_var.set(None)
