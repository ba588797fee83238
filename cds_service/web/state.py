"""What the views share: built once by ``create_app`` and kept in ``app.extensions``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from cds_service.config import Settings
from cds_service.deps import Dependencies
from cds_service.fhir.client import SharedExecutor
from cds_service.hooks.audit import AuditSink
from cds_service.hooks.service import Engine, PatientViewService, Renderer

EXTENSION_KEY = "cds_service"


@dataclass(frozen=True, slots=True)
class ServiceState:
    settings: Settings
    deps: Dependencies
    engine: Engine
    renderer: Renderer
    service: PatientViewService
    audit: AuditSink
    #: the discovery document, serialised once
    discovery_json: bytes
    discovery: dict[str, Any]
    executor: SharedExecutor
    #: the store (AuditSink, ping for readiness) or None
    store: Any


def current_state() -> ServiceState:
    state: ServiceState = current_app.extensions[EXTENSION_KEY]
    return state
