"""one interest of each kind per user and airport

Revision ID: dc0004
Revises: dc0003

A user may watch an airport both ways at once: a daily interest and a live one. The unique
key of user_interests becomes (user_email, airport_code, live). Every existing row keeps its
kind; rows that were unique on (user_email, airport_code) are unique on the wider key too.
"""

import sqlalchemy as sa
from alembic import op

revision = "dc0004"
down_revision = "dc0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("uq_interest_user_airport", "user_interests", type_="unique")
    op.create_unique_constraint(
        "uq_interest_user_airport_kind", "user_interests", ["user_email", "airport_code", "live"]
    )


def downgrade() -> None:
    both = op.get_bind().scalar(
        sa.text(
            "SELECT count(*) FROM (SELECT 1 FROM user_interests GROUP BY user_email, airport_code "
            "HAVING count(*) > 1) AS pairs"
        )
    )
    if both:
        raise RuntimeError(
            f"{both} user(s) watch an airport with both a daily and a live interest; the previous "
            "schema allows one interest per airport: remove one of each pair first"
        )
    op.drop_constraint("uq_interest_user_airport_kind", "user_interests", type_="unique")
    op.create_unique_constraint("uq_interest_user_airport", "user_interests", ["user_email", "airport_code"])
