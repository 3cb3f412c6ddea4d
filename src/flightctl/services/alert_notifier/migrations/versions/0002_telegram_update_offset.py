"""telegram_update_offset: the next getUpdates offset, kept across restarts and replicas

Revision ID: an0002
Revises: an0001
"""

import sqlalchemy as sa
from alembic import op

revision = "an0002"
down_revision = "an0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_update_offset",
        sa.Column("id", sa.SmallInteger, primary_key=True),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="ck_telegram_update_offset_single_row"),
    )


def downgrade() -> None:
    op.drop_table("telegram_update_offset")
