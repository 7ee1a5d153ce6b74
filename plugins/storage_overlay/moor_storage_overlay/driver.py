"""The ``overlay`` storage driver: image layers as overlayfs lower directories.

Layers (read-only, made from a tar by :meth:`OverlayDriver.moor_storage_apply_layer`)
and snapshots (a container's writable layer, made by ``prepare``) live side by
side under the driver's home, laid out as Docker's overlay2 does (see
:mod:`moor_storage_overlay.layout`). The driver mounts them itself: a snapshot
as an overlay with its own upper directory, a layer as a read-only overlay of
its chain (the root filesystem of an image whose top layer it is).

Keys are 1 to 128 characters of ``[A-Za-z0-9_.-]`` not starting with ``.`` or
``-`` (chain IDs without ``sha256:``, container IDs); ``l`` is reserved.
A chain holds at most 127 layers.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from typing import IO

from moor import hookimpl
from moor.errors import Conflict, InvalidParameter, MoorError, NotFound, Unavailable
from moor.fsutil import fsync_dir
from moor.types import Change, DriverContext
from moor_storage_overlay.apply import LayerExtractor
from moor_storage_overlay.backing import backing_filesystem, supports_d_type
from moor_storage_overlay.changes import list_changes
from moor_storage_overlay.disk import syncfs, usage
from moor_storage_overlay.export import export_directory
from moor_storage_overlay.layout import (
    EMPTY_DIR,
    LINK_DIR,
    MAX_DEPTH,
    TEMP_PREFIX,
    Layout,
    check_key,
    new_short_name,
)
from moor_storage_overlay.mounts import (
    MountCounter,
    mount_overlay,
    mounts_under,
    unmount,
    unmount_all_under,
)
from moor_storage_overlay.reaper import Reaper
from moor_storage_overlay.stream import chunk_stream
from moor_storage_overlay.tarsplit import FILE_NAME as TAR_SPLIT
from moor_storage_overlay.tarsplit import TarSplitWriter, reassemble

log = logging.getLogger(__name__)

#: overlay features that would make an upper directory unreadable as a plain diff
_FEATURES_TO_DISABLE = ("index", "metacopy", "redirect_dir")


def _disabled_features() -> str:
    """``,index=off,...`` for the features this kernel enables by default."""
    extra = ""
    for feature in _FEATURES_TO_DISABLE:
        try:
            with open(f"/sys/module/overlay/parameters/{feature}") as handle:
                if handle.read().strip() in ("Y", "on"):
                    extra += f",{feature}=off"
        except OSError:
            continue
    return extra


#: in a layer applied with ``durable=False`` (a container's init layer): its removal is not synced either
UNSYNCED_MARK = "unsynced"

#: how long a read of the mount table serves removals (seconds; see OverlayDriver._mount_points_in)
TABLE_TTL = 1.0


class OverlayDriver:
    """Image layers as overlayfs lower directories, a container's layer as upper."""

    def __init__(self, context: DriverContext) -> None:
        if context.options:
            raise InvalidParameter(f"unknown option {next(iter(context.options))!r} for the overlay storage driver")
        os.makedirs(context.home, mode=0o700, exist_ok=True)
        self.layout = Layout(context.home)
        self.home = self.layout.home
        os.makedirs(self.layout.links, mode=0o700, exist_ok=True)
        os.makedirs(self.layout.empty, mode=0o755, exist_ok=True)
        self._tree = threading.RLock()  # creating, renaming into place and removing keys
        #: ``l/<short>`` -> the keys whose lower chain holds it (who uses a layer), read from every key's ``lower``
        #: on first need and kept while only removals happen (a removal of 1000 containers reads it once, not
        #: once per removal); a new key drops it. Under ``_tree``.
        self._users: dict[str, set[str]] | None = None
        self._mounts = MountCounter()
        #: the mount points under ``home`` as last read from the mount table: (when, the points), see
        #: :meth:`_mount_points_in`. Under ``_tree``.
        self._table: tuple[float, list[str]] | None = None
        #: deletes the directories of removed container layers (see :mod:`moor_storage_overlay.reaper`)
        self._reaper = Reaper()
        self._snapshot_options = _disabled_features()
        self._clean_leftovers()

    # ------------------------------------------------------------------ start-up

    def _clean_leftovers(self) -> None:
        """Remove interrupted work: temporary directories and links to nothing; restore lost links."""
        for name in os.listdir(self.home):
            if name.startswith(TEMP_PREFIX):
                path = os.path.join(self.home, name)
                log.info("removing the leftover %s", path)
                unmount_all_under(path)
                shutil.rmtree(path, ignore_errors=True)
        for name in os.listdir(self.layout.links):
            path = os.path.join(self.layout.links, name)
            if not os.path.exists(path):
                os.unlink(path)
        for key in self.layout.complete_keys():
            try:
                short = self.layout.short_name(key)
            except OSError:
                continue
            link = os.path.join(self.layout.links, short)
            if not os.path.lexists(link):
                os.symlink(f"../{key}/diff", link)
        self._unmount_image_layers()
        fsync_dir(self.home)

    def _unmount_image_layers(self) -> None:
        """Image layers are mounted (read-only) only for the time one request reads them (a build, a copy out of
        an image): one still mounted at start was left by a moord that was killed, and nobody uses it now.
        Snapshots stay mounted: their containers may still run."""
        for path in mounts_under(self.home):
            key_dir, name = os.path.split(path)
            if name != "merged" or os.path.dirname(key_dir) != self.home:
                continue
            key = os.path.basename(key_dir)
            if not self.layout.is_snapshot(key):
                log.info("unmounting the leftover image layer mount %s", path)
                unmount(path)

    # ------------------------------------------------------------------ status

    @hookimpl
    def moor_storage_status(self) -> list[tuple[str, str]]:
        backing = backing_filesystem(self.home)
        if backing in ("overlay", "overlayfs"):
            raise Unavailable(f"the overlay storage driver cannot keep its layers on overlayfs ({self.home})")
        if not supports_d_type(self.home):
            raise Unavailable(
                f"the {backing} filesystem holding {self.home} does not report file types (d_type): "
                "overlayfs would misbehave on it"
            )
        return [
            ("Backing Filesystem", backing),
            ("Supports d_type", "true"),
            ("Native Overlay Diff", "true"),
        ]

    # ------------------------------------------------------------------ creating

    def _chain_below(self, parent: str | None) -> list[str]:
        """The ``l/<short>`` chain a child of ``parent`` sits on (its ``lower`` file)."""
        if parent is None:
            return []
        check_key(parent)
        if not self.layout.exists(parent):
            raise NotFound(f"parent layer {parent!r} not found")
        if self.layout.is_snapshot(parent):
            raise InvalidParameter(f"{parent!r} is a container snapshot, not a layer: nothing can sit on it")
        return self.layout.chain(parent)

    def _new_key_dir(self, key: str) -> tuple[str, str, str]:
        """A temporary directory for ``key`` and its short link (dangling until the rename)."""
        temp = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{key}-", dir=self.home)
        while True:
            short = new_short_name()
            link = os.path.join(self.layout.links, short)
            try:
                os.symlink(f"../{key}/diff", link)
                return temp, short, link
            except FileExistsError:
                continue

    def _write_meta(self, temp: str, short: str, lower: list[str], fsync: bool = True) -> None:
        """The ``link`` and ``lower`` files, each fsynced unless ``fsync`` is false (a layer's apply: the
        syncfs before its rename into place makes them durable with its content, in one journal commit)."""
        files = {"link": short, "lower": ":".join(lower)} if lower else {"link": short}
        for name, text in files.items():
            with open(os.path.join(temp, name), "w") as handle:
                handle.write(text)
                if fsync:
                    handle.flush()
                    os.fsync(handle.fileno())

    def _publish(self, key: str, parent: str | None, temp: str, durable: bool = True) -> None:
        """Rename the complete ``temp`` into place (under the tree lock, after the last checks); with ``durable``
        the rename is on disk when this returns."""
        if self.layout.exists(key):
            raise Conflict(f"storage key {key!r} exists already")
        if parent is not None and not self.layout.exists(parent):
            raise NotFound(f"parent layer {parent!r} was removed meanwhile")
        os.rename(temp, self.layout.dir(key))
        self._users = None
        if durable:
            fsync_dir(self.home)
            fsync_dir(self.layout.links)

    def _unsynced_mark(self, key: str) -> str:
        """The file that marks a layer applied with ``durable=False``."""
        return os.path.join(self.layout.dir(key), UNSYNCED_MARK)

    def _discard(self, temp: str, link: str | None) -> None:
        if link is not None and os.path.lexists(link):
            os.unlink(link)
        shutil.rmtree(temp, ignore_errors=True)

    @hookimpl
    def moor_storage_apply_layer(self, key: str, parent: str | None, diff: IO[bytes], durable: bool = True) -> int:
        check_key(key)
        with self._tree:
            if self.layout.exists(key):
                raise Conflict(f"layer {key!r} exists already")
            lower = self._chain_below(parent)
            if len(lower) + 1 > MAX_DEPTH:
                raise InvalidParameter(
                    f"max depth exceeded: layer {key!r} would be layer {len(lower) + 1} of its chain; "
                    f"the overlay driver allows {MAX_DEPTH}"
                )
        temp: str | None = None
        link: str | None = None
        try:
            temp, short, link = self._new_key_dir(key)
            os.mkdir(os.path.join(temp, "diff"), 0o755)
            os.mkdir(os.path.join(temp, "merged"), 0o700)
            self._write_meta(temp, short, lower, fsync=False)
            size = self._extract(temp, diff)
            if size is None:
                size = usage(os.path.join(temp, "diff"))
            if durable:
                syncfs(temp)
            else:
                open(os.path.join(temp, UNSYNCED_MARK), "w").close()
            with self._tree:
                self._publish(key, parent, temp, durable)
            return size
        except OSError as err:
            raise MoorError(f"cannot store layer {key!r}: {err.strerror or err}") from None
        finally:
            if temp is not None and os.path.exists(temp):
                self._discard(temp, link)

    def _extract(self, temp: str, diff: IO[bytes]) -> int | None:
        """Apply ``diff`` in ``temp``; return the layer's usage when the apply could count it."""
        writer = TarSplitWriter(os.path.join(temp, TAR_SPLIT))
        extractor = LayerExtractor(temp, writer)
        try:
            extractor.run(diff)
            writer.close()
            return extractor.usage
        except BaseException:
            writer.abort()
            raise
        finally:
            extractor.close()

    @hookimpl
    def moor_storage_prepare(self, key: str, parent: str | None) -> bool:
        check_key(key)
        temp: str | None = None
        link: str | None = None
        with self._tree:
            if self.layout.exists(key):
                raise Conflict(f"snapshot {key!r} exists already")
            lower = self._chain_below(parent)
            if len(lower) > MAX_DEPTH:
                raise InvalidParameter(
                    f"max depth exceeded: {parent!r} has {len(lower)} layers; the overlay driver mounts {MAX_DEPTH}"
                )
            try:
                temp, short, link = self._new_key_dir(key)
                os.mkdir(os.path.join(temp, "diff"), 0o755)
                os.mkdir(os.path.join(temp, "work"), 0o700)
                os.mkdir(os.path.join(temp, "merged"), 0o700)
                # a container's writable layer is not synced, as Docker's overlay2 does not sync it
                self._write_meta(temp, short, lower, fsync=False)
                self._publish(key, parent, temp, durable=False)
            except OSError as err:
                raise MoorError(f"cannot create snapshot {key!r}: {err.strerror or err}") from None
            finally:
                if temp is not None and os.path.exists(temp):
                    self._discard(temp, link)
        return True

    # ------------------------------------------------------------------ mounting

    @hookimpl
    def moor_storage_mount(self, key: str) -> str:
        check_key(key)
        self.layout.require(key)
        target = self.layout.merged(key)
        with self._mounts.lock(key):
            count = self._mounts.counts.get(key, 0)
            if count == 0 and not os.path.ismount(target):  # an overlay has a device of its own: no table read
                self._mount(key, target)
            self._mounts.counts[key] = count + 1
        return target

    def _mount(self, key: str, target: str) -> None:
        os.makedirs(target, mode=0o700, exist_ok=True)
        if self.layout.is_snapshot(key):
            lowers = self.layout.lower(key) or [EMPTY_DIR]
            data = (f"lowerdir={':'.join(lowers)},upperdir={key}/diff,workdir={key}/work"
                    f"{self._snapshot_options}")
            mount_overlay(self.home, data, target, read_only=False)
        else:
            lowers = self.layout.chain(key)
            if len(lowers) == 1:  # overlay needs two lower layers when it has no upper
                lowers.append(EMPTY_DIR)
            mount_overlay(self.home, f"lowerdir={':'.join(lowers)}", target, read_only=True)

    @hookimpl
    def moor_storage_unmount(self, key: str) -> bool:
        check_key(key)
        target = self.layout.merged(key)
        with self._mounts.lock(key):
            count = self._mounts.counts.get(key, 0)
            if count > 1:
                self._mounts.counts[key] = count - 1
                return False
            self._mounts.counts.pop(key, None)
            if not os.path.ismount(target):
                return False
            unmount(target)
            return True

    # ------------------------------------------------------------------ removing

    def _users_of(self, key: str) -> list[str]:
        """The keys whose chain includes ``key`` (as :meth:`Layout.users_of`, from the index). Under ``_tree``."""
        if self._users is None:
            index: dict[str, set[str]] = {}
            for other in self.layout.complete_keys():
                for entry in self.layout.lower(other):
                    index.setdefault(entry, set()).add(other)
            self._users = index
        try:
            entry = f"{LINK_DIR}/{self.layout.short_name(key)}"
        except OSError:
            return self.layout.users_of(key)
        return sorted(self._users.get(entry, set()) - {key})

    def _mount_points_in(self, key: str) -> list[str]:
        """The mount points in ``key``'s directory, deepest first, taken out of the cached table (under ``_tree``
        and the key's mount lock).

        The mount table is read at most once per :data:`TABLE_TTL`: with a thousand containers each read costs the
        kernel and us milliseconds, and ``run --rm`` read it for each of its two layers, ``rm`` of a thousand
        containers two thousand times. What this driver mounts in a key's directory is its overlay on ``merged``,
        which has a device of its own: checked with a stat at each removal, whatever the table says. The table is
        for mounts made there by others (a container's mount propagated to the host): those end with the
        container (its exit detaches its root with everything under it), well before its removal."""
        now = time.monotonic()
        if self._table is None or now - self._table[0] > TABLE_TTL:
            self._table = (now, mounts_under(self.home))
        directory = self.layout.dir(key).rstrip("/")
        found = [point for point in self._table[1] if point == directory or point.startswith(directory + "/")]
        merged = self.layout.merged(key)
        if merged not in found and os.path.ismount(merged):
            found.insert(0, merged)
        self._table[1][:] = [point for point in self._table[1] if point not in found]
        return found

    @hookimpl
    def moor_storage_remove(self, key: str) -> bool:
        check_key(key)
        with self._tree:
            if not self.layout.exists(key):
                return False
            users = self._users_of(key)
            if users:
                raise Conflict(f"storage layer {key!r} is in use by {', '.join(users[:5])}")
            try:
                short = self.layout.short_name(key)
            except OSError:
                short = None
            with self._mounts.lock(key):
                self._mounts.counts.pop(key, None)
                for path in self._mount_points_in(key):
                    unmount(path)
                trash = os.path.join(self.home, f"{TEMP_PREFIX}rm-{key}-{secrets.token_hex(6)}")
                lower = self.layout.lower(key)
                # a container's layers were never synced: their removal need not be either
                durable = not self.layout.is_snapshot(key) and not os.path.exists(self._unsynced_mark(key))
                try:
                    os.rename(self.layout.dir(key), trash)
                    if self._users is not None:
                        for entry in lower:
                            self._users.get(entry, set()).discard(key)
                    if short is not None and os.path.lexists(os.path.join(self.layout.links, short)):
                        os.unlink(os.path.join(self.layout.links, short))
                    if durable:
                        fsync_dir(self.home)
                except OSError as err:
                    raise MoorError(f"cannot remove {key!r}: {err.strerror or err}") from None
        if durable:
            shutil.rmtree(trash, onerror=_log_removal_error)
        else:  # a container's layers: the key is gone already, its files go on the reaper's thread
            self._reaper.delete(trash)
        return True

    def wait_for_removals(self, timeout: float | None = None) -> bool:
        """Wait until the files of every layer removed so far are deleted (they are, soon after each removal, on
        a thread of their own); False when ``timeout`` ran out first. For tests and tools that look at the disk."""
        return self._reaper.wait(timeout)

    # ------------------------------------------------------------------ reading

    @hookimpl
    def moor_storage_exists(self, key: str) -> bool:
        check_key(key)
        return self.layout.exists(key)

    @hookimpl
    def moor_storage_diff(self, key: str) -> IO[bytes]:
        check_key(key)
        self.layout.require(key)
        layer_dir = self.layout.dir(key)
        if not self.layout.is_snapshot(key) and os.path.exists(os.path.join(layer_dir, TAR_SPLIT)):
            return chunk_stream(reassemble(layer_dir, f"layer {key!r}"))
        return chunk_stream(export_directory(self.layout.diff(key), f"{key!r}"))

    @hookimpl
    def moor_storage_changes(self, key: str) -> list[Change]:
        check_key(key)
        self.layout.require(key)
        try:
            lowers = self.layout.layer_dirs(self.layout.lower(key))
            return list_changes(self.layout.diff(key), lowers)
        except OSError as err:
            raise MoorError(f"cannot list the changes of {key!r}: {err.strerror or err}") from None

    @hookimpl
    def moor_storage_usage(self, key: str) -> int:
        check_key(key)
        self.layout.require(key)
        return usage(self.layout.diff(key))


def _log_removal_error(function: object, path: str, exc_info: object) -> None:
    log.warning("could not remove %s while removing a storage key (cleared at the next start)", path)

