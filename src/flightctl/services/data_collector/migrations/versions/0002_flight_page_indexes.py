"""narrow per-airport indexes for newest-first pages, counts and the last flight

Revision ID: dc0002
Revises: dc0001

(airport, last_seen, id) lets each of the arrivals and departures branches of a query read its
newest rows straight from the index, in the API's order (last_seen, then id), without touching
the table (index-only); the departures index carries the arrival airport so that a flight that
left from and landed at the same airport is counted once, still index-only. They replace the
(airport, last_seen) indexes of dc0001.
"""

from alembic import op

revision = "dc0002"
down_revision = "dc0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_flight_arrival_newest", "flight_data", ["est_arrival_airport", "last_seen", "id"])
    op.create_index(
        "ix_flight_departure_newest",
        "flight_data",
        ["est_departure_airport", "last_seen", "id"],
        postgresql_include=["est_arrival_airport"],
    )
    op.drop_index("ix_flight_arrival_last_seen", table_name="flight_data")
    op.drop_index("ix_flight_departure_last_seen", table_name="flight_data")


def downgrade() -> None:
    op.create_index("ix_flight_arrival_last_seen", "flight_data", ["est_arrival_airport", "last_seen"])
    op.create_index("ix_flight_departure_last_seen", "flight_data", ["est_departure_airport", "last_seen"])
    op.drop_index("ix_flight_departure_newest", table_name="flight_data")
    op.drop_index("ix_flight_arrival_newest", table_name="flight_data")
