"""Which FHIR servers the service may call: the security package's policy, adapted.

The policy itself (allowlist, https outside dev mode, private addresses, paging links that
stay under their base URL) is ``cds_service.security.fhir_policy.FhirServerPolicy``
(issue 6). Every outbound request goes through a :class:`FhirUrlChecker` first, so a
refused server never receives a request.
"""

from __future__ import annotations

from typing import Protocol

from cds_service.config import Settings
from cds_service.security.fhir_policy import FhirServerNotAllowed, FhirServerPolicy


class FhirServerRefusedError(Exception):
    """The operator's policy forbids calling this URL. ``reason`` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FhirUrlChecker(Protocol):
    def check(self, url: str) -> None:
        """Return if ``url`` (a base URL or a query on it) may be called, else raise
        FhirServerRefusedError."""

    def check_follow(self, base_url: str, url: str) -> None:
        """Same for a URL reached from ``base_url`` (a Bundle's next link)."""


class PolicyChecker:
    def __init__(self, policy: FhirServerPolicy) -> None:
        self._policy = policy

    def check(self, url: str) -> None:
        try:
            self._policy.check(url)
        except FhirServerNotAllowed as refused:
            raise FhirServerRefusedError(refused.reason) from None

    def check_follow(self, base_url: str, url: str) -> None:
        try:
            self._policy.check_follow(base_url, url)
        except FhirServerNotAllowed as refused:
            raise FhirServerRefusedError(refused.reason) from None


def fhir_url_checker(settings: Settings) -> FhirUrlChecker:
    """The operator's FHIR server policy (raises ConfigError for a bad allowlist entry)."""
    return PolicyChecker(FhirServerPolicy(settings))
