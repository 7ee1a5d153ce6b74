"""Filters are checked before any candidate is looked at: a bad one is refused even with nothing to filter."""

from __future__ import annotations

import pytest

from moor.errors import InvalidParameter
from moor.services import container_list
from moor.services.events import EventBus


def _no_image(_name: str) -> None:
    return None


def _no_container(ident: str) -> None:
    raise AssertionError(f"no container should be looked up ({ident})")


@pytest.mark.parametrize(("filters", "message"), [
    ({"bogus": ["1"]}, "Invalid filter 'bogus'"),
    ({"status": ["sleeping"]}, "Invalid filter 'status=sleeping'"),
])
def test_ps_refuses_a_bad_filter_with_no_candidates(filters: dict[str, list[str]], message: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        container_list.select([], False, filters, -1, _no_image, _no_container)
    assert str(raised.value) == message


def test_events_stream_refuses_a_bad_filter_before_subscribing() -> None:
    bus = EventBus()
    with pytest.raises(InvalidParameter, match="^invalid filter 'colour'$"):
        bus.stream(0, 0, {"colour": ["red"]})
    assert bus.listeners == 0


def test_events_stream_with_good_filters_subscribes_at_once() -> None:
    bus = EventBus()
    stream = bus.stream(0, 0, {"type": ["container"], "event": ["start"]})
    assert bus.listeners == 1
    stream.close()
    assert bus.listeners == 0
