"""moord's mount namespace without the roots, made once and lent to each runc create (moor.containers.runcnamespace).

The real test runs in a mount namespace of its own (``unshare -m``): its mounts vanish with it, and no other
process's mounts reach the events it reads.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import pytest

from moor.containers.runcnamespace import (
    EVENT,
    FAN_EVENT_INFO_TYPE_MNT,
    FAN_MNT_ATTACH,
    FAN_MNT_DETACH,
    FAN_Q_OVERFLOW,
    MOUNT_INFO,
    mount_events,
)


def _event(mask: int, mount_id: int | None) -> bytes:
    info = MOUNT_INFO.pack(FAN_EVENT_INFO_TYPE_MNT, 0, MOUNT_INFO.size, mount_id) if mount_id is not None else b""
    return EVENT.pack(EVENT.size + len(info), 3, 0, EVENT.size, mask, -1, 0) + info


def test_mount_events_are_read_with_their_mount_ids() -> None:
    data = _event(FAN_MNT_ATTACH, 7) + _event(FAN_MNT_DETACH, 1 << 40) + _event(FAN_Q_OVERFLOW, None)
    assert mount_events(data) == [(FAN_MNT_ATTACH, 7), (FAN_MNT_DETACH, 1 << 40), (FAN_Q_OVERFLOW, 0)]


def test_a_cut_event_ends_the_reading() -> None:
    assert mount_events(_event(FAN_MNT_ATTACH, 7)[:-3]) == []
    assert mount_events(struct.pack("=I", 0) + bytes(EVENT.size)) == []  # a zero length never loops


SCENARIO = r"""
import ctypes, json, os, subprocess, sys, time
from moor.containers.runcnamespace import RuncNamespace
from moor.daemon.storagemounts import prepare
from moor.monitor.mountns import hide_other_roots

base = sys.argv[1]
subprocess.run(["mount", "-t", "tmpfs", "none", base], check=True)
home = prepare(f"{base}/data", "overlay")
namespace = RuncNamespace.watching(home)
if namespace is None:
    print(json.dumps({"unsupported": True}))
    sys.exit(0)

def mount_tmpfs(path, marker):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "none", path], check=True)
    open(os.path.join(path, marker), "w").close()

def seen_in(fd, *paths):
    # in a child that enters the lent namespace: which of ``paths`` exist there
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        ctypes.CDLL(None).setns(fd, 0x00020000)  # CLONE_NEWNS (os.setns: Python 3.12)
        os.write(write_end, json.dumps([os.path.exists(path) for path in paths]).encode())
        os._exit(0)
    os.close(write_end)
    answer = json.loads(os.read(read_end, 4096))
    os.waitpid(pid, 0)
    return answer

def lend():
    fd = namespace.lend()
    return fd, os.fstat(fd).st_ino

result = {}
mount_tmpfs(f"{home}/one/merged", "own")
first, first_ino = lend()
mount_tmpfs(f"{home}/two/merged", "own")
second, second_ino = lend()
result["reused over a new root"] = first_ino == second_ino
result["roots seen: lent, moord's"] = seen_in(second, f"{home}/one/merged/own", f"{home}/two/merged/own") + \
    [os.path.exists(f"{home}/one/merged/own"), os.path.exists(f"{home}/two/merged/own")]
mount_tmpfs(f"{base}/outside", "marker")
third, third_ino = lend()
result["made again after another mount"] = third_ino != second_ino
result["the other mount seen"] = seen_in(third, f"{base}/outside/marker")
subprocess.run(["umount", f"{home}/two/merged"], check=True)
fourth, fourth_ino = lend()
result["reused after a root left"] = fourth_ino == third_ino
for fd in (first, second, third, fourth):
    os.close(fd)
subprocess.run(["umount", f"{base}/outside"], check=True)
deadline = time.monotonic() + 5
while namespace._namespace is not None and time.monotonic() < deadline:
    time.sleep(0.01)
result["let go once the other mount left"] = namespace._namespace is None
fifth, fifth_ino = lend()
result["the unmounted one gone from the next"] = seen_in(fifth, f"{base}/outside/marker")
os.close(fifth)

# the monitor's side (moor.monitor.mountns, as moor-shim): the own root cloned, the lent namespace entered
mount_tmpfs(f"{home}/three/merged", "own")
lent = namespace.lend()
mount_tmpfs(f"{base}/afterwards", "marker")  # moord's namespace only: the loan came before it
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    os.chdir(base)
    hidden = hide_other_roots(home, f"{home}/three/merged", lent)
    os.write(write_end, json.dumps([hidden, os.getcwd() == base] + [os.path.exists(path) for path in (
        f"{home}/three/merged/own", f"{home}/one/merged/own", f"{base}/afterwards/marker")]).encode())
    os._exit(0)
os.close(write_end)
result["entered with the own root"] = json.loads(os.read(read_end, 4096))
os.waitpid(pid, 0)
os.close(lent)
namespace.close()
print(json.dumps(result))
"""


@pytest.mark.root
def test_the_namespace_is_kept_while_only_roots_change(tmp_path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    done = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-c", SCENARIO, str(base)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    if result.get("unsupported"):
        pytest.skip("this kernel reports no mount events (fanotify, Linux 6.15)")
    assert result == {
        "reused over a new root": True,
        "roots seen: lent, moord's": [False, False, True, True],  # in moord's namespace only
        "made again after another mount": True,
        "the other mount seen": [True],
        "reused after a root left": True,
        "let go once the other mount left": True,
        "the unmounted one gone from the next": [False],
        # hidden, in the same directory, its own root there, no other root, no mount made after the loan
        "entered with the own root": [True, True, True, False, False],
    }
