"""Restart policy decisions and back-off."""

from __future__ import annotations

import pytest

from moor.containers import restart
from moor.errors import InvalidParameter


@pytest.mark.parametrize(("policy", "code", "count", "stopped", "starting", "expected"), [
    ("no", 1, 0, False, False, False),
    ("always", 0, 5, False, False, True),
    ("always", 0, 0, True, False, False),
    ("always", 0, 0, True, True, True),
    ("unless-stopped", 1, 0, False, False, True),
    ("unless-stopped", 1, 0, True, True, False),
    ("on-failure", 0, 0, False, False, False),
    ("on-failure", 2, 0, False, False, True),
    ("on-failure:2", 2, 2, False, False, False),
    ("on-failure:2", 2, 1, False, False, True),
])
def test_should_restart(policy, code, count, stopped, starting, expected) -> None:
    parsed = restart.parse_policy(policy)
    assert restart.should_restart(parsed, code, count, stopped, starting) is expected


def test_back_off_doubles_and_resets() -> None:
    delay = restart.next_delay(0, 0)
    assert delay == 0.1
    delay = restart.next_delay(delay, 1)
    assert delay == 0.2
    assert restart.next_delay(40, 1) == 60
    assert restart.next_delay(3.2, 12) == 0.1


@pytest.mark.parametrize(("text", "message"), [("sometimes", "invalid restart policy"),
                                               ("always:3", "maximum retry count cannot be used"),
                                               ("on-failure:x", "must be an integer")])
def test_bad_policies(text, message) -> None:
    with pytest.raises(InvalidParameter, match=message):
        restart.parse_policy(text)


def test_rm_conflicts_with_a_policy() -> None:
    with pytest.raises(InvalidParameter, match="AutoRemove"):
        restart.validate({"Name": "always"}, auto_remove=True)
