"""Query parameters several route modules decode the same way: ``filters``, times, integers, paths.

Integers are refused as Go's ``strconv`` refuses them, with Docker's words (a 400): ``strconv.Atoi:
parsing "abc": invalid syntax``.
"""

from __future__ import annotations

import math
import re

from moor.api.http import Request
from moor.api.validate import json_kind
from moor.errors import InvalidParameter, MoorError
from moor.timefmt import parse_timestamp

_DECIMAL = re.compile(r"[+-]?[0-9]+")
_UNSIGNED = re.compile(r"[+]?[0-9]+")
_INT64 = (-(2**63), 2**63 - 1)


def parse_filters(request: Request) -> dict[str, list[str]]:
    """Docker's ``filters`` query parameter: {"key": ["v"]} or the legacy {"key": {"v": true}}."""
    raw = request.json_arg("filters")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidParameter(f"json: cannot unmarshal {json_kind(raw)} into Go value of type "
                               "map[string]map[string]bool")
    result: dict[str, list[str]] = {}
    for key, value in raw.items():
        if value is None:
            result[key] = []
        elif isinstance(value, list) and all(isinstance(v, str) or v is None for v in value):
            result[key] = ["" if v is None else v for v in value]
        elif isinstance(value, dict) and all(isinstance(v, bool) or v is None for v in value.values()):
            result[key] = [k for k, enabled in value.items() if enabled]
        else:  # neither Docker's form nor the legacy one: Go's error of the legacy decoding, its last try
            wrong = next((v for v in value.values() if not isinstance(v, bool) and v is not None), value) \
                if isinstance(value, dict) else value
            go_type = "bool" if wrong is not value else "map[string]bool"
            raise InvalidParameter(f"json: cannot unmarshal {json_kind(wrong)} into Go value of type {go_type}")
    return result


def go_int(text: str, function: str = "strconv.Atoi", low: int = _INT64[0], high: int = _INT64[1],
           pattern: re.Pattern[str] = _DECIMAL) -> int:
    """``text`` as Go's strconv reads a decimal integer; InvalidParameter with its error otherwise."""
    if not pattern.fullmatch(text):
        raise InvalidParameter(f'{function}: parsing "{text}": invalid syntax')
    value = int(text)
    if not low <= value <= high:
        raise InvalidParameter(f'{function}: parsing "{text}": value out of range')
    return value


def flag_query(request: Request, name: str, default: bool = False) -> bool:
    """A boolean parameter as Docker reads it (``BoolValueOrDefault``): ``default`` when absent; false for "", 0,
    no, false and none (any case, spaces around); true for anything else."""
    if name not in request.query:
        return default
    return request.arg(name).strip().lower() not in ("", "0", "no", "false", "none")


_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
             "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}
_PLATFORM_COMPONENT = re.compile(r"[A-Za-z0-9_-]+")
#: Go's operating systems and architectures: a platform of one word must name one of them
_KNOWN_OS = frozenset(("aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux",
                       "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos"))
_KNOWN_ARCH = frozenset(("386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le",
                         "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "riscv",
                         "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm", "aarch64", "armhf", "armel",
                         "i386", "x86_64", "x86-64"))


def strict_bool_query(request: Request, name: str) -> bool:
    """A boolean parameter Docker reads with ``strconv.ParseBool`` (``verbose``): false when absent or empty."""
    text = request.arg(name)
    if text == "":
        return False
    if text not in _GO_BOOLS:
        raise InvalidParameter(f'invalid value for {name}: {text}: strconv.ParseBool: parsing "{text}": invalid syntax')
    return _GO_BOOLS[text]


def platform_query(request: Request) -> str:
    """``platform`` (``os[/arch[/variant]]``), checked as containerd's parser checks each component."""
    text = request.arg("platform")
    if text == "":
        return ""
    for component in text.split("/"):
        if not _PLATFORM_COMPONENT.fullmatch(component):
            raise InvalidParameter(f"{_go_quote(component)} is an invalid component of {_go_quote(text)}: platform "
                                   'specifier component must match "^[A-Za-z0-9_-]+$": invalid argument')
    if text.count("/") > 2:
        raise InvalidParameter(f"{_go_quote(text)}: cannot parse platform specifier: invalid argument")
    if "/" not in text and text.lower() not in _KNOWN_OS | _KNOWN_ARCH:
        raise InvalidParameter(f"{_go_quote(text)}: unknown operating system or architecture: invalid argument")
    return text


def _go_quote(text: str) -> str:
    """``text`` as Go's %q writes it (close enough for what a platform may hold: escapes, no raw controls)."""
    return '"' + text.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def int_query(request: Request, name: str, default: int | None = None) -> int | None:
    """An integer parameter (``t``, ``limit``): ``default`` when absent or empty, else Go's ``strconv.Atoi``."""
    text = request.arg(name)
    if text == "":
        return default
    return go_int(text)


def uint_query(request: Request, name: str, bits: int = 16) -> int:
    """An unsigned parameter that must be given (a terminal's ``h`` and ``w``): ``strconv.ParseUint``."""
    return go_int(request.arg(name), "strconv.ParseUint", 0, 2**bits - 1, _UNSIGNED)


def tail_query(request: Request) -> int:
    """``logs?tail=``: a count of lines; anything else (``all``, ``abc``, a negative number) means all (-1)."""
    text = request.arg("tail", "all")
    if not _DECIMAL.fullmatch(text):
        return -1
    value = int(text)
    return value if 0 <= value <= _INT64[1] else -1


def path_query(request: Request, name: str = "path") -> str:
    """A path in a container: no NUL byte (it could never name a file, and the C library stops at it)."""
    text = request.arg(name)
    if "\x00" in text:
        raise InvalidParameter(f"invalid {name}: the path contains a NUL byte")
    return text


def time_arg(text: str) -> float:
    """A ``since``/``until`` parameter: Unix seconds (with a fraction) or a timestamp; 0 when absent."""
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise InvalidParameter(f'strconv.ParseInt: parsing "{text}": invalid syntax')
        if not _INT64[0] <= value <= _INT64[1]:  # Docker reads the seconds as an int64
            raise InvalidParameter(f'strconv.ParseInt: parsing "{text}": value out of range')
        return value
    try:
        return parse_timestamp(text)
    except (ValueError, OverflowError, MoorError):
        raise InvalidParameter(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None
