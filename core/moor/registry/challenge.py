"""``WWW-Authenticate`` challenges and ``Link`` headers as registries send them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))\s*(?:,|$)')
_SCHEME = re.compile(rf"\s*({_TOKEN})(?:\s+|$)")


@dataclass(frozen=True)
class Challenge:
    """One authentication challenge: its scheme in lower case (``basic``, ``bearer``) and parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict, hash=False)


def parse_challenges(header: str) -> list[Challenge]:
    """Parse ``Bearer realm="https://a/token",service="reg",scope="repository:x:pull,push", Basic realm="r"``.

    Several challenges may share one header, separated by commas; malformed parts end the parse (what was
    understood so far is kept), so a hostile header never raises.
    """
    found: list[Challenge] = []
    position = 0
    while position < len(header):
        while position < len(header) and header[position] in " ,\t":
            position += 1
        scheme = _SCHEME.match(header, position)
        if scheme is None:
            break
        position = scheme.end()
        params: dict[str, str] = {}
        while True:
            param = _PARAM.match(header, position)
            if param is None:
                break
            quoted, bare = param.group(2), param.group(3)
            value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
            params[param.group(1).lower()] = value
            position = param.end()
        found.append(Challenge(scheme.group(1).lower(), params))
        if not params and position < len(header) and header[position] not in " ,\t":
            break
    return found


def next_link(header: str) -> str:
    """The ``rel="next"`` target of a ``Link`` header (``</v2/_catalog?last=b&n=2>; rel="next"``), or ""."""
    for part in header.split(","):
        match = re.match(r'\s*<([^>]*)>\s*;(.*)', part)
        if match and re.search(r'rel\s*=\s*"?next"?', match.group(2)):
            return match.group(1)
    return ""
