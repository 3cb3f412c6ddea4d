"""interests and flights

Revision ID: dc0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "dc0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_interests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_email", sa.String(254), nullable=False),
        sa.Column("airport_code", sa.String(4), nullable=False),
        sa.Column("high_value", sa.Integer),
        sa.Column("low_value", sa.Integer),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("user_email", "airport_code", name="uq_interest_user_airport"),
    )
    op.create_index("ix_interest_airport", "user_interests", ["airport_code"])
    op.create_table(
        "flight_data",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("icao24", sa.String(6), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("est_departure_airport", sa.String(4)),
        sa.Column("est_arrival_airport", sa.String(4)),
        sa.Column("callsign", sa.String(16)),
        sa.Column("est_departure_airport_horiz_distance", sa.Integer),
        sa.Column("est_departure_airport_vert_distance", sa.Integer),
        sa.Column("est_arrival_airport_horiz_distance", sa.Integer),
        sa.Column("est_arrival_airport_vert_distance", sa.Integer),
        sa.Column("departure_airport_candidates_count", sa.Integer),
        sa.Column("arrival_airport_candidates_count", sa.Integer),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("icao24", "first_seen", name="uq_flight_icao24_first_seen"),
    )
    op.create_index("ix_flight_arrival_last_seen", "flight_data", ["est_arrival_airport", "last_seen"])
    op.create_index("ix_flight_departure_last_seen", "flight_data", ["est_departure_airport", "last_seen"])
    op.create_index("ix_flight_last_seen", "flight_data", ["last_seen"])


def downgrade() -> None:
    op.drop_table("flight_data")
    op.drop_table("user_interests")
