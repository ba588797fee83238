"""Run the hook pipeline in-process, for the command line and the fixture tests.

``cds-service evaluate`` and the clinical acceptance tests must reach their conclusion by
the very path a hook call takes (request validation, prefetch resolution,
``patient_data_from``, engine, cards). :class:`LocalPipeline` builds that path once from
the same parts ``create_app`` uses, without Flask.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cds_service.cards import CardRenderer
from cds_service.clinical.engine import ClinicalEngine
from cds_service.config import Settings
from cds_service.deps import random_uuid, system_clock
from cds_service.fhir.client import FhirClient, build_session
from cds_service.fhir.policy import fhir_url_checker
from cds_service.hooks.request import hook_request_from
from cds_service.hooks.resolution import Limits, PrefetchResolver
from cds_service.hooks.service import HookResult, PatientViewService
from cds_service.web.discovery import discovery_document, service_entry


@dataclass
class LocalPipeline:
    engine: ClinicalEngine
    renderer: CardRenderer
    settings: Settings
    templates: Mapping[str, str]
    clock: Callable[[], datetime]
    uuid_factory: Callable[[], str]
    _pool: ThreadPoolExecutor | None = None

    @classmethod
    def build(
        cls,
        settings: Settings | None = None,
        *,
        engine: ClinicalEngine | None = None,
        renderer: CardRenderer | None = None,
        clock: Callable[[], datetime] = system_clock,
        uuid_factory: Callable[[], str] = random_uuid,
    ) -> LocalPipeline:
        settings = settings or Settings()
        engine = engine or ClinicalEngine.load()
        renderer = renderer or CardRenderer.load()
        # the discovery document's templates, exactly as create_app takes them
        document = discovery_document(engine, settings.observation_page_size)
        templates = dict(service_entry(document)["prefetch"])
        return cls(engine, renderer, settings, templates, clock, uuid_factory)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cli-fhir")
        return self._pool

    def service(self) -> PatientViewService:
        client = FhirClient(
            build_session(self.settings), fhir_url_checker(self.settings)
        )
        limits = Limits(
            deadline_seconds=self.settings.hook_deadline_seconds,
            max_pages=self.settings.fhir_max_pages,
            max_resources=self.settings.fhir_max_resources,
            max_prefetch_entries=self.settings.max_prefetch_entries,
        )
        resolver = PrefetchResolver(client, self._executor, self.templates, limits)
        return PatientViewService(
            self.engine, self.renderer, resolver, self.clock, self.uuid_factory
        )

    def handle(self, request_document: Mapping[str, Any]) -> HookResult:
        """Validate a hook request document and answer it (InvalidRequestError /
        PreconditionFailedError as the hook endpoint raises them)."""
        request = hook_request_from(dict(request_document))
        return self.service().handle(request)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
