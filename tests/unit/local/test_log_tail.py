"""`flightctl logs NAME -n N`: exactly the last N whole lines, however long the log, continued
into the rotated files (flightctl.platform.proc.tail)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flightctl.platform.proc import last_lines, log_files, tail


def write_lines(path: Path, first: int, last: int) -> None:
    path.write_text("".join(f"line {i} " + "x" * (i % 97) + "\n" for i in range(first, last)))


def expected(first: int, last: int) -> list[str]:
    return [f"line {i} " + "x" * (i % 97) for i in range(first, last)]


def test_a_hundred_thousand_lines_are_all_returned_and_whole(tmp_path: Path) -> None:
    log = tmp_path / "data-collector.log"
    write_lines(log, 0, 107_905)  # ~9 MB, as in the report

    shown = tail(log, 100_000).split("\n")

    assert len(shown) == 100_000
    assert shown == expected(7_905, 107_905)


@pytest.mark.parametrize("block", [1, 7, 64, 4096])
@pytest.mark.parametrize("count", [1, 2, 50, 299, 300, 10_000])
def test_any_count_at_any_block_size(tmp_path: Path, block: int, count: int) -> None:
    log = tmp_path / "x.log"
    write_lines(log, 0, 300)
    shown = [line.decode() for line in last_lines([log], count, block=block)]
    assert shown == expected(max(0, 300 - count), 300)


def test_the_rotated_files_continue_the_log(tmp_path: Path) -> None:
    log = tmp_path / "user-manager.log"
    write_lines(log.with_name("user-manager.log.2"), 0, 100)
    write_lines(log.with_name("user-manager.log.1"), 100, 200)
    write_lines(log, 200, 230)

    assert log_files(log) == [log, log.with_name("user-manager.log.1"), log.with_name("user-manager.log.2")]
    assert tail(log, 150).split("\n") == expected(80, 230)
    assert tail(log, 1000).split("\n") == expected(0, 230)


def test_a_last_line_still_being_written_and_empty_lines_are_kept(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_bytes(b"\nfirst\n\nsecond\npartial")
    assert last_lines([log], 10) == [b"", b"first", b"", b"second", b"partial"]
    assert last_lines([log], 2) == [b"second", b"partial"]
    log.write_bytes(b"")
    assert last_lines([log], 10) == []
