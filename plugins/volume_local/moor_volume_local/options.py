"""The local driver's volume options (``-o type=... -o device=... -o o=...``), checked as Docker's are.

``type``, ``device`` and ``o`` describe a mount made over the volume's
``_data`` directory the first time a container uses it (``type=tmpfs
device=tmpfs o=size=100m``; ``type=none device=/srv/x o=bind`` for a host
directory). ``device`` and ``type`` go together, and ``o`` needs both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from moor.errors import InvalidParameter

VALID_KEYS = ("type", "device", "o", "size")
#: option -> the options it cannot go without
REQUIRES = {"device": ("type",), "type": ("device",), "o": ("device", "type")}


@dataclass(frozen=True)
class MountOptions:
    """What to mount over ``_data``; nothing when ``type`` is empty."""

    type: str = ""
    device: str = ""
    data: str = ""

    @property
    def needs_mount(self) -> bool:
        return bool(self.type or self.device)

    @property
    def is_bind(self) -> bool:
        return "bind" in self.data.split(",") or "rbind" in self.data.split(",")


def parse_options(options: dict[str, str]) -> MountOptions:
    """Validate a volume's options; raise :class:`InvalidParameter` in Docker's words."""
    for key, value in options.items():
        if key not in VALID_KEYS:
            raise InvalidParameter(f'invalid option: "{key}"')
        if "\x00" in str(value) or "\n" in str(value):
            raise InvalidParameter(f'invalid option value for "{key}": {value!r}')
    for key, needed in REQUIRES.items():
        if key in options:
            for other in needed:
                if other not in options:
                    raise InvalidParameter(f'missing required option: "{other}"')
    if "size" in options:
        raise InvalidParameter("quota size requested but no quota support")
    result = MountOptions(type=options.get("type", ""), device=options.get("device", ""), data=options.get("o", ""))
    if result.needs_mount and not result.type:
        raise InvalidParameter('missing required option: "type"')
    if result.needs_mount and not result.device:
        raise InvalidParameter('missing required option: "device"')
    if result.is_bind and not os.path.isabs(result.device):
        raise InvalidParameter(f"invalid bind device {result.device!r}: must be an absolute path")
    return result
