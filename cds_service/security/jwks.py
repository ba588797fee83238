"""JWK Sets of trusted issuers: fetched only from allowlisted URLs, cached, refreshed sparingly.

* Only URLs from the trust file are fetched (``allowed_urls``): a ``jku`` header that is not
  on its issuer's allowlist never reaches this module, and a URL that somehow did is refused.
* ``https`` outside dev mode; connect/read timeouts; no redirects; a size cap on the body.
* Keys are cached per source for ``ttl_seconds``; an unknown ``kid`` may force a refresh (key
  rotation), but at most once per ``min_refresh_seconds`` per source, so a stream of tokens
  with random ``kid`` values cannot make the service hammer the EHR.
* A failed refresh keeps the keys already known.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import requests

log = logging.getLogger("cds_service.security.jwks")

#: private members of RSA/EC JWKs: a JWK Set carrying them is a leaked private key
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})
_SUPPORTED_KTY = frozenset({"EC", "RSA"})

KeySource = str | Path


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A public verification key from a trusted JWK Set."""

    kid: str
    #: a ``cryptography`` public key object
    key: Any
    #: the JWK's own ``alg`` member, when it declares one
    declared_alg: str | None


class KeySetUnavailable(Exception):  # noqa: N818 - reads better at the call site
    """No JWK Set could be obtained from a source (and none was cached)."""


def parse_jwks(document: Any) -> dict[str, TrustedKey]:
    """Public signing keys of a JWK Set by ``kid``; unusable or private keys are skipped."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise KeySetUnavailable("not a JWK Set (no 'keys' array)")
    keys: dict[str, TrustedKey] = {}
    for raw in document["keys"]:
        if not isinstance(raw, Mapping):
            continue
        kid = raw.get("kid")
        if not isinstance(kid, str) or not kid or kid in keys:
            continue
        if raw.get("kty") not in _SUPPORTED_KTY or raw.get("use", "sig") != "sig":
            continue
        if _PRIVATE_MEMBERS & raw.keys():
            log.warning("JWK Set contains a private key (kid %r); key ignored", kid[:64])
            continue
        declared = raw.get("alg")
        try:
            key = jwt.PyJWK(dict(raw)).key
        except (jwt.exceptions.PyJWKError, jwt.exceptions.InvalidKeyError, ValueError):
            log.info("JWK Set: key %r unusable, ignored", kid[:64])
            continue
        keys[kid] = TrustedKey(kid, key, declared if isinstance(declared, str) else None)
    return keys


@dataclass(slots=True)
class _Entry:
    keys: dict[str, TrustedKey]
    loaded_at: float


class JwksCache:
    """Loads and caches JWK Sets from URLs (allowlisted) and files."""

    def __init__(
        self,
        *,
        http_session: Any,
        allowed_urls: frozenset[str],
        dev_mode: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
        timeout: tuple[float, float] = (3.05, 5.0),
        max_bytes: int = 256 * 1024,
        ttl_seconds: float = 3600.0,
        min_refresh_seconds: float = 60.0,
    ) -> None:
        self._session = http_session
        self._allowed_urls = allowed_urls
        self._dev_mode = dev_mode
        self._monotonic = monotonic
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._ttl = ttl_seconds
        self._min_refresh = min_refresh_seconds
        self._entries: dict[KeySource, _Entry] = {}
        self._last_attempt: dict[KeySource, float] = {}
        self._lock = threading.Lock()

    def key_for(self, source: KeySource, kid: str) -> TrustedKey | None:
        """The key ``kid`` from ``source``; None when the source does not have it.

        Raises :class:`KeySetUnavailable` when the source cannot be read and nothing is cached.
        """
        with self._lock:
            entry = self._entries.get(source)
            now = self._monotonic()
            if entry is None or now - entry.loaded_at >= self._ttl:
                entry = self._load_if_allowed(source, now, force=entry is None)
            if kid in entry.keys:
                return entry.keys[kid]
            # Unknown kid: perhaps the issuer rotated its keys. One refresh, rate-limited.
            entry = self._load_if_allowed(source, now, force=False)
            return entry.keys.get(kid)

    def preload(self, source: KeySource) -> int:
        """Load ``source`` now (start-up check for files); return the number of keys."""
        with self._lock:
            return len(self._load_if_allowed(source, self._monotonic(), force=True).keys)

    def _load_if_allowed(self, source: KeySource, now: float, *, force: bool) -> _Entry:
        cached = self._entries.get(source)
        last = self._last_attempt.get(source)
        if not force and last is not None and now - last < self._min_refresh:
            if cached is None:
                raise KeySetUnavailable("JWK Set unavailable (refresh rate-limited)")
            return cached
        self._last_attempt[source] = now
        try:
            keys = self._read(source)
        except KeySetUnavailable as exc:
            log.warning("JWK Set %s could not be loaded: %s", _describe(source), exc)
            if cached is None:
                raise
            return cached
        entry = _Entry(keys=keys, loaded_at=now)
        self._entries[source] = entry
        log.info("JWK Set %s loaded: %d key(s)", _describe(source), len(keys))
        return entry

    def _read(self, source: KeySource) -> dict[str, TrustedKey]:
        if isinstance(source, Path):
            try:
                with source.open("rb") as handle:
                    body = handle.read(self._max_bytes + 1)
            except OSError as exc:
                raise KeySetUnavailable(f"cannot read file: {exc.strerror or exc}") from None
        else:
            body = self._fetch(source)
        if len(body) > self._max_bytes:
            raise KeySetUnavailable(f"larger than {self._max_bytes} bytes")
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise KeySetUnavailable("not JSON") from None
        return parse_jwks(document)

    def _fetch(self, url: str) -> bytes:
        if url not in self._allowed_urls:
            raise KeySetUnavailable("URL is not in the trust file")
        if not self._dev_mode and not url.lower().startswith("https://"):
            raise KeySetUnavailable("https required outside dev mode")
        if self._session is None:
            raise KeySetUnavailable("no HTTP session to fetch with")
        try:
            response = self._session.get(
                url,
                timeout=self._timeout,
                allow_redirects=False,
                stream=True,
                headers={"Accept": "application/jwk-set+json, application/json"},
            )
        except requests.RequestException as exc:
            raise KeySetUnavailable(f"request failed: {type(exc).__name__}") from None
        try:
            if response.status_code != 200:
                raise KeySetUnavailable(f"HTTP {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
                raise KeySetUnavailable(f"larger than {self._max_bytes} bytes")
            body = b""
            for chunk in response.iter_content(chunk_size=16384):
                body += chunk
                if len(body) > self._max_bytes:
                    raise KeySetUnavailable(f"larger than {self._max_bytes} bytes")
            return body
        except requests.RequestException as exc:
            raise KeySetUnavailable(f"reading failed: {type(exc).__name__}") from None
        finally:
            response.close()


def _describe(source: KeySource) -> str:
    return f"file {source}" if isinstance(source, Path) else source
