"""Where a volume or bind lands inside a container's root filesystem, found and made safely.

A container image may plant a symbolic link where a mount is to go (``/data -> /../../host``,
``/data -> /tmp/outside``). The target is therefore resolved with every link evaluated *inside* the
root (Docker's ``FollowSymlinkInScope``): an absolute link restarts at the root, ``..`` never climbs
above it. Missing directories are then made through directory descriptors, one component at a
time, with no link followed any more (a link appearing meanwhile fails the start with ``ELOOP``),
and the last one is checked through ``/proc/self/fd`` to lie where the resolution said. runc gets
the resolved in-root path, so it never has to follow the planted link itself.

:func:`copy_up` fills a new, empty volume with what the image has at the mount target (Docker's
copy-up on first mount), reading the very directory that was resolved (its descriptor is pinned).
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import subprocess

from moor.containers.rootpath import PATH_FLAGS, DirChain, components, enter, scoped_path
from moor.errors import InvalidParameter, MoorError


class MountTarget:
    """A prepared mount destination: its in-root path and a pinned ``O_PATH`` descriptor."""

    def __init__(self, path: str, fd: int, existed: bool) -> None:
        self.path = path
        self.fd = fd
        self.existed = existed
        self.st = os.fstat(fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> MountTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve_in_root(rootfs: str, destination: str) -> str:
    """The in-root path ``destination`` leads to, every symbolic link followed inside ``rootfs``."""
    return scoped_path(rootfs, destination)


def prepare_target(rootfs: str, destination: str, make: str = "dir") -> MountTarget:
    """Resolve ``destination`` in ``rootfs`` and make it when missing: ``make`` is ``dir``, ``file`` or
    ``parent`` (only the directories above it: runc makes a missing tmpfs target itself, so that the
    tmpfs keeps its own mode; the target's descriptor is then its parent's).

    Raises :class:`InvalidParameter` when the target resolves to the root itself, or a link
    swapped in meanwhile would lead elsewhere; never creates anything outside ``rootfs``.
    """
    try:
        scoped = resolve_in_root(rootfs, destination)
    except OSError as err:
        raise InvalidParameter(f"cannot resolve mount destination {destination}: {err.strerror}") from None
    if scoped == "/":
        raise InvalidParameter(f"invalid mount destination {destination}: it resolves to the container's root")
    parent, base = posixpath.split(scoped)
    chain = DirChain.open(rootfs)
    fd = -1
    try:
        enter(chain, components(parent), create=True, follow=False)
        expected, existed = scoped, True
        try:
            fd = os.open(base, PATH_FLAGS, dir_fd=chain.current)
        except FileNotFoundError:
            existed = False
            if make == "parent":
                fd, expected = os.open(".", PATH_FLAGS | os.O_DIRECTORY, dir_fd=chain.current), parent
            elif make == "dir":
                os.mkdir(base, 0o755, dir_fd=chain.current)
            else:
                os.close(os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o755,
                                 dir_fd=chain.current))
            if fd < 0:
                fd = os.open(base, PATH_FLAGS, dir_fd=chain.current)
        if stat.S_ISLNK(os.fstat(fd).st_mode):
            raise OSError(errno.ELOOP, "a symbolic link appeared at the mount destination", base)
        real = os.readlink(f"/proc/self/fd/{fd}")
        if real != os.path.realpath(rootfs) + expected.rstrip("/"):
            raise OSError(errno.EXDEV, "the mount destination moved", destination)
        target = MountTarget(scoped, fd, existed)
        fd = -1
        return target
    except OSError as err:
        raise InvalidParameter(f"cannot prepare mount destination {destination} in the container: "
                               f"{err.strerror or err}") from None
    finally:
        if fd >= 0:
            os.close(fd)
        chain.close()


def is_empty_directory(path: str) -> bool:
    with os.scandir(path) as entries:
        return next(entries, None) is None


def copy_up(target: MountTarget, volume_path: str) -> bool:
    """Copy the image's files at ``target`` into the empty volume at ``volume_path``.

    Ownership, modes, links and extended attributes are kept (``cp -a`` from the pinned directory,
    which follows no link inside it); the volume's own directory takes the target's owner and mode,
    as Docker's copy-up does. Nothing happens when the target was missing or is not a directory, or
    the volume has content. Returns whether the volume was filled.
    """
    if not target.existed or not stat.S_ISDIR(target.st.st_mode) or not is_empty_directory(volume_path):
        return False
    source = f"/proc/self/fd/{target.fd}"
    if not is_empty_directory(source):
        result = subprocess.run(["cp", "-a", "--", source + "/.", volume_path + "/"], pass_fds=(target.fd,),
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise MoorError(f"copying the image's {target.path} into the volume failed: {result.stderr.strip()}")
    os.chown(volume_path, target.st.st_uid, target.st.st_gid)
    os.chmod(volume_path, stat.S_IMODE(target.st.st_mode))
    return True
