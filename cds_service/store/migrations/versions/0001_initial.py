"""Initial schema: hook call audit, issued cards, card feedback, seen JWT ids.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hook_calls",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("called_at", UTC_TIME, nullable=False),
        sa.Column("hook_instance", sa.String(128), nullable=True),
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("ruleset_version", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=True),
        sa.Column("patient_ref", sa.String(256), nullable=True),
        sa.Column("patient_ref_hashed", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=True),
        sa.Column("reason_ids", sa.JSON(), nullable=False),
        sa.Column("card_uuids", sa.JSON(), nullable=False),
        sa.Column("data_source", sa.String(32), nullable=True),
        sa.Column("fhir_request_count", sa.Integer(), nullable=False),
        sa.Column("fhir_requests", sa.JSON(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hook_calls"),
    )
    op.create_index("ix_hook_calls_called_at", "hook_calls", ["called_at"])
    op.create_index("ix_hook_calls_hook_instance", "hook_calls", ["hook_instance"])

    op.create_table(
        "issued_cards",
        sa.Column("card_uuid", sa.String(128), nullable=False),
        sa.Column("hook_call_id", BIG_ID, nullable=False),
        sa.Column("issued_at", UTC_TIME, nullable=False),
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=True),
        sa.Column("card_type", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("card_uuid", name="pk_issued_cards"),
        sa.ForeignKeyConstraint(
            ["hook_call_id"],
            ["hook_calls.id"],
            name="fk_issued_cards_hook_call_id_hook_calls",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_issued_cards_hook_call_id", "issued_cards", ["hook_call_id"])
    op.create_index("ix_issued_cards_issued_at", "issued_cards", ["issued_at"])

    op.create_table(
        "feedback",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("card_uuid", sa.String(128), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("outcome_timestamp", UTC_TIME, nullable=False),
        sa.Column("accepted_suggestions", sa.JSON(), nullable=False),
        sa.Column("override_reason_system", sa.String(512), nullable=True),
        sa.Column("override_reason_code", sa.String(256), nullable=True),
        sa.Column("override_reason_display", sa.String(512), nullable=True),
        sa.Column("override_comment", sa.Text(), nullable=True),
        sa.Column("card_issued", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sa.UniqueConstraint(
            "card_uuid",
            "outcome",
            "outcome_timestamp",
            name="uq_feedback_card_uuid_outcome_outcome_timestamp",
        ),
    )
    op.create_index("ix_feedback_received_at", "feedback", ["received_at"])
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])

    op.create_table(
        "seen_jtis",
        sa.Column("jti_sha256", sa.String(64), nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("seen_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("jti_sha256", name="pk_seen_jtis"),
    )
    op.create_index("ix_seen_jtis_expires_at", "seen_jtis", ["expires_at"])


def downgrade() -> None:
    op.drop_table("seen_jtis")
    op.drop_table("feedback")
    op.drop_table("issued_cards")
    op.drop_table("hook_calls")
