"""Read searchset Bundles, page by page, up to the operator's caps."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cds_service.fhir.client import FhirFetchError

OPERATION_OUTCOME = "OperationOutcome"


def is_operation_outcome(value: Any) -> bool:
    """An OperationOutcome, or a Bundle holding only OperationOutcome entries (CDS Hooks 2.0:
    a client's way to report that it could not prefetch)."""
    if not isinstance(value, Mapping):
        return False
    kind = value.get("resourceType")
    if kind == OPERATION_OUTCOME:
        return True
    if kind != "Bundle":
        return False
    resources = [e.get("resource") for e in _entries(value)]
    return bool(resources) and all(
        isinstance(r, Mapping) and r.get("resourceType") == OPERATION_OUTCOME for r in resources
    )


def _entries(bundle: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return []
    # ``type(e) is dict`` first: JSON gives dicts, and the ABC check costs more per entry
    return [e for e in entries if type(e) is dict or isinstance(e, Mapping)]


def next_link(bundle: Mapping[str, Any]) -> str | None:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, Mapping) and link.get("relation") == "next":
            url = link.get("url")
            if isinstance(url, str) and url:
                return url
    return None


@dataclass(frozen=True, slots=True)
class Collected:
    resources: tuple[Mapping[str, Any], ...]
    pages: int
    #: True when a page or resource cap stopped the reading before the last page
    capped: bool


def collect_pages(
    first_page: Mapping[str, Any],
    fetch_next: Callable[[str], Mapping[str, Any]] | None,
    *,
    max_pages: int,
    max_resources: int,
) -> Collected:
    """Every resource of a paged searchset, first page given, following ``link[next]``.

    ``fetch_next`` is None when no FHIR server can be called: then a Bundle that has
    more pages cannot be read in full and FhirFetchError says so.
    """
    resources: list[Mapping[str, Any]] = []
    page: Mapping[str, Any] = first_page
    pages = 1
    while True:
        for entry in _entries(page):
            resource = entry.get("resource")
            if (
                type(resource) is dict or isinstance(resource, Mapping)
            ) and resource.get("resourceType") != OPERATION_OUTCOME:
                resources.append(resource)
        if len(resources) >= max_resources:
            more = len(resources) > max_resources or next_link(page) is not None
            return Collected(tuple(resources[:max_resources]), pages, capped=more)
        url = next_link(page)
        if url is None:
            return Collected(tuple(resources), pages, capped=False)
        if pages >= max_pages:
            return Collected(tuple(resources), pages, capped=True)
        if fetch_next is None:
            raise FhirFetchError(
                "a prefetched Bundle has more pages, and the request has no fhirServer "
                "and fhirAuthorization to read them"
            )
        page = fetch_next(url)
        if page.get("resourceType") != "Bundle":
            raise FhirFetchError("a next page from the FHIR server is not a Bundle", "structure")
        pages += 1
