"""Docker's checks of a create request's values (its ``verifyContainerSettings``), in its words.

The JSON types are checked before (:mod:`moor.api.validate`); these are the values dockerd 20.10
refuses with a 400 once the types are right: a relative working directory, an unknown stop signal,
an environment entry without a name, health-check durations under a millisecond, unknown
capabilities, an isolation or cgroup namespace mode Linux does not have.
"""

from __future__ import annotations

import json
import signal as signals
from typing import Any

from moor.containers import portspec
from moor.containers.spec import normalize_capabilities
from moor.errors import InvalidParameter

#: Docker's ``containertypes.MinimumDuration`` (1 ms), in nanoseconds.
MINIMUM_DURATION = 1_000_000
CGROUPNS_MODES = ("", "host", "private")
ISOLATIONS = ("", "default")


def check_signal(text: str) -> None:
    """Docker's ``signal.ParseSignal``: a known name (with or without ``SIG``) or a number other than 0."""
    if text.isascii() and text.isdigit():
        if int(text) == 0:
            raise InvalidParameter(f"Invalid signal: {text}")
        return
    name = text.upper()
    name = name[3:] if name.startswith("SIG") else name
    if not name or name.startswith("_") or not name.isalnum() or not hasattr(signals, "SIG" + name):
        raise InvalidParameter(f"Invalid signal: {text}")


def check_process(config: dict[str, Any]) -> None:
    """No NUL byte in what becomes the process (its argv, environment, user, working directory): the runtime
    refuses it at start, a 500 then (for an exec, inside the hijacked stream)."""
    for field in ("Cmd", "Entrypoint", "Env"):
        for item in config.get(field) or []:
            if "\x00" in item:
                raise InvalidParameter(f"invalid {field}: {json.dumps(item)} contains a NUL byte")
    for field in ("User", "WorkingDir"):
        if "\x00" in (config.get(field) or ""):
            raise InvalidParameter(f"invalid {field}: {json.dumps(config[field])} contains a NUL byte")


def check_config(config: dict[str, Any]) -> None:
    """The container config's checks (Docker's ``validateContainerConfig``)."""
    working_dir = config.get("WorkingDir") or ""
    if working_dir and (not working_dir.startswith("/") or "\x00" in working_dir):
        raise InvalidParameter(f"the working directory '{working_dir}' is invalid, it needs to be an absolute path")
    check_process(config)
    if config.get("StopSignal"):
        check_signal(config["StopSignal"])
    portspec.validate_exposed(config.get("ExposedPorts"))
    for entry in config.get("Env") or []:
        if not entry.split("=", 1)[0]:
            raise InvalidParameter(f"invalid environment variable: {entry}")
    health = config.get("Healthcheck") or {}
    for field in ("Interval", "Timeout"):
        if health.get(field) and health[field] < MINIMUM_DURATION:
            raise InvalidParameter(f"{field} in Healthcheck cannot be less than 1ms")
    if (health.get("Retries") or 0) < 0:
        raise InvalidParameter("Retries in Healthcheck cannot be negative")
    for field in ("StartPeriod", "StartInterval"):
        if health.get(field) and health[field] < MINIMUM_DURATION:
            raise InvalidParameter(f"{field} in Healthcheck cannot be less than 1ms")


def check_host_config(host_config: dict[str, Any]) -> None:
    """The host config's checks that need nothing but the request (Docker's ``validateHostConfig`` and
    ``verifyPlatformContainerSettings``)."""
    for field in ("CapAdd", "CapDrop"):
        try:
            normalize_capabilities(list(host_config.get(field) or []))
        except InvalidParameter as err:
            raise InvalidParameter(f"invalid {field}: {err}") from None
    for device in host_config.get("Devices") or []:
        for path in (device.get("PathOnHost") or "", device.get("PathInContainer") or ""):
            if "\x00" in path:  # Go's stat says EINVAL; Python's raised ValueError, a 500
                raise InvalidParameter(f'error gathering device information while adding custom device "{path}": '
                                       "invalid argument")
    isolation = host_config.get("Isolation") or ""
    if isolation.lower() not in ISOLATIONS:
        raise InvalidParameter(f"Invalid isolation: {json.dumps(isolation)} - linux only supports 'default'")
    for field, what in (("IOMaximumIOps", "maximum IOPs"), ("IOMaximumBandwidth", "maximum bandwidth")):
        if host_config.get(field):
            raise InvalidParameter(f"Invalid QoS settings: linux does not support configuration of {what}")
    mode = host_config.get("CgroupnsMode") or ""
    if mode not in CGROUPNS_MODES:
        raise InvalidParameter(f"invalid cgroup namespace mode: {mode}")


def check_create(body: dict[str, Any], host_config: dict[str, Any], runtime: str = "runc") -> None:
    """Both: ``body`` is the create request (the container config), ``host_config`` its HostConfig; ``runtime``
    is the name of the daemon's one OCI runtime."""
    check_config(body)
    check_host_config(host_config)
    wanted = host_config.get("Runtime") or ""
    if wanted and wanted != runtime:
        raise InvalidParameter(f"Unknown runtime specified {wanted}")
