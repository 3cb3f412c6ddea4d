"""alert state and processed events

Revision ID: as0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "as0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_state",
        sa.Column("user_email", sa.String(254), primary_key=True),
        sa.Column("airport_code", sa.String(4), primary_key=True),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("threshold", sa.Integer),
        sa.Column("last_alert_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_processed_events_processed_at", "processed_events", ["processed_at"])


def downgrade() -> None:
    op.drop_table("processed_events")
    op.drop_table("alert_state")
