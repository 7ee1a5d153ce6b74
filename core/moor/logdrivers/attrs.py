"""The extra attributes a log driver records with each message, as Docker's ``labels``/``env`` log options pick them.

``labels`` and ``env`` name container labels and environment variables (comma-separated);
``labels-regex`` and ``env-regex`` pick every one whose name the (Go, RE2) expression finds.
``docker logs --details`` prints them before each line as ``k=v,k=v`` (keys sorted, both
query-escaped), which :func:`details_prefix` makes.
"""

from __future__ import annotations

import urllib.parse

from moor.errors import InvalidParameter
from moor.namepattern import is_valid, name_matches

REGEX_OPTIONS = ("labels-regex", "env-regex")


def check_options(options: dict[str, str]) -> None:
    """Refuse a ``labels-regex``/``env-regex`` that is not a valid expression (:class:`InvalidParameter`)."""
    for key in REGEX_OPTIONS:
        pattern = options.get(key)
        if pattern and not is_valid(pattern):
            raise InvalidParameter(f"failed to initialize logging driver: error parsing regexp: `{pattern}`")


def extra_attributes(options: dict[str, str], labels: dict[str, str], env: list[str]) -> dict[str, str]:
    """The attributes the log options ask for, from the container's labels and environment."""
    found: dict[str, str] = {}
    for name in (options.get("labels") or "").split(","):
        if name and name in labels:
            found[name] = labels[name]
    pattern = options.get("labels-regex")
    if pattern and is_valid(pattern):
        found.update({key: value for key, value in labels.items() if name_matches(pattern, key)})
    variables = dict(item.split("=", 1) for item in env if "=" in item)
    for name in (options.get("env") or "").split(","):
        if name and name in variables:
            found[name] = variables[name]
    pattern = options.get("env-regex")
    if pattern and is_valid(pattern):
        found.update({key: value for key, value in variables.items() if name_matches(pattern, key)})
    return found


def details_prefix(attrs: tuple[tuple[str, str], ...]) -> bytes:
    """``k=v,k=v `` (keys sorted, query-escaped as Go's ``url.QueryEscape``); a lone space without attributes."""
    pairs = (f"{urllib.parse.quote_plus(k)}={urllib.parse.quote_plus(v)}" for k, v in sorted(attrs))
    return ",".join(pairs).encode() + b" "
