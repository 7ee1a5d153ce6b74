"""Times as Docker and Go write and read them: RFC 3339 stamps, Go durations, ``2 hours``.

The one home for time formatting shared by the engine, the log drivers and the CLI. It imports
only the standard library and :mod:`moor.errors`, so the CLI can use it without slowing its start.

Three stamp forms, all in UTC, because Docker's output uses all three:

- :func:`rfc3339_nano`: Go's ``time.RFC3339Nano``, what a ``time.Time`` marshals to in JSON (the
  fraction's trailing zeros dropped): archive stat headers, ``stats`` read times.
- :func:`rfc3339_nano_fixed`: Docker's ``RFC3339NanoFixed``, always nine fraction digits: log lines
  (``json-file``, ``logs -t``) and ``moor events``.
- :func:`format_timestamp`: moor's ``Created``/``StartedAt``-style fields from seconds: nine
  digits, or none at all when the time falls on a whole second.
"""

from __future__ import annotations

import functools
import re
import time
from datetime import UTC, datetime

from moor.errors import InvalidParameter

#: Go's zero ``time.Time`` as Docker marshals it ("never", e.g. a container not yet started).
ZERO_TIME = "0001-01-01T00:00:00Z"

_NANOS_PER_SECOND = 1_000_000_000


# --------------------------------------------------------------------------- writing stamps


def to_nanoseconds(seconds: float) -> int:
    """Seconds since the epoch (a float, as ``time.time()``) as whole nanoseconds, rounded."""
    whole = int(seconds)
    return whole * _NANOS_PER_SECOND + round((seconds - whole) * 1e9)


def _date_time(whole_seconds: int) -> str:
    return datetime.fromtimestamp(whole_seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def rfc3339_nano(nanoseconds: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: the fraction's trailing zeros dropped (none on a whole second)."""
    whole, fraction = divmod(nanoseconds, _NANOS_PER_SECOND)
    digits = f".{fraction:09d}".rstrip("0") if fraction else ""
    return f"{_date_time(whole)}{digits}Z"


def rfc3339_nano_fixed(nanoseconds: int) -> str:
    """Docker's ``RFC3339NanoFixed`` in UTC: always nine fraction digits (log lines, events)."""
    whole, fraction = divmod(nanoseconds, _NANOS_PER_SECOND)
    return f"{_date_time(whole)}.{fraction:09d}Z"


def format_timestamp(seconds: float) -> str:
    """A ``time.Time`` field of Docker's JSON (``Created``, ``FinishedAt``, ...): Go's RFC3339Nano, whose
    fraction drops its trailing zeros (so these strings do not sort as text: sort by :func:`parse_timestamp`)."""
    return rfc3339_nano(to_nanoseconds(seconds))


def log_timestamp(seconds: float) -> str:
    """A log line's time as Docker writes it (``json-file``, ``logs --timestamps``): nine fraction digits."""
    return rfc3339_nano_fixed(to_nanoseconds(seconds))


# --------------------------------------------------------------------------- reading stamps and durations


def parse_timestamp(value: str | float | int) -> float:
    """RFC 3339 (any fraction), seconds since the epoch, or a Go duration before now, as Docker filters accept."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    ago = go_duration(text)
    if ago is not None:  # Docker: a duration means that long before now ("24h", "1h30m")
        return time.time() - ago
    return _rfc3339_seconds(text)


@functools.lru_cache(maxsize=8192)
def _rfc3339_seconds(text: str) -> float:
    """An RFC 3339 stamp's seconds since the epoch; remembered, as ``ps`` reads every container's stamps each
    time (strptime costs ~10 us)."""
    base, _, rest = text.partition(".")
    fraction = ""
    zone = "Z"
    if rest:
        digits = "".join(c for c in rest if c.isdigit())
        fraction, zone = digits, rest[len(digits):] or "Z"
    elif base.endswith("Z"):
        base = base[:-1]
    elif len(base) > 19 and base[19] in "+-":
        base, zone = base[:19], base[19:]
    try:
        moment = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise InvalidParameter(f"invalid timestamp {text!r}") from None
    offset = 0
    if zone not in ("Z", ""):
        sign = -1 if zone[0] == "-" else 1
        hours, _, minutes = zone[1:].partition(":")
        offset = sign * (int(hours) * 3600 + int(minutes or 0) * 60)
    seconds = moment.replace(tzinfo=UTC).timestamp() - offset
    return seconds + (float("0." + fraction) if fraction else 0.0)


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
#: Patterns compiled on first use (by re's cache), not at import: the CLI imports this module.
_DURATION = r"([-+]?)((?:[0-9]*\.?[0-9]+(?:ns|us|\u00b5s|ms|s|m|h))+)"
_DURATION_PART = r"([0-9]*\.?[0-9]+)(ns|us|\u00b5s|ms|s|m|h)"


def go_duration(text: str) -> float | None:
    """Seconds in a Go duration (``1h30m``, ``-5s``, ``1.5h``), or None if ``text`` is not one."""
    match = re.fullmatch(_DURATION, text)
    if match is None:
        return None
    seconds = sum(float(number) * _DURATION_UNITS[unit] for number, unit in re.findall(_DURATION_PART, match.group(2)))
    return -seconds if match.group(1) == "-" else seconds


# --------------------------------------------------------------------------- for people


def human_duration(seconds: float) -> str:
    """How long, as Docker's CLI says it (go-units ``HumanDuration``: ``2 hours``, ``About a minute``)."""
    if seconds < 1:
        return "Less than a second"
    if int(seconds) == 1:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"
