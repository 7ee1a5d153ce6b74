"""``/events`` windows as Docker keeps them: a ring of 256 events replayed by nanosecond time, for ``since``,
``until`` or both, bounds included."""

from __future__ import annotations

import pytest

from moor.api.routes.events import nanos_arg
from moor.services.events import EventBus


def test_the_ring_keeps_the_last_256_events() -> None:
    bus = EventBus()
    for number in range(300):
        bus.publish("volume", "create", f"v{number}", {})
    past = bus.subscribe()[0]
    assert len(past) == 256 and past[0]["Actor"]["ID"] == "v44"


def test_since_the_exact_nanosecond_of_an_event_replays_it() -> None:
    bus = EventBus()
    for name in ("create", "start", "die"):
        bus.publish("container", name, "c1", {})
    past = bus.subscribe()[0]
    first, last = past[0]["timeNano"], past[-1]["timeNano"]
    since = nanos_arg(f"{first // 10**9}.{first % 10**9:09d}")
    until = nanos_arg(f"{last // 10**9}.{last % 10**9:09d}")
    assert (since, until) == (first, last)
    stream = bus.stream(since, until, {})
    assert [e["Action"] for e in stream if e] == ["create", "start", "die"]


def test_until_alone_replays_what_came_before_it() -> None:
    bus = EventBus()
    bus.publish("volume", "create", "old", {})
    until = bus.subscribe()[0][-1]["timeNano"]
    bus.publish("volume", "create", "later", {})
    assert [e["Actor"]["ID"] for e in bus.stream(0, until, {}) if e] == ["old"]


@pytest.mark.parametrize(("text", "nanos"), [
    ("", 0), ("12", 12 * 10**9), ("12.5", 12 * 10**9 + 500_000_000), ("1796607628.496824085", 1796607628496824085),
    ("1970-01-01T00:00:10Z", 10 * 10**9),
])
def test_times_are_read_to_the_nanosecond(text: str, nanos: int) -> None:
    assert nanos_arg(text) == nanos
