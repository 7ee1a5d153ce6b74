"""Host limits met with many containers (issue 17): what moord does when its descriptors, the bridge's ports
or the kernel's tables run short."""

from __future__ import annotations

import os
import resource

import pytest

from moor.containers import launch

HIGH_FD = 1500  # above FD_SETSIZE (1024): select() refuses it, poll() does not


@pytest.fixture()
def high_pipe() -> tuple[int, int]:
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
