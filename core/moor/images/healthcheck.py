"""Recover an image's HEALTHCHECK from its history when the config lost it.

OCI image configs have no ``Healthcheck`` field, so converting a Docker-built
image to OCI (skopeo, buildah) drops it; the builder's history line
``HEALTHCHECK &{["CMD-SHELL" "test -f /x"] "5s" "2s" "0s" '\\x02'}`` survives.
Docker reads the field only; moor falls back to the last such line so that the
same image behaves the same whichever format it arrived in.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import re2  # type: ignore[import-untyped]

# RE2 (linear time): the history comes from image configs anyone can load, and with Python's re a
# created_by of many "HEALTHCHECK &{[" took quadratic time (1 MB: minutes) at every container create.
_LINE = re2.compile(r"""HEALTHCHECK &\{\[(?P<test>.*)\] "(?P<interval>[^"]*)" "(?P<timeout>[^"]*)" """
                   r""""(?P<start>[^"]*)" (?P<retries>'(?:[^'\\]|\\.)+')\}\s*$""")
_QUOTED = re2.compile(r'"((?:[^"\\]|\\.)*)"')
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_NANOS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
               "h": 3_600_000_000_000}


def go_duration_nanos(text: str) -> int:
    """``1m30s`` -> 90_000_000_000; ``0s`` -> 0."""
    total = 0.0
    for number, unit in _DURATION_PART.findall(text):
        total += float(number) * _UNIT_NANOS[unit]
    return int(total)


def healthcheck_from_history(history: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The Healthcheck of the last HEALTHCHECK history line, in Docker's config form."""
    for entry in reversed(history or []):
        match = _LINE.search(entry.get("created_by", ""))
        if not match:
            continue
        test = [json.loads(f'"{item}"') for item in _QUOTED.findall(match.group("test"))]
        result: dict[str, Any] = {"Test": test}
        for field, group in (("Interval", "interval"), ("Timeout", "timeout"), ("StartPeriod", "start")):
            nanos = go_duration_nanos(match.group(group))
            if nanos:
                result[field] = nanos
        retries = ord(ast.literal_eval(match.group("retries")))
        if retries:
            result["Retries"] = retries
        return result
    return None


def effective_config(image_config: dict[str, Any]) -> dict[str, Any] | None:
    """The image's container config with a Healthcheck recovered from history when missing."""
    config = image_config.get("config")
    if config is None:
        return None
    if "Healthcheck" not in config:
        recovered = healthcheck_from_history(image_config.get("history"))
        if recovered is not None:
            return {**config, "Healthcheck": recovered}
    return config
