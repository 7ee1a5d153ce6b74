"""``--filter`` and ``--since``/``--until`` flags as the query parameters the API takes."""

from __future__ import annotations

import json
import time

from moor.cli.output import ENGINE_ERROR, fail


def filters_param(values: tuple[str, ...]) -> str | None:
    """``-f key=value`` flags as the API's ``filters`` JSON (``{"key": ["value", ...]}``), None if none given."""
    if not values:
        return None
    result: dict[str, list[str]] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep:
            fail(f'invalid argument "{value}" for "-f, --filter" flag: bad format of filter (expected name=value)',
                 ENGINE_ERROR)
        result.setdefault(key.strip().lower(), []).append(rest)
    return json.dumps(result)


def since_param(text: str) -> str | None:
    """``10m``, ``2h``, an RFC 3339 time or a unix timestamp -> seconds since the epoch (as text)."""
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600}
    if text[-1] in units and text[:-1].replace(".", "", 1).isdigit():
        return str(time.time() - float(text[:-1]) * units[text[-1]])
    return text
