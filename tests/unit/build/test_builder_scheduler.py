"""The stage scheduler: stages in parallel threads, messages in stage order, failures and cancellation."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from moor.errors import MoorError
from moor.services.build.scheduler import Cancelled, StageRun, StageScheduler


def test_independent_stages_run_at_the_same_time_and_their_messages_come_in_order() -> None:
    both_running = threading.Barrier(2, timeout=10)

    def job(index: int) -> Any:
        def run(stage: StageRun[int]) -> int:
            stage.send({"stream": f"{index}-a"})
            both_running.wait()  # stage 1 runs while stage 0 does: neither waits for the other
            stage.send({"stream": f"{index}-b"})
            return index * 10

        return run

    seen: list[str] = []
    results = StageScheduler({0: job(0), 1: job(1)}, {}).run(lambda m: seen.append(m["stream"]))
    assert seen == ["0-a", "0-b", "1-a", "1-b"]
    assert results == {0: 0, 1: 10}


def test_a_stage_waits_for_the_stages_it_depends_on_and_reads_their_results() -> None:
    order: list[int] = []

    def first(stage: StageRun[str]) -> str:
        order.append(0)
        return "base"

    def second(stage: StageRun[str]) -> str:
        order.append(1)
        return stage.result_of(0) + "+child"

    results = StageScheduler({1: second, 0: first}, {1: {0}}).run(lambda m: None)
    assert order == [0, 1]
    assert results[1] == "base+child"


def test_the_first_failure_in_stage_order_is_raised_after_the_messages_before_it() -> None:
    started = threading.Event()

    def failing(stage: StageRun[None]) -> None:
        stage.send({"stream": "before the failure"})
        raise MoorError("boom")

    def slow(stage: StageRun[None]) -> None:
        started.set()
        while True:
            stage.check()  # cancelled once stage 0 failed
            threading.Event().wait(0.01)

    seen: list[str] = []
    with pytest.raises(MoorError, match="boom"):
        StageScheduler({0: failing, 1: slow}, {}).run(lambda m: seen.append(m["stream"]))
    assert seen == ["before the failure"]


def test_a_later_stage_failing_cancels_an_earlier_one_and_its_error_wins() -> None:
    def waits(stage: StageRun[None]) -> None:
        stage.send({"stream": "stage 0"})
        while True:
            stage.check()
            threading.Event().wait(0.01)

    def failing(stage: StageRun[None]) -> None:
        raise MoorError("stage 1 failed")

    seen: list[str] = []
    with pytest.raises(MoorError, match="stage 1 failed"):
        StageScheduler({0: waits, 1: failing}, {}).run(lambda m: seen.append(m["stream"]))
    assert seen == ["stage 0"]


def test_a_stage_whose_dependency_failed_does_not_run() -> None:
    ran: list[int] = []

    def failing(stage: StageRun[None]) -> None:
        raise MoorError("base failed")

    def child(stage: StageRun[None]) -> None:
        ran.append(1)

    with pytest.raises(MoorError, match="base failed"):
        StageScheduler({0: failing, 1: child}, {1: {0}}).run(lambda m: None)
    assert ran == []


def test_emit_raising_cancels_every_stage_and_waits_for_their_clean_up() -> None:
    cleaned: list[int] = []

    def job(index: int) -> Any:
        def run(stage: StageRun[None]) -> None:
            try:
                while True:
                    stage.send({"stream": "tick"})
                    threading.Event().wait(0.01)
            finally:
                cleaned.append(index)

        return run

    class Gone(Exception):
        pass

    def emit(message: dict[str, Any]) -> None:
        raise Gone()

    with pytest.raises(Gone):
        StageScheduler({0: job(0), 1: job(1)}, {}).run(emit)
    assert sorted(cleaned) == [0, 1]  # both stopped (Cancelled at their next send) before run returned


def test_cancelled_is_a_moor_error() -> None:
    assert issubclass(Cancelled, MoorError)
