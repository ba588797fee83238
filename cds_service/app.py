"""The application factory: the one construction path for the web service.

``create_app(settings, deps)`` loads the clinical ruleset and card definitions once
(failing at start-up, not at request time, if they are invalid), builds the hook pipeline
and registers one blueprint per CDS Hooks surface: discovery, hook, feedback, health.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import orjson
from flask import Flask

from cds_service.config import Settings
from cds_service.deps import Dependencies
from cds_service.fhir.client import FhirClient, SharedExecutor, build_session
from cds_service.fhir.policy import fhir_url_checker
from cds_service.hooks.audit import AuditSink, NullAuditSink
from cds_service.hooks.resolution import Limits, PrefetchResolver
from cds_service.hooks.service import Engine, PatientViewService, Renderer
from cds_service.hooks.validation import first_error
from cds_service.logging import configure_logging, log_event
from cds_service.web import auth, cors, discovery, errors, feedback, health, hooks, request_log
from cds_service.web.state import EXTENSION_KEY, ServiceState

_log = logging.getLogger("cds_service.app")


def load_engine() -> Engine:
    """``ClinicalEngine.load()``: reads and validates the ruleset (RulesetError if invalid)."""
    # imported by name: the engine and cards packages are built beside this one and typed
    # here through the Engine/Renderer protocols of cds_service.hooks.service
    module = importlib.import_module("cds_service.clinical.engine")
    engine: Engine = module.ClinicalEngine.load()
    return engine


def load_renderer() -> Renderer:
    """``CardRenderer.load()``: reads and validates the card definitions (CardConfigError)."""
    module = importlib.import_module("cds_service.cards")
    renderer: Renderer = module.CardRenderer.load()
    return renderer


def open_store(settings: Settings, deps: Dependencies) -> Any:
    """The audit/feedback/jti store: ``deps.store`` when given, else built from settings.

    Built: an SQLite file at ``settings.sqlite_path``, or PostgreSQL when DATABASE_URL is
    set, created or migrated here (under a lock, so workers starting together are safe).
    Queued audit records are written at interpreter exit (the store registers ``atexit``).
    """
    if deps.store is not None:
        return deps.store
    from cds_service.store import open_store as open_database_store

    store = open_database_store(settings, clock=deps.clock)
    store.upgrade()
    return store


def build_authenticator(settings: Settings, deps: Dependencies, store: Any) -> Any:
    """``deps.authenticator``, else the security package's, built from settings (issue 6).

    None in dev mode (no JWT check) or while ``cds_service.security.factory`` is absent.
    """
    if deps.authenticator is not None:
        return deps.authenticator
    if settings.dev_mode:
        return None
    try:
        module = importlib.import_module("cds_service.security.factory")
    except ImportError:
        return None
    return module.build_authenticator(settings, store, clock=deps.clock)


def create_app(settings: Settings | None = None, deps: Dependencies | None = None) -> Flask:
    settings = settings if settings is not None else Settings.from_env()
    deps = deps if deps is not None else Dependencies()
    configure_logging(settings)

    engine: Engine = deps.engine if deps.engine is not None else load_engine()
    renderer: Renderer = deps.renderer if deps.renderer is not None else load_renderer()

    discovery_doc = discovery.discovery_document(engine, settings.observation_page_size)
    problem = first_error("discovery", discovery_doc)
    if problem is not None:  # our own document: fail at start-up, loudly
        raise RuntimeError(f"discovery document is invalid: {problem[1]}")
    templates = discovery.service_entry(discovery_doc)["prefetch"]

    session = (
        deps.http_session
        if deps.http_session is not None
        else build_session(settings)
    )
    executor = SharedExecutor(settings.fhir_pool_size)
    resolver = PrefetchResolver(
        FhirClient(session, fhir_url_checker(settings)),
        executor.get,
        templates,
        Limits(
            deadline_seconds=settings.hook_deadline_seconds,
            max_pages=settings.fhir_max_pages,
            max_resources=settings.fhir_max_resources,
            max_prefetch_entries=settings.max_prefetch_entries,
        ),
    )
    service = PatientViewService(engine, renderer, resolver, deps.clock, deps.uuid_factory)

    store = open_store(settings, deps)
    audit: AuditSink = store if store is not None else NullAuditSink()

    app = Flask("cds_service")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions[EXTENSION_KEY] = ServiceState(
        settings=settings,
        deps=deps,
        engine=engine,
        renderer=renderer,
        service=service,
        audit=audit,
        discovery_json=orjson.dumps(discovery_doc),
        discovery=discovery_doc,
        executor=executor,
        store=store,
    )

    # order matters: request id first, then the CORS preflight (no auth), then auth
    request_log.init_app(app, settings)
    errors.init_app(app)
    cors.init_app(app, settings)
    auth.init_app(app, settings, build_authenticator(settings, deps, store))

    app.register_blueprint(discovery.blueprint)
    app.register_blueprint(hooks.blueprint)
    app.register_blueprint(feedback.blueprint)
    app.register_blueprint(health.blueprint)

    if settings.dev_mode:
        log_event(_log, "dev-mode", logging.WARNING, detail="JWT checks off; loopback only")
    log_event(_log, "app-ready", ruleset_version=engine.version)
    return app
