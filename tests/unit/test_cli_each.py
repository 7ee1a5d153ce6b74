"""act_on_each: the docker CLI's loop over named objects (stop a b, rm a b, pause a b, ...)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from moor.cli.output import act_on_each
from moor.client import DaemonError


def _action(failures: dict[str, DaemonError], done: list[str]) -> Callable[[str], None]:
    """An action that records each name and raises the failure given for it."""

    def act(name: str) -> None:
        done.append(name)
        if name in failures:
            raise failures[name]

    return act


def test_each_name_is_echoed_once_done(capsys: pytest.CaptureFixture[str]) -> None:
    done: list[str] = []
    act_on_each(("a", "b"), _action({}, done))
    assert done == ["a", "b"]
    assert capsys.readouterr() == ("a\nb\n", "")


def test_a_failure_is_reported_the_rest_still_run_and_the_exit_is_1(capsys: pytest.CaptureFixture[str]) -> None:
    done: list[str] = []
    with pytest.raises(SystemExit) as exit_:
        act_on_each(("a", "b", "c"), _action({"b": DaemonError(404, "No such container: b")}, done))
    assert exit_.value.code == 1 and done == ["a", "b", "c"]
    assert capsys.readouterr() == ("a\nc\n", "Error response from daemon: No such container: b\n")


def test_not_modified_counts_as_done(capsys: pytest.CaptureFixture[str]) -> None:
    act_on_each(("up",), _action({"up": DaemonError(304, "")}, []))
    assert capsys.readouterr().out == "up\n"


def test_errors_last_prints_them_together_after_the_loop_and_after(capsys: pytest.CaptureFixture[str]) -> None:
    order: list[str] = []
    failures = {"x": DaemonError(409, "x is not running"), "y": DaemonError(409, "y is not running")}
    with pytest.raises(SystemExit):
        act_on_each(("x", "ok", "y"), _action(failures, order), errors_last=True,
                    after=lambda: order.append("after"))
    assert order == ["x", "ok", "y", "after"]
    assert capsys.readouterr() == ("ok\n", "Error response from daemon: x is not running\n"
                                           "Error response from daemon: y is not running\n")


def test_without_echo_the_action_prints_its_own_answer(capsys: pytest.CaptureFixture[str]) -> None:
    act_on_each(("a",), lambda name: print(f"{name}: 0"), echo=False)
    assert capsys.readouterr().out == "a: 0\n"


def test_in_parallel_the_actions_overlap_and_the_output_keeps_the_given_order(
        capsys: pytest.CaptureFixture[str]) -> None:
    """``stop``/``kill``/``rm`` of many containers: up to ``parallel`` requests at once, as the docker CLI's
    parallelOperation; names and errors printed in the order given."""
    import threading

    arrived = threading.Barrier(3, timeout=30)  # passes only when three actions run at the same time
    failures = {"b": DaemonError(404, "No such container: b")}

    def act(name: str) -> None:
        arrived.wait()
        if name in failures:
            raise failures[name]

    with pytest.raises(SystemExit) as exit_:
        act_on_each(("c", "b", "a"), act, parallel=50)
    assert exit_.value.code == 1
    assert capsys.readouterr() == ("c\na\n", "Error response from daemon: No such container: b\n")


def test_stop_kill_rm_pause_ask_for_parallel_requests() -> None:
    import inspect

    from moor.cli import containers, resources

    for function in (containers.stop.callback, containers.kill.callback, containers.rm.callback, resources._each):
        assert "parallel=PARALLEL_OPERATIONS" in inspect.getsource(function)  # type: ignore[arg-type]
