"""Tables of the audit and feedback store (SQLAlchemy Core).

The Alembic migrations in ``migrations/versions`` create exactly these tables; a test
compares the migrated database with this metadata so the two cannot drift apart.

Times are stored as UTC. SQLite has no time zone type, so :class:`UtcDateTime` drops the
offset on the way in (after converting to UTC) and puts ``UTC`` back on the way out:
every ``datetime`` the store hands back is timezone-aware on both databases.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: integer primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store only accepts timezone-aware datetimes")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: one row per hook call, successful or not (issue 7 §3)
hook_calls = Table(
    "hook_calls",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("called_at", UtcDateTime(), nullable=False, index=True),
    Column("hook_instance", String(128), nullable=True, index=True),
    Column("service_id", String(128), nullable=False),
    Column("ruleset_version", String(64), nullable=False),
    Column("user_id", String(256), nullable=True),
    #: the patient id, or its HMAC-SHA256 (hex) when the operator set a hash key
    Column("patient_ref", String(256), nullable=True),
    Column("patient_ref_hashed", Boolean(), nullable=False),
    Column("outcome", String(64), nullable=True),
    Column("reason_ids", JSON(), nullable=False),
    Column("card_uuids", JSON(), nullable=False),
    Column("data_source", String(32), nullable=True),
    Column("fhir_request_count", Integer(), nullable=False),
    Column("fhir_requests", JSON(), nullable=False),
    Column("latency_ms", Float(), nullable=False),
    Column("status_code", Integer(), nullable=False),
)

#: every card the service handed out, so feedback joins to the call that issued it
issued_cards = Table(
    "issued_cards",
    metadata,
    Column("card_uuid", String(128), primary_key=True),
    Column(
        "hook_call_id",
        BigId,
        ForeignKey("hook_calls.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("issued_at", UtcDateTime(), nullable=False, index=True),
    Column("service_id", String(128), nullable=False),
    #: the screening outcome of the call that issued the card
    Column("outcome", String(64), nullable=True),
    #: the card's ``source.topic.code`` when the hook reported it, else NULL
    Column("card_type", String(64), nullable=True),
)

#: card feedback exactly as received; one row per distinct (card, outcome, time)
feedback = Table(
    "feedback",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("received_at", UtcDateTime(), nullable=False, index=True),
    Column("service_id", String(128), nullable=False),
    Column("card_uuid", String(128), nullable=False, index=True),
    Column("outcome", String(16), nullable=False),
    Column("outcome_timestamp", UtcDateTime(), nullable=False),
    Column("accepted_suggestions", JSON(), nullable=False),
    Column("override_reason_system", String(512), nullable=True),
    Column("override_reason_code", String(256), nullable=True),
    Column("override_reason_display", String(512), nullable=True),
    Column("override_comment", Text(), nullable=True),
    #: False when no card with this uuid had been issued when the feedback arrived
    Column("card_issued", Boolean(), nullable=False),
    UniqueConstraint("card_uuid", "outcome", "outcome_timestamp"),
)

#: JWT ids already accepted (replay protection shared by every worker and instance);
#: the id is stored as its SHA-256 so the column has a fixed size
seen_jtis = Table(
    "seen_jtis",
    metadata,
    Column("jti_sha256", String(64), primary_key=True),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
    Column("seen_at", UtcDateTime(), nullable=False),
)
