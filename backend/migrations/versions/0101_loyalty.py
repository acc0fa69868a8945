"""loyalty and fleet: customers with consent per purpose, relayed check-ins, gateway contacts

Revision ID: 0101
Revises: 0001
Create Date: 2026-11-30 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0101"
down_revision = "0001"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "loyalty_customers",
        sa.Column("shopper_id", sa.String(length=32), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("app_token_hash", sa.String(length=64), nullable=False),
        sa.Column("recognition", sa.Boolean(), nullable=False),
        sa.Column("offers", sa.Boolean(), nullable=False),
        sa.Column("analytics", sa.Boolean(), nullable=False),
        sa.Column("enrolled_at", sa.Float(), nullable=False),
        sa.Column("consent_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("shopper_id"),
        sa.UniqueConstraint("app_token_hash"),
    )
    op.create_table(
        "loyalty_check_ins",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("shopper_id", sa.String(length=32), nullable=False),
        sa.Column("body", JSON_DOC, nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("loyalty_check_ins", schema=None) as batch_op:
        batch_op.create_index("ix_loyalty_check_ins_store_seq", ["store_id", "seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_loyalty_check_ins_shopper_id"), ["shopper_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_loyalty_check_ins_received_at"), ["received_at"], unique=False)
    op.create_table(
        "fleet_contacts",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("last_contact", sa.Float(), nullable=False),
        sa.Column("last_call", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("store_id"),
    )


def downgrade() -> None:
    op.drop_table("fleet_contacts")
    op.drop_table("loyalty_check_ins")
    op.drop_table("loyalty_customers")
