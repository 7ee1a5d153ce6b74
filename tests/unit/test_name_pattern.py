"""``name=`` filters and image references are matched with RE2, in linear time (issue 12, resource exhaustion)."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest

from moor.errors import InvalidParameter
from moor.images import reference
from moor.images.healthcheck import healthcheck_from_history
from moor.namepattern import is_valid, name_matches
from moor.services import container_list
from moor.services.volumes import _matches as volume_name_matches

#: Python's ``re`` needs about 2**40 steps for this name; RE2 answers at once.
CATASTROPHIC = "(a+)+$"
LONG_NAME = "a" * 40 + "!"


def _container(name: str) -> Any:
    return SimpleNamespace(name=name, state=SimpleNamespace(Status="running", Running=True), id="f" * 64,
                           created="2024-01-01T00:00:00Z", config={}, image_id="", image="")


def _answer_within(seconds: float, call: Any) -> Any:
    """``call()``, failing the test if it takes longer than ``seconds`` (the thread is left behind, daemonic)."""
    results: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            results.append((True, call()))
        except Exception as err:  # noqa: BLE001 - handed to the test
            results.append((False, err))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert results, f"no answer within {seconds} s"
    ok, value = results[0]
    if not ok:
        raise value
    return value


def test_a_catastrophic_pattern_answers_at_once() -> None:
    assert _answer_within(30, lambda: name_matches(CATASTROPHIC, LONG_NAME)) is False
    assert _answer_within(30, lambda: name_matches(CATASTROPHIC, "aaaa")) is True


def test_ps_name_filter_with_a_catastrophic_pattern() -> None:
    found = _answer_within(30, lambda: container_list.select(
        [_container(LONG_NAME), _container("aaa")], True, {"name": [CATASTROPHIC]}, -1,
        lambda _n: None, lambda _i: None))
    assert [c.name for c in found] == ["aaa"]


def test_volume_name_filter_with_a_catastrophic_pattern() -> None:
    assert _answer_within(30, lambda: volume_name_matches(CATASTROPHIC, LONG_NAME)) is False


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("^web", "web-1", True),
    ("^/web", "/web-1", True),
    ("b-1$", "web-1", True),
    ("db", "web-1", False),
    ("(", "(", True),          # invalid: only the exact name matches, as Docker's filters.Args.Match
    ("(", "a(b", False),
    ("(?=w)", "web", False),   # a Perl lookahead is not Go syntax
])
def test_go_semantics(pattern: str, name: str, expected: bool) -> None:
    assert name_matches(pattern, name) is expected


def test_ps_invalid_pattern_is_no_error() -> None:
    found = container_list.select([_container("web")], True, {"name": ["(web"]}, -1,
                                  lambda _n: None, lambda _i: None)
    assert found == []
    assert not is_valid("(web")


@pytest.mark.parametrize("text", ["a" * 40 + "!", "a-" * 2000 + "!", "localhost:5000/" + "a_" * 3000 + ":t!"])
def test_image_references_parse_in_linear_time(text: str) -> None:
    """Docker's reference grammar nests repetitions: with Python's re, 40 letters and a '!' took hours."""
    with pytest.raises(InvalidParameter, match="invalid reference format"):
        _answer_within(30, lambda: reference.parse(text))


def test_a_reference_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="invalid reference format"):
        reference.parse("busybox\n")



def test_a_hostile_history_line_is_read_in_linear_time() -> None:
    """An image's history is anyone's input; "HEALTHCHECK &{[" a hundred thousand times took minutes with re."""
    history = [{"created_by": "HEALTHCHECK &{[" * 100_000}]
    assert _answer_within(30, lambda: healthcheck_from_history(history)) is None
