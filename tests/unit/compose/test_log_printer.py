"""compose's log printer: prefixes, padding, the colour cycle, status lines; line splitting; display names."""

from __future__ import annotations

import io

from moor.compose.runtime.logs import RAINBOW, LineSplitter, LogPrinter, started_at
from moor.compose.runtime.watch import display_name


def printer(**options: bool) -> tuple[LogPrinter, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return LogPrinter(out, err, **options), out, err


def test_prefix_is_padded_to_the_longest_name_plus_one() -> None:
    log, out, _ = printer(color=False)
    log.register("web-1")
    log.register("database-1")
    log.log("web-1", "hello")
    log.log("database-1", "ready")
    assert out.getvalue() == "web-1       | hello\ndatabase-1  | ready\n"


def test_a_single_name_gets_two_spaces_before_the_bar() -> None:
    log, out, _ = printer(color=False)
    log.log("web-1", "hello")
    assert out.getvalue() == "web-1  | hello\n"


def test_colours_cycle_as_compose_and_colour_the_whole_prefix() -> None:
    log, out, _ = printer()
    names = [f"s{index}-1" for index in range(len(RAINBOW) + 1)]
    for name in names:
        log.register(name)
    for name in names:
        log.log(name, "x")
    lines = out.getvalue().splitlines()
    assert lines[0] == "\x1b[36ms0-1   | \x1b[0mx"  # padded to s10-1
    assert lines[1] == "\x1b[33ms1-1   | \x1b[0mx"
    assert lines[5].startswith("\x1b[36;1m")
    assert lines[len(RAINBOW)].startswith("\x1b[36m")  # the cycle starts over


def test_no_prefix_prints_the_bare_line_and_stderr_goes_to_stderr() -> None:
    log, out, err = printer(color=False, prefix=False)
    log.log("web-1", "out")
    log.err("web-1", "oops")
    assert out.getvalue() == "out\n"
    assert err.getvalue() == "oops\n"


def test_status_line_is_the_name_and_the_message() -> None:
    log, out, _ = printer(color=False)
    log.status("web-1", "exited with code 3")
    assert out.getvalue() == "web-1 exited with code 3\n"
    coloured, out, _ = printer()
    coloured.status("web-1", "exited with code 0")
    assert out.getvalue() == "\x1b[36m\r\x1b[Kweb-1 exited with code 0\n\x1b[0m"


def test_timestamps_come_after_the_prefix() -> None:
    log, out, _ = printer(color=False, timestamps=True)
    log.log("a-1", "x")
    prefix, rest = out.getvalue().split(" | ", 1)
    stamp, line = rest.rstrip("\n").split(" ", 1)
    assert prefix == "a-1 " and line == "x"
    assert stamp[4] == "-" and stamp[10] == "T" and len(stamp.split(".")[1]) >= 10


def test_line_splitter_keeps_partial_lines_until_flushed() -> None:
    lines: list[str] = []
    splitter = LineSplitter(lines.append)
    splitter.feed(b"one\ntw")
    splitter.feed(b"o\nthr")
    assert lines == ["one", "two"]
    splitter.flush()
    assert lines == ["one", "two", "thr"]
    splitter.feed("é\n".encode()[:1])
    splitter.feed("é\n".encode()[1:])
    assert lines[-1] == "é"


def test_display_name_drops_the_project_only_for_default_names() -> None:
    labels = {"com.docker.compose.project": "p", "com.docker.compose.service": "web",
              "com.docker.compose.container-number": "2"}
    assert display_name({"Names": ["/p-web-2"], "Labels": labels}) == "web-2"
    assert display_name({"Name": "/p-web-2", "Config": {"Labels": labels}}) == "web-2"
    assert display_name({"Names": ["/custom"], "Labels": labels}) == "custom"
    assert display_name({"name": "p-web-2", **labels}) == "web-2"


def test_started_at_as_unix_seconds() -> None:
    assert started_at({"State": {"StartedAt": "2024-01-02T03:04:05.123456789Z"}}) == "1704164645.123456789"
    assert started_at({"State": {"StartedAt": "2024-01-02T03:04:05Z"}}) == "1704164645.000000000"
    assert started_at({"State": {"StartedAt": "0001-01-01T00:00:00Z"}}) is None
