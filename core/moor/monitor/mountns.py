"""``runc create`` in a mount namespace without the other containers' roots (the Python monitor's half).

Every running container's root filesystem is a mount in moord's namespace, and runc reads
``/proc/self/mountinfo`` again and again while it creates a container (on a cgroup v1 host it walks it for
the cgroup mount points); the kernel also copies every mount into the new container's namespace. With a
thousand containers that made ``runc create`` 2.5 times slower (``bench/runc_mounts.py``).

moord therefore keeps the roots under one mount of their own (:mod:`moor.daemon.storagemounts`): the
storage driver's home ``H``, bound onto itself inside ``<data root>/storage``, itself a private mount of its
own. The monitor runs runc in a child that, just before it execs runc:

1. enters a mount namespace of its own (``unshare(CLONE_NEWNS)``): what it changes next is seen by nobody
   else, and the namespace goes away with runc (the container gets its own copy, as always);
2. makes ``H``'s parent and ``H`` (with everything under it) private in that namespace, so that nothing it
   unmounts or mounts propagates back to moord's;
3. clones the container's own root (``open_tree(OPEN_TREE_CLONE)``: a detached copy of that one mount);
4. lazily unmounts ``H`` in one step (``umount2(MNT_DETACH)``: every other root disappears at once);
5. attaches the clone at the root's path again (``move_mount``): the directory is still there, below ``H``.

With a namespace lent by moord (``--runc-mount-ns``, :mod:`moor.containers.runcnamespace`: moord's own without
``H``, made once), ``runc create``'s child clones its root, enters that namespace (``setns``), makes a copy of its
own and attaches the clone there instead (:func:`enter_lent_namespace`): nothing is copied or unmounted per
container.

The container sees exactly what it saw before: its root, and the mounts runc makes from the spec. When a
step before 4 is impossible (no namespace allowed, ``H`` not a mount of its own, no ``open_tree``), runc
simply runs with every root visible, as before. ``runc exec`` and ``runc delete`` run the same way with no root
kept (steps 3 and 5 left out): they need none. ``moor-shim`` does the same in C (``hide_other_roots``).
"""

from __future__ import annotations

import ctypes
import json
import os

CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
AT_FDCWD = -100
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
MOVE_MOUNT_F_EMPTY_PATH = 0x00000004
#: the same on every architecture (the system calls numbered from 424 on are shared)
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429

_libc = ctypes.CDLL(None, use_errno=True)
_libc.unshare.argtypes = [ctypes.c_int]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.syscall.restype = ctypes.c_long


_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]


class RootLost(OSError):
    """The container's own root could not be attached again after the others were unmounted."""


def enter_lent_namespace(namespace: int, keep: str) -> bool:
    """In the calling process (the child about to exec ``runc create``): ``keep`` (the container's root) cloned,
    the namespace ``namespace`` (a descriptor) entered, a copy of it made and the clone attached there in place;
    the working directory kept.

    :return: True when done; False when not done and back in the namespace it came from.
    :raises RootLost: that way back failed.
    """
    tree = int(_libc.syscall(ctypes.c_long(SYS_OPEN_TREE), ctypes.c_int(AT_FDCWD), os.fsencode(keep),
                             ctypes.c_uint(OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)))
    if tree < 0:
        return False
    try:
        here, ours = os.getcwd(), os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        os.close(tree)
        return False
    try:
        if _libc.setns(namespace, CLONE_NEWNS) != 0:
            return False
        # setns() moved the working directory to the namespace's root
        if _libc.unshare(CLONE_NEWNS) == 0 and _chdir(here) and \
                _libc.syscall(ctypes.c_long(SYS_MOVE_MOUNT), ctypes.c_int(tree), b"", ctypes.c_int(AT_FDCWD),
                              os.fsencode(keep), ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH)) == 0:
            return True
        if _libc.setns(ours, CLONE_NEWNS) != 0 or not _chdir(here):
            raise RootLost(ctypes.get_errno() or 5, "cannot go back from runc's lent mount namespace")
        return False
    finally:
        os.close(tree)
        os.close(ours)


def _chdir(path: str) -> bool:
    try:
        os.chdir(path)
        return True
    except OSError:
        return False


def hide_other_roots(hide: str, keep: str = "", lent: int = -1) -> bool:
    """In the calling process (the child about to exec runc): a mount namespace of its own in which the mount
    ``hide`` is gone, but for ``keep`` (a path under it: the container's root), attached again in place. With
    ``lent`` (a descriptor of moord's namespace without ``hide``) and ``keep``, that namespace is entered first
    (:func:`enter_lent_namespace`); the namespace is made here when that cannot be done.

    :return: True when the roots are hidden; False when it could not be done and nothing was lost (runc then
        sees them all, as before).
    :raises RootLost: the others are gone and ``keep`` could not be attached again.
    """
    keeps = bool(keep) and keep.startswith(hide.rstrip("/") + "/")
    if keeps and lent >= 0 and enter_lent_namespace(lent, keep):
        return True
    path, parent = os.fsencode(hide), os.fsencode(os.path.dirname(hide))
    if _libc.unshare(CLONE_NEWNS) != 0:
        return False
    # not mounts of their own (moord could not set them up): EINVAL, nothing to do
    if _libc.mount(None, parent, None, MS_PRIVATE, None) != 0:
        return False
    if _libc.mount(None, path, None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    tree = -1
    if keeps:
        tree = int(_libc.syscall(ctypes.c_long(SYS_OPEN_TREE), ctypes.c_int(AT_FDCWD), os.fsencode(keep),
                                 ctypes.c_uint(OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)))
        if tree < 0:
            return False
    try:
        if _libc.umount2(path, MNT_DETACH) != 0:
            return False
        if tree >= 0 and _libc.syscall(ctypes.c_long(SYS_MOVE_MOUNT), ctypes.c_int(tree), b"",
                                       ctypes.c_int(AT_FDCWD), os.fsencode(keep),
                                       ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH)) != 0:
            error = ctypes.get_errno()
            raise RootLost(error, f"cannot keep the container's root filesystem in runc's mount namespace: "
                                  f"{os.strerror(error)}")
        return True
    finally:
        if tree >= 0:
            os.close(tree)


def hide_before_exec(hide: str, keep: str, log_path: str, lent: int = -1) -> None:
    """:func:`hide_other_roots` as a ``preexec_fn``: when the root is lost, the reason goes to runc's log
    (``log_path``, where the monitor looks for runc's errors) and the child exits 1, as a failed runc."""
    try:
        hide_other_roots(hide, keep, lent)
    except RootLost as err:
        try:
            with open(log_path, "a") as handle:
                handle.write(json.dumps({"level": "error", "msg": err.strerror}) + "\n")
        finally:
            os._exit(1)
