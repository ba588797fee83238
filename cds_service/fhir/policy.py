"""Which FHIR servers the service may call: delegates to the security package.

The policy itself (allowlist, https outside dev mode, private addresses) belongs to
``cds_service.security.fhir_policy`` (issue 6). Every outbound request goes through a
:class:`FhirUrlChecker` first, so a refused server never receives a request.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from cds_service.config import Settings


class FhirServerRefusedError(Exception):
    """The operator's policy forbids calling this URL. ``reason`` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FhirUrlChecker(Protocol):
    def check(self, url: str) -> None:
        """Return if the FHIR base URL ``url`` may be called, else raise FhirServerRefusedError."""

    def check_follow(self, base_url: str, url: str) -> None:
        """Same for a URL reached from ``base_url`` (a Bundle's next link)."""


def _normalise(url: str) -> str:
    return url.strip().rstrip("/").lower()


class _AllowlistPrefixChecker:
    """FALLBACK used only while ``cds_service.security.fhir_policy`` cannot be imported:
    a URL may be called only when it equals or lies under a CDS_ALLOWED_FHIR_SERVERS entry,
    and a followed URL must stay under its base URL."""

    def __init__(self, settings: Settings) -> None:
        self._allowed = tuple(_normalise(a) for a in settings.allowed_fhir_servers)

    @staticmethod
    def _under(url: str, prefix: str) -> bool:
        u = _normalise(url)
        return u == prefix or u.startswith((prefix + "/", prefix + "?"))

    def check(self, url: str) -> None:
        if not any(self._under(url, prefix) for prefix in self._allowed):
            raise FhirServerRefusedError("the FHIR server is not in CDS_ALLOWED_FHIR_SERVERS")

    def check_follow(self, base_url: str, url: str) -> None:
        a, b = urlsplit(url), urlsplit(base_url)
        if (a.scheme.lower(), a.netloc.lower()) != (b.scheme.lower(), b.netloc.lower()):
            raise FhirServerRefusedError("the FHIR server sent the service to another origin")
        if not self._under(url, _normalise(base_url)):
            raise FhirServerRefusedError("the FHIR server sent the service outside its base URL")
        self.check(url)


class _SecurityPolicyChecker:
    def __init__(self, settings: Settings) -> None:
        from cds_service.security.fhir_policy import FhirServerPolicy

        self._policy = FhirServerPolicy(settings)

    def check(self, url: str) -> None:
        from cds_service.security.fhir_policy import FhirServerNotAllowed

        try:
            self._policy.check(url)
        except FhirServerNotAllowed as refused:
            raise FhirServerRefusedError(refused.reason) from None

    def check_follow(self, base_url: str, url: str) -> None:
        from cds_service.security.fhir_policy import FhirServerNotAllowed

        try:
            self._policy.check_follow(base_url, url)
        except FhirServerNotAllowed as refused:
            raise FhirServerRefusedError(refused.reason) from None


def fhir_url_checker(settings: Settings) -> FhirUrlChecker:
    """The security package's policy, or the allowlist-prefix fallback until it exists."""
    try:
        import cds_service.security.fhir_policy  # noqa: F401
    except ImportError:  # FALLBACK until issue 6 lands (see _AllowlistPrefixChecker)
        return _AllowlistPrefixChecker(settings)
    return _SecurityPolicyChecker(settings)
