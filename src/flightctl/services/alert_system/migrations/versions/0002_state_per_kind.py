"""alert state per kind of reading

Revision ID: as0002
Revises: as0001

A user may watch an airport with a daily and a live interest at once; each needs its own alert
state. alert_state gets ``live`` (false for every existing row: until now a state was the one of
the user's single interest in the airport, daily unless it was live) and its primary key becomes
(user_email, airport_code, live).

alert-system never knew which kind a stored state was of, so every existing row becomes the daily
state: a live interest that existed before this revision starts its live state at ok (a live
breach in progress is announced once more) and leaves its old row behind as a daily state.
"""

import sqlalchemy as sa
from alembic import op

revision = "as0002"
down_revision = "as0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alert_state", sa.Column("live", sa.Boolean, server_default=sa.false(), nullable=False))
    op.drop_constraint("alert_state_pkey", "alert_state", type_="primary")
    op.create_primary_key("alert_state_pkey", "alert_state", ["user_email", "airport_code", "live"])


def downgrade() -> None:
    # One state per (user, airport) again: where both kinds have one, the daily state stays.
    op.execute(
        "DELETE FROM alert_state s WHERE s.live AND EXISTS (SELECT 1 FROM alert_state d "
        "WHERE NOT d.live AND d.user_email = s.user_email AND d.airport_code = s.airport_code)"
    )
    op.drop_constraint("alert_state_pkey", "alert_state", type_="primary")
    op.create_primary_key("alert_state_pkey", "alert_state", ["user_email", "airport_code"])
    op.drop_column("alert_state", "live")
