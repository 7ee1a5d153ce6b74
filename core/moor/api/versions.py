"""Engine API versions: the range moord speaks and what changes with the ``/vX.Y/`` a client asks for.

moord serves API ``MIN_API_VERSION`` (1.12, as Docker 20.10) to ``API_VERSION`` (1.44); an unversioned
request gets the newest. The services know nothing of versions: the routes hand the requested version to
the views and to the request adapters below, which apply Docker's version gates at the edge.

:data:`GATES` is the table of every version-dependent change moord makes (each with the version it came
in, where it applies and what it does); the functions below implement them, one per shape.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from moor import API_VERSION, MIN_API_VERSION
from moor.errors import InvalidParameter

#: Requests of an older version get errors as plain text, not ``{"message": ...}`` (Docker 20.10).
JSON_ERRORS = "1.24"


@dataclass(frozen=True)
class Gate:
    """One version-dependent change: from ``since`` on, ``where`` behaves as ``what`` says."""

    since: str
    where: str
    what: str


GATES: tuple[Gate, ...] = (
    Gate("1.24", "errors", "a JSON {\"message\"} body; older versions get the message as text/plain"),
    Gate("1.24", "POST /containers/{id}/copy", "gone (404 with no body); older versions get a tar of the path"),
    Gate("1.24", "POST /containers/{id}/start", "a JSON body (the old HostConfig) is refused"),
    Gate("1.20", "GET /containers/{id}/json", "Mounts, not Volumes and VolumesRW; Config without the "
                                              "HostConfig's Memory, MemorySwap, CpuShares, Cpuset"),
    Gate("1.21", "GET /containers/{id}/json", "NetworkSettings.Networks; Config without ExposedPorts, MacAddress "
                                              "and NetworkDisabled (when empty), VolumeDriver"),
    Gate("1.20", "POST /containers/{id}/kill", "a container that does not run is a 409 (older: 204)"),
    Gate("1.21", "GET /containers/{id}/stats", "id, name and networks; older versions: one network object summed "
                                               "over the interfaces"),
    Gate("1.19", "POST /containers/create", "HostConfig.CpuShares as given (older: brought into 2-262144)"),
    Gate("1.25", "GET /info", "no ExecutionDriver (older: <not supported>); SecurityOptions as name=...,key=... "
                              "(older: the names only)"),
    Gate("1.40", "POST /containers/{id}/update", "PidsLimit read (older: ignored)"),
    Gate("1.42", "POST /containers/create, /containers/{id}/update", "KernelMemory ignored (removed)"),
    Gate("1.25", "POST /containers/create", "HostConfig.AutoRemove kept (older: false, the client removes)"),
    Gate("1.40", "POST /containers/create", "with a HostConfig: IpcMode as given (older: shareable when empty), "
                                            "KernelMemoryTCP and BindOptions.NonRecursive read"),
    Gate("1.28", "GET /containers/{id}/attach/ws", "output in binary frames (older: text frames)"),
    Gate("1.30", "POST /containers/{id}/wait", "the condition query parameter (older: not-running)"),
    Gate("1.41", "GET /images/json", "the filter query parameter is ignored (older: a reference filter)"),
    Gate("1.41", "GET /containers/{id}/stats", "the one-shot query parameter (older: ignored)"),
    Gate("1.42", "POST /containers/create", "Mounts' BindOptions.CreateMountpoint and HostConfig.ConsoleSize "
                                            "are read (older versions: dropped)"),
    Gate("1.42", "POST /containers/{id}/exec", "ConsoleSize is honoured"),
    Gate("1.42", "GET /containers/{id}/attach/ws", "the stdin, stdout and stderr query parameters (older: "
                                                   "every stream)"),
    Gate("1.42", "POST /containers/{id}/wait", "an unknown condition is refused (Docker 20.10: not-running)"),
    Gate("1.42", "POST /containers/{id}/stop, /restart", "the signal query parameter (older: ignored)"),
    Gate("1.42", "GET /containers/{id}/json", "HostConfig.KernelMemory and KernelMemoryTCP left out when 0"),
    Gate("1.42", "GET /system/df", "no BuilderSize; build cache records have Parents, not Parent; the type "
                                   "query parameter"),
    Gate("1.42", "POST /volumes/prune", "only anonymous volumes unless filter all=true (older: all)"),
    Gate("1.42", "GET /containers/{id}/logs", "Content-Type application/vnd.docker.multiplexed-stream "
                                              "without a TTY (older: raw-stream)"),
    Gate("1.43", "POST /containers/create", "HostConfig.Annotations kept"),
    Gate("1.43", "GET /images/json", "an untagged image has [] RepoTags/RepoDigests, not <none>:<none>"),
    Gate("1.44", "GET /images/json, /images/{name}/json, /system/df", "no VirtualSize"),
    Gate("1.44", "GET /containers/{id}/json", "DNSNames in each of NetworkSettings.Networks"),
    Gate("1.44", "GET /info", "CDISpecDirs (empty)"),
    Gate("1.44", "POST /containers/create (MAC)", "Config.MacAddress deprecated: a warning, and it must match "
                                                  "the main network's endpoint MacAddress"),
    Gate("1.44", "POST /containers/create", "Healthcheck.StartInterval kept; several EndpointsConfig networks "
                                            "(older: refused); an endpoint's MacAddress (older: dropped); "
                                            "BindOptions.ReadOnlyForceRecursive (older: refused)"),
)


def _object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (a shape to read and change without checks)."""
    return value if isinstance(value, dict) else {}


def parse(version: str) -> tuple[int, ...]:
    """``1.41`` as (1, 41), as Docker's ``versions.compare`` reads it: each dot-separated part a number (one
    that is not, such as an empty part, counts as 0), trailing zeros dropped (``1.41.0`` is ``1.41``); a part
    of more than 9 digits counts as 10**9 (int() refuses 4300 digits). An empty version is the newest."""
    if not version:
        return parse(API_VERSION)
    parts = [min(int(part[:10]), 10**9) if part.isdigit() else 0 for part in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def at_least(version: str, since: str) -> bool:
    """Whether a request of API ``version`` gets what came in ``since``."""
    return parse(version) >= parse(since)


def check(version: str) -> None:
    """Refuse a version this daemon does not speak, with Docker's words."""
    if parse(version) > parse(API_VERSION):
        raise InvalidParameter(f"client version {version} is too new. Maximum supported API version is {API_VERSION}")
    if parse(version) < parse(MIN_API_VERSION):
        raise InvalidParameter(f"client version {version} is too old. Minimum supported API version is "
                               f"{MIN_API_VERSION}, please upgrade your client to a newer version")


def json_errors(version: str) -> bool:
    """Whether an error goes to this version's client as ``{"message": ...}`` (else as plain text)."""
    return at_least(version, JSON_ERRORS)


# --------------------------------------------------------------------------- answers


def image_summary(row: dict[str, Any], version: str) -> dict[str, Any]:
    """A ``/images/json`` row (made in the newest shape) as ``version`` shows it."""
    if not at_least(version, "1.43") and not row.get("RepoTags") and not row.get("RepoDigests"):
        row["RepoTags"], row["RepoDigests"] = ["<none>:<none>"], ["<none>@<none>"]
    if not at_least(version, "1.44"):
        row["VirtualSize"] = row.get("Size", 0)
    return row


def image_inspect(doc: dict[str, Any], version: str) -> dict[str, Any]:
    """An image's inspect document as ``version`` shows it."""
    if not at_least(version, "1.44"):
        doc["VirtualSize"] = doc.get("Size", 0)
    return doc


def container_inspect(doc: dict[str, Any], version: str) -> dict[str, Any]:
    """A container's inspect document as ``version`` shows it."""
    host_config = doc.get("HostConfig")
    if not at_least(version, "1.21"):
        _legacy_container_inspect(doc, version)
    if at_least(version, "1.44"):
        _dns_names(doc)
    if at_least(version, "1.42") and isinstance(host_config, dict):
        for name in ("KernelMemory", "KernelMemoryTCP"):
            if not host_config.get(name):
                host_config.pop(name, None)
    return doc


def _dns_names(doc: dict[str, Any]) -> None:
    """API 1.44's ``DNSNames`` of each network: on a user-defined network the container answers to its name,
    its aliases, its short ID and its hostname (Docker 25); elsewhere, or before it joined, none."""
    name, short_id = str(doc.get("Name") or "").lstrip("/"), str(doc.get("Id") or "")[:12]
    hostname = str(_object(doc.get("Config")).get("Hostname") or "")
    for network, endpoint in _object(_object(doc.get("NetworkSettings")).get("Networks")).items():
        if not isinstance(endpoint, dict):
            continue
        names = None
        if network not in ("bridge", "host", "none", "default") and endpoint.get("EndpointID"):
            names = list(dict.fromkeys(n for n in (name, *(endpoint.get("Aliases") or ()), short_id, hostname) if n))
        endpoint["DNSNames"] = names


def _legacy_container_inspect(doc: dict[str, Any], version: str) -> None:
    """The inspect shapes of API 1.20 and older (Docker's v1p20 and v1p19 types)."""
    config = _object(doc.get("Config"))
    host_config = _object(doc.get("HostConfig"))
    settings = doc.get("NetworkSettings")
    if isinstance(settings, dict):
        settings.pop("Networks", None)
    config.setdefault("ExposedPorts", None)  # v1p20's own fields: shown even when empty
    config.setdefault("MacAddress", "")
    config.setdefault("NetworkDisabled", False)
    config["VolumeDriver"] = host_config.get("VolumeDriver", "")
    if at_least(version, "1.20"):
        return
    mounts = doc.pop("Mounts", None) or []
    doc["Volumes"] = {m.get("Destination"): m.get("Source") for m in mounts if isinstance(m, dict)}
    doc["VolumesRW"] = {m.get("Destination"): bool(m.get("RW")) for m in mounts if isinstance(m, dict)}
    for name in ("Memory", "MemorySwap", "CpuShares"):
        config[name] = host_config.get(name) or 0
    config["Cpuset"] = host_config.get("CpusetCpus") or ""


DISK_USAGE_TYPES = {"container": ("Containers",), "image": ("Images", "LayersSize"), "volume": ("Volumes",),
                    "build-cache": ("BuildCache",)}


def disk_usage(doc: dict[str, Any], version: str, types: list[str] | None = None) -> dict[str, Any]:
    """``/system/df``'s answer as ``version`` shows it; from API 1.42 ``types`` (the ``type`` query
    parameters) keep only those kinds of object (the others null, as Docker 23+)."""
    if types and at_least(version, "1.42"):
        for kind in types:
            if kind not in DISK_USAGE_TYPES:
                raise InvalidParameter(f"unknown object type: {kind}")
        for kind, keys in DISK_USAGE_TYPES.items():
            if kind not in types:
                for key in keys:
                    doc[key] = 0 if key == "LayersSize" else None
    for row in doc.get("Images") or []:
        image_summary(row, version)
    if at_least(version, "1.42"):
        doc.pop("BuilderSize", None)
        for record in doc.get("BuildCache") or []:
            parent = record.pop("Parent", "")
            if parent:  # omitted when empty, as Docker's omitempty
                record.setdefault("Parents", [parent])
    return doc


def stats(sample: dict[str, Any], version: str) -> dict[str, Any]:
    """One ``/containers/{id}/stats`` sample as ``version`` shows it."""
    if at_least(version, "1.21"):
        return sample
    totals = dict.fromkeys(("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes", "tx_packets",
                            "tx_errors", "tx_dropped"), 0)
    for interface in _object(sample.get("networks")).values():
        for key in totals:
            totals[key] += int(_object(interface).get(key) or 0)
    old = {key: value for key, value in sample.items() if key not in ("id", "name", "networks")}
    old["network"] = totals
    return old


def stats_one_shot(one_shot: bool, version: str) -> bool:
    """``one-shot`` of ``/containers/{id}/stats``: read from API 1.41 on."""
    return one_shot and at_least(version, "1.41")


def info(doc: dict[str, Any], version: str) -> dict[str, Any]:
    """``/info`` as ``version`` shows it."""
    if not at_least(version, "1.25"):
        doc["ExecutionDriver"] = "<not supported>"
        doc["SecurityOptions"] = [_security_option_name(option) for option in doc.get("SecurityOptions") or []]
    if at_least(version, "1.44"):
        doc.setdefault("CDISpecDirs", [])  # no CDI devices: the empty list of a daemon without experimental
    return doc


def _security_option_name(option: str) -> str:
    """``name=seccomp,profile=default`` as API < 1.25 shows it: ``seccomp``."""
    for part in option.split(","):
        key, _, value = part.partition("=")
        if key == "name":
            return value
    return option


def logs_multiplexed_type(version: str) -> bool:
    """Whether a multiplexed (no TTY) stream says so in its Content-Type (else ``raw-stream``)."""
    return at_least(version, "1.42")


# --------------------------------------------------------------------------- requests


def container_create(body: dict[str, Any], version: str) -> dict[str, Any]:
    """A decoded ``/containers/create`` body as the newest API reads it: what ``version`` does not know
    is dropped, what it refuses is refused (Docker's words). A body that is no object (``null``) is left to the
    container service, whose error names it."""
    if not isinstance(body, dict):
        return body
    body = copy.deepcopy(body)
    host_config = _object(body.get("HostConfig"))
    if at_least(version, "1.42"):
        host_config.pop("KernelMemory", None)  # removed in 1.42: ignored
    if at_least(version, "1.44"):
        _check_container_mac(body)
        return body
    endpoints = (body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    if len(endpoints) > 1:
        raise InvalidParameter(f"Container cannot be connected to network endpoints: {', '.join(sorted(endpoints))}")
    for settings in endpoints.values():
        if isinstance(settings, dict):
            settings.pop("MacAddress", None)  # the container-wide Config.MacAddress is the old way
    if isinstance(body.get("Healthcheck"), dict):
        body["Healthcheck"].pop("StartInterval", None)
    for mount in host_config.get("Mounts") or []:
        options = mount.get("BindOptions") if isinstance(mount, dict) else None
        if isinstance(options, dict):
            if options.get("ReadOnlyForceRecursive"):
                raise InvalidParameter("BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer")
            if not at_least(version, "1.42"):
                options.pop("CreateMountpoint", None)
    if not at_least(version, "1.43"):
        host_config.pop("Annotations", None)
    if not at_least(version, "1.42"):
        host_config.pop("ConsoleSize", None)
    if isinstance(body.get("HostConfig"), dict):  # Docker 20.10: only when the request has a HostConfig
        _legacy_host_config(host_config, version)
    return body


MAC_DEPRECATED = ("The container-wide MacAddress field is now deprecated. It should be specified in EndpointsConfig "
                  "instead.")


def _primary_endpoint(body: dict[str, Any]) -> dict[str, Any] | None:
    """The endpoint settings of the network the container's network mode names (None: not a network)."""
    mode = str(_object(body.get("HostConfig")).get("NetworkMode") or "default")
    if mode in ("host", "none") or mode.startswith("container:"):
        return None
    endpoints = _object(_object(body.get("NetworkingConfig")).get("EndpointsConfig"))
    return _object(endpoints.get(mode) or endpoints.get("bridge" if mode == "default" else mode))


def _check_container_mac(body: dict[str, Any]) -> None:
    """API 1.44: the container-wide ``Config.MacAddress`` must agree with the main network's endpoint one."""
    mac = body.get("MacAddress")
    primary = _primary_endpoint(body)
    if mac and primary and primary.get("MacAddress") and primary["MacAddress"] != mac:
        raise InvalidParameter("the container-wide MAC address should match the endpoint-specific MAC address for "
                               "the main network or should be left empty")


def create_warnings(body: dict[str, Any], version: str) -> list[str]:
    """The warnings ``/containers/create`` adds for what ``version`` deprecates (Docker 25's words)."""
    return [MAC_DEPRECATED] if at_least(version, "1.44") and body.get("MacAddress") else []


def _legacy_host_config(host_config: dict[str, Any], version: str) -> None:
    """What Docker 20.10 does to an old client's HostConfig at create."""
    if not at_least(version, "1.40"):
        host_config.pop("KernelMemoryTCP", None)
        host_config["IpcMode"] = host_config.get("IpcMode") or "shareable"  # what old clients expect
        for mount in host_config.get("Mounts") or []:
            if isinstance(mount, dict) and isinstance(mount.get("BindOptions"), dict):
                mount["BindOptions"].pop("NonRecursive", None)
    if not at_least(version, "1.25"):
        host_config["AutoRemove"] = False  # the client removes the container itself
    shares = host_config.get("CpuShares")
    if not at_least(version, "1.19") and isinstance(shares, int) and shares > 0:
        host_config["CpuShares"] = min(max(shares, 2), 262144)  # Linux's range, as Docker adjusted it


def container_update(body: dict[str, Any], version: str) -> dict[str, Any]:
    """A decoded ``/containers/{id}/update`` body: PidsLimit read from API 1.40, KernelMemory ignored from
    1.42 (removed)."""
    drop = {"PidsLimit"} if not at_least(version, "1.40") else set()
    if at_least(version, "1.42"):
        drop.add("KernelMemory")
    return {key: value for key, value in body.items() if key not in drop}


def exec_create(body: dict[str, Any], version: str) -> dict[str, Any]:
    """A decoded ``/containers/{id}/exec`` body: ``ConsoleSize`` only from 1.42 on."""
    if not at_least(version, "1.42") and "ConsoleSize" in body:
        body = {key: value for key, value in body.items() if key != "ConsoleSize"}
    return body


def stop_signal(signal: str, version: str) -> str:
    """``signal`` of ``/containers/{id}/stop`` and ``/restart``: read from API 1.42 on (older: ignored)."""
    return signal if at_least(version, "1.42") else ""


def wait_condition(condition: str, known: tuple[str, ...], version: str) -> str:
    """The ``condition`` of ``/containers/{id}/wait``: ignored before API 1.30; one Docker does not know waits
    for not-running up to 1.41 (Docker 20.10), and is refused from 1.42 on (Docker 23+)."""
    if not at_least(version, "1.30") or not condition:
        return "not-running"
    if condition in known:
        return condition
    if at_least(version, "1.42"):
        raise InvalidParameter(f'invalid condition: "{condition}"')
    return "not-running"


def legacy_image_filter(version: str) -> bool:
    """Whether ``/images/json?filter=NAME`` (a reference filter) is read: below API 1.41, as Docker 20.10."""
    return not at_least(version, "1.41")


def kill_stopped_ok(version: str) -> bool:
    """Whether killing a container that does not run succeeds (API < 1.20, Docker 20.10) instead of 409."""
    return not at_least(version, "1.20")


def ws_streams_chosen(version: str) -> bool:
    """Whether ``/containers/{id}/attach/ws`` reads ``stdin``/``stdout``/``stderr`` (API 1.42; older: all)."""
    return at_least(version, "1.42")


def ws_binary_frames(version: str) -> bool:
    """Whether ``/containers/{id}/attach/ws`` sends the output as binary frames (API 1.28; older: text)."""
    return at_least(version, "1.28")


def start_body_allowed(version: str) -> bool:
    """Whether ``/containers/{id}/start`` of this version may carry a body (the HostConfig of API < 1.24)."""
    return not at_least(version, "1.24")


def legacy_copy(version: str) -> bool:
    """Whether ``POST /containers/{id}/copy`` is served (API < 1.24)."""
    return not at_least(version, "1.24")
