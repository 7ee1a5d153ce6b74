"""The variables a compose model uses (``config --variables``), as compose-go's ExtractVariables finds them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")


@dataclass(frozen=True)
class Variable:
    """One ``${NAME...}``: its default (``:-``/``-``), alternate value (``:+``/``+``), required (``:?``/``?``)."""

    name: str
    default: str = ""
    presence: str = ""
    required: bool = False


def _closing(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``${`` whose body starts at ``start`` (nested braces counted), or -1."""
    depth = 1
    index = start
    while index < len(text):
        if text.startswith("${", index):
            depth += 1
            index += 2
            continue
        if text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return -1


def variables_in(text: str) -> list[Variable]:
    """The variables one string uses, nested defaults and alternate values included."""
    found: list[Variable] = []
    index = 0
    while True:
        index = text.find("$", index)
        if index < 0 or index + 1 >= len(text):
            return found
        following = text[index + 1]
        if following == "$":
            index += 2
            continue
        if following == "{":
            end = _closing(text, index + 2)
            if end < 0:
                return found
            body = text[index + 2:end]
            match = _NAME.match(body)
            if match:
                name, rest = match.group(0), body[match.end():]
                variable = Variable(name)
                for operator in (":?", "?", ":-", "-", ":+", "+"):
                    if rest.startswith(operator):
                        value = rest[len(operator):]
                        if "?" in operator:
                            variable = Variable(name, required=True)
                        elif "-" in operator:
                            variable = Variable(name, default=value)
                            found.extend(variables_in(value))
                        else:
                            variable = Variable(name, presence=value)
                            found.extend(variables_in(value))
                        break
                found.append(variable)
            index = end + 1
            continue
        match = _NAME.match(text, index + 1)
        if match:
            found.append(Variable(match.group(0)))
            index = match.end()
        else:
            index += 1


def extract_variables(data: Any) -> dict[str, Variable]:
    """Every variable in the string values of ``data`` by name (the last occurrence found wins)."""
    found: dict[str, Variable] = {}
    if isinstance(data, str):
        for variable in variables_in(data):
            found[variable.name] = variable
    elif isinstance(data, dict):
        for value in data.values():
            found.update(extract_variables(value))
    elif isinstance(data, list):
        for value in data:
            found.update(extract_variables(value))
    return found
