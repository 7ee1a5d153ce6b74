"""A call that must answer within a deadline: hostile-input tests prove a refusal is fast, not only right."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def answer_within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()``'s result or exception, failing if it takes longer (its thread is left behind, daemonic)."""
    outcome: list[tuple[str, Any]] = []

    def run() -> None:
        try:
            outcome.append(("ok", call()))
        except BaseException as err:  # noqa: BLE001 - handed to the test
            outcome.append(("error", err))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"no answer within {seconds} s"
    kind, value = outcome[0]
    if kind == "error":
        raise value
    return value
