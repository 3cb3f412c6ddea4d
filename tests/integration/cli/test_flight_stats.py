"""`flightctl flights stats` against the real platform: -o json carries the endpoint's numbers
(equal to SQL counts) and the chosen user's thresholds, a pipe gets a plain table, --png and
--svg write valid images, and each kind of bad input is one line and its exit code."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from flightctl.local import postgres
from flightctl.platform.layout import Home
from tests.conftest import Platform
from tests.integration.cli.conftest import Cli
from tests.integration.data_collector.conftest import flight_row, insert_flights


@pytest.fixture(scope="module")
def engine(platform: Platform) -> Iterator[Engine]:
    state = Home(platform.home).load_state()
    assert state is not None
    made = create_engine(postgres.url(state, postgres.DATABASES["data-collector"]), pool_size=1)
    yield made
    made.dispose()


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in stderr, stderr
    return lines[0]


def test_stats_as_json_table_and_images(cli: Cli, platform: Platform, engine: Engine, tmp_path: Path) -> None:
    airport = "EPKT"  # Katowice: no other test names it
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    tag = uuid.uuid4().hex[:4]
    rows = [
        flight_row(
            f"s{tag}{i}", today - timedelta(days=d, hours=1), today - timedelta(days=d, hours=-1), "LIRF", airport
        )
        for i, d in enumerate([1, 1, 1, 2])
    ]
    with engine.connect() as connection:  # what an earlier run of this test left
        before = connection.execute(
            text(
                "SELECT count(*) FROM flight_data WHERE est_arrival_airport = :a AND last_seen >= :s",
            ),
            {"a": airport, "s": today - timedelta(days=2)},
        ).scalar_one()
    insert_flights(engine, rows)
    email = platform.create_user("stats")
    assert cli("interests", "add", email, airport, "--high", "3", "--low", "1").exit_code == 0

    got = cli("flights", "stats", airport.lower(), "--days", "3", "--email", email, "-o", "json")
    assert got.exit_code == 0, got.output
    stats = json.loads(got.stdout)
    assert [b["start"] for b in stats["buckets"]] == [(today - timedelta(days=d)).isoformat() for d in (2, 1, 0)]
    with engine.connect() as connection:
        by_sql = [
            connection.execute(
                text(
                    "SELECT count(*) FROM flight_data WHERE (est_arrival_airport = :a AND last_seen >= :s"
                    " AND last_seen < :e) OR (est_departure_airport = :a AND first_seen >= :s AND first_seen < :e)"
                ),
                {"a": airport, "s": today - timedelta(days=d), "e": today - timedelta(days=d - 1)},
            ).scalar_one()
            for d in (2, 1, 0)
        ]
    assert [b["flights"] for b in stats["buckets"]] == by_sql
    assert sum(by_sql) == before + 4
    assert stats["thresholds"] == {"email": email, "high_value": 3, "low_value": 1}

    piped = cli("flights", "stats", airport, "--days", "3", "--type", "arrival")
    assert piped.exit_code == 0, piped.output
    lines = piped.stdout.splitlines()
    assert lines[0].split() == ["START", "FLIGHTS"] and len(lines) == 4
    assert [int(line.split()[1]) for line in lines[1:]] == by_sql
    assert "\x1b[" not in piped.stdout

    png, svg = tmp_path / "stats.png", tmp_path / "stats.svg"
    wrote = cli("flights", "stats", airport, "--days", "3", "--email", email, "--png", str(png), "-o", "json")
    assert wrote.exit_code == 0, wrote.output
    assert json.loads(wrote.stdout)["buckets"] == stats["buckets"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert cli("flights", "stats", airport, "--hourly", "--days", "2", "--svg", str(svg)).exit_code == 0
    root = ET.fromstring(svg.read_text())  # noqa: S314 - the file this test just made
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert f"{airport}: flights per hour" in svg.read_text()


def test_stats_errors_are_one_line_and_an_exit_code(cli: Cli, platform: Platform, tmp_path: Path) -> None:
    email = platform.create_user("stats")
    no_interest = cli("flights", "stats", "LIRF", "--email", email)
    assert no_interest.exit_code == 1
    assert f"{email} has no daily interest in LIRF" in one_error_line(no_interest.stderr)
    bad_type = cli("flights", "stats", "LIRF", "--type", "both")
    assert bad_type.exit_code == 2 and "--type must be arrival or departure" in one_error_line(bad_type.stderr)
    too_long = cli("flights", "stats", "LIRF", "--hourly", "--days", "40")
    assert too_long.exit_code == 2 and "days must be an integer from 1 to 31" in one_error_line(too_long.stderr)
    both = cli("flights", "stats", "LIRF", "--png", str(tmp_path / "a.png"), "--svg", str(tmp_path / "a.svg"))
    assert both.exit_code == 2 and "give --png or --svg, not both" in one_error_line(both.stderr)
    unwritable = cli("flights", "stats", "LIRF", "--png", str(tmp_path / "missing" / "a.png"))
    assert unwritable.exit_code == 2 and "cannot write" in one_error_line(unwritable.stderr)
