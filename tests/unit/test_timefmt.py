"""moor.timefmt: the one home of Docker's and Go's time forms."""

from __future__ import annotations

import time

import pytest

from moor.errors import InvalidParameter
from moor.timefmt import (
    format_timestamp,
    go_duration,
    human_duration,
    log_timestamp,
    parse_timestamp,
    rfc3339_nano,
    rfc3339_nano_fixed,
)

SECOND = 1_000_000_000
MOMENT = 1_700_000_000  # 2023-11-14T22:13:20Z


def test_go_rfc3339_nano_drops_the_fractions_trailing_zeros() -> None:
    assert rfc3339_nano(MOMENT * SECOND) == "2023-11-14T22:13:20Z"
    assert rfc3339_nano(MOMENT * SECOND + 120_000_000) == "2023-11-14T22:13:20.12Z"
    assert rfc3339_nano(MOMENT * SECOND + 1) == "2023-11-14T22:13:20.000000001Z"


def test_dockers_fixed_form_always_has_nine_digits() -> None:
    assert rfc3339_nano_fixed(MOMENT * SECOND) == "2023-11-14T22:13:20.000000000Z"
    assert rfc3339_nano_fixed(MOMENT * SECOND + 120_000_000) == "2023-11-14T22:13:20.120000000Z"
    assert log_timestamp(MOMENT + 0.5) == "2023-11-14T22:13:20.500000000Z"
    assert log_timestamp(float(MOMENT)) == "2023-11-14T22:13:20.000000000Z"


def test_created_times_are_gos_rfc3339_nano() -> None:
    assert format_timestamp(float(MOMENT)) == "2023-11-14T22:13:20Z"
    assert format_timestamp(MOMENT + 0.25) == "2023-11-14T22:13:20.25Z"  # as Go marshals a time.Time


@pytest.mark.parametrize(("text", "seconds"), [
    ("2023-11-14T22:13:20Z", MOMENT),
    ("2023-11-14T22:13:20.5Z", MOMENT + 0.5),
    ("2023-11-15T00:13:20+02:00", MOMENT),
    ("1700000000", MOMENT),
    ("1700000000.25", MOMENT + 0.25),
])
def test_timestamps_are_read_in_every_form_docker_accepts(text: str, seconds: float) -> None:
    assert parse_timestamp(text) == pytest.approx(seconds)


def test_a_go_duration_means_that_long_before_now() -> None:
    assert go_duration("1h30m") == 5400.0 and go_duration("-5s") == -5.0 and go_duration("5") is None
    assert abs(time.time() - 90 - parse_timestamp("90s")) < 5


def test_an_unreadable_timestamp_is_an_invalid_parameter() -> None:
    with pytest.raises(InvalidParameter, match="invalid timestamp"):
        parse_timestamp("yesterday")


@pytest.mark.parametrize(("seconds", "text"), [
    (0.5, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
    (3000, "50 minutes"), (3600, "About an hour"), (7200, "2 hours"), (3 * 86400, "3 days"),
    (20 * 86400, "2 weeks"), (90 * 86400, "3 months"), (800 * 86400, "2 years"),
])
def test_durations_read_as_dockers_cli_says_them(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text
