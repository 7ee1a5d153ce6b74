"""Sizes as Docker reads and writes them: ``64m``, ``1g``, ``512k``, ``100`` in; ``1.23MB``, ``15.62MiB`` out."""

from __future__ import annotations

import re

from moor.errors import InvalidParameter

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str, what: str = "size") -> int:
    """Parse a size with an optional binary unit suffix; raise InvalidParameter naming ``what``."""
    match = _PATTERN.match(text)
    if not match:
        raise InvalidParameter(f"invalid {what}: '{text}'")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.lower()])


#: go-units' decimal and binary unit names, as Docker's CLI prints sizes.
DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def custom_size(size: float, base: float, units: tuple[str, ...], precision: int) -> str:
    """go-units' CustomSize: ``size`` divided by ``base`` until it is below it, ``precision`` significant digits."""
    value = float(size)
    index = 0
    while value >= base and index < len(units) - 1:
        value /= base
        index += 1
    return f"{value:.{precision}g}{units[index]}"


def human_size(size: float, precision: int = 4) -> str:
    """go-units' HumanSizeWithPrecision: decimal units (``1.23MB``); Docker's CLI tables ask for 3 digits."""
    return custom_size(size, 1000.0, DECIMAL_UNITS, precision)


def bytes_size(size: float) -> str:
    """go-units' BytesSize: binary units, 4 significant digits (``15.62MiB``), as ``docker stats`` shows memory."""
    return custom_size(size, 1024.0, BINARY_UNITS, 4)
