"""``--filter`` and ``--since``/``--until`` flags as the query parameters the API takes."""

from __future__ import annotations

import json
import re
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


#: Go's time.ParseDuration units, in seconds
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_DURATION = re.compile(r"(\d*\.?\d+)(ns|us|\u00b5s|ms|s|m|h)")


def since_param(text: str, flag: str = "") -> str | None:
    """``10m``, ``1h30m`` (a Go duration: that long ago), an RFC 3339 time or date, or a unix timestamp -> what
    the API takes. Anything else fails as the docker CLI's (``invalid value for "since": ...`` with ``flag``)."""
    if not text:
        return None
    parts = _DURATION.findall(text)
    if parts and "".join(number + unit for number, unit in parts) == text:
        return str(time.time() - sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts))
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return text
    if re.fullmatch(r"\d{4}-\d\d-\d\d.*", text):  # the docker CLI sends a time as seconds since the epoch
        import datetime

        try:
            moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as err:
            fail(f'invalid value for "{flag}": parsing time "{text}": {err}' if flag else
                 f'parsing time "{text}": {err}')
        return f"{moment.timestamp():.9f}"
    message = f'failed to parse value as time or duration: "{text}"'
    fail(f'invalid value for "{flag}": {message}' if flag else message)
