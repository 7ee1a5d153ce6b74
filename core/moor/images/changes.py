"""``--change`` instructions of ``import`` and ``commit``: Dockerfile lines applied to an image config."""

from __future__ import annotations

import json
import shlex
from typing import Any

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
    if value is not None and all(isinstance(item, str) for item in value):
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
                if not number.replace("-", "").isdigit():
                    raise InvalidParameter(f"invalid containerPort: {number}")
                ports[f"{number}/{protocol or 'tcp'}"] = {}
            result["ExposedPorts"] = ports
        elif instruction == "VOLUME":
            volumes = dict(result.get("Volumes") or {})
            for path in _json_or_words(argument):
                volumes[path] = {}
            result["Volumes"] = volumes
        elif instruction == "WORKDIR":
            result["WorkingDir"] = argument.strip()
        elif instruction == "USER":
            result["User"] = argument.strip()
        elif instruction == "STOPSIGNAL":
            result["StopSignal"] = argument.strip()
        elif instruction == "ONBUILD":
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
