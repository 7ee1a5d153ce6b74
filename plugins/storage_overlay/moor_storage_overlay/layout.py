"""The on-disk layout of the overlay driver's home, as Docker's overlay2 has it.

::

    <home>/<key>/diff          the layer's content, or a snapshot's upper directory
    <home>/<key>/link          the key's short name (26 characters)
    <home>/<key>/lower         the chain below, top first: ``l/<short>:l/<short>:...``
                               (absent for a base layer or a snapshot without parent)
    <home>/<key>/work          overlayfs work directory (snapshots only: it marks them)
    <home>/<key>/merged        where the key is mounted
    <home>/<key>/tar-split.gz  how to rebuild the applied tar (layers only)
    <home>/l/<short>           symbolic link to ../<key>/diff
    <home>/.empty              an empty directory: the lowest layer of a parentless mount
    <home>/.tmp-*              work in progress: removed when the driver starts

A key is visible only once its directory is renamed into place complete.
"""

from __future__ import annotations

import base64
import os
import re
import secrets

from moor.errors import InvalidParameter, NotFound

KEY_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
RESERVED_KEYS = {"l"}
LINK_DIR = "l"
EMPTY_DIR = ".empty"
TEMP_PREFIX = ".tmp-"
SHORT_NAME_LENGTH = 26
#: the deepest chain of layers under one mount (Docker refuses 126 and more; we allow 127)
MAX_DEPTH = 127


def check_key(key: object) -> str:
    """``key`` when it is a usable name; :class:`InvalidParameter` otherwise."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key) or key in RESERVED_KEYS:
        raise InvalidParameter(
            f"invalid storage key {key!r}: use 1 to 128 of [a-zA-Z0-9_.-], not starting with '.' or '-'"
        )
    return key


def new_short_name() -> str:
    """A random name like Docker's: 26 characters of base32."""
    return base64.b32encode(secrets.token_bytes(16)).decode()[:SHORT_NAME_LENGTH]


class Layout:
    """Paths and small files under the driver's home."""

    def __init__(self, home: str) -> None:
        self.home = os.path.realpath(home)
        self.links = os.path.join(self.home, LINK_DIR)
        self.empty = os.path.join(self.home, EMPTY_DIR)

    def dir(self, key: str) -> str:
        return os.path.join(self.home, key)

    def diff(self, key: str) -> str:
        return os.path.join(self.home, key, "diff")

    def merged(self, key: str) -> str:
        return os.path.join(self.home, key, "merged")

    def exists(self, key: str) -> bool:
        return os.path.isdir(os.path.join(self.home, key, "diff"))

    def is_snapshot(self, key: str) -> bool:
        return os.path.isdir(os.path.join(self.home, key, "work"))

    def require(self, key: str) -> None:
        if not self.exists(key):
            raise NotFound(f"no storage layer or snapshot {key!r}")

    def short_name(self, key: str) -> str:
        with open(os.path.join(self.home, key, "link")) as handle:
            return handle.read().strip()

    def lower(self, key: str) -> list[str]:
        """The chain below ``key`` as ``l/<short>`` entries, top first."""
        try:
            with open(os.path.join(self.home, key, "lower")) as handle:
                text = handle.read().strip()
        except FileNotFoundError:
            return []
        return text.split(":") if text else []

    def chain(self, key: str) -> list[str]:
        """``key``'s own ``l/<short>`` followed by its lower chain: every layer of a layer's view."""
        return [f"{LINK_DIR}/{self.short_name(key)}"] + self.lower(key)

    def layer_dirs(self, entries: list[str]) -> list[str]:
        """Absolute ``diff`` directories of ``l/<short>`` entries."""
        return [os.path.realpath(os.path.join(self.home, entry)) for entry in entries]

    def complete_keys(self) -> list[str]:
        """Every complete key."""
        try:
            names = os.listdir(self.home)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if KEY_PATTERN.fullmatch(n) and n not in RESERVED_KEYS and self.exists(n))

    def users_of(self, key: str) -> list[str]:
        """The keys whose chain includes ``key``."""
        entry = f"{LINK_DIR}/{self.short_name(key)}"
        return [other for other in self.complete_keys() if other != key and entry in self.lower(other)]
