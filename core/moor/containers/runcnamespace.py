"""The mount namespace runc creates containers from: moord's, without any container's root, made once.

A container's ``runc create`` runs in a mount namespace where the other containers' roots are gone
(:mod:`moor.monitor.mountns`). Making that namespace with ``unshare`` copies every mount moord has, a thousand
roots included, only for the child to unmount them again: 1.5 ms per start with 1000 running containers on a
quiet machine, more under load, and the start grew by that much from the first container to the thousandth.

moord therefore makes the namespace once (:class:`RuncNamespace`) and lends each moor-shim a descriptor of it.
The shim's child clones its container's root, enters the namespace (``setns``), makes a copy of its own (a
few dozen mounts, nothing left behind) and attaches the root there, then execs ``runc create``
(``--runc-mount-ns`` in ``moor-shim.c``). The shim closes the descriptor once runc has created the container.

The namespace is a copy of moord's as it was when it was made, so it is used only while nothing but container
roots has come or gone in moord's namespace since. moord reads its namespace's mount events (fanotify, Linux
6.15 and later) and tells a root (a mount attached right under the storage driver's home, or one of those
detached again) from anything else. Anything else drops the namespace at once: a volume mounted for a
container, a mount the administrator made or removed. The next container then gets a new namespace that
shows the host's mounts as they are now, and the old copy keeps no unmounted file system busy. Events read
before each loan make the check exact: a mount finished before a container starts is always seen. Lost events
(a full queue) count as a change. Without these events (an older kernel) nothing is lent, and each shim makes
its own namespace as before.
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import struct
import threading

from moor import tracing
from moor.networks.netns import in_thread_of_its_own

log = logging.getLogger(__name__)

CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
AT_FDCWD = -100
FAN_CLOEXEC = 0x1
FAN_NONBLOCK = 0x2
FAN_REPORT_MNT = 0x4000
FAN_MARK_ADD = 0x1
FAN_MARK_MNTNS = 0x110
FAN_MNT_ATTACH = 0x01000000
FAN_MNT_DETACH = 0x02000000
FAN_Q_OVERFLOW = 0x4000
FAN_EVENT_INFO_TYPE_MNT = 7
STATX_MNT_ID_UNIQUE = 0x4000
#: struct statx: stx_mask at 0, stx_mnt_id at 0x90
STATX_SIZE, STATX_MNT_ID_AT = 256, 0x90
#: the same on every architecture (the system calls numbered from 424 on are shared)
SYS_STATMOUNT = 457
STATMOUNT_MNT_BASIC = 0x2
#: struct statmount: mnt_parent_id at 48
STATMOUNT_SIZE, STATMOUNT_PARENT_AT = 512, 48
#: struct fanotify_event_metadata: event_len, vers, reserved, metadata_len, mask, fd, pid
EVENT = struct.Struct("=IBBHQii")
#: struct fanotify_event_info_mnt: info_type, pad, len, (4 bytes of padding), mnt_id
MOUNT_INFO = struct.Struct("=BBH4xQ")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.unshare.argtypes = [ctypes.c_int]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.fanotify_init.argtypes = [ctypes.c_uint, ctypes.c_uint]
_libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int, ctypes.c_char_p]
_libc.statx.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
_libc.syscall.restype = ctypes.c_long


class _MountIdRequest(ctypes.Structure):
    """struct mnt_id_req (its first version): what statmount(2) is asked about."""

    _fields_ = [("size", ctypes.c_uint32), ("spare", ctypes.c_uint32), ("mnt_id", ctypes.c_uint64),
                ("param", ctypes.c_uint64)]


def _checked(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def unique_mount_id(path: str) -> int:
    """The 64-bit ID of the mount at ``path``, which no other mount ever gets (statx, Linux 6.8)."""
    buffer = ctypes.create_string_buffer(STATX_SIZE)
    _checked(_libc.statx(AT_FDCWD, os.fsencode(path), 0, STATX_MNT_ID_UNIQUE, buffer), f"statx {path}")
    mask, = struct.unpack_from("=I", buffer.raw, 0)
    if not mask & STATX_MNT_ID_UNIQUE:
        raise OSError(0, "statx: no unique mount IDs on this kernel")
    mount_id: int = struct.unpack_from("=Q", buffer.raw, STATX_MNT_ID_AT)[0]
    return mount_id


def parent_mount_id(mount_id: int) -> int | None:
    """The unique ID of the mount that ``mount_id`` is attached to; None when it is attached no more."""
    request = _MountIdRequest(ctypes.sizeof(_MountIdRequest), 0, mount_id, STATMOUNT_MNT_BASIC)
    buffer = ctypes.create_string_buffer(STATMOUNT_SIZE)
    if _libc.syscall(ctypes.c_long(SYS_STATMOUNT), ctypes.byref(request), buffer, ctypes.c_size_t(STATMOUNT_SIZE),
                     ctypes.c_uint(0)) != 0:
        return None
    parent: int = struct.unpack_from("=Q", buffer.raw, STATMOUNT_PARENT_AT)[0]
    return parent


def mount_events(data: bytes) -> list[tuple[int, int]]:
    """The events in what was read from a fanotify descriptor: (mask, mount ID), the ID 0 when there is none."""
    events = []
    offset = 0
    while offset + EVENT.size <= len(data):
        length, _, _, header, mask, _, _ = EVENT.unpack_from(data, offset)
        if length < EVENT.size or offset + length > len(data):  # never a partial event: the kernel's promise
            break
        mount_id = 0
        info = offset + header
        if info + MOUNT_INFO.size <= offset + length:
            kind, _, _, identifier = MOUNT_INFO.unpack_from(data, info)
            if kind == FAN_EVENT_INFO_TYPE_MNT:
                mount_id = identifier
        events.append((mask, mount_id))
        offset += length
    return events


class RuncNamespace:
    """moord's mount namespace without the mount ``home`` (every container's root is mounted right under it),
    lent to each ``runc create`` (see the module's text)."""

    def __init__(self, home: str, events: int) -> None:
        """``events``: a fanotify descriptor reporting the attach and detach events of moord's namespace
        (:meth:`watching` makes it)."""
        self.home = home
        self._home_id = unique_mount_id(home)
        self._events = events
        self._lock = threading.Lock()
        self._namespace: int | None = None
        self._broken = False
        self._roots: set[int] = set()  # roots attached since the events were first read
        self._stop_read, self._stop_write = os.pipe2(os.O_CLOEXEC)
        self._watcher = threading.Thread(target=self._watch, name="moor-runc-mountns", daemon=True)
        self._watcher.start()

    @classmethod
    def watching(cls, home: str) -> RuncNamespace | None:
        """One for the storage driver's home ``home`` (a mount of its own); None when this kernel cannot report
        mount events (each monitor then makes its namespace itself)."""
        if not home:
            return None
        events = _libc.fanotify_init(FAN_REPORT_MNT | FAN_NONBLOCK | FAN_CLOEXEC, os.O_RDONLY)
        if events < 0:
            log.debug("no mount events on this kernel (%s): runc's namespace is made per container",
                      os.strerror(ctypes.get_errno()))
            return None
        try:
            own = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _checked(_libc.fanotify_mark(events, FAN_MARK_ADD | FAN_MARK_MNTNS, FAN_MNT_ATTACH | FAN_MNT_DETACH,
                                             own, None), "fanotify_mark")
            finally:
                os.close(own)
            return cls(home, events)
        except OSError as err:
            os.close(events)
            log.debug("cannot watch moord's mounts (%s): runc's namespace is made per container", err)
            return None

    def lend(self) -> int | None:
        """A new descriptor of the namespace for one ``runc create`` (the caller closes it once the monitor has
        its own): the one made before when nothing but roots changed since, else one made now. None when
        none can be made (logged once)."""
        with self._lock:
            if self._broken:
                return None
            if self._changed_beside_roots():
                self._drop()
            if self._namespace is None:
                try:
                    with tracing.phase("runc-namespace"):
                        self._namespace = in_thread_of_its_own(self._make, "moor-runc-mountns-make")
                except OSError as err:
                    log.warning("cannot make runc's mount namespace without the roots (%s): each monitor makes "
                                "its own", err)
                    self._broken = True
                    return None
            return os.dup(self._namespace)

    def close(self) -> None:
        """Stop watching and let the namespace go (at moord's stop)."""
        os.write(self._stop_write, b"x")
        self._watcher.join(5)
        with self._lock:
            self._drop()
            for fd in (self._events, self._stop_read, self._stop_write):
                os.close(fd)

    def _make(self) -> int:
        """In a thread of its own: a copy of moord's namespace without ``home``; a descriptor of it."""
        home = os.fsencode(self.home)
        _checked(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        # private first: the unmount below must not propagate to moord's namespace
        _checked(_libc.mount(None, os.path.dirname(home), None, MS_PRIVATE, None), "making the storage root private")
        _checked(_libc.mount(None, home, None, MS_REC | MS_PRIVATE, None), "making the driver's home private")
        _checked(_libc.umount2(home, MNT_DETACH), "unmounting the driver's home")
        return os.open("/proc/thread-self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)

    def _drop(self) -> None:
        if self._namespace is not None:
            os.close(self._namespace)
            self._namespace = None

    def _changed_beside_roots(self) -> bool:
        """Read every queued event (under the lock): whether one of them was not a root coming or going."""
        changed = False
        while True:
            try:
                data = os.read(self._events, 64 * 1024)
            except BlockingIOError:
                return changed
            except OSError:  # the events cannot be read: nothing is known
                return True
            for mask, mount_id in mount_events(data):
                if mask & FAN_MNT_ATTACH and mount_id and parent_mount_id(mount_id) == self._home_id:
                    self._roots.add(mount_id)
                elif mask & FAN_MNT_DETACH and mount_id in self._roots:
                    self._roots.discard(mount_id)
                else:  # another mount, one that left before it was looked at, or lost events
                    changed = True

    def _watch(self) -> None:
        """Drop the namespace as soon as a mount beside the roots changes, so that it pins nothing unmounted."""
        poller = select.poll()
        poller.register(self._events, select.POLLIN)
        poller.register(self._stop_read, select.POLLIN)
        while True:
            ready = dict(poller.poll())
            if self._stop_read in ready:
                return
            with self._lock:
                if ready.get(self._events, 0) & (select.POLLERR | select.POLLNVAL):
                    log.warning("moord's mount events cannot be read any more: each monitor makes runc's namespace")
                    self._broken = True
                    self._drop()
                    return
                if self._changed_beside_roots():
                    self._drop()
