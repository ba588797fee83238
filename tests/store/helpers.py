"""Builders shared by the store tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from cds_service.hooks.audit import HookCallRecord
from cds_service.store import Store
from cds_service.web import feedback as feedback_web

SERVICE_ID = "msc-liver-screening"
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def feedback_app(store: Store) -> Flask:
    """The feedback blueprint on a bare Flask app (the full app is tested in tests/web)."""
    app = Flask("feedback-test")
    app.register_blueprint(feedback_web.blueprint)
    feedback_web.init_store(app, store)
    return app


def hook_record(**overrides: Any) -> HookCallRecord:
    values: dict[str, Any] = {
        "time": T0,
        "hook_instance": str(uuid.uuid4()),
        "service_id": SERVICE_ID,
        "ruleset_version": "2026.1",
        "user_id": "Practitioner/example",
        "patient_id": "pat-1",
        "outcome": "excluded",
        "reason_ids": ("exclusion.liver-cancer",),
        "card_uuids": (str(uuid.uuid4()),),
        "data_source": "prefetch",
        "fhir_requests": (),
        "latency_ms": 12.5,
        "status_code": 200,
    }
    values.update(overrides)
    return HookCallRecord(**values)


