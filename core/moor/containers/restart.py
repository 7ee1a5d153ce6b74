"""Restart policies: whether and when an exited container starts again (Docker's rules).

``no`` never; ``always`` whatever the exit code (after a manual stop only when
moord starts again); ``unless-stopped`` like always, but a manual stop sticks;
``on-failure[:N]`` on a non-zero exit code, at most N times. The delay doubles
from 100 ms after each quick exit and falls back to 100 ms once the container
ran for 10 s; it never exceeds a minute.
"""

from __future__ import annotations

from typing import Any

from moor.errors import InvalidParameter

POLICIES = ("no", "always", "unless-stopped", "on-failure")
FIRST_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER = 10.0


def parse_policy(text: str) -> dict[str, Any]:
    """``on-failure:3`` -> {"Name": "on-failure", "MaximumRetryCount": 3} (the CLI's --restart)."""
    name, _, count = text.partition(":")
    if name not in POLICIES and name != "":
        raise InvalidParameter(f"invalid restart policy '{text}'")
    if count and name != "on-failure":
        raise InvalidParameter(f"maximum retry count cannot be used with restart policy '{name}'")
    try:
        retries = int(count) if count else 0
    except ValueError:
        raise InvalidParameter(f"invalid restart policy '{text}': maximum retry count must be an integer") from None
    return {"Name": name or "no", "MaximumRetryCount": retries}


def validate(policy: dict[str, Any] | None, auto_remove: bool) -> dict[str, Any]:
    policy = dict(policy or {})
    name = policy.get("Name") or "no"
    if name not in POLICIES:
        raise InvalidParameter(f"invalid restart policy '{name}'")
    retries = int(policy.get("MaximumRetryCount") or 0)
    if retries < 0:
        raise InvalidParameter("invalid restart policy: maximum retry count cannot be negative")
    if retries and name != "on-failure":
        raise InvalidParameter(
            f"invalid restart policy: maximum retry count cannot be used with restart policy '{name}'")
    if auto_remove and name != "no":
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
    return {"Name": name, "MaximumRetryCount": retries}


def should_restart(policy: dict[str, Any], exit_code: int, restart_count: int, manually_stopped: bool,
                   daemon_starting: bool = False) -> bool:
    name = policy.get("Name") or "no"
    if name == "always":
        return not manually_stopped or daemon_starting
    if name == "unless-stopped":
        return not manually_stopped
    if name == "on-failure":
        if manually_stopped or exit_code == 0:
            return False
        maximum = int(policy.get("MaximumRetryCount") or 0)
        return maximum == 0 or restart_count < maximum
    return False


def next_delay(previous: float, ran_for: float) -> float:
    if ran_for >= RESET_AFTER or previous <= 0:
        return FIRST_DELAY
    return min(previous * 2, MAX_DELAY)
