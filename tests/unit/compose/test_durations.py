"""Compose durations: Go's time.ParseDuration plus compose-go's days and weeks, in Go's error words."""

from __future__ import annotations

import pytest

from moor.compose.durations import parse_duration, to_seconds
from moor.compose.errors import ComposeFileError

S = 1_000_000_000


@pytest.mark.parametrize(("text", "expected"), [
    ("0", 0), (0, 0), ("1s", S), ("1m30s", 90 * S), ("500ms", S // 2), ("1.5h", 5400 * S),
    ("2h45m", (2 * 3600 + 45 * 60) * S), ("10us", 10_000), ("10\u00b5s", 10_000), ("7ns", 7),
    (".5s", S // 2), ("1.s", S), ("-1s", -S), ("+3s", 3 * S), ("1d", 86400 * S), ("1w", 7 * 86400 * S),
    ("1h0m0s", 3600 * S), ("0.000000001s", 1),
])
def test_parses_go_durations(text: str | int, expected: int) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("", 'time: invalid duration ""'),
    ("abc", 'time: invalid duration "abc"'),
    ("10", 'time: missing unit in duration "10"'),
    (10, 'time: missing unit in duration "10"'),
    ("10x", 'time: unknown unit "x" in duration "10x"'),
    (".s", 'time: invalid duration ".s"'),
    ("-", 'time: invalid duration "-"'),
    ("9999999999999999h", 'time: invalid duration "9999999999999999h"'),
])
def test_refuses_bad_durations_in_go_words(text: str | int, message: str) -> None:
    with pytest.raises(ComposeFileError) as caught:
        parse_duration(text)
    assert str(caught.value) == message


def test_error_names_the_key() -> None:
    with pytest.raises(ComposeFileError, match=r"^services\.web\.stop_grace_period: time: invalid duration"):
        parse_duration("soon", "services.web.stop_grace_period")


def test_seconds_truncate() -> None:
    assert to_seconds("1m30s") == 90
    assert to_seconds("1500ms") == 1
    assert to_seconds("999ms") == 0
