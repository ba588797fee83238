"""``POST /cds-services/<id>``: the patient-view hook. Parse, call the service, serialise.

Checks in order: service id (404), content type (415), size (413, before and while
reading), JSON depth and syntax (400), schema (400), hook name (400); then prefetch
resolution (412) and evaluation. Every call, answered or refused, goes to the audit sink,
including a call the JWT check refused (401) before this view ran: its record holds no
hook instance, user or patient, because an unauthenticated body is never read.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from flask import Blueprint, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from cds_service.hooks.audit import HookCallRecord
from cds_service.hooks.errors import HookError, UnknownServiceError
from cds_service.hooks.request import HookRequest, parse_hook_request
from cds_service.hooks.service import SERVICE_ID, HookResult
from cds_service.logging import log_event
from cds_service.web.state import ServiceState, current_state

blueprint = Blueprint("hooks", __name__)
_log = logging.getLogger("cds_service.hooks")

JSON_TYPES = frozenset({"application/json", "application/fhir+json"})
_CHUNK = 64 * 1024


def read_body(max_bytes: int) -> bytes:
    """The request body, refusing (413) anything over ``max_bytes`` before reading it all."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise RequestEntityTooLarge()
    stream = request.stream
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(_CHUNK, max_bytes + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise RequestEntityTooLarge()
    return b"".join(chunks)


@blueprint.post("/cds-services/<service_id>")
def call_service(service_id: str) -> Response:
    state = current_state()
    started = time.perf_counter()
    hook_request: HookRequest | None = None
    result: HookResult | None = None
    status = 500
    try:
        if service_id != SERVICE_ID:
            raise UnknownServiceError(f"no CDS service with id {service_id!r}"[:200])
        if request.mimetype not in JSON_TYPES:
            raise UnsupportedMediaType("Content-Type must be application/json")
        raw = read_body(state.settings.max_body_bytes)
        hook_request = parse_hook_request(raw, max_depth=state.settings.max_json_depth)
        g.hook_instance = hook_request.hook_instance
        g.patient_id = hook_request.patient_id
        result = state.service.handle(hook_request)
        status = 200
        return Response(orjson.dumps(result.response_body()), mimetype="application/json")
    except HookError as error:
        status = error.status
        raise
    except Exception as error:
        status = int(getattr(error, "code", 500) or 500)
        raise
    finally:
        _audit(state, service_id, hook_request, result, status, started)


@blueprint.after_request
def audit_refused_call(response: Response) -> Response:
    """Audit a hook call the security layer answered with 401 (the view did not run)."""
    if response.status_code == 401 and request.endpoint == "hooks.call_service":
        service_id = str((request.view_args or {}).get("service_id", ""))
        started = g.get("started") or time.perf_counter()
        _audit(current_state(), service_id, None, None, 401, started)
    return response


def _audit(
    state: ServiceState,
    service_id: str,
    hook_request: HookRequest | None,
    result: HookResult | None,
    status: int,
    started: float,
) -> None:
    assessment: Any = result.assessment if result else None
    record = HookCallRecord(
        time=state.deps.clock(),
        hook_instance=hook_request.hook_instance if hook_request else None,
        service_id=service_id[:200],
        ruleset_version=state.engine.version,
        user_id=hook_request.user_id if hook_request else None,
        patient_id=hook_request.patient_id if hook_request else None,
        outcome=str(assessment.outcome) if assessment is not None else None,
        reason_ids=tuple(assessment.reason_ids) if assessment is not None else (),
        card_uuids=result.card_uuids if result else (),
        card_topics=result.card_topics if result else (),
        data_source=result.data_source if result else None,
        fhir_requests=result.fhir_requests if result else (),
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
        status_code=status,
    )
    try:
        state.audit.record_hook_call(record)
    except Exception:
        # The answer is already decided; a failing audit must not turn it into a 500.
        # Operators see this in the log (no patient data in it).
        log_event(_log, "audit-failed", logging.ERROR, hook_instance=record.hook_instance)
