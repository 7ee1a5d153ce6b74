""""Recreate with a fresh pull": the create body of a container's successor, from its inspect answer.

The successor keeps what the container was given (its command, environment, ports, mounts, networks, restart
policy, labels, ...) and takes from the new image what the container only inherited from the old one: a value
equal to the old image's (its command, entrypoint, working directory, user, environment entries, labels,
exposed ports, volumes, health check, stop signal) is left out, so the new image's applies. Anonymous volumes
are kept: they are mounted by name in the successor at the same paths, as compose does.
"""

from __future__ import annotations

import copy
import re
from typing import Any

#: a volume name Docker made for an anonymous volume
ANONYMOUS_VOLUME = re.compile(r"[0-9a-f]{64}")
#: Config keys the successor drops when they equal the old image's
INHERITED = ("Entrypoint", "Cmd", "WorkingDir", "User", "Healthcheck", "StopSignal", "Shell", "OnBuild")
#: Config keys that are maps: entries equal to the old image's are dropped
INHERITED_MAPS = ("Labels", "ExposedPorts", "Volumes")
#: endpoint settings that are the container's own choice (the rest moord works out again)
ENDPOINT_KEYS = ("IPAMConfig", "Links", "Aliases", "DriverOpts", "MacAddress")
#: network modes that take no endpoint settings
NO_ENDPOINTS = ("host", "none")


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _env_names(env: list[Any]) -> set[str]:
    return {entry.split("=", 1)[0] for entry in env if isinstance(entry, str)}


def successor_config(config: dict[str, Any], image_config: dict[str, Any] | None, container_id: str) \
        -> dict[str, Any]:
    """The ``Config`` part of the create body."""
    body = copy.deepcopy(config)
    if body.get("Hostname") == container_id[:12]:  # the one Docker made up: the successor gets its own
        body.pop("Hostname", None)
    if image_config is None:
        return body
    for key in INHERITED:
        if key == "Cmd" and "Entrypoint" in body:
            continue  # a command given with the container's own entrypoint stays with it
        if key in body and body[key] == image_config.get(key):
            body.pop(key)
    image_env = [entry for entry in image_config.get("Env") or [] if isinstance(entry, str)]
    if isinstance(body.get("Env"), list):
        body["Env"] = [entry for entry in body["Env"] if entry not in image_env]
    for key in INHERITED_MAPS:
        mine, theirs = body.get(key), _object(image_config.get(key))
        if isinstance(mine, dict):
            body[key] = {name: value for name, value in mine.items()
                         if name not in theirs or theirs[name] != value}
    return body


def kept_volumes(container: dict[str, Any]) -> list[str]:
    """``name:destination[:ro]`` binds for the container's anonymous volumes (not named in its HostConfig)."""
    host_config = _object(container.get("HostConfig"))
    named = " ".join(bind for bind in host_config.get("Binds") or [] if isinstance(bind, str))
    sources = {_object(m).get("Source") for m in host_config.get("Mounts") or []}
    binds = []
    for mount in container.get("Mounts") or []:
        mount = _object(mount)
        name, destination = mount.get("Name"), mount.get("Destination")
        if mount.get("Type") != "volume" or not isinstance(name, str) or not isinstance(destination, str):
            continue
        if not ANONYMOUS_VOLUME.fullmatch(name) or name in sources or f"{name}:" in named:
            continue
        binds.append(f"{name}:{destination}" + ("" if mount.get("RW", True) else ":ro"))
    return binds


def endpoints(container: dict[str, Any]) -> dict[str, Any]:
    """The ``NetworkingConfig.EndpointsConfig`` of the container's networks (aliases Docker made left out)."""
    mode = str(_object(container.get("HostConfig")).get("NetworkMode") or "")
    if mode in NO_ENDPOINTS or mode.startswith("container:"):
        return {}
    short_id = str(container.get("Id", ""))[:12]
    found: dict[str, Any] = {}
    for name, settings in _object(_object(container.get("NetworkSettings")).get("Networks")).items():
        settings = _object(settings)
        endpoint = {key: copy.deepcopy(settings[key]) for key in ENDPOINT_KEYS if settings.get(key)}
        if isinstance(endpoint.get("Aliases"), list):
            endpoint["Aliases"] = [a for a in endpoint["Aliases"] if a != short_id] or None
            if endpoint["Aliases"] is None:
                endpoint.pop("Aliases")
        found[name] = endpoint
    return found


def create_body(container: dict[str, Any], image_config: dict[str, Any] | None) -> dict[str, Any]:
    """The ``/containers/create`` body of ``container``'s successor (``image_config``: the old image's
    ``Config``, None when the old image is gone)."""
    body = successor_config(_object(container.get("Config")), image_config, str(container.get("Id", "")))
    host_config = copy.deepcopy(_object(container.get("HostConfig")))
    binds = [bind for bind in host_config.get("Binds") or [] if isinstance(bind, str)] + kept_volumes(container)
    if binds:
        host_config["Binds"] = binds
    body["HostConfig"] = host_config
    networks = endpoints(container)
    if networks:
        body["NetworkingConfig"] = {"EndpointsConfig": networks}
    return body
