"""runc does not see the other containers' roots (moor.monitor.mountns, moor.daemon.storagemounts).

moord runs a wrapper as its runtime: on ``create``, ``exec`` and ``delete`` it copies the mount table it sees
(the one runc reads) to a file named after the container (``<id>``, ``<id>.exec``, ``<id>.delete``), then execs
the real runc.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator

import pytest

from e2e.containerhelpers import import_busybox, moor
from moor.testing.daemon import DaemonProcess
from moor.testing.leaks import open_fds

pytestmark = pytest.mark.root

WRAPPER = """#!/bin/sh
for last in "$@"; do :; done
for word in "$@"; do
    case "$word" in
        create) cp /proc/self/mountinfo "{dumps}/$last" ;;
        exec|delete) cp /proc/self/mountinfo "{dumps}/$last.$word" ;;
    esac
done
exec {runc} "$@"
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    work = tmp_path_factory.mktemp("runc-mounts")
    dumps, wrapper = work / "dumps", work / "bin" / "runc"
    dumps.mkdir()
    wrapper.parent.mkdir()
    wrapper.write_text(WRAPPER.format(dumps=dumps, runc=shutil.which("runc")))
    wrapper.chmod(stat.S_IRWXU)
    with DaemonProcess(config_text=f'[runtime]\npath = "{wrapper}"\n') as moord:
        import_busybox(moord)
        moord.dumps = str(dumps)  # type: ignore[attr-defined]
        yield moord
        moor(moord, "rm", "-f", *moor(moord, "ps", "-aq").stdout.split(), timeout=120)


def roots_seen(daemon: DaemonProcess, container_id: str, command: str = "") -> list[str]:
    """The container roots (``.../merged`` under the storage root) in the mount table runc read for the
    container's ``create`` (or ``command``: exec, delete)."""
    storage = os.path.join(os.path.realpath(daemon.data_root), "storage") + "/"
    name = f"{container_id}.{command}" if command else container_id
    with open(os.path.join(daemon.dumps, name)) as handle:  # type: ignore[attr-defined]
        points = [line.split()[4] for line in handle]
    return [point for point in points if point.startswith(storage) and point.endswith("/merged")]


def merged(daemon: DaemonProcess, container_id: str) -> str:
    return os.path.join(os.path.realpath(daemon.data_root), "storage", "overlay", container_id, "merged")


def run(daemon: DaemonProcess, *args: str) -> str:
    result = moor(daemon, "run", "-d", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_runc_sees_only_its_own_root(daemon: DaemonProcess) -> None:
    first = run(daemon, "busybox", "sleep", "300")
    second = run(daemon, "busybox", "sleep", "300")
    assert os.path.ismount(merged(daemon, first))  # moord itself still has every root mounted
    assert roots_seen(daemon, second) == [merged(daemon, second)]
    # the Python monitor (json-file with compress) does the same
    python = run(daemon, "--log-opt", "compress=true", "--log-opt", "max-size=1m", "--log-opt", "max-file=2",
                 "busybox", "sh", "-c", "echo from-python; sleep 300")
    assert roots_seen(daemon, python) == [merged(daemon, python)]
    assert "moor.monitor" in _monitor_of(python)  # forked from the zygote, in the container's state directory
    assert moor(daemon, "logs", python).stdout == "from-python\n"
    # the container itself is unchanged: its root, its /etc files and an exec in it
    assert moor(daemon, "exec", second, "cat", "/etc/hostname").stdout == second[:12] + "\n"
    assert moor(daemon, "exec", second, "sh", "-c", "touch /made && ls /made").stdout == "/made\n"
    assert os.path.exists(os.path.join(merged(daemon, second), "made"))
    assert roots_seen(daemon, second, "exec") == []  # runc exec needs none (it joins the container's namespaces)
    assert moor(daemon, "exec", python, "echo", "python-exec").stdout == "python-exec\n"  # a tty-less exec
    assert moor(daemon, "stop", "-t", "0", second, python).returncode == 0
    assert roots_seen(daemon, second, "delete") == [] and roots_seen(daemon, python, "delete") == []
    moor(daemon, "rm", "-f", first, second, python)


def test_restart_and_a_bind_into_the_storage_root(daemon: DaemonProcess) -> None:
    other = run(daemon, "busybox", "sleep", "300")
    mine = run(daemon, "busybox", "sleep", "300")
    assert moor(daemon, "restart", "-t", "0", mine).returncode == 0
    assert roots_seen(daemon, mine) == [merged(daemon, mine)]  # the dump of its second create
    # a bind that reaches into the storage root: runc sees what it saw before, the other roots included
    storage = os.path.join(daemon.data_root, "storage")
    binding = run(daemon, "-v", f"{storage}:/storage:ro", "busybox", "sleep", "300")
    assert merged(daemon, other) in roots_seen(daemon, binding)
    assert moor(daemon, "exec", binding, "true").returncode == 0 and roots_seen(daemon, binding, "exec") == []
    listing = moor(daemon, "exec", binding, "ls", f"/storage/overlay/{other}/merged/bin/busybox")
    assert listing.returncode == 0, listing.stderr
    moor(daemon, "rm", "-f", other, mine, binding)


def test_storage_mounts_kept_over_a_killed_moord(daemon: DaemonProcess) -> None:
    running = run(daemon, "busybox", "sleep", "300")
    daemon.kill()
    daemon.start()
    storage = os.path.join(os.path.realpath(daemon.data_root), "storage")
    points = _mount_points()
    assert points.count(storage) == 1 and points.count(os.path.join(storage, "overlay")) == 1
    assert moor(daemon, "exec", running, "echo", "adopted").stdout == "adopted\n"
    assert moor(daemon, "diff", running).returncode == 0
    later = run(daemon, "busybox", "sleep", "300")
    assert roots_seen(daemon, later) == [merged(daemon, later)]
    moor(daemon, "rm", "-f", running, later)
    assert [point for point in _mount_points() if point.startswith(storage + "/overlay/")] == []


def test_a_host_mount_made_meanwhile_reaches_the_next_container(daemon: DaemonProcess, tmp_path) -> None:
    """runc's namespace without the roots is made once and lent (moor.containers.runcnamespace): a mount made
    on the host after it was made is seen by the next container all the same, and no monitor keeps it."""
    import subprocess
    earlier = run(daemon, "busybox", "sleep", "300")  # the namespace exists from here on
    later = tmp_path / "later"
    later.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "none", str(later)], check=True)
    try:
        (later / "made").write_text("after the first container\n")
        seen = moor(daemon, "run", "--rm", "-v", f"{later}:/later", "busybox", "cat", "/later/made")
        assert (seen.returncode, seen.stdout) == (0, "after the first container\n"), seen.stderr
    finally:
        subprocess.run(["umount", str(later)], check=True)
    last = run(daemon, "busybox", "sleep", "300")
    python = run(daemon, "--log-opt", "compress=true", "--log-opt", "max-size=1m", "--log-opt", "max-file=2",
                 "busybox", "sleep", "300")
    for container in (last, python):
        assert roots_seen(daemon, container) == [merged(daemon, container)]
    for container in (earlier, python):
        monitor = _monitor_pid(container)
        assert monitor and not [link for link in open_fds(monitor) if link.startswith("mnt:")]
    moor(daemon, "rm", "-f", *moor(daemon, "ps", "-aq").stdout.split())


def _monitor_pid(container_id: str) -> int:
    """The process working in the container's state directory (its monitor); 0 when there is none."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.path.basename(os.readlink(f"/proc/{pid}/cwd")) == container_id:
                return int(pid)
        except OSError:
            continue
    return 0


def _monitor_of(container_id: str) -> str:
    """The command line of the process working in the container's state directory (its monitor)."""
    pid = _monitor_pid(container_id)
    if not pid:
        return ""
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        return handle.read().replace(b"\0", b" ").decode(errors="replace")


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo") as handle:
        return [line.split()[4] for line in handle]


def test_a_stopped_moord_without_containers_leaves_no_mount(tmp_path) -> None:
    with DaemonProcess(str(tmp_path / "d")) as moord:
        storage = os.path.join(os.path.realpath(moord.data_root), "storage")
        assert storage in _mount_points()
        assert moord.stop() == 0
        assert [point for point in _mount_points() if point.startswith(storage)] == []


def test_a_stopped_moord_leaves_no_empty_cgroup_parent(tmp_path) -> None:
    """The last exit checks the ``/moor`` cgroup parents before its monitor's ``runc delete`` removed the
    container's own: moord's stop checks again."""
    with DaemonProcess(str(tmp_path / "d")) as moord:
        import_busybox(moord)
        done = moor(moord, "run", "--rm", "--network", "none", "busybox", "true")
        assert done.returncode == 0, done.stderr
        assert moord.stop() == 0
    parents = [os.path.join("/sys/fs/cgroup", name, "moor") for name in os.listdir("/sys/fs/cgroup")]
    # another moord's containers may keep a parent: then it is not empty
    assert [parent for parent in parents if os.path.isdir(parent) and not _subdirectories(parent)] == []


def _subdirectories(path: str) -> list[str]:
    return [entry.name for entry in os.scandir(path) if entry.is_dir()]


PROPAGATION_CHECK = r"""
import os, subprocess, sys
from moor.daemon.storagemounts import prepare
from moor.monitor.mountns import hide_other_roots
base = sys.argv[1]
subprocess.run(["mount", "-t", "tmpfs", "none", base], check=True)
subprocess.run(["mount", "--make-shared", base], check=True)  # as / is on systemd hosts
home, lower = prepare(f"{base}/data", "overlay"), f"{base}/lower"
os.makedirs(lower)
roots = []
for key in ("own", "other"):
    layer = f"{home}/{key}"
    for part in ("diff", "work", "merged"):
        os.makedirs(f"{layer}/{part}")
    options = f"lowerdir={lower},upperdir={layer}/diff,workdir={layer}/work"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, f"{layer}/merged"], check=True)
    roots.append(f"{layer}/merged")
def table():
    with open("/proc/self/mountinfo") as handle:
        return sorted(" ".join(line.split()[4:]) for line in handle)
before = table()
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    hidden = hide_other_roots(home, roots[0])
    os.write(write_end, f"{hidden} {os.path.ismount(roots[0])} {os.path.ismount(roots[1])}".encode())
    os._exit(0)
os.close(write_end)
child = os.read(read_end, 100).decode()
os.waitpid(pid, 0)
print(child)
print("unchanged" if table() == before else "changed: " + repr(sorted(set(table()) ^ set(before))))
"""


def test_nothing_propagates_back_from_a_shared_parent(tmp_path) -> None:
    """With the data root under a shared mount, moord's storage mounts and the monitor's child leave every other
    mount alone: the namespace it came from sees no mount come or go."""
    import subprocess
    import sys
    base = tmp_path / "shared"
    base.mkdir()
    done = subprocess.run(["unshare", "-m", sys.executable, "-c", PROPAGATION_CHECK, str(base)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["True True False", "unchanged"]
