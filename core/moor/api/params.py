"""Query parameters several route modules decode the same way: ``filters`` and times."""

from __future__ import annotations

from moor.api.http import Request
from moor.errors import InvalidParameter
from moor.timefmt import parse_timestamp


def parse_filters(request: Request) -> dict[str, list[str]]:
    """Docker's ``filters`` query parameter: {"key": ["v"]} or the legacy {"key": {"v": true}}."""
    raw = request.json_arg("filters")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidParameter("invalid filters: expected a JSON object")
    result: dict[str, list[str]] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            result[key] = [k for k, enabled in value.items() if enabled]
        elif isinstance(value, list):
            result[key] = [str(v) for v in value]
        else:
            raise InvalidParameter(f"invalid filter value for {key!r}")
    return result


def time_arg(text: str) -> float:
    """A ``since``/``until`` parameter: Unix seconds (with a fraction) or a timestamp; 0 when absent."""
    if not text:
        return 0.0
    try:
        return float(text)
    except ValueError:
        return parse_timestamp(text)
