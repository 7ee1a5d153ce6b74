"""Sizes as Docker writes them: ``64m``, ``1g``, ``512k``, ``100``."""

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


def human_size(size: float, precision: int = 4) -> str:
    """Decimal units with ``precision`` significant digits, as Docker's CLI prints sizes (``1.23MB``)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    index = 0
    while size >= 1000 and index < len(units) - 1:
        size /= 1000.0
        index += 1
    return f"{size:.{precision}g}{units[index]}"
