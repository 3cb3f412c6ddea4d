"""telegram link codes (deep-link linking of a Telegram chat)

Revision ID: um0002
Revises: um0001
"""

import sqlalchemy as sa
from alembic import op

revision = "um0002"
down_revision = "um0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_link_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column(
            "email",
            sa.String(254),
            sa.ForeignKey("users.email", ondelete="CASCADE", name="fk_telegram_link_codes_email"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_telegram_link_codes_email", "telegram_link_codes", ["email"])
    op.create_index("ix_telegram_link_codes_expires_at", "telegram_link_codes", ["expires_at"])


def downgrade() -> None:
    op.drop_table("telegram_link_codes")
