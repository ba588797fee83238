"""Prefetch resolution, exactly as CDS Hooks 2.0 says (section "Prefetch Template").

For each prefetch key of our discovery document:

- key absent: query ``fhirServer`` with the template, ``Authorization: Bearer <token>``;
- key present and ``null``: known empty, no query;
- an OperationOutcome (or a Bundle of only OperationOutcomes): the client could not
  prefetch it, so query the server;
- a Bundle with ``link[next]``: read the remaining pages from the server.

Queries for different keys run in parallel on the shared thread pool, all under one
deadline for the hook. When data cannot be obtained (no server or token, policy refusal,
401/403/5xx, timeout, malformed answer) the result is :class:`PreconditionFailedError` (412).
Prefetched and fetched data come out the same way: one raw FHIR value per key, which
:func:`cds_service.hooks.service.patient_data_from` reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from cds_service.clinical.model import DataQualityNote
from cds_service.fhir.bundles import Collected, collect_pages, is_operation_outcome
from cds_service.fhir.client import FhirClient, FhirFetchError, same_origin
from cds_service.hooks.audit import DataSource
from cds_service.hooks.errors import InvalidRequestError, PreconditionFailedError
from cds_service.hooks.prefetch import PREFETCH_KEYS, PrefetchKey, redact_patient, render_template
from cds_service.hooks.request import HookRequest

KeySource = Literal["prefetch", "fhir-server", "mixed"]
_ABSENT = object()


@dataclass(frozen=True, slots=True)
class Limits:
    deadline_seconds: float
    max_pages: int
    max_resources: int
    #: most resources accepted in one request's prefetch (CDS_MAX_PREFETCH_ENTRIES)
    max_prefetch_entries: int = 5000


@dataclass(frozen=True, slots=True)
class Resolution:
    #: key -> the Patient resource (or None) for reads; the tuple of resources for searches
    data: Mapping[str, Any]
    notes: tuple[DataQualityNote, ...]
    sources: Mapping[str, KeySource]
    #: every FHIR request made, patient id replaced by its prefetch token
    fhir_requests: tuple[str, ...]

    @property
    def data_source(self) -> DataSource:
        kinds = set(self.sources.values())
        if kinds <= {"prefetch"}:
            return "prefetch"
        if kinds == {"fhir-server"}:
            return "fhir-server"
        return "mixed"


@dataclass(frozen=True, slots=True)
class _KeyResult:
    value: Any
    source: KeySource
    note: DataQualityNote | None
    requests: tuple[str, ...]


class PrefetchResolver:
    def __init__(
        self,
        client: FhirClient,
        executor: Callable[[], ThreadPoolExecutor],
        templates: Mapping[str, str],
        limits: Limits,
    ) -> None:
        self._client = client
        self._executor = executor
        self._templates = templates
        self._limits = limits

    def resolve(self, request: HookRequest) -> Resolution:
        deadline = time.monotonic() + self._limits.deadline_seconds
        if _prefetch_entries(request.prefetch) > self._limits.max_prefetch_entries:
            raise InvalidRequestError(
                f"prefetch holds more than {self._limits.max_prefetch_entries} resources",
                expression="prefetch",
                issue_code="too-costly",
            )
        done: dict[str, _KeyResult] = {}
        to_fetch: list[PrefetchKey] = []  # absent or OperationOutcome: query the server
        to_page: dict[str, PrefetchKey] = {}  # prefetched Bundles with more pages
        for key in PREFETCH_KEYS:
            value = request.prefetch.get(key.name, _ABSENT)
            if value is _ABSENT or is_operation_outcome(value):
                to_fetch.append(key)
            elif value is None:
                done[key.name] = _KeyResult(
                    None if key.kind == "read" else (), "prefetch", None, ()
                )
            elif key.kind == "read":
                done[key.name] = _KeyResult(
                    _prefetched_patient(value, request), "prefetch", None, ()
                )
            else:
                bundle = _prefetched_bundle(value, key)
                collected = self._collect(bundle, key, request, deadline, None, online=False)
                if collected is None:
                    to_page[key.name] = key
                else:
                    done[key.name] = collected

        if to_fetch or to_page:
            self._require_server(request, [k.name for k in to_fetch], list(to_page))
            jobs: dict[str, Callable[[], _KeyResult]] = {}
            for key in to_fetch:
                jobs[key.name] = _bind(self._fetch_key, key, request, deadline)
            for name, key in to_page.items():
                bundle = request.prefetch[name]
                jobs[name] = _bind(self._page_prefetched, bundle, key, request, deadline)
            done.update(self._run(jobs, deadline))

        ordered = [done[k.name] for k in PREFETCH_KEYS]
        return Resolution(
            data={k.name: done[k.name].value for k in PREFETCH_KEYS},
            notes=tuple(r.note for r in ordered if r.note is not None),
            sources={k.name: done[k.name].source for k in PREFETCH_KEYS},
            fhir_requests=tuple(p for r in ordered for p in r.requests),
        )

    # -- steps ----------------------------------------------------------------------------

    def _require_server(self, request: HookRequest, missing: list[str], paged: list[str]) -> None:
        if not request.fhir_server or not request.access_token:
            parts = []
            if missing:
                parts.append(", ".join(f"prefetch.{k}" for k in missing) + " not prefetched")
            if paged:
                parts.append(", ".join(f"prefetch.{k}" for k in paged) + " has more pages")
            raise PreconditionFailedError(
                "; ".join(parts)
                + ", and the request has no fhirServer and fhirAuthorization to fetch it",
                expression=f"prefetch.{(missing + paged)[0]}",
            )
        try:
            self._client.check(request.fhir_server)
        except FhirFetchError as refused:
            raise PreconditionFailedError(
                refused.reason, expression="fhirServer", issue_code=refused.issue_code
            ) from None

    def _run(
        self, jobs: Mapping[str, Callable[[], _KeyResult]], deadline: float
    ) -> dict[str, _KeyResult]:
        pool = self._executor()
        futures: dict[Future[_KeyResult], str] = {
            pool.submit(job): name for name, job in jobs.items()
        }
        finished, pending = wait(
            futures, timeout=max(0.0, deadline - time.monotonic()), return_when=FIRST_EXCEPTION
        )
        for future in finished:
            error = future.exception()
            if error is not None:
                for other in pending:
                    other.cancel()
                name = futures[future]
                if isinstance(error, FhirFetchError):
                    raise PreconditionFailedError(
                        f"prefetch.{name}: {error.reason}",
                        expression=f"prefetch.{name}",
                        issue_code=error.issue_code,
                    )
                raise error
        if pending:
            for other in pending:
                other.cancel()
            names = ", ".join(sorted(f"prefetch.{futures[f]}" for f in pending))
            raise PreconditionFailedError(
                f"{names}: the FHIR server did not answer within the hook deadline",
                expression=f"prefetch.{sorted(futures[f] for f in pending)[0]}",
                issue_code="timeout",
            )
        return {futures[f]: f.result() for f in finished}

    def _fetch_key(self, key: PrefetchKey, request: HookRequest, deadline: float) -> _KeyResult:
        assert request.fhir_server is not None
        assert request.access_token is not None
        relative = render_template(self._templates[key.name], request.context)
        url = request.fhir_server.rstrip("/") + "/" + relative
        log = [redact_patient(relative, request.patient_id)]
        resource = self._client.get(url, request.access_token, deadline)
        if key.kind == "read":
            if resource.get("resourceType") != "Patient":
                raise FhirFetchError("the FHIR server did not answer with a Patient", "structure")
            return _KeyResult(resource, "fhir-server", None, tuple(log))
        if resource.get("resourceType") != "Bundle" or is_operation_outcome(resource):
            raise FhirFetchError("the FHIR server did not answer with a search Bundle", "structure")
        result = self._collect(resource, key, request, deadline, log, online=True)
        assert result is not None
        return _KeyResult(result.value, "fhir-server", result.note, tuple(log))

    def _page_prefetched(
        self, bundle: Mapping[str, Any], key: PrefetchKey, request: HookRequest, deadline: float
    ) -> _KeyResult:
        log: list[str] = []
        result = self._collect(bundle, key, request, deadline, log, online=True)
        assert result is not None
        return _KeyResult(result.value, "mixed", result.note, tuple(log))

    def _collect(
        self,
        first: Mapping[str, Any],
        key: PrefetchKey,
        request: HookRequest,
        deadline: float,
        log: list[str] | None,
        *,
        online: bool,
    ) -> _KeyResult | None:
        """Read all pages; None when offline and the Bundle has more pages (go online)."""
        fetch_next: Callable[[str], Mapping[str, Any]] | None = None
        needs_server = False
        if online:
            fhir_server, token = request.fhir_server, request.access_token
            assert fhir_server is not None
            assert token is not None
            assert log is not None

            def fetch_next(url: str) -> Mapping[str, Any]:
                if not same_origin(url, fhir_server):
                    raise FhirFetchError(
                        "a Bundle's next link points away from fhirServer", "security"
                    )
                parts = urlsplit(url)
                log.append(redact_patient(f"{parts.path}?{parts.query}", request.patient_id))
                return self._client.get(url, token, deadline, base_url=fhir_server)

        else:

            def fetch_next(url: str) -> Mapping[str, Any]:
                nonlocal needs_server
                needs_server = True
                raise _NeedsServerError

        try:
            collected = collect_pages(
                first,
                fetch_next,
                max_pages=self._limits.max_pages,
                max_resources=self._limits.max_resources,
            )
        except _NeedsServerError:
            return None
        return _KeyResult(collected.resources, "prefetch", _cap_note(key, collected), ())


class _NeedsServerError(Exception):
    """Internal: a prefetched Bundle has a next page, read it on the pool."""


def _prefetch_entries(prefetch: Mapping[str, Any]) -> int:
    count = 0
    for value in prefetch.values():
        if isinstance(value, Mapping):
            entries = value.get("entry")
            count += len(entries) if isinstance(entries, list) else 1
    return count


def _bind(fn: Callable[..., _KeyResult], *args: Any) -> Callable[[], _KeyResult]:
    return lambda: fn(*args)


def _cap_note(key: PrefetchKey, collected: Collected) -> DataQualityNote | None:
    if not collected.capped:
        return None
    return DataQualityNote(
        code="page-cap",
        message=(
            f"Only the first {len(collected.resources)} {key.name} ({collected.pages} pages) "
            "were read: the service's page or resource limit was reached, so older records "
            "were not considered."
        ),
    )


def _prefetched_patient(value: Any, request: HookRequest) -> Mapping[str, Any]:
    patient: Any = value
    if isinstance(value, Mapping) and value.get("resourceType") == "Bundle":
        raw_entries = value.get("entry")
        entries = raw_entries if isinstance(raw_entries, list) else []
        found = [
            e["resource"]
            for e in entries
            if isinstance(e, Mapping)
            and isinstance(e.get("resource"), Mapping)
            and e["resource"].get("resourceType") == "Patient"
        ]
        patient = found[0] if found else None
    if not isinstance(patient, Mapping) or patient.get("resourceType") != "Patient":
        raise InvalidRequestError(
            "prefetch.patient must be a Patient, an OperationOutcome or null",
            expression="prefetch.patient",
        )
    if "id" in patient and patient["id"] != request.patient_id:
        raise InvalidRequestError(
            "prefetch.patient is not the patient in context.patientId",
            expression="prefetch.patient",
        )
    return patient


def _prefetched_bundle(value: Any, key: PrefetchKey) -> Mapping[str, Any]:
    if isinstance(value, Mapping) and value.get("resourceType") == "Bundle":
        return value
    raise InvalidRequestError(
        f"prefetch.{key.name} must be a searchset Bundle, an OperationOutcome or null",
        expression=f"prefetch.{key.name}",
    )
