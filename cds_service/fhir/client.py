"""GET FHIR resources from the EHR's server: pooled, bounded, never following redirects.

One ``requests.Session`` (connection pool of ``CDS_FHIR_POOL_SIZE``) and one thread pool are
shared by every hook of a worker process. Every request:

- passes the operator's FHIR server policy first (:mod:`cds_service.fhir.policy`);
- carries ``Authorization: Bearer <token>`` and nothing from the environment (no netrc);
- gets the time left of the hook's deadline as its timeout;
- follows no redirect (a 3xx is an error: the token must not travel to another origin);
- reads at most ``MAX_RESPONSE_BYTES`` and parses with orjson.

Every failure is a :class:`FhirFetchError` whose ``reason`` is safe to show to the caller
(no token, no resource content).
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests

from cds_service.config import Settings
from cds_service.fhir.policy import FhirServerRefusedError, FhirUrlChecker
from cds_service.security.fhir_policy import FhirServerPolicy
from cds_service.security.outbound import guard_session

#: the largest FHIR response body read (one page of a search)
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_ACCEPT = "application/fhir+json, application/json;q=0.9"


class FhirFetchError(Exception):
    """Data could not be obtained from the FHIR server. ``reason`` names the cause."""

    def __init__(self, reason: str, issue_code: str = "incomplete") -> None:
        super().__init__(reason)
        self.reason = reason
        self.issue_code = issue_code


def build_session(settings: Settings) -> requests.Session:
    """The pooled session for every outbound FHIR call.

    Its adapter checks the address each connection actually reached before a byte (and so
    the bearer token) is sent: an allowlisted host *name* whose DNS answer points into the
    internal network is refused at connect time (``requests.ConnectionError`` -> 412).
    """
    session = requests.Session()
    # trust_env off: a ~/.netrc would otherwise replace our Authorization header, and
    # environment proxies would see patient data.
    session.trust_env = False
    guard_session(session, FhirServerPolicy(settings), pool_size=settings.fhir_pool_size)
    return session


class SharedExecutor:
    """One thread pool per worker process, created on first use.

    Created lazily (and again after a fork) because gunicorn forks workers from a parent
    that may have built the app: threads do not survive a fork.
    """

    def __init__(self, max_workers: int) -> None:
        self._max_workers = max_workers
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0

    def get(self) -> ThreadPoolExecutor:
        pid = os.getpid()
        if self._pool is None or self._pid != pid:
            with self._lock:
                if self._pool is None or self._pid != pid:
                    self._pool = ThreadPoolExecutor(
                        max_workers=self._max_workers, thread_name_prefix="fhir-fetch"
                    )
                    self._pid = pid
        return self._pool

    def shutdown(self) -> None:
        if self._pool is not None and self._pid == os.getpid():
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None


def same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme.lower(), a.netloc.lower()) == (b.scheme.lower(), b.netloc.lower())


class FhirClient:
    def __init__(self, session: Any, policy: FhirUrlChecker) -> None:
        self._session = session
        self._policy = policy

    def check(self, url: str, *, base_url: str | None = None) -> None:
        """Raise FhirFetchError unless the policy allows ``url`` (reached from ``base_url``)."""
        try:
            if base_url is None:
                self._policy.check(url)
            else:
                self._policy.check_follow(base_url, url)
        except FhirServerRefusedError as refused:
            raise FhirFetchError(
                f"the FHIR server may not be called: {refused.reason}", "security"
            ) from None

    def get(
        self, url: str, token: str, deadline: float, *, base_url: str | None = None
    ) -> dict[str, Any]:
        """GET ``url`` (absolute) and return the FHIR resource it answers with.

        ``base_url``: the fhirServer this URL was reached from (paging), checked as such.
        """
        self.check(url, base_url=base_url)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FhirFetchError("the hook deadline passed before the FHIR query", "timeout")
        headers = {"Authorization": f"Bearer {token}", "Accept": _ACCEPT}
        try:
            response = self._session.get(
                url, headers=headers, timeout=remaining, allow_redirects=False, stream=True
            )
        except requests.Timeout:
            raise FhirFetchError("the FHIR server did not answer in time", "timeout") from None
        except requests.RequestException:
            raise FhirFetchError("the FHIR server could not be reached", "transient") from None
        with response:
            return self._read(response, deadline)

    def _read(self, response: Any, deadline: float) -> dict[str, Any]:
        status = int(response.status_code)
        if status in (401, 403):
            raise FhirFetchError(
                f"the FHIR server refused the access token (HTTP {status})", "forbidden"
            )
        if 300 <= status < 400:
            raise FhirFetchError(f"the FHIR server redirected (HTTP {status}); not followed")
        if status != 200:
            raise FhirFetchError(f"the FHIR server answered HTTP {status}", "transient")
        body = bytearray()
        try:
            for chunk in response.iter_content(chunk_size=256 * 1024):
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise FhirFetchError("the FHIR server's answer is too large", "too-costly")
                if time.monotonic() > deadline:
                    raise FhirFetchError("the FHIR server did not answer in time", "timeout")
        except requests.RequestException:
            raise FhirFetchError("the FHIR server's answer was cut off", "transient") from None
        try:
            resource = orjson.loads(bytes(body))
        except orjson.JSONDecodeError:
            raise FhirFetchError(
                "the FHIR server's answer is not valid JSON", "structure"
            ) from None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise FhirFetchError("the FHIR server's answer is not a FHIR resource", "structure")
        return resource
