"""Live traffic, pure parts: the one-credit box around an airport, nearby airports sharing a
call, the count of aircraft near an airport, the interval the credits allow; and the `live`
field through alert-system's reading and notification and alert-notifier's event and text."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flightctl.services.alert_notifier.events import parse_alert
from flightctl.services.alert_notifier.text import alert_text
from flightctl.services.alert_system import rules
from flightctl.services.data_collector.credits import Budget, box_area, states_cost
from flightctl.services.data_collector.live import box_around, count_near, group_airports, round_interval
from tests.fakes.opensky import make_state

LIRF, LIRA, EGLL = (41.8045, 12.2508), (41.7994, 12.5949), (51.4706, -0.4619)


def test_the_box_around_an_airport_costs_one_credit() -> None:
    box = box_around(*LIRF, 30)
    assert states_cost(box) == 1 and box[0] < LIRF[0] < box[2] and box[1] < LIRF[1] < box[3]
    assert round(box[2] - box[0], 3) == round(60 / 111.32, 3)
    far_north = box_around(78.2461, 15.4656, 150)  # Svalbard: the circle is wider than a credit allows
    assert box_area(far_north) <= 25.0 and states_cost(far_north) == 1
    edge = box_around(-43.9, 179.9, 100)  # near the antimeridian: cut at it
    assert edge[3] == 180.0 and states_cost(edge) == 1


def test_nearby_airports_share_one_call() -> None:
    groups = group_airports({"LIRF": LIRF, "LIRA": LIRA, "EGLL": EGLL}, 30)
    assert sorted(g.airports for g in groups) == [["EGLL"], ["LIRA", "LIRF"]]
    assert all(g.cost == 1 for g in groups)
    apart = group_airports({"LIRF": LIRF, "LIRA": LIRA}, 5)  # small circles: the boxes do not overlap
    assert len(apart) == 2


def test_aircraft_near_the_airport_are_counted_on_the_ground_and_low_in_the_air() -> None:
    states = [
        make_state("a00001", 41.80, 12.25, on_ground=True),
        make_state("a00002", 41.85, 12.30, altitude=900.0),
        make_state("a00003", 41.85, 12.30, altitude=9000.0),  # overhead but cruising
        make_state("a00004", 42.50, 12.25, altitude=500.0),  # 77 km away
        make_state("a00005", None, None, altitude=500.0),  # no position
        [*make_state("a00006", 41.79, 12.24)[:7], None, False, *make_state("x", 0, 0)[9:13], 1200.0, None, False, 0, 0],
        make_state("a00007", 41.79, 12.24),  # airborne without any altitude: left out
    ]
    count = count_near(states, *LIRF, 30, 3000)
    assert (count.on_ground, count.airborne, count.aircraft) == (1, 2, 3)  # a00006 by its geometric altitude
    assert count_near(states, *LIRF, 30, 500).airborne == 0


def test_the_interval_stretches_to_last_the_day() -> None:
    noon = datetime(2026, 11, 20, 12, tzinfo=UTC)
    standard = Budget("states", date(2026, 11, 20), 4000, 400)
    assert round_interval(60, standard, 1, noon) == 60  # 720 rounds left today, 3600 credits
    assert round_interval(60, standard, 6, noon) == 72  # 6 calls a round: 43200 s x 6 / 3600 credits
    anonymous = Budget("states", date(2026, 11, 20), 400, 40)
    assert round_interval(60, anonymous, 1, noon) == 120  # 360 credits for 43200 seconds
    spent = Budget("states", date(2026, 11, 20), 400, 40, used=360)
    assert round_interval(60, spent, 1, noon) is None
    assert round_interval(60, spent, 0, noon) == 60


def reading(**extra: Any) -> dict[str, Any]:
    return {
        "event_id": "e1",
        "user_email": "ada@example.com",
        "airport_code": "LIRF",
        "flight_count": 7,
        "high_value": 3,
        "low_value": None,
        "source": "opensky",
        **extra,
    }


def test_alert_system_passes_live_through_and_takes_its_absence_as_daily() -> None:
    assert rules.Reading.parse(reading()).live is False
    assert rules.Reading.parse(reading(live="yes")).live is False
    live = rules.Reading.parse(reading(live=True, on_ground=4, airborne=3))
    assert live.live is True
    decision = rules.decide(live, rules.OK, None, None, datetime(2026, 11, 20, tzinfo=UTC), rules.timedelta(0))
    message = rules.notification(live, decision)
    assert message["live"] is True and message["kind"] == "high"
    assert rules.notification(rules.Reading.parse(reading()), decision)["live"] is False


def test_the_notifier_says_live() -> None:
    base = {
        "event_id": "n1",
        "user_email": "ada@example.com",
        "airport_code": "LIRF",
        "kind": "high",
        "flight_count": 7,
        "threshold": 3,
        "condition": "The number of flights (7) exceeded the high threshold of 3.",
        "source": "opensky",
    }
    daily = parse_alert(base)
    assert daily.live is False and "too many flights" in alert_text(daily)
    live = parse_alert({**base, "live": True})
    text = alert_text(live)
    assert live.live is True and text.startswith("✈️ <b>LIRF</b>: too much live traffic")
    assert "(7)" in text and "threshold of 3" in text
    assert "live traffic normal" in alert_text(parse_alert({**base, "live": True, "kind": "resolved"}))
    simulated = alert_text(parse_alert({**base, "live": True, "source": "mock"}))
    assert "live traffic" in simulated and "(simulated data)" in simulated
