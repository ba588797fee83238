"""Trust configuration: which JWT issuers (EHRs) may call the service, and where their keys are.

The operator writes a YAML or JSON file (``CDS_TRUST_FILE``)::

    version: 1
    issuers:
      - iss: https://sandbox.cds-hooks.org
        jwks_url: https://sandbox.cds-hooks.org/.well-known/jwks.json
        jku_allowlist: [https://sandbox.cds-hooks.org/.well-known/jwks.json]
        algorithms: [ES384]
        tenants: []

It is validated at start-up against ``schemas/trust.schema.json`` and against the settings
(allowed algorithms, https outside dev mode); any mistake raises :class:`TrustConfigError`
naming the file and the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from cds_service.config import ConfigError, Settings

_SCHEMA_PATH = Path(__file__).with_name("schemas") / "trust.schema.json"
DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 3600


class TrustConfigError(ConfigError):
    """The trust file is missing, unreadable or invalid. The message names file and field."""


@dataclass(frozen=True, slots=True)
class IssuerTrust:
    """One trusted JWT issuer."""

    iss: str
    #: the issuer's JWK Set URL, agreed out of band (None when keys come from a file or jku)
    jwks_url: str | None = None
    #: a local JWK Set file (absolute path)
    jwks_file: Path | None = None
    #: ``jku`` header values that may be honoured for this issuer (exact match)
    jku_allowlist: tuple[str, ...] = ()
    #: when non-empty, the ``tenant`` claim must be one of these
    tenants: tuple[str, ...] = ()
    #: algorithms this issuer may use (a subset of ``settings.jwt_algorithms``)
    algorithms: tuple[str, ...] = ()
    description: str = ""

    @property
    def fetch_urls(self) -> tuple[str, ...]:
        """Every URL the service may fetch keys from for this issuer."""
        urls = [self.jwks_url] if self.jwks_url else []
        return tuple(urls) + tuple(u for u in self.jku_allowlist if u not in urls)


@dataclass(frozen=True, slots=True)
class TrustConfig:
    issuers: Mapping[str, IssuerTrust] = field(default_factory=dict)
    max_token_lifetime_seconds: int = DEFAULT_MAX_TOKEN_LIFETIME_SECONDS
    source: str = "(none)"

    @property
    def empty(self) -> bool:
        return not self.issuers

    def issuer(self, iss: str) -> IssuerTrust | None:
        return self.issuers.get(iss)

    def fetch_urls(self) -> frozenset[str]:
        return frozenset(u for i in self.issuers.values() for u in i.fetch_urls)


@cache
def trust_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def _where(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_trust(document: Any, *, source: str, base_dir: Path, settings: Settings) -> TrustConfig:
    """Validate a loaded trust document and turn it into a :class:`TrustConfig`."""
    validator = jsonschema.Draft202012Validator(trust_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = jsonschema.exceptions.best_match(errors)
        assert first is not None  # errors is not empty
        detail = first.message
        if first.validator == "oneOf" and list(first.absolute_path)[:1] == ["issuers"]:
            detail = "an issuer needs exactly one of jwks_url or jwks_file (or only jku_allowlist)"
        raise TrustConfigError(
            f"trust file {source}: {_where(list(first.absolute_path))}: {detail}"
            + (f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else "")
        )
    issuers: dict[str, IssuerTrust] = {}
    for index, raw in enumerate(document["issuers"]):
        where = f"trust file {source}: issuers[{index}]"
        iss = raw["iss"]
        if iss in issuers:
            raise TrustConfigError(f"{where}: issuer {iss!r} is listed twice")
        algorithms = tuple(raw.get("algorithms", settings.jwt_algorithms))
        refused = [a for a in algorithms if a not in settings.jwt_algorithms]
        if refused:
            raise TrustConfigError(
                f"{where}.algorithms: {refused} not allowed by CDS_JWT_ALGORITHMS "
                f"({list(settings.jwt_algorithms)})"
            )
        jwks_file = None
        if "jwks_file" in raw:
            jwks_file = Path(raw["jwks_file"])
            if not jwks_file.is_absolute():
                jwks_file = (base_dir / jwks_file).resolve()
            if not jwks_file.is_file():
                raise TrustConfigError(f"{where}.jwks_file: {jwks_file} does not exist")
        issuer = IssuerTrust(
            iss=iss,
            jwks_url=raw.get("jwks_url"),
            jwks_file=jwks_file,
            jku_allowlist=tuple(raw.get("jku_allowlist", ())),
            tenants=tuple(raw.get("tenants", ())),
            algorithms=algorithms,
            description=raw.get("description", ""),
        )
        if not settings.dev_mode:
            plain = [u for u in issuer.fetch_urls if not u.lower().startswith("https://")]
            if plain:
                raise TrustConfigError(
                    f"{where}: JWKS URLs must use https outside dev mode: {plain}"
                )
        issuers[iss] = issuer
    return TrustConfig(
        issuers=issuers,
        max_token_lifetime_seconds=document.get(
            "max_token_lifetime_seconds", DEFAULT_MAX_TOKEN_LIFETIME_SECONDS
        ),
        source=source,
    )


def load_trust_file(path: str | Path, settings: Settings) -> TrustConfig:
    """Read and validate the trust file (YAML or JSON); raise :class:`TrustConfigError`."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise TrustConfigError(
            f"CDS_TRUST_FILE: cannot read {file}: {exc.strerror or exc}"
        ) from None
    try:
        document = yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        raise TrustConfigError(f"trust file {file}: not valid YAML/JSON: {exc}") from None
    return parse_trust(document, source=str(file), base_dir=file.parent, settings=settings)


def load_trust(settings: Settings) -> TrustConfig:
    """The trust configuration for ``settings`` (empty when no trust file is configured)."""
    if settings.trust_file is None:
        return TrustConfig()
    return load_trust_file(settings.trust_file, settings)
