"""The audit and feedback store: one object per process, shared by its threads.

``open_store(settings)`` connects (SQLite file by default, PostgreSQL when DATABASE_URL
is set); :meth:`Store.upgrade` migrates under a lock. Hook calls are audited through a
background writer (:mod:`.audit_writer`); feedback and JWT ids are written synchronously
because the caller's answer depends on them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from cds_service.config import Settings
from cds_service.deps import Clock, system_clock
from cds_service.hooks.audit import HookCallRecord
from cds_service.store import migrate
from cds_service.store.audit_writer import AuditWriter
from cds_service.store.engine import READ_ONLY, database_url, make_engine
from cds_service.store.feedback import FeedbackItem
from cds_service.store.schema import feedback, hook_calls, issued_cards, seen_jtis

log = logging.getLogger(__name__)

T = TypeVar("T")

#: the prefetch token that stands for the patient id in logged FHIR query paths
PATIENT_PLACEHOLDER = "{{context.patientId}}"
#: every so many remember_jti calls, expired ids are deleted in the same transaction
JTI_SWEEP_EVERY = 1000
_SECRET_PARAM = re.compile(
    r"(?i)([?&](?:access_token|id_token|refresh_token|client_secret)=)[^&]*"
)


class StoreUnavailableError(RuntimeError):
    """The database cannot be reached (readiness fails)."""


@dataclass(frozen=True, slots=True)
class FeedbackResult:
    received: int
    stored: int  # new rows; the rest were already stored (same card, outcome, time)
    unissued_cards: tuple[str, ...]  # card uuids this service has no record of issuing

    @property
    def duplicates(self) -> int:
        return self.received - self.stored


@dataclass(frozen=True, slots=True)
class PruneResult:
    cutoff: datetime
    hook_calls: int
    issued_cards: int
    feedback: int
    jtis: int


def open_store(settings: Settings, *, clock: Clock = system_clock) -> Store:
    """Connect to the configured database (no schema change: call ``upgrade``)."""
    engine = make_engine(database_url(settings))
    return Store(
        engine,
        patient_id_hash_key=settings.patient_id_hash_key,
        retention_days=settings.retention_days,
        clock=clock,
    )


class Store:
    def __init__(
        self,
        engine: Engine,
        *,
        patient_id_hash_key: str | None = None,
        retention_days: int = 365 * 6,
        clock: Clock = system_clock,
        audit_queue_size: int = 10_000,
    ) -> None:
        self.engine = engine
        self._hash_key = patient_id_hash_key.encode() if patient_id_hash_key else None
        self.retention_days = retention_days
        self._clock = clock
        self._jti_calls = 0
        self.jti_sweep_every = JTI_SWEEP_EVERY
        self.audit_writer: AuditWriter[HookCallRecord] = AuditWriter(
            self.write_hook_calls,
            on_fork=lambda: engine.dispose(close=False),
            maxsize=audit_queue_size,
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- schema and health ---------------------------------------------------------------
    def upgrade(self) -> None:
        """Create or migrate the schema to the newest version (locked, idempotent)."""
        migrate.upgrade(self.engine)

    def ping(self) -> None:
        """Readiness: raise StoreUnavailableError unless the database answers and has a schema.

        A schema newer than this code's head is accepted: during a rolling upgrade the
        new instances migrate first while the old ones keep serving.
        """
        try:
            current = migrate.current_revision(self.engine)
        except DBAPIError as exc:
            raise StoreUnavailableError(f"database unreachable ({type(exc).__name__})") from None
        if current is None:
            raise StoreUnavailableError("database schema missing: run `cds-service db upgrade`")

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until queued audit records are written (tests, shutdown)."""
        return self.audit_writer.flush(timeout)

    def close(self) -> None:
        """Write queued audit records, then release connections."""
        self.audit_writer.close()
        self.engine.dispose()

    # -- audit -----------------------------------------------------------------------
    def record_hook_call(self, record: HookCallRecord) -> None:
        """AuditSink: queue the record; a background thread writes it."""
        self.audit_writer.submit(record)

    def write_hook_calls(self, records: Sequence[HookCallRecord]) -> None:
        """Write audit records now, in one transaction (the writer thread calls this)."""
        if not records:
            return
        rows = [self._hook_call_row(r) for r in records]

        def write(conn: Connection) -> None:
            ids = conn.scalars(
                insert(hook_calls).returning(hook_calls.c.id, sort_by_parameter_order=True),
                rows,
            ).all()
            cards = []
            for call_id, record in zip(ids, records, strict=True):
                types = _card_types(record)
                for index, card_uuid in enumerate(record.card_uuids):
                    cards.append(
                        {
                            "card_uuid": card_uuid[:128],
                            "hook_call_id": call_id,
                            "issued_at": record.time,
                            "service_id": record.service_id[:128],
                            "outcome": record.outcome,
                            "card_type": types[index] if index < len(types) else None,
                        }
                    )
            if cards:
                conn.execute(_insert_ignore(conn, issued_cards), cards)
                # feedback that arrived before this record was written is no longer orphaned
                conn.execute(
                    update(feedback)
                    .where(feedback.c.card_uuid.in_({c["card_uuid"] for c in cards}))
                    .where(feedback.c.card_issued.is_(False))
                    .values(card_issued=True)
                )

        self._transaction(write)

    def _hook_call_row(self, record: HookCallRecord) -> dict[str, Any]:
        patient = record.patient_id
        hashed = patient is not None and self._hash_key is not None
        requests = [_redact_path(p, patient if hashed else None) for p in record.fhir_requests]
        return {
            "called_at": record.time,
            "hook_instance": _cut(record.hook_instance, 128),
            "service_id": record.service_id[:128],
            "ruleset_version": record.ruleset_version[:64],
            "user_id": _cut(record.user_id, 256),
            "patient_ref": self.patient_ref(patient),
            "patient_ref_hashed": hashed,
            "outcome": _cut(record.outcome, 64),
            "reason_ids": list(record.reason_ids),
            "card_uuids": list(record.card_uuids),
            "data_source": record.data_source,
            "fhir_request_count": len(record.fhir_requests),
            "fhir_requests": requests,
            "latency_ms": float(record.latency_ms),
            "status_code": int(record.status_code),
        }

    def patient_ref(self, patient_id: str | None) -> str | None:
        """What the audit stores for a patient id: the id, or its keyed HMAC-SHA256."""
        if patient_id is None or self._hash_key is None:
            return _cut(patient_id, 256)
        return hmac.new(self._hash_key, patient_id.encode(), hashlib.sha256).hexdigest()

    # -- feedback ----------------------------------------------------------------------
    def record_feedback(
        self, service_id: str, items: Sequence[FeedbackItem], received_at: datetime | None = None
    ) -> FeedbackResult:
        """Store feedback durably (committed on return). Idempotent per item key."""
        now = received_at or self._clock()
        # The audit writer lingers up to 50 ms before writing a batch: write this process's
        # queued records first, so feedback on a card just issued finds the card.
        if self.audit_writer.pending:
            self.audit_writer.flush(5.0)
        # One row per key, inserted in key order: two requests carrying the same items
        # then lock them in the same order and cannot deadlock each other (PostgreSQL).
        unique = sorted({item.key: item for item in items}.values(), key=lambda i: i.key)
        uuids = {item.card_uuid for item in unique}

        def write(conn: Connection) -> tuple[int, set[str]]:
            issued = set(
                conn.scalars(
                    select(issued_cards.c.card_uuid).where(issued_cards.c.card_uuid.in_(uuids))
                )
            )
            stored = 0
            # RETURNING tells whether the row was new (psycopg reports no rowcount here)
            statement = _insert_ignore(conn, feedback).returning(feedback.c.id)
            for item in unique:
                reason = item.override_reason
                result = conn.execute(
                    statement,
                    {
                        "received_at": now,
                        "service_id": service_id,
                        "card_uuid": item.card_uuid,
                        "outcome": item.outcome,
                        "outcome_timestamp": item.outcome_timestamp,
                        "accepted_suggestions": list(item.accepted_suggestions),
                        "override_reason_system": reason.system if reason else None,
                        "override_reason_code": reason.code if reason else None,
                        "override_reason_display": reason.display if reason else None,
                        "override_comment": reason.user_comment if reason else None,
                        "card_issued": item.card_uuid in issued,
                    },
                )
                stored += len(result.all())
            return stored, issued

        stored, issued = self._transaction(write) if unique else (0, set())
        return FeedbackResult(
            received=len(items), stored=stored, unissued_cards=tuple(sorted(uuids - issued))
        )

    # -- JWT replay ------------------------------------------------------------------
    def remember_jti(self, jti: str, expires_at: datetime) -> bool:
        """Record a JWT id; False when it was already seen (a replay), by any worker."""
        digest = hashlib.sha256(jti.encode()).hexdigest()
        now = self._clock()
        self._jti_calls += 1
        sweep = self._jti_calls % self.jti_sweep_every == 0

        def write(conn: Connection) -> bool:
            if sweep:  # keep the table small between `db prune` runs
                conn.execute(delete(seen_jtis).where(seen_jtis.c.expires_at < now))
            result = conn.execute(
                _insert_ignore(conn, seen_jtis).returning(seen_jtis.c.jti_sha256),
                {"jti_sha256": digest, "expires_at": expires_at, "seen_at": now},
            )
            return result.first() is not None

        return self._transaction(write)

    # -- retention -------------------------------------------------------------------
    def prune(self, now: datetime | None = None, retention_days: int | None = None) -> PruneResult:
        """Delete audit and feedback older than the retention period, and expired JWT ids."""
        now = now or self._clock()
        cutoff = now - timedelta(days=retention_days or self.retention_days)

        def write(conn: Connection) -> PruneResult:
            cards = conn.execute(delete(issued_cards).where(issued_cards.c.issued_at < cutoff))
            calls = conn.execute(delete(hook_calls).where(hook_calls.c.called_at < cutoff))
            fb = conn.execute(delete(feedback).where(feedback.c.received_at < cutoff))
            jtis = conn.execute(delete(seen_jtis).where(seen_jtis.c.expires_at < now))
            return PruneResult(cutoff, calls.rowcount, cards.rowcount, fb.rowcount, jtis.rowcount)

        return self._transaction(write)

    def counts(self) -> dict[str, int]:
        """Row counts per table (the command line and tests)."""
        with self.read() as conn:
            return {
                table.name: int(conn.scalar(select(func.count()).select_from(table)) or 0)
                for table in (hook_calls, issued_cards, feedback, seen_jtis)
            }

    # -- plumbing --------------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (on SQLite it does not take the write lock)."""
        with self.engine.connect().execution_options(**{READ_ONLY: True}) as conn, conn.begin():
            yield conn

    def _transaction(self, work: Callable[[Connection], T], attempts: int = 4) -> T:
        for attempt in range(1, attempts + 1):
            try:
                with self.engine.begin() as conn:
                    return work(conn)
            except OperationalError as exc:
                if attempt == attempts or not _is_transient(exc):
                    raise
                log.warning("store: transient %s, retrying", type(exc.orig).__name__)
                time.sleep(0.02 * attempt)
        raise AssertionError("unreachable")


def _insert_ignore(conn: Connection, table: Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING on the table's primary key or unique key."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def _is_transient(exc: OperationalError) -> bool:
    # PostgreSQL: deadlock_detected / serialization_failure; SQLite: lock not obtained
    code = getattr(exc.orig, "sqlstate", None)
    return code in {"40P01", "40001"} or "database is locked" in str(exc.orig)


def _card_types(record: HookCallRecord) -> tuple[str | None, ...]:
    # Each card's source.topic code, in the order of its uuid; "" when a card had none.
    return tuple(t or None for t in record.card_topics)


def _redact_path(path: str, patient_id: str | None) -> str:
    # The hook already logs paths with the patient id replaced by the prefetch token;
    # this is a second line of defence for the hashed-id setting and for secrets.
    path = _SECRET_PARAM.sub(r"\1[redacted]", path)
    if patient_id:
        path = path.replace(patient_id, PATIENT_PLACEHOLDER)
    return path[:2048]


def _cut(value: str | None, length: int) -> str | None:
    return None if value is None else value[:length]
