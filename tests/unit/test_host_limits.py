"""Host limits met with many containers (issue 17): what moord does when its descriptors, the bridge's ports
or the kernel's tables run short."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from pathlib import Path

import pytest

from moor.containers import launch
from moor.daemon import hostlimits

HIGH_FD = 1500  # above FD_SETSIZE (1024): select() refuses it, poll() does not


@pytest.fixture()
def high_pipe() -> Iterator[tuple[int, int]]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= HIGH_FD:
        pytest.skip(f"the hard limit of open files ({hard}) is too low here")
    if soft != resource.RLIM_INFINITY and soft <= HIGH_FD:
        resource.setrlimit(resource.RLIMIT_NOFILE, (HIGH_FD + 1, hard))
    read_end, write_end = os.pipe()
    os.dup2(read_end, HIGH_FD)
    os.close(read_end)
    yield HIGH_FD, write_end
    os.close(HIGH_FD)
    os.close(write_end)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_monitor_report_is_read_on_a_descriptor_above_1024(high_pipe: tuple[int, int]) -> None:
    """With a thousand containers moord holds more than 1024 descriptors: a monitor's readiness pipe may be
    one of them (select() failed there with 'filedescriptor out of range')."""
    read_end, write_end = high_pipe
    os.write(write_end, b'{"ok": true}\n')
    assert launch._read_line(read_end, 5) == '{"ok": true}'


def test_the_soft_limit_of_open_files_is_raised_to_the_hard_one(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = {"now": (1024, 524288)}
    monkeypatch.setattr(resource, "getrlimit", lambda _kind: limits["now"])
    monkeypatch.setattr(resource, "setrlimit", lambda _kind, value: limits.update(now=value))
    assert hostlimits.raise_open_files() == (524288, None)
    assert limits["now"] == (524288, 524288)


def test_a_low_hard_limit_of_open_files_is_named_with_what_to_change(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = {"now": (1024, 2048)}
    monkeypatch.setattr(resource, "getrlimit", lambda _kind: limits["now"])
    monkeypatch.setattr(resource, "setrlimit", lambda _kind, value: limits.update(now=value))
    soft, message = hostlimits.raise_open_files()
    assert soft == 2048 and limits["now"] == (2048, 2048)
    assert message == ("moord may open only 2048 files (RLIMIT_NOFILE, hard limit 2048): about 512 running "
                       "containers; raise its hard limit (LimitNOFILE= in its systemd unit, or ulimit -Hn before "
                       "it starts)")


def test_the_neighbour_table_is_raised_where_it_is_low(tmp_path: Path) -> None:
    for name, value in (("gc_thresh1", 128), ("gc_thresh2", 9000), ("gc_thresh3", 1024)):
        (tmp_path / name).write_text(f"{value}\n")
    changes, message = hostlimits.raise_neighbour_thresholds(str(tmp_path))
    assert message is None
    assert changes == ["gc_thresh1 128 -> 1024", "gc_thresh3 1024 -> 8192"]
    assert [(tmp_path / n).read_text() for n in ("gc_thresh1", "gc_thresh2", "gc_thresh3")] == [
        "1024\n", "9000\n", "8192\n"]


def test_a_low_task_limit_of_moords_cgroup_is_named(tmp_path: Path) -> None:
    (tmp_path / "cgroup").write_text("12:pids:/system.slice/moord.service\n0::/system.slice/moord.service\n")
    group = tmp_path / "root" / "pids" / "system.slice" / "moord.service"
    group.mkdir(parents=True)
    (group / "pids.max").write_text("1000\n")
    message = hostlimits.task_limit_message(str(tmp_path / "cgroup"), str(tmp_path / "root"))
    assert message is not None and message.startswith("moord's cgroup allows 1000 tasks")
    (group / "pids.max").write_text("max\n")
    assert hostlimits.task_limit_message(str(tmp_path / "cgroup"), str(tmp_path / "root")) is None


def test_malloc_is_told_to_keep_few_arenas(monkeypatch: pytest.MonkeyPatch) -> None:
    told: list[tuple[int, int]] = []

    class Libc:
        def mallopt(self, parameter: int, value: int) -> int:
            told.append((parameter, value))
            return 1
    monkeypatch.setattr(hostlimits.ctypes, "CDLL", lambda _name: Libc())
    assert hostlimits.few_malloc_arenas() is True
    assert told == [(hostlimits.M_ARENA_MAX, 2)]
