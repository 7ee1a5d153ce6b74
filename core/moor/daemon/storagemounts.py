"""The storage root and the storage driver's home as mounts of their own, set up when moord starts.

A container's ``runc create`` runs in a mount namespace without the other containers' roots
(:mod:`moor.monitor.mountns`): there, the monitor unmounts in one step the one mount that holds every root,
after cloning the container's own, and attaches that clone again in place. For that, moord makes:

* ``<data root>/storage``: a mount of its own (bound onto itself), **private**. The own root is attached
  again under it, so nothing the monitor mounts there propagates to any other namespace (a shared parent, as
  ``/`` is on systemd hosts, would copy it back into moord's, hidden under the home);
* ``<data root>/storage/<driver>``: the driver's home (:func:`moor.driverbuild.driver_context`), where it mounts
  every root: a mount of its own too, private, so that the roots mounted in it are private and their lazy
  unmount in the monitor's namespace touches no other.

The roots then propagate to no other namespace, as under Docker's overlay driver once it made its home a
private mount (moby#22069): a host whose ``/`` is shared no longer gets copies of every root in each of its
namespaces, and a bind of the data root into a container (``-v /:/host:rslave``) shows the roots mounted when
the container started, not those mounted later.

Both stay mounted while a root is mounted in them when moord stops (its containers may run on): a restarted
moord finds them and keeps them. Otherwise moord unmounts them as it stops (:func:`release`).
When the storage root holds mounts but is not a mount itself (containers left running by a moord before this
layout), nothing is changed: runc then sees every root, as before, until moord starts with none mounted.
"""

from __future__ import annotations

import ctypes
import logging
import os

from moor.mountinfo import mount_points, unmount

log = logging.getLogger(__name__)

MS_BIND = 4096
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
#: under the data root: every storage driver's home is in it (``<data root>/storage/<name>``)
STORAGE_DIR = "storage"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def storage_mounts(data_root: str, driver: str) -> tuple[str, str]:
    """The storage root and the driver's home: the two mounts moord makes (tests leave them out of leaks)."""
    storage = os.path.join(os.path.realpath(data_root), STORAGE_DIR)
    return storage, os.path.join(storage, driver)


def is_storage_mount(point: str, data_root: str) -> bool:
    """Whether the mount point ``point`` is the storage root of ``data_root`` or a driver's home in it: mounts
    moord keeps for as long as the data root is used (not a leak)."""
    storage = os.path.join(os.path.realpath(data_root), STORAGE_DIR)
    return point == storage or os.path.dirname(point) == storage


def prepare(data_root: str, driver: str) -> str:
    """Make the storage root and the driver's home private mounts of their own (kept as they are when they
    are already); return the home, whose mounts a container's ``runc create`` does not see, or ``""`` when
    it could not be done (logged: runc then sees every root, as before)."""
    storage, home = storage_mounts(data_root, driver)
    os.makedirs(home, mode=0o700, exist_ok=True)
    points = set(mount_points())
    for path in (storage, home):
        if path not in points and any(point.startswith(path + "/") for point in points):
            log.warning("%s holds mounts but is not a mount of its own (containers of an older moord?): "
                        "runc sees every container's root until moord starts with none mounted", path)
            return ""
    try:
        for path in (storage, home):
            if path not in points:
                _mount(path, path, MS_BIND)
            _mount(None, path, MS_PRIVATE)
    except OSError as err:
        log.warning("cannot make %s a private mount of its own (%s): runc sees every container's root",
                    storage, err.strerror)
        return ""
    return home


def release(data_root: str, driver: str) -> None:
    """At moord's stop: unmount the driver's home and the storage root unless something is still mounted in them
    (a running container's root): then they stay for the next moord."""
    storage, home = storage_mounts(data_root, driver)
    points = mount_points()
    if any(point.startswith(storage + "/") and point != home for point in points):
        return
    for path in (home, storage):
        if path in points:
            unmount(path)


def _mount(source: str | None, target: str, flags: int) -> None:
    if _libc.mount(os.fsencode(source) if source else None, os.fsencode(target), None, flags, None) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error), target)
