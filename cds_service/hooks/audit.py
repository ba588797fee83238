"""Audit hand-off: what one hook call advised, as a frozen record, and who receives it.

The hook view builds one :class:`HookCallRecord` per call (successful or not) and hands it
to an :class:`AuditSink`: the store (``deps.store``) when one is configured, else a no-op.
A record never holds access tokens or resource content; query paths carry the prefetch
token ``{{context.patientId}}`` instead of the patient id, so hashing patient ids in the
store (``CDS_PATIENT_ID_HASH_KEY``) is not undone by the query log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

DataSource = Literal["prefetch", "fhir-server", "mixed"]


@dataclass(frozen=True, slots=True)
class HookCallRecord:
    time: datetime
    hook_instance: str | None
    service_id: str
    ruleset_version: str
    user_id: str | None
    patient_id: str | None
    #: screening outcome code (``Outcome`` value); None when no assessment was made
    outcome: str | None
    reason_ids: tuple[str, ...]
    card_uuids: tuple[str, ...]
    #: where the data came from; None when no data was resolved (4xx before resolution)
    data_source: DataSource | None
    #: every FHIR request made, as a relative path with the patient id replaced by the
    #: prefetch token (``"Observation?patient={{context.patientId}}&code=..."``)
    fhir_requests: tuple[str, ...]
    latency_ms: float
    status_code: int
    #: each card's ``source.topic`` code, in the order of ``card_uuids`` (the report
    #: groups by card type: an outcome card or the post-infusion monitoring card)
    card_topics: tuple[str, ...] = ()

    @property
    def fhir_request_count(self) -> int:
        return len(self.fhir_requests)


@runtime_checkable
class AuditSink(Protocol):
    def record_hook_call(self, record: HookCallRecord) -> None: ...


class NullAuditSink:
    """Used when no store is configured: records are dropped (the access log still has the call)."""

    def record_hook_call(self, record: HookCallRecord) -> None:
        return None
