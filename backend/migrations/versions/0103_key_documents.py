"""loyalty_key_documents: what the day-keys job last wrote, so unchanged documents are not rebuilt

Revision ID: 0103
Revises: 0102
Create Date: 2026-11-30 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0103"
down_revision = "0102"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loyalty_key_documents",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("inputs", sa.String(length=64), nullable=False),
        sa.Column("etag", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("loyalty_key_documents")
