"""``RUN --mount`` (BuildKit's syntax on the classic API): what each mount becomes for the step's container.

- ``cache``: a directory kept between builds (:meth:`BuildCache.mount_dir`, under
  ``<data_root>/build/cache-mounts``), shared, locked or private as asked, bound read-write;
- ``bind``: a path of the context, or of a stage's or image's files (``from=``), bound read-only; with ``rw``
  a private copy is bound instead (the step's writes are discarded, as BuildKit does);
- ``tmpfs``: a tmpfs of the given size;
- ``secret``: the build's secret ``id`` (``BuildOptions.secrets``) in a file of the build's temp directory,
  bound read-only at ``/run/secrets/<id>`` (or the target); a missing one is skipped, or refused when
  ``required``.

The mount points never reach the step's layer (:mod:`moor.services.build.layerfilter`).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moor.build.runmount import RunMount
from moor.driverapi import StorageDriver
from moor.errors import InvalidParameter, MoorError
from moor.images.store import ImageRecord
from moor.services.build.cache import BuildSession
from moor.services.build.rootfs import mounted, resolve_in_root

#: Where a secret goes when its mount names no target.
SECRETS_DIR = "/run/secrets"


@dataclass
class PreparedMounts:
    """What a RUN's container gets: HostConfig ``Mounts`` and ``Tmpfs``, and every target (kept out of its layer)."""

    mounts: list[dict[str, Any]] = field(default_factory=list)
    tmpfs: dict[str, str] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)

    def host_config(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.mounts:
            result["Mounts"] = list(self.mounts)
        if self.tmpfs:
            result["Tmpfs"] = dict(self.tmpfs)
        return result


class MountPlanner:
    """Prepares a RUN step's mounts; everything it takes (leases, mounts, temp files) goes with ``stack``."""

    def __init__(self, cache: BuildSession, storage: StorageDriver, context_root: str, work_dir: str,
                 secrets: dict[str, bytes], image_of: Callable[[str], ImageRecord | None],
                 cancelled: Callable[[], bool]) -> None:
        self.cache = cache
        self.storage = storage
        self.context_root = context_root
        self.work_dir = work_dir
        self.secrets = secrets
        self.image_of = image_of
        self.cancelled = cancelled

    def prepare(self, mounts: list[RunMount], workdir: str, stack: contextlib.ExitStack) -> PreparedMounts:
        prepared = PreparedMounts()
        for mount in mounts:
            if mount.type not in ("cache", "bind", "tmpfs", "secret"):
                raise InvalidParameter(f"unsupported mount type {mount.type!r}: moor's builder has no {mount.type} "
                                       "mounts (bind, cache, tmpfs and secret are)")
            target = self._target(mount, workdir)
            if mount.type == "cache":
                lease = stack.enter_context(self.cache.mount_dir(
                    mount.id or target, mount.sharing or "shared", 0o755 if mount.mode is None else mount.mode,
                    mount.uid or 0, mount.gid or 0, self.cancelled))
                prepared.mounts.append(_bind(lease.path, target, mount.readonly))
            elif mount.type == "bind":
                source = self._bind_source(mount, stack)
                prepared.mounts.append(_bind(source, target, mount.readonly))
            elif mount.type == "tmpfs":
                prepared.tmpfs[target] = f"size={mount.size}" if mount.size else ""
            else:
                path = self._secret(mount, stack)
                if path is None:
                    continue
                prepared.mounts.append(_bind(path, target, True))
            prepared.targets.append(target)
        return prepared

    @staticmethod
    def _target(mount: RunMount, workdir: str) -> str:
        target = mount.target
        if mount.type == "secret" and not target:
            if not mount.id:
                raise InvalidParameter("secret mount requires an id or a target")
            target = posixpath.join(SECRETS_DIR, mount.id)
        if not target:
            raise InvalidParameter("mount target must be specified")
        return posixpath.normpath(posixpath.join("/", workdir or "/", target))

    def _bind_source(self, mount: RunMount, stack: contextlib.ExitStack) -> str:
        """The host path a bind mount shows: inside the context, or a stage's or image's files; a private copy
        of it when the step may write."""
        root: str | None = self.context_root
        if mount.from_:
            image = self.image_of(mount.from_)
            root = stack.enter_context(mounted(self.storage, image.top_layer if image is not None else None))
            if root is None:
                root = stack.enter_context(tempfile.TemporaryDirectory(dir=self.work_dir))
        assert root is not None
        source = resolve_in_root(root, mount.source or "/")
        if not os.path.lexists(source):
            raise InvalidParameter(f'failed to compute cache key: "/{(mount.source or "").lstrip("/")}" not found: '
                                   "not found")
        if mount.readonly:
            return source
        copy_dir = stack.enter_context(tempfile.TemporaryDirectory(dir=self.work_dir))
        copied = os.path.join(copy_dir, "source")
        try:
            if os.path.isdir(source):
                shutil.copytree(source, copied, symlinks=True)
            else:
                shutil.copy2(source, copied)
        except (OSError, shutil.Error) as err:
            raise MoorError(f"cannot copy the bind mount's source {mount.source or '/'}: {err}") from None
        return copied

    def _secret(self, mount: RunMount, stack: contextlib.ExitStack) -> str | None:
        ident = mount.id or posixpath.basename(mount.target)
        content = self.secrets.get(ident)
        if content is None:
            if mount.required:
                raise InvalidParameter(f"secret {ident}: not found")
            return None
        directory = stack.enter_context(tempfile.TemporaryDirectory(dir=self.work_dir))
        path = os.path.join(directory, "secret")
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        os.chown(path, mount.uid or 0, mount.gid or 0)
        os.chmod(path, 0o400 if mount.mode is None else mount.mode)
        return path


def _bind(source: str, target: str, readonly: bool) -> dict[str, Any]:
    return {"Type": "bind", "Source": source, "Target": target, "ReadOnly": readonly}
