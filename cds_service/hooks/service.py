"""The patient-view service: resolve data, evaluate, render. Domain only: no Flask here.

HookRequest --PrefetchResolver--> Resolution --patient_data_from--> PatientData
    --engine.evaluate--> Assessment --renderer.render--> cards (JSON-ready)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cds_service.clinical.model import Assessment, DataQualityNote, PatientData
from cds_service.hooks.audit import DataSource
from cds_service.hooks.prefetch import KEYS_BY_NAME
from cds_service.hooks.request import HookRequest
from cds_service.hooks.resolution import PrefetchResolver

SERVICE_ID = "msc-liver-screening"


class Engine(Protocol):
    """What the hook needs of ``cds_service.clinical.engine.ClinicalEngine``."""

    @property
    def version(self) -> str: ...

    def observation_code_tokens(self) -> tuple[str, ...]: ...

    def evaluate(self, data: PatientData, now: datetime) -> Assessment: ...


class Renderer(Protocol):
    """What the hook needs of ``cds_service.cards.CardRenderer``."""

    def render(
        self, assessment: Assessment, patient_id: str, uuid_factory: Callable[[], str]
    ) -> list[dict[str, Any]]: ...


def _resources(values: Any, kinds: frozenset[str]) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(values, Sequence):
        return ()
    return tuple(
        r
        for r in values
        if (type(r) is dict or isinstance(r, Mapping)) and r.get("resourceType") in kinds
    )


def patient_data_from(
    resolved: Mapping[str, Any], *, fetch_notes: tuple[DataQualityNote, ...] = ()
) -> PatientData:
    """The one path from resolved FHIR JSON (prefetched or fetched alike) to PatientData.

    ``resolved`` maps prefetch keys to the Patient resource (or None) and to sequences of
    resources read from searchset Bundles. Resources of other types are dropped here.
    """
    patient = resolved.get("patient")
    return PatientData(
        patient=patient
        if isinstance(patient, Mapping) and patient.get("resourceType") == "Patient"
        else None,
        conditions=_resources(
            resolved.get("conditions"), KEYS_BY_NAME["conditions"].resource_types
        ),
        observations=_resources(
            resolved.get("observations"), KEYS_BY_NAME["observations"].resource_types
        ),
        medications=_resources(
            resolved.get("medications"), KEYS_BY_NAME["medications"].resource_types
        )
        + _resources(
            resolved.get("medicationStatements"),
            KEYS_BY_NAME["medicationStatements"].resource_types,
        ),
        procedures=_resources(
            resolved.get("procedures"), KEYS_BY_NAME["procedures"].resource_types
        ),
        fetch_notes=fetch_notes,
    )


def strip_empty(value: Any) -> Any:
    """Drop None, "", [] and {} values from objects (CDS Hooks 2.0: no null or empty
    elements). Lists keep their order; an object that becomes empty is dropped too."""
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            v = strip_empty(v)
            if v is None or v == "" or v == [] or v == {}:
                continue
            out[k] = v
        return out
    if isinstance(value, list | tuple):
        items = [strip_empty(v) for v in value]
        return [v for v in items if not (v is None or v == "" or v == [] or v == {})]
    return value


@dataclass(frozen=True, slots=True)
class HookResult:
    cards: list[dict[str, Any]]
    assessment: Assessment
    data_source: DataSource
    fhir_requests: tuple[str, ...]

    @property
    def card_uuids(self) -> tuple[str, ...]:
        return tuple(str(c["uuid"]) for c in self.cards if "uuid" in c)

    @property
    def card_topics(self) -> tuple[str, ...]:
        """``source.topic.code`` of each card, aligned with :attr:`card_uuids`."""
        return tuple(
            str(c.get("source", {}).get("topic", {}).get("code", ""))
            for c in self.cards
            if "uuid" in c
        )

    def response_body(self) -> dict[str, Any]:
        return {"cards": self.cards}


class PatientViewService:
    def __init__(
        self,
        engine: Engine,
        renderer: Renderer,
        resolver: PrefetchResolver,
        clock: Callable[[], datetime],
        uuid_factory: Callable[[], str],
    ) -> None:
        self.engine = engine
        self.renderer = renderer
        self._resolver = resolver
        self._clock = clock
        self._uuid_factory = uuid_factory

    def handle(self, request: HookRequest) -> HookResult:
        """Answer one validated request; raises PreconditionFailedError or InvalidRequestError."""
        resolution = self._resolver.resolve(request)
        data = patient_data_from(resolution.data, fetch_notes=resolution.notes)
        assessment = self.engine.evaluate(data, self._clock())
        cards = strip_empty(
            self.renderer.render(assessment, request.patient_id, self._uuid_factory)
        )
        return HookResult(
            cards=cards,
            assessment=assessment,
            data_source=resolution.data_source,
            fhir_requests=resolution.fhir_requests,
        )
