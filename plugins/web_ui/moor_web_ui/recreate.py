""""Recreate with a fresh pull": the create body of a container's successor, from its inspect answer.

The successor keeps what the container was given (its command, environment, ports, mounts, networks, restart
policy, labels, ...) and takes from the new image what the container only inherited from the old one: a value
equal to the old image's (its command, entrypoint, working directory, user, environment entries, labels,
exposed ports, volumes, health check, stop signal) is left out, so the new image's applies. Anonymous volumes
are kept: they are mounted by name in the successor at the same paths, as compose does.

:class:`Recreation` runs the steps, each a moord call as the acting user, told to the page as ``{"status"}``
messages: the old container renamed aside, the successor created under its name, the old one stopped and the
successor started (when the old one ran), the old one removed. A failure before the end puts the old
container back as it was (name, state) and removes the successor.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from aiohttp import web

from moor_web_ui.moord import MOORD, MoordError
from moor_web_ui.sse import EventStream

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


class Recreation:
    """The steps of one recreate, each a moord call as the acting user, with the way back if one fails."""

    def __init__(self, request: web.Request, stream: EventStream, container: dict[str, Any]) -> None:
        self.moord = request.app[MOORD]
        self.actor = request["user"]
        self.stream = stream
        self.container = container
        self.id: str = container["Id"]
        self.name: str = str(container.get("Name") or "").lstrip("/")
        self.running = bool((container.get("State") or {}).get("Running"))

    async def call(self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None) -> Any:
        return await self.moord.json(method, path, actor=self.actor, params=params, json=body)

    async def status(self, text: str) -> None:
        await self.stream.send({"status": text})

    async def image_config(self) -> dict[str, Any] | None:
        try:
            image = await self.call("GET", f"/images/{self.container.get('Image')}/json")
        except MoordError:
            return None  # the old image is gone: the successor keeps every value
        config = image.get("Config") if isinstance(image, dict) else None
        return config if isinstance(config, dict) else {}

    async def run(self) -> str:
        """Stop the old container, make and start its successor under its name, remove the old one: the new ID.
        On a failure the old container is put back as it was (name, state) and the error raised."""
        body = create_body(self.container, await self.image_config())
        aside = f"{self.name}-old-{self.id[:12]}"
        await self.status(f"Renaming {self.name} to {aside}")
        await self.call("POST", f"/containers/{self.id}/rename", params={"name": aside})
        try:
            await self.status(f"Creating the new {self.name}")
            created = await self.call("POST", "/containers/create", params={"name": self.name}, body=body)
        except BaseException:
            await self._undo(None)
            raise
        new_id = str(created["Id"])
        try:
            if self.running:
                await self.status(f"Stopping the old {self.name}")
                await self.call("POST", f"/containers/{self.id}/stop")
                await self.status(f"Starting the new {self.name}")
                await self.call("POST", f"/containers/{new_id}/start")
        except BaseException:
            await self._undo(new_id)
            raise
        await self.status(f"Removing the old {self.name}")
        try:
            await self.call("DELETE", f"/containers/{self.id}", params={"force": "1"})
        except MoordError as err:
            if err.status != 404:  # (an auto-removed container is gone already)
                await self.status(f"The old container {aside} is left: {err.message}")
        return new_id

    async def _undo(self, new_id: str | None) -> None:
        """Put the old container back: the successor removed, the name given back, started if it ran."""
        steps: list[tuple[str, str, dict[str, str] | None]] = []
        if new_id is not None:
            steps.append(("DELETE", f"/containers/{new_id}", {"force": "1"}))
        steps.append(("POST", f"/containers/{self.id}/rename", {"name": self.name}))
        if self.running:
            steps.append(("POST", f"/containers/{self.id}/start", None))
        for method, path, params in steps:
            try:
                await self.call(method, path, params=params)
            except MoordError:
                pass  # (already started, say): the rest is still tried
