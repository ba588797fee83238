"""Service configuration: one frozen value, read from environment variables.

Every setting has an embedded default that runs the service with no external
services (SQLite, no FHIR server allowlist beyond what the operator adds). The README's
configuration table lists the same variables; keep the two in step.

Bad values fail at start-up with a message naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any


class ConfigError(ValueError):
    """A configuration value is invalid. The message names the variable."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not value > minimum:
        raise ConfigError(f"{name} must be > {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _list(env: Mapping[str, str], name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _str(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name)
    return default if raw is None or raw.strip() == "" else raw.strip()


def _opt_str(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    return None if raw is None or raw.strip() == "" else raw.strip()


@dataclass(frozen=True, slots=True)
class Settings:
    # --- server -------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    threads: int = 1
    #: public URL the EHR calls (scheme://host[:port][/prefix]); used for JWT ``aud``
    public_base_url: str | None = None
    log_level: str = "INFO"
    #: development mode: JWT checks off, http:// FHIR servers allowed, loopback only
    dev_mode: bool = False

    # --- HTTP limits ----------------------------------------------------------
    max_body_bytes: int = 5 * 1024 * 1024
    max_json_depth: int = 64
    #: most FHIR resources accepted in a hook's ``prefetch`` (each Bundle entry and each
    #: single resource counts one); more -> 400
    max_prefetch_entries: int = 5000
    cors_allowed_origins: tuple[str, ...] = ()

    # --- FHIR access ----------------------------------------------------------
    #: FHIR base URLs the service may call (normalised prefix match)
    allowed_fhir_servers: tuple[str, ...] = ()
    #: IP networks (CIDR) an allowed FHIR server may be in although private/loopback/link-local
    allowed_private_fhir_networks: tuple[str, ...] = ()
    #: one deadline for all FHIR queries of a hook, in seconds
    hook_deadline_seconds: float = 2.0
    fhir_max_pages: int = 20
    fhir_max_resources: int = 5000
    #: ``_count`` in the observations prefetch template
    observation_page_size: int = 200
    fhir_pool_size: int = 8

    # --- store ----------------------------------------------------------------
    #: SQLAlchemy URL; when unset an SQLite file at ``sqlite_path`` is used
    database_url: str | None = None
    sqlite_path: str = "cds-service.sqlite3"
    retention_days: int = 365 * 6
    #: when set, audit stores HMAC-SHA256(patient id) instead of the id
    patient_id_hash_key: str | None = None
    log_patient_ids: bool = False

    # --- trust (JWT) ------------------------------------------------------------
    #: path to the trust file (issuers, JWKS sources, jku allowlist, tenants)
    trust_file: str | None = None
    jwt_leeway_seconds: int = 5
    jwt_algorithms: tuple[str, ...] = ("ES384", "RS384")

    #: extra settings for tests and embedding; not read from the environment
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``CDS_*`` environment variables (and ``DATABASE_URL``)."""
        e = os.environ if env is None else env
        d = cls()
        settings = cls(
            host=_str(e, "CDS_HOST", d.host),
            port=_int(e, "CDS_PORT", d.port, minimum=1),
            workers=_int(e, "CDS_WORKERS", d.workers, minimum=1),
            threads=_int(e, "CDS_THREADS", d.threads, minimum=1),
            public_base_url=_opt_str(e, "CDS_PUBLIC_BASE_URL"),
            log_level=_str(e, "CDS_LOG_LEVEL", d.log_level).upper(),
            dev_mode=_bool(e, "CDS_DEV_MODE", d.dev_mode),
            max_body_bytes=_int(e, "CDS_MAX_BODY_BYTES", d.max_body_bytes, minimum=1024),
            max_json_depth=_int(e, "CDS_MAX_JSON_DEPTH", d.max_json_depth, minimum=8),
            max_prefetch_entries=_int(
                e, "CDS_MAX_PREFETCH_ENTRIES", d.max_prefetch_entries, minimum=1
            ),
            cors_allowed_origins=_list(e, "CDS_CORS_ALLOWED_ORIGINS", d.cors_allowed_origins),
            allowed_fhir_servers=_list(e, "CDS_ALLOWED_FHIR_SERVERS", d.allowed_fhir_servers),
            allowed_private_fhir_networks=_list(
                e, "CDS_ALLOWED_PRIVATE_FHIR_NETWORKS", d.allowed_private_fhir_networks
            ),
            hook_deadline_seconds=_float(e, "CDS_HOOK_DEADLINE_SECONDS", d.hook_deadline_seconds),
            fhir_max_pages=_int(e, "CDS_FHIR_MAX_PAGES", d.fhir_max_pages, minimum=1),
            fhir_max_resources=_int(e, "CDS_FHIR_MAX_RESOURCES", d.fhir_max_resources, minimum=1),
            observation_page_size=_int(
                e, "CDS_OBSERVATION_PAGE_SIZE", d.observation_page_size, minimum=1
            ),
            fhir_pool_size=_int(e, "CDS_FHIR_POOL_SIZE", d.fhir_pool_size, minimum=1),
            database_url=_opt_str(e, "DATABASE_URL"),
            sqlite_path=_str(e, "CDS_SQLITE_PATH", d.sqlite_path),
            retention_days=_int(e, "CDS_RETENTION_DAYS", d.retention_days, minimum=1),
            patient_id_hash_key=_opt_str(e, "CDS_PATIENT_ID_HASH_KEY"),
            log_patient_ids=_bool(e, "CDS_LOG_PATIENT_IDS", d.log_patient_ids),
            trust_file=_opt_str(e, "CDS_TRUST_FILE"),
            jwt_leeway_seconds=_int(e, "CDS_JWT_LEEWAY_SECONDS", d.jwt_leeway_seconds),
            jwt_algorithms=_list(e, "CDS_JWT_ALGORITHMS", d.jwt_algorithms),
        )
        return settings.validated()

    def validated(self) -> Settings:
        """Check cross-field rules; raise ConfigError naming the variable."""
        if self.log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ConfigError(f"CDS_LOG_LEVEL must be a logging level, got {self.log_level!r}")
        allowed_algs = {"ES384", "RS384", "ES256", "RS256"}
        bad = [a for a in self.jwt_algorithms if a not in allowed_algs]
        if bad or not self.jwt_algorithms:
            raise ConfigError(
                f"CDS_JWT_ALGORITHMS may only list {sorted(allowed_algs)}, "
                f"got {list(self.jwt_algorithms)}"
            )
        return self

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests and the command line use this)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ConfigError(f"unknown settings: {sorted(unknown)}")
        return replace(self, **changes).validated()
