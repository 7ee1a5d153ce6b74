"""``diff`` shows only what a container wrote: Docker's own mount points and init files are hidden."""

from __future__ import annotations

from moor.services.commit import hide_init_paths
from moor.types import Change


def test_docker_mount_points_are_hidden() -> None:
    changes = [Change("/dev", 1), Change("/dev/null", 1), Change("/etc", 0), Change("/etc/hosts", 1),
               Change("/etc/hostname", 1), Change("/etc/resolv.conf", 1), Change("/proc", 1), Change("/sys", 1),
               Change("/.dockerenv", 1), Change("/etc/mtab", 1), Change("/test", 1)]
    assert hide_init_paths(changes) == [Change("/test", 1)]


def test_a_directory_the_container_wrote_in_stays() -> None:
    changes = [Change("/etc", 0), Change("/etc/hosts", 1), Change("/etc/passwd", 0), Change("/devices", 1)]
    assert hide_init_paths(changes) == [Change("/etc", 0), Change("/etc/passwd", 0), Change("/devices", 1)]
