"""``--change`` instructions of ``import`` and ``commit``: Dockerfile lines applied to an image config."""

from __future__ import annotations

import json
import shlex
from typing import Any

from moor.containers.createcheck import check_signal
from moor.errors import InvalidParameter

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD", "STOPSIGNAL", "USER",
           "VOLUME", "WORKDIR")


def _json_list(text: str) -> list[Any] | None:
    """The exec (JSON array) form of an instruction's argument, or None for the shell form."""
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def _json_or_shell(argument: str) -> list[str]:
    text = argument.strip()
    value = _json_list(text)
    if value is not None:
        if not all(isinstance(item, str) for item in value):
            raise InvalidParameter("when using JSON array syntax, arrays must be comprised of strings only")
        return value
    return ["/bin/sh", "-c", text]


def _json_or_words(argument: str) -> list[str]:
    text = argument.strip()
    value = _json_list(text)
    return [str(item) for item in value] if value is not None else text.split()


def _pairs(instruction: str, argument: str) -> list[tuple[str, str]]:
    """``K=V K2="v 2"`` or the old one-pair form ``K value with spaces``."""
    words = shlex.split(argument)
    if not words:
        raise InvalidParameter(f"{instruction} requires at least one argument")
    if "=" not in words[0]:
        key, _, value = argument.strip().partition(" ")
        if not value.strip():
            raise InvalidParameter(f"{instruction} must have two arguments")
        return [(key, value.strip())]
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InvalidParameter(f"Syntax error - can't find = in {word!r}. Must be of the form: name=value")
        pairs.append((key, value))
    return pairs


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """Return a copy of the container config ``config`` with each change applied in order."""
    result = dict(config)
    for change in changes:
        change = change.strip()
        if not change:
            continue
        instruction, _, argument = change.partition(" ")
        instruction = instruction.upper()
        if instruction not in ALLOWED:
            raise InvalidParameter(f"{instruction} is not a valid change command")
        if instruction == "CMD":
            result["Cmd"] = _json_or_shell(argument)
        elif instruction == "ENTRYPOINT":
            result["Entrypoint"] = _json_or_shell(argument)
        elif instruction == "ENV":
            env = [e for e in result.get("Env") or []]
            for key, value in _pairs("ENV", argument):
                env = [e for e in env if e.split("=", 1)[0] != key] + [f"{key}={value}"]
            result["Env"] = env
        elif instruction == "LABEL":
            labels = dict(result.get("Labels") or {})
            labels.update(_pairs("LABEL", argument))
            result["Labels"] = labels
        elif instruction == "EXPOSE":
            ports = dict(result.get("ExposedPorts") or {})
            for port in argument.split():
                number, _, protocol = port.partition("/")
                bounds = number.split("-", 1)
                if not all(b.isascii() and b.isdigit() and 0 < int(b) <= 65535 for b in bounds):
                    raise InvalidParameter(f"invalid containerPort: {number}")
                ports[f"{number}/{protocol or 'tcp'}"] = {}
            result["ExposedPorts"] = ports
        elif instruction == "VOLUME":
            volumes = dict(result.get("Volumes") or {})
            paths = _json_or_words(argument)
            if not paths:
                raise InvalidParameter("VOLUME requires at least one argument")
            for path in paths:
                volumes[path] = {}
            result["Volumes"] = volumes
        elif instruction == "WORKDIR":
            result["WorkingDir"] = argument.strip()
        elif instruction == "USER":
            if len(argument.split()) != 1:
                raise InvalidParameter("USER requires exactly one argument")
            result["User"] = argument.strip()
        elif instruction == "STOPSIGNAL":
            check_signal(argument.strip())
            result["StopSignal"] = argument.strip()
        elif instruction == "ONBUILD":
            trigger = argument.strip().split(None, 1)[0].upper() if argument.strip() else ""
            if trigger == "ONBUILD":
                raise InvalidParameter("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
            if trigger in ("FROM", "MAINTAINER"):
                raise InvalidParameter(f"{trigger} isn't allowed as an ONBUILD trigger")
            result["OnBuild"] = [*(result.get("OnBuild") or []), argument.strip()]
        elif instruction == "HEALTHCHECK":
            result["Healthcheck"] = _healthcheck(argument)
    return result


def _healthcheck(argument: str) -> dict[str, Any]:
    words = argument.strip().split(None, 1)
    if words and words[0].upper() == "NONE":
        return {"Test": ["NONE"]}
    if not words or words[0].upper() != "CMD" or len(words) < 2:
        raise InvalidParameter("HEALTHCHECK requires CMD or NONE (options are not supported in --change)")
    command = _json_or_shell(words[1])
    test = ["CMD", *command] if words[1].strip().startswith("[") else ["CMD-SHELL", words[1].strip()]
    return {"Test": test}
