"""Talk to a FHIR R4 server the way an integrator (or an EHR) does, for the command line.

- :func:`load_bundle` POSTs a transaction Bundle (``cds-service fixtures load``);
- :func:`fetch_prefetch` reads a patient's data with the discovery prefetch templates,
  following every ``link[next]``, and returns it as a full prefetch object: what an EHR
  sends with the hook (``cds-service hook-request --prefetch``, ``cds-service evaluate``).

This is the *client* side of the service. The service's own fetching when prefetch is
absent lives in :mod:`cds_service.fhir` and :mod:`cds_service.hooks.resolution`.
Errors are :class:`FhirServerError` with a message fit to print (never the token).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from cds_service.hooks.prefetch import render_template

FHIR_JSON = "application/fhir+json"
DEFAULT_TIMEOUT_SECONDS = 60.0
#: a safety stop for following ``next`` links (the service applies its own caps)
MAX_PAGES = 200


class FhirServerError(Exception):
    """The FHIR server could not be used; the message says why, in plain words."""


@dataclass(frozen=True, slots=True)
class LoadResult:
    entries: int
    status: int
    #: per entry ``response.status`` of the transaction-response Bundle
    entry_statuses: tuple[str, ...]
    #: per entry ``Type/id`` where the server put it (``response.location`` without the base
    #: and version; "" when the server did not say)
    locations: tuple[str, ...] = ()

    @property
    def patients(self) -> tuple[str, ...]:
        """``Patient/<id>`` of every Patient the transaction created or updated."""
        return tuple(loc for loc in self.locations if loc.startswith("Patient/"))

    @property
    def created(self) -> int:
        return sum(1 for s in self.entry_statuses if s.startswith("201"))

    @property
    def updated(self) -> int:
        return sum(1 for s in self.entry_statuses if s.startswith("200"))


def new_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no netrc credentials, no proxies for patient data
    return session


def _headers(token: str | None, *, content: bool = False) -> dict[str, str]:
    headers = {"Accept": f"{FHIR_JSON}, application/json;q=0.9"}
    if content:
        headers["Content-Type"] = FHIR_JSON
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def operation_outcome_text(body: Any) -> str | None:
    """The diagnostics / details of an OperationOutcome, joined; None if not one."""
    if not isinstance(body, Mapping) or body.get("resourceType") != "OperationOutcome":
        return None
    texts: list[str] = []
    issues = body.get("issue")
    for issue in issues if isinstance(issues, list) else []:
        if not isinstance(issue, Mapping):
            continue
        parts = [str(issue.get("severity", "")), str(issue.get("code", ""))]
        detail = issue.get("diagnostics")
        if not detail and isinstance(issue.get("details"), Mapping):
            detail = issue["details"].get("text")
        where = issue.get("expression") or issue.get("location")
        line = " ".join(p for p in parts if p)
        if detail:
            line += f": {detail}"
        if isinstance(where, list) and where:
            line += f" (at {', '.join(str(w) for w in where)})"
        texts.append(line)
    return "; ".join(texts) if texts else "OperationOutcome without issues"


def _error_for(response: requests.Response, what: str) -> FhirServerError:
    status = response.status_code
    if status in (401, 403):
        return FhirServerError(
            f"{what}: the FHIR server refused the request (HTTP {status}); "
            "check --token (a bearer token the server accepts)"
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    outcome = operation_outcome_text(body)
    if outcome:
        return FhirServerError(f"{what}: HTTP {status}: {outcome}")
    snippet = response.text[:200].strip().replace("\n", " ")
    return FhirServerError(f"{what}: HTTP {status}" + (f": {snippet}" if snippet else ""))


def _request(
    session: requests.Session, method: str, url: str, what: str, **kwargs: Any
) -> requests.Response:
    try:
        return session.request(method, url, allow_redirects=False, **kwargs)
    except requests.Timeout:
        raise FhirServerError(f"{what}: the FHIR server at {_origin(url)} timed out") from None
    except requests.ConnectionError:
        raise FhirServerError(
            f"{what}: cannot reach the FHIR server at {_origin(url)} "
            "(is the URL right and the server running?)"
        ) from None
    except requests.RequestException as exc:
        raise FhirServerError(f"{what}: request failed: {type(exc).__name__}") from None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _json(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise FhirServerError(f"{what}: the FHIR server's answer is not JSON") from None
    if not isinstance(body, dict):
        raise FhirServerError(f"{what}: the FHIR server's answer is not a FHIR resource")
    return body


def load_bundle(
    session: requests.Session,
    base_url: str,
    bundle: Mapping[str, Any],
    *,
    token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    what: str = "transaction",
) -> LoadResult:
    """POST one transaction (or batch) Bundle to the server's base URL."""
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") not in (
        "transaction",
        "batch",
    ):
        raise FhirServerError(f"{what}: not a transaction or batch Bundle")
    response = _request(
        session,
        "POST",
        base_url.rstrip("/"),
        what,
        json=bundle,
        headers=_headers(token, content=True),
        timeout=timeout,
    )
    if response.status_code >= 300:
        raise _error_for(response, what)
    body = _json(response, what)
    statuses: list[str] = []
    locations: list[str] = []
    entries = body.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        resp = entry.get("response") if isinstance(entry, Mapping) else None
        resp = resp if isinstance(resp, Mapping) else {}
        statuses.append(str(resp.get("status", "")))
        locations.append(_relative_location(resp.get("location")))
    failed = [s for s in statuses if s and not s.startswith("2")]
    if failed:
        raise FhirServerError(f"{what}: {len(failed)} entries failed ({', '.join(failed[:3])})")
    entry_count = len(bundle.get("entry") or [])
    return LoadResult(
        entries=entry_count,
        status=response.status_code,
        entry_statuses=tuple(statuses),
        locations=tuple(locations),
    )


_LOCATION = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?/?$")


def _relative_location(location: Any) -> str:
    """``Patient/123`` from ``http://host/fhir/Patient/123/_history/1`` (or "" if unreadable)."""
    if not isinstance(location, str):
        return ""
    match = _LOCATION.search(location)
    return f"{match.group(1)}/{match.group(2)}" if match else ""


def _get(
    session: requests.Session, url: str, token: str | None, timeout: float, what: str
) -> dict[str, Any]:
    response = _request(session, "GET", url, what, headers=_headers(token), timeout=timeout)
    if response.status_code != 200:
        raise _error_for(response, what)
    return _json(response, what)


def read_all_pages(
    session: requests.Session,
    base_url: str,
    first: dict[str, Any],
    *,
    token: str | None,
    timeout: float,
    what: str,
) -> list[dict[str, Any]]:
    """Every entry of a searchset, following ``link[next]`` on the same server."""
    entries: list[dict[str, Any]] = []
    page = first
    for _ in range(MAX_PAGES):
        if page.get("resourceType") != "Bundle":
            raise FhirServerError(f"{what}: the FHIR server did not answer with a Bundle")
        raw = page.get("entry")
        entries.extend(e for e in (raw if isinstance(raw, list) else []) if isinstance(e, dict))
        nxt = next(
            (
                link.get("url")
                for link in page.get("link") or []
                if isinstance(link, Mapping) and link.get("relation") == "next"
            ),
            None,
        )
        if not isinstance(nxt, str) or not nxt:
            return entries
        if _origin(nxt).lower() != _origin(base_url).lower():
            raise FhirServerError(f"{what}: a next link points to another server ({_origin(nxt)})")
        page = _get(session, nxt, token, timeout, what)
    raise FhirServerError(f"{what}: more than {MAX_PAGES} pages; stopped")


def fetch_prefetch(
    session: requests.Session,
    base_url: str,
    patient_id: str,
    templates: Mapping[str, str],
    *,
    token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Run every prefetch template for ``patient_id``; searches come back as one Bundle
    holding all pages (``total`` set, no ``next`` link): a complete prefetch."""
    base = base_url.rstrip("/")
    context = {"patientId": patient_id}
    prefetch: dict[str, Any] = {}
    for key, template in templates.items():
        relative = render_template(template, context)
        what = f"prefetch {key}"
        first = _get(session, f"{base}/{relative}", token, timeout, what)
        if "?" not in relative:  # an instance read
            prefetch[key] = first
            continue
        entries = read_all_pages(session, base, first, token=token, timeout=timeout, what=what)
        resources = [e for e in entries if isinstance(e.get("resource"), Mapping)]
        prefetch[key] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(resources),
            "entry": [
                {k: v for k, v in e.items() if k in ("fullUrl", "resource", "search")}
                for e in resources
            ],
        }
    return prefetch


def patient_exists(
    session: requests.Session,
    base_url: str,
    patient_id: str,
    *,
    token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> bool:
    url = f"{base_url.rstrip('/')}/Patient/{patient_id}"
    response = _request(
        session, "GET", url, "read Patient", headers=_headers(token), timeout=timeout
    )
    if response.status_code in (404, 410):
        return False
    if response.status_code != 200:
        raise _error_for(response, f"read Patient/{patient_id}")
    return True


def check_server(
    session: requests.Session,
    base_url: str,
    *,
    token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> str:
    """Read the server's CapabilityStatement; return its fhirVersion (R4 is 4.0.x).

    Fails with a clear message when the server cannot be reached, refuses the token, or
    is not a FHIR R4 server.
    """
    what = f"FHIR server {base_url}"
    body = _get(session, f"{base_url.rstrip('/')}/metadata", token, timeout, what)
    if body.get("resourceType") != "CapabilityStatement":
        raise FhirServerError(
            f"{what}: /metadata is not a CapabilityStatement; is the URL the "
            "FHIR base (e.g. https://hapi.fhir.org/baseR4)?"
        )
    version = str(body.get("fhirVersion", "unknown"))
    if not version.startswith("4.0"):
        raise FhirServerError(f"{what}: FHIR version {version}, but the fixtures are R4 (4.0.x)")
    return version
