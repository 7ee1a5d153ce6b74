"""Address checks shared by the CLI and the daemon (light: the CLI imports it)."""

from __future__ import annotations

import re

from moor.errors import InvalidParameter

_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}\Z")


def check_mac_address(text: str) -> str:
    """A container's ``MacAddress`` (six bytes, ``:`` or ``-`` separated) in lower-case colon form.

    :raises InvalidParameter: not such an address, or a multicast one (no interface can use it).
    """
    if not _MAC.match(text):
        raise InvalidParameter(f"{text} is not a valid mac address")
    if int(text[:2], 16) & 1:
        raise InvalidParameter(f"{text} is not a valid mac address: a container cannot use a multicast address")
    return text.lower().replace("-", ":")
