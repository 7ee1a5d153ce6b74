"""Interpolation: ``${VAR}`` and its forms in compose file values, as compose-go's template package does it.

Forms: ``$VAR``, ``${VAR}``, ``${VAR:-default}`` (unset or empty), ``${VAR-default}`` (unset),
``${VAR:?message}`` (error when unset or empty), ``${VAR?message}`` (error when unset), ``${VAR:+value}``
(value when set and not empty, else empty), ``${VAR+value}`` (value when set), ``$$`` (a literal ``$``).
Defaults, values and messages are themselves interpolated, so ``${A:-${B:-x}}`` nests. Names are
``[A-Za-z_][A-Za-z0-9_]*``; a ``$`` followed by anything else is kept as it is, but ``${`` that does not
open a valid form is an error (compose's "invalid interpolation format").

:func:`interpolate` walks a whole file's data: only values are interpolated, never keys, and afterwards the
strings at the paths where compose expects a number or a boolean are cast (compose-go's table,
:data:`CASTS`), so ``scale: ${N}`` becomes an integer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from moor.compose.errors import ComposeFileError
from moor.compose.loader.yamlfile import YamlDocument, format_path

Lookup = Callable[[str], "str | None"]
Warn = Callable[[str], None]

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")


class InterpolationError(ValueError):
    """A template that cannot be substituted; ``invalid`` for a malformed one (compose's InvalidTemplateError)."""

    def __init__(self, message: str, invalid: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.invalid = invalid


def substitute(text: str, lookup: Lookup, *, warn: Warn | None = None) -> str:
    """``text`` with every ``$`` form replaced. Raises :class:`~moor.compose.errors.ComposeFileError` for a
    missing required variable or an invalid form."""
    try:
        return _substitute(text, lookup, warn)
    except InterpolationError as error:
        if error.invalid:
            raise ComposeFileError(
                f"invalid interpolation format: {text!r}: you may need to escape any $ with another $"
            ) from None
        raise ComposeFileError(error.message) from None


def expand(text: str, lookup: Lookup, *, warn: Warn | None = None) -> str:
    """:func:`substitute` raising :class:`InterpolationError` (for callers that word the error themselves)."""
    return _substitute(text, lookup, warn)


def _substitute(text: str, lookup: Lookup, warn: Warn | None, depth: int = 0) -> str:
    if "$" not in text:
        return text
    if depth > 100:
        raise InterpolationError("interpolation nested too deeply", invalid=True)
    out: list[str] = []
    position = 0
    length = len(text)
    while True:
        dollar = text.find("$", position)
        if dollar < 0:
            out.append(text[position:])
            return "".join(out)
        out.append(text[position:dollar])
        following = text[dollar + 1] if dollar + 1 < length else ""
        if following == "$":
            out.append("$")
            position = dollar + 2
            continue
        if following == "{":
            value, position = _braced(text, dollar, lookup, warn, depth)
            out.append(value)
            continue
        name = _NAME.match(text, dollar + 1)
        if name is None:
            out.append("$")  # a lone "$" (or "$1", "$-"...) stays
            position = dollar + 1
            continue
        out.append(_value(name.group(), lookup, warn))
        position = name.end()


def _value(name: str, lookup: Lookup, warn: Warn | None) -> str:
    value = lookup(name)
    if value is None:
        if warn is not None:
            warn(f'The "{name}" variable is not set. Defaulting to a blank string.')
        return ""
    return value


def _parse_braced(text: str, dollar: int) -> tuple[str, str, str, int]:
    """The ``${...}`` form at ``dollar``: (name, operator or "", argument, index after it)."""
    name_match = _NAME.match(text, dollar + 2)
    if name_match is None:
        raise InterpolationError("invalid", invalid=True)
    name = name_match.group()
    after = name_match.end()
    if text.startswith("}", after):
        return name, "", "", after + 1
    if text.startswith(":", after) and text[after + 1 : after + 2] in ("-", "+", "?"):
        operator = text[after : after + 2]
    elif text[after : after + 1] in ("-", "+", "?"):
        operator = text[after]
    else:
        raise InterpolationError("invalid", invalid=True)
    # compose-go matches up to the last "}" of the line, then cuts at the brace that closes this form
    closing = _closing_brace(text, dollar)
    if closing < 0:
        line_end = text.find("\n", after)
        last = text.rfind("}", after + len(operator), len(text) if line_end < 0 else line_end)
        if last < 0:
            raise InterpolationError("invalid", invalid=True)
        closing = last
    return name, operator, text[after + len(operator) : closing], closing + 1


def _braced(text: str, dollar: int, lookup: Lookup, warn: Warn | None, depth: int) -> tuple[str, int]:
    """The value of the ``${...}`` form at ``dollar`` and where the text goes on after it."""
    name, operator, argument, end = _parse_braced(text, dollar)
    if not operator:
        return _value(name, lookup, warn), end
    value = lookup(name)
    if operator in (":-", "-"):
        if value is None or (operator == ":-" and value == ""):
            return _substitute(argument, lookup, warn, depth + 1), end
        return value, end
    if operator in (":+", "+"):
        if value is not None and (operator == "+" or value != ""):
            return _substitute(argument, lookup, warn, depth + 1), end
        return value or "", end
    # ":?" and "?"
    if value is None or (operator == ":?" and value == ""):
        reason = _substitute(argument, lookup, warn, depth + 1)
        message = f"required variable {name} is missing a value"
        raise InterpolationError(f"{message}: {reason}" if reason else message)
    return value, end


def _closing_brace(text: str, start: int) -> int:
    """compose-go's getFirstBraceClosingIndex from ``start`` (the character after each ``{`` is skipped), as an
    index into ``text``; -1 when the braces do not balance on this line."""
    depth = 0
    index = start
    length = len(text)
    while index < length:
        char = text[index]
        if char == "}":
            depth -= 1
            if depth == 0:
                return index if text.find("\n", start, index) < 0 else -1
        elif char == "{":
            depth += 1
            index += 1
        elif char == "\n":
            return -1
        index += 1
    return -1


@dataclass(frozen=True)
class Variable:
    """A variable a file uses, as ``docker compose config --variables`` lists it."""

    name: str
    required: bool = False
    default: str = ""  # after ":-" or "-"
    alternate: str = ""  # after ":+" or "+"


def variables(data: Any) -> dict[str, Variable]:
    """Every variable the string values of ``data`` use (defaults and alternates included, nested forms too),
    by name; a name used several times keeps its last use, as compose's ExtractVariables does."""
    found: dict[str, Variable] = {}
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(reversed(list(value.values())))
        elif isinstance(value, list):
            stack.extend(reversed(value))
        elif isinstance(value, str):
            _text_variables(value, found, 0)
    return found


def _text_variables(text: str, found: dict[str, Variable], depth: int) -> None:
    position = 0
    while depth < 100:
        dollar = text.find("$", position)
        if dollar < 0 or dollar + 1 >= len(text):
            return
        following = text[dollar + 1]
        if following == "$":
            position = dollar + 2
            continue
        if following == "{":
            try:
                name, operator, argument, position = _parse_braced(text, dollar)
            except InterpolationError:
                return
            found[name] = Variable(
                name,
                required=operator in (":?", "?"),
                default=argument if operator in (":-", "-") else "",
                alternate=argument if operator in (":+", "+") else "",
            )
            if operator and operator not in (":?", "?"):
                _text_variables(argument, found, depth + 1)
            continue
        match = _NAME.match(text, dollar + 1)
        if match is None:
            position = dollar + 1
            continue
        found[match.group()] = Variable(match.group())
        position = match.end()


# --- the type casts after interpolation ---------------------------------------------------------------------

_INT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)\Z", re.IGNORECASE
)


def _to_int(text: str) -> int:
    if not _INT.match(text) or not -(1 << 63) <= int(text) < (1 << 63):
        raise ValueError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    return int(text)


def _to_float(text: str) -> float:
    if not _FLOAT.match(text):
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    value = float(text)
    if math.isinf(value) and "inf" not in text.lower():
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": value out of range')
    return value


_BOOLEANS = {"true": True, "false": False, "y": True, "yes": True, "on": True, "n": False, "no": False, "off": False}


def _to_bool(text: str) -> bool:
    try:
        return _BOOLEANS[text.lower()]
    except KeyError:
        raise ValueError(f"invalid boolean: {text}") from None


#: compose-go's interpolateTypeCastMapping: "*" is any key, "[]" any list item
CASTS: dict[tuple[str, ...], Callable[[str], Any]] = {
    **{
        ("services", "*", *key.split(".")): cast
        for key, cast in {
            "cpu_count": _to_int,
            "cpu_percent": _to_float,
            "cpu_period": _to_int,
            "cpu_quota": _to_int,
            "cpu_rt_period": _to_int,
            "cpu_rt_runtime": _to_int,
            "cpus": _to_float,
            "cpu_shares": _to_int,
            "init": _to_bool,
            "depends_on.*.required": _to_bool,
            "depends_on.*.restart": _to_bool,
            "deploy.replicas": _to_int,
            "deploy.update_config.parallelism": _to_int,
            "deploy.update_config.max_failure_ratio": _to_float,
            "deploy.rollback_config.parallelism": _to_int,
            "deploy.rollback_config.max_failure_ratio": _to_float,
            "deploy.restart_policy.max_attempts": _to_int,
            "deploy.placement.max_replicas_per_node": _to_int,
            "healthcheck.retries": _to_int,
            "healthcheck.disable": _to_bool,
            "oom_kill_disable": _to_bool,
            "oom_score_adj": _to_int,
            "pids_limit": _to_int,
            "ports.[].target": _to_int,
            "privileged": _to_bool,
            "read_only": _to_bool,
            "scale": _to_int,
            "stdin_open": _to_bool,
            "tty": _to_bool,
            "ulimits.*": _to_int,
            "ulimits.*.hard": _to_int,
            "ulimits.*.soft": _to_int,
            "volumes.[].read_only": _to_bool,
            "volumes.[].volume.nocopy": _to_bool,
        }.items()
    },
    ("networks", "*", "external"): _to_bool,
    ("networks", "*", "internal"): _to_bool,
    ("networks", "*", "attachable"): _to_bool,
    ("networks", "*", "enable_ipv4"): _to_bool,
    ("networks", "*", "enable_ipv6"): _to_bool,
    ("volumes", "*", "external"): _to_bool,
    ("secrets", "*", "external"): _to_bool,
    ("configs", "*", "external"): _to_bool,
}
_CASTS_BY_LENGTH: dict[int, list[tuple[tuple[str, ...], Callable[[str], Any]]]] = {}
for _pattern, _cast in CASTS.items():
    _CASTS_BY_LENGTH.setdefault(len(_pattern), []).append((_pattern, _cast))


# the last part of every pattern that ends with a name (the others end with "*": ulimits.NAME)
_LAST_NAMES = frozenset(pattern[-1] for pattern in CASTS if pattern[-1] not in ("*", "[]"))


def _caster(path: tuple[str | int, ...]) -> Callable[[str], Any] | None:
    if not path or (path[-1] not in _LAST_NAMES and not (len(path) == 4 and path[2] == "ulimits")):
        return None
    for pattern, cast in _CASTS_BY_LENGTH.get(len(path), ()):
        for part, want in zip(path, pattern):
            if want == "[]":
                if not isinstance(part, int):
                    break
            elif isinstance(part, int) or (want != "*" and want != part):
                break
        else:
            return cast
    return None


def interpolate(
    data: Any,
    lookup: Lookup,
    *,
    document: YamlDocument | None = None,
    warn: Warn | None = None,
    path: Sequence[str | int] = (),
) -> Any:
    """A new tree with every string value substituted and cast where compose expects a number or a boolean.

    ``path`` is where ``data`` sits in a compose file (the casts are by path from the top). ``document``, when
    given, adds the file and line to errors; ``warn`` is called once per unset variable that defaults to
    an empty string (compose's warning). Errors are :class:`~moor.compose.errors.ComposeFileError`:
    ``error while interpolating services.web.image: required variable TAG is missing a value: MESSAGE``.
    """
    warned: set[str] = set()

    def warn_once(message: str) -> None:
        if warn is not None and message not in warned:
            warned.add(message)
            warn(message)

    return _walk(data, tuple(path), lookup, warn_once if warn is not None else None, document)


def _walk(value: Any, path: tuple[str | int, ...], lookup: Lookup, warn: Warn | None,
          document: YamlDocument | None) -> Any:
    if isinstance(value, str):
        try:
            result: Any = _substitute(value, lookup, warn)
        except InterpolationError as error:
            if error.invalid:
                message = (f"invalid interpolation format for {format_path(path)}: {value!r}: "
                           "you may need to escape any $ with another $")
            else:
                message = f"error while interpolating {format_path(path)}: {error.message}"
            raise ComposeFileError(message + _where(document, path)) from None
        cast = _caster(path)
        if cast is None:
            return result
        try:
            cast_value = cast(result)
        except ValueError as error:
            raise ComposeFileError(
                f"error while interpolating {format_path(path)}: failed to cast to expected type: {error}"
                + _where(document, path)
            ) from None
        if cast is _to_bool and warn is not None and result.lower() not in ("true", "false"):
            warn(f'"{result}" for boolean is not supported by YAML 1.2, please use `{str(cast_value).lower()}`')
        return cast_value
    if isinstance(value, dict):
        return {key: _walk(item, (*path, key), lookup, warn, document) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, (*path, index), lookup, warn, document) for index, item in enumerate(value)]
    return value


def _where(document: YamlDocument | None, path: Sequence[str | int]) -> str:
    if document is None:
        return ""
    position = document.nearest_position(path)
    return f" ({document.filename}, line {position[0]})" if position else f" ({document.filename})"
