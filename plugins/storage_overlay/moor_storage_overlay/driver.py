"""The ``overlay`` storage driver (layers and snapshots come with the images issue)."""

from __future__ import annotations

import os
from typing import IO

from moor import hookimpl
from moor.errors import InvalidParameter, Unavailable
from moor.types import Change, DriverContext, Mount

from moor_storage_overlay.backing import backing_filesystem, supports_d_type


class OverlayDriver:
    """Image layers as overlayfs lower directories, a container's layer as upper."""

    def __init__(self, context: DriverContext) -> None:
        if context.options:
            raise InvalidParameter(f"unknown option {next(iter(context.options))!r} for the overlay storage driver")
        self.home = context.home
        os.makedirs(self.home, mode=0o700, exist_ok=True)

    @hookimpl
    def moor_storage_status(self) -> list[tuple[str, str]]:
        return [
            ("Backing Filesystem", backing_filesystem(self.home)),
            ("Supports d_type", "true" if supports_d_type(self.home) else "false"),
            ("Native Overlay Diff", "true"),
        ]

    def _todo(self) -> Unavailable:
        return Unavailable("the overlay driver cannot store layers yet")

    @hookimpl
    def moor_storage_apply_layer(self, key: str, parent: str | None, diff: IO[bytes]) -> int:
        raise self._todo()

    @hookimpl
    def moor_storage_prepare(self, key: str, parent: str | None, readonly: bool) -> list[Mount]:
        raise self._todo()

    @hookimpl
    def moor_storage_mounts(self, key: str) -> list[Mount]:
        raise self._todo()

    @hookimpl
    def moor_storage_remove(self, key: str) -> bool:
        return False

    @hookimpl
    def moor_storage_exists(self, key: str) -> bool:
        return False

    @hookimpl
    def moor_storage_diff(self, key: str) -> IO[bytes]:
        raise self._todo()

    @hookimpl
    def moor_storage_changes(self, key: str) -> list[Change]:
        raise self._todo()

    @hookimpl
    def moor_storage_usage(self, key: str) -> int:
        return 0
