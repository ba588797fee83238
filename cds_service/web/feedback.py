"""Feedback endpoint ``POST /cds-services/<service_id>/feedback`` (CDS Hooks 2.0, Feedback).

A thin view: decode, validate (``cds_service.store.feedback``), store, answer. The answer
``200 {}`` is sent only after the store has committed. Errors are JSON OperationOutcomes:
400 naming the offending field, 404 for a service id this service does not offer, 503
when the store cannot write (the EHR may retry: storing is idempotent).

Authentication is not done here: the security layer's ``before_request`` covers it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

import orjson
from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError

from cds_service.hooks.errors import operation_outcome
from cds_service.hooks.service import SERVICE_ID
from cds_service.store import FeedbackError, Store, parse_feedback_request
from cds_service.web.state import EXTENSION_KEY as STATE_KEY

log = logging.getLogger(__name__)

blueprint = Blueprint("feedback", __name__)

#: ``app.extensions`` keys: the store, and the service ids that accept feedback
STORE_KEY = "cds_service.store"
SERVICE_IDS_KEY = "cds_service.feedback_service_ids"


def init_store(app: Flask, store: Store, service_ids: Collection[str] = (SERVICE_ID,)) -> None:
    """Give the feedback endpoint a store and service ids (else: the app's service state)."""
    app.extensions[STORE_KEY] = store
    app.extensions[SERVICE_IDS_KEY] = frozenset(service_ids)


@blueprint.post("/cds-services/<service_id>/feedback")
def post_feedback(service_id: str) -> Response:
    known: Collection[str] = current_app.extensions.get(SERVICE_IDS_KEY, (SERVICE_ID,))
    if service_id not in known:
        return _error(404, "not-found", f"no CDS service with id {service_id!r}")
    store: Store | None = current_app.extensions.get(STORE_KEY)
    if store is None:  # the app factory keeps the store in the shared service state
        store = getattr(current_app.extensions.get(STATE_KEY), "store", None)
    if store is None:
        return _error(503, "transient", "feedback store not configured")

    try:
        body = orjson.loads(request.get_data(cache=False))
    except orjson.JSONDecodeError:
        return _error(400, "structure", "request body is not valid JSON")
    try:
        items = parse_feedback_request(body)
    except FeedbackError as exc:
        return _error(400, "invalid", exc.message, exc.field)

    try:
        result = store.record_feedback(service_id, items)
    except SQLAlchemyError as exc:
        log.error("feedback not stored: %s", type(exc).__name__)
        return _error(503, "transient", "feedback could not be stored; please retry")
    if result.unissued_cards:
        log.warning(
            "feedback for %d card(s) this service has no record of issuing (stored, flagged)",
            len(result.unissued_cards),
        )
    return _json(200, {})


def _error(status: int, code: str, diagnostics: str, field: str | None = None) -> Response:
    return _json(status, operation_outcome(code, diagnostics, field))


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")
