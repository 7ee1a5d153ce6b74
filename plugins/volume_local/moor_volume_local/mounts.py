"""Mounting a volume's device over its ``_data`` with mount(8), unmounting with umount2(2)."""

from __future__ import annotations

import os
import stat
import subprocess

from moor import mountinfo
from moor.errors import MoorError
from moor.mountinfo import is_mounted, mounts_under
from moor_volume_local.options import MountOptions

__all__ = ["is_mounted", "mount", "mounts_under", "unmount"]


def mount(options: MountOptions, target: str) -> None:
    """``mount -t TYPE -o O DEVICE TARGET``; the target must be a real directory (never a symlink)."""
    info = os.lstat(target)
    if not stat.S_ISDIR(info.st_mode):
        raise MoorError(f"cannot mount volume on {target}: not a directory")
    command = ["mount", "--no-canonicalize", "-t", options.type]
    if options.data:
        command += ["-o", options.data]
    command += ["--", options.device, target]
    try:
        result = subprocess.run(command, capture_output=True, env=dict(os.environ, LC_ALL="C"), timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise MoorError(f"error while mounting volume '{target}': {err}") from None
    if result.returncode != 0:
        reason = " ".join(result.stderr.decode(errors="replace").split()) or f"mount exited with {result.returncode}"
        raise MoorError(f"error while mounting volume '{target}': {reason}")


def unmount(path: str) -> None:
    """Unmount a volume's ``_data`` (lazily when busy); not mounted is fine."""
    mountinfo.unmount(path, "volume")
