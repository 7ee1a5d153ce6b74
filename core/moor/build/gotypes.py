"""Go's number and duration parsing with Go's exact error messages (Docker reports them verbatim)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from moor.errors import InvalidParameter

#: the unit suffixes of Go's time.ParseDuration, in nanoseconds
GO_DURATION_UNITS: Mapping[str, int] = {
    "ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
    "m": 60_000_000_000, "h": 3_600_000_000_000}
_PART = re.compile(r"([0-9]*)(\.[0-9]*)?([^0-9.]*)")
_MAX_INT64 = (1 << 63) - 1


def _quote(text: str) -> str:
    """Go's strconv.Quote, close enough for messages (JSON escaping, non-ASCII kept)."""
    return json.dumps(text, ensure_ascii=False)


def go_parse_duration(text: str, units: Mapping[str, int] = GO_DURATION_UNITS) -> int:
    """Nanoseconds in a Go duration (``1h30m``, ``1.5s``, ``-2ms``, ``0``) as time.ParseDuration reads it
    (``units``: the unit suffixes known, in nanoseconds; compose adds days and weeks).

    Raises ``InvalidParameter`` with Go's message: ``time: invalid duration "x"``, ``time: missing unit in
    duration "1"``, ``time: unknown unit "x" in duration "1x"``.
    """
    original = text
    invalid = InvalidParameter(f"time: invalid duration {_quote(original)}")
    negative = False
    if text[:1] in ("-", "+"):
        negative = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0
    if text == "":
        raise invalid
    total = 0
    while text:
        match = _PART.match(text)
        if match is None:  # pragma: no cover - the pattern matches the empty string
            raise invalid
        whole, fraction, unit = match.group(1), match.group(2) or "", match.group(3)
        if not whole and len(fraction) <= 1:
            raise invalid
        if not unit:
            raise InvalidParameter(f"time: missing unit in duration {_quote(original)}")
        if unit not in units:
            raise InvalidParameter(f"time: unknown unit {_quote(unit)} in duration {_quote(original)}")
        scale = units[unit]
        value = int(whole or "0") * scale
        if fraction[1:]:
            value += int(fraction[1:]) * scale // (10 ** len(fraction[1:]))
        total += value
        if total > _MAX_INT64 + (1 if negative else 0):
            raise invalid
        text = text[len(whole) + len(fraction) + len(unit):]
    return -total if negative else total


def go_parse_int(text: str, bits: int = 64) -> int:
    """A base-10 integer as strconv.ParseInt(text, 10, bits) reads it, with its error messages."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise InvalidParameter(f'strconv.ParseInt: parsing {_quote(text)}: invalid syntax')
    value = int(text)
    if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
        raise InvalidParameter(f'strconv.ParseInt: parsing {_quote(text)}: value out of range')
    return value
