"""the credit-aware plan and live traffic

Revision ID: dc0003
Revises: dc0002

What was fetched, per airport, day and direction (collected_days), the credits spent per
endpoint family and day (credit_usage), the latest live count per airport (live_traffic), when
the next live round is due (collector_schedule); interests get their kind (live) and the day
last published for them (published_day).
"""

import sqlalchemy as sa
from alembic import op

revision = "dc0003"
down_revision = "dc0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("user_interests", sa.Column("live", sa.Boolean, server_default=sa.false(), nullable=False))
    op.add_column("user_interests", sa.Column("published_day", sa.Date))
    op.create_table(
        "collected_days",
        sa.Column("airport_code", sa.String(4), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("direction", sa.String(9), primary_key=True),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("credits", sa.Integer, nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "credit_usage",
        sa.Column("family", sa.String(8), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("used", sa.Integer, nullable=False, server_default="0"),
        sa.Column("calls", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reported_remaining", sa.Integer),
        sa.Column("used_at_report", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reported_at", sa.DateTime(timezone=True)),
        sa.Column("blocked_until", sa.DateTime(timezone=True)),
        sa.Column("last_call_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "live_traffic",
        sa.Column("airport_code", sa.String(4), primary_key=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("aircraft", sa.Integer, nullable=False),
        sa.Column("on_ground", sa.Integer, nullable=False),
        sa.Column("airborne", sa.Integer, nullable=False),
    )
    op.create_table(
        "collector_schedule",
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("collector_schedule")
    op.drop_table("live_traffic")
    op.drop_table("credit_usage")
    op.drop_table("collected_days")
    op.drop_column("user_interests", "published_day")
    op.drop_column("user_interests", "live")
