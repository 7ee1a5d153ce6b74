"""moor.tracing: one debug line per operation with each phase's duration, nothing without debug logging."""

from __future__ import annotations

import logging
import threading

import pytest

from moor import tracing


def test_an_operation_logs_one_line_with_its_phases(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="moor.trace")
    with tracing.operation("start", "0123456789abcdef") as trace:
        with trace.phase("mount"):
            pass
        with tracing.phase("bundle"), tracing.phase("spec-write"):  # the layers below, without the trace
            pass
        tracing.add("runc-create", 0.0125)
        tracing.add("runc-create", 0.0125)
    lines = [r.getMessage() for r in caplog.records if r.name == "moor.trace"]
    assert len(lines) == 1
    operation, subject, phases = tracing.parse(lines[0]) or ("", "", {})
    assert (operation, subject) == ("start", "0123456789ab")
    assert list(phases) == ["total", "mount", "spec-write", "bundle", "runc-create"]
    assert phases["runc-create"] == 25.0
    assert phases["total"] >= phases["bundle"] >= phases["spec-write"] >= 0


def test_an_error_is_noted_and_the_line_still_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="moor.trace")
    with pytest.raises(KeyError), tracing.operation("create", "") as trace:
        trace.subject = "feedc0ffee12"
        with trace.phase("image"):
            raise KeyError("x")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "moor.trace"]
    assert line.startswith("trace create feedc0ffee12 total=")
    assert " image=" in line and line.endswith("error=KeyError")


def test_nested_operations_are_lines_of_their_own(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="moor.trace")
    with tracing.operation("exit", "a" * 64), tracing.phase("remove"):
        with tracing.operation("remove", "b" * 64):
            tracing.add("snapshot", 0.001)
        outer = tracing.current()
        assert outer is not None and outer.operation == "exit"
    parsed = [tracing.parse(r.getMessage()) for r in caplog.records if r.name == "moor.trace"]
    assert [(p[0], p[1], sorted(p[2])) for p in parsed if p] == [
        ("remove", "b" * 12, ["snapshot", "total"]), ("exit", "a" * 12, ["remove", "total"])]


def test_other_threads_do_not_see_the_operation() -> None:
    seen: list[object] = []
    with tracing.operation("start", "x"):
        thread = threading.Thread(target=lambda: seen.append(tracing.current()))
        thread.start()
        thread.join()
    assert seen == [None] and tracing.current() is None


def test_nothing_is_recorded_or_logged_without_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="moor.trace")
    with tracing.operation("start", "x") as trace:
        with tracing.phase("mount"):
            pass
        tracing.add("runc-create", 1.0)
    assert trace.phases == {} and not [r for r in caplog.records if r.name == "moor.trace"]


def test_parse_reads_a_log_line_and_ignores_others() -> None:
    line = "2026-12-07 04:00:00,001 DEBUG moor.trace: trace remove 0123456789ab total=3.50ms dirs=1.25ms error=X"
    assert tracing.parse(line) == ("remove", "0123456789ab", {"total": 3.5, "dirs": 1.25})
    assert tracing.parse("2026-12-07 INFO moord: serving") is None
