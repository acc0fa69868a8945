"""rate_counts: attempts per client and minute, shared by every worker (backend/ratelimit.py)

Revision ID: 0102
Revises: 0101
Create Date: 2026-11-30 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0102"
down_revision = "0101"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_counts",
        sa.Column(
            "key",
            sa.String(length=120).with_variant(sa.String(length=120, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("window_no", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_no"),
    )


def downgrade() -> None:
    op.drop_table("rate_counts")
