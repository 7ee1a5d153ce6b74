"""Facts about the filesystem that holds the layers: its type and d_type support."""

from __future__ import annotations

import ctypes
import os
import tempfile

# statfs f_type magic numbers -> the names Docker prints as "Backing Filesystem"
FS_NAMES = {
    0xEF53: "extfs",
    0x58465342: "xfs",
    0x9123683E: "btrfs",
    0x01021994: "tmpfs",
    0x794C7630: "overlayfs",
    0x2FC12FC1: "zfs",
    0x65735546: "fuse",
    0x6969: "nfs",
}


def backing_filesystem(path: str) -> str:
    """The type of the filesystem holding ``path``, from /proc/self/mountinfo's longest prefix."""
    path = os.path.realpath(path)
    best, fs_type = "", "unknown"
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            mount_point = fields[4].replace("\\040", " ")
            separator = fields.index("-")
            inside = path == mount_point or path.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best):
                best, fs_type = mount_point, fields[separator + 1]
    return {"ext4": "extfs", "ext3": "extfs", "ext2": "extfs"}.get(fs_type, fs_type)


class _Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64), ("d_reclen", ctypes.c_ushort),
                ("d_type", ctypes.c_ubyte), ("d_name", ctypes.c_char * 256)]


DT_UNKNOWN = 0


def supports_d_type(path: str) -> bool:
    """Whether readdir on ``path``'s filesystem reports entry types (overlayfs needs it).

    CPython's scandir hides DT_UNKNOWN behind an lstat, so this asks libc's readdir.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.opendir.restype = ctypes.c_void_p
    libc.readdir.restype = ctypes.POINTER(_Dirent)
    libc.readdir.argtypes = [ctypes.c_void_p]
    libc.closedir.argtypes = [ctypes.c_void_p]
    with tempfile.TemporaryDirectory(dir=path, prefix=".d_type-") as probe:
        open(os.path.join(probe, "f"), "w").close()
        handle = libc.opendir(os.fsencode(probe))
        if not handle:
            return False
        try:
            while True:
                entry = libc.readdir(handle)
                if not entry:
                    return False
                if entry.contents.d_name == b"f":
                    return entry.contents.d_type != DT_UNKNOWN
        finally:
            libc.closedir(handle)
