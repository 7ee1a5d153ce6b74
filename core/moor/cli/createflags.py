"""The flags of ``moor create`` and ``moor run`` as the body of ``POST /containers/create``.

:func:`container_options` adds Docker's create flags to a click command; :func:`create_body`
turns their values into the API's JSON, refusing bad values with the docker CLI's words and
exit code 125. ``moor exec`` reads its ``-e``/``--env-file`` flags with the same functions.
"""

from __future__ import annotations

import os
from typing import Any

import click

from moor.cli.output import ENGINE_ERROR, fail


def parse_env_file(path: str) -> list[str]:
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except OSError as err:
        fail(f"open {path}: {(err.strerror or str(err)).lower()}", ENGINE_ERROR)
    result = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            if line in os.environ:
                result.append(f"{line}={os.environ[line]}")
            continue
        result.append(line)
    return result


def env_list(values: tuple[str, ...]) -> list[str]:
    result = []
    for value in values:
        if "=" in value:
            result.append(value)
        elif value in os.environ:
            result.append(f"{value}={os.environ[value]}")
    return result


def _labels(values: tuple[str, ...]) -> dict[str, str]:
    labels = {}
    for value in values:
        key, _, rest = value.partition("=")
        labels[key] = rest
    return labels


def _log_opts(values: tuple[str, ...]) -> dict[str, str]:
    options = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep:
            fail(f'invalid argument "{value}" for "--log-opt" flag: invalid log opt format', ENGINE_ERROR)
        options[key] = rest
    return options


def container_options(function: Any) -> Any:
    options = [
        click.option("--name", default="", help="Assign a name to the container"),
        click.option("-e", "--env", multiple=True, help="Set environment variables"),
        click.option("--env-file", multiple=True, help="Read in a file of environment variables"),
        click.option("-h", "--hostname", default="", help="Container host name"),
        click.option("--entrypoint", default=None, help="Overwrite the default ENTRYPOINT of the image"),
        click.option("-u", "--user", default="", help="Username or UID (format: <name|uid>[:<group|gid>])"),
        click.option("-w", "--workdir", default="", help="Working directory inside the container"),
        click.option("-l", "--label", multiple=True, help="Set meta data on a container"),
        click.option("--stop-signal", default="", help="Signal to stop the container"),
        click.option("--stop-timeout", type=int, default=None, help="Timeout (in seconds) to stop a container"),
        click.option("--net", "--network", "network", default="", help="Connect a container to a network"),
        click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open even if not attached"),
        click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY"),
        click.option("--rm", is_flag=True, help="Automatically remove the container when it exits"),
        click.option("--log-driver", default="", help="Logging driver for the container"),
        click.option("--log-opt", multiple=True, help="Log driver options"),
        click.option("--privileged", is_flag=True, help="Give extended privileges to this container"),
        click.option("--cap-add", multiple=True, help="Add Linux capabilities"),
        click.option("--cap-drop", multiple=True, help="Drop Linux capabilities"),
        click.option("--read-only", is_flag=True, help="Mount the container's root filesystem as read only"),
        click.option("--shm-size", default="", help="Size of /dev/shm"),
        click.option("--ulimit", multiple=True, help="Ulimit options"),
        click.option("-m", "--memory", default=None, help="Memory limit"),
        click.option("--memory-swap", default=None,
                     help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
        click.option("--memory-reservation", default=None, help="Memory soft limit"),
        click.option("--cpus", default=None, help="Number of CPUs"),
        click.option("-c", "--cpu-shares", default=None, help="CPU shares (relative weight)"),
        click.option("--cpu-period", default=None, help="Limit CPU CFS (Completely Fair Scheduler) period"),
        click.option("--cpu-quota", default=None, help="Limit CPU CFS (Completely Fair Scheduler) quota"),
        click.option("--cpuset-cpus", default=None, help="CPUs in which to allow execution (0-3, 0,1)"),
        click.option("--cpuset-mems", default=None, help="MEMs in which to allow execution (0-3, 0,1)"),
        click.option("--pids-limit", default=None, help="Tune container pids limit (set -1 for unlimited)"),
        click.option("--restart", default="no", help="Restart policy to apply when a container exits"),
        click.option("--health-cmd", default="", help="Command to run to check health"),
        click.option("--health-interval", default="", help="Time between running the check (ms|s|m|h)"),
        click.option("--health-timeout", default="", help="Maximum time to allow one check to run (ms|s|m|h)"),
        click.option("--health-retries", type=int, default=0, help="Consecutive failures needed to report unhealthy"),
        click.option("--health-start-period", default="", help="Start period before failures count (ms|s|m|h)"),
        click.option("--no-healthcheck", is_flag=True, help="Disable any container-specified HEALTHCHECK"),
        click.option("--tmpfs", multiple=True, help="Mount a tmpfs directory"),
        click.option("-v", "--volume", "volume", multiple=True, help="Bind mount a volume"),
        click.option("--mount", multiple=True, help="Attach a filesystem mount to the container"),
        click.option("--volumes-from", multiple=True, help="Mount volumes from the specified container(s)"),
        click.option("--volume-driver", default="", help="Optional volume driver for the container"),
        click.option("--security-opt", multiple=True, help="Security Options"),
        click.option("--init", is_flag=True, help="Run an init inside the container that forwards signals and reaps"),
        click.option("--device", multiple=True, help="Add a host device to the container"),
        click.option("--sysctl", multiple=True, help="Sysctl options"),
        click.option("--add-host", multiple=True, help="Add a custom host-to-IP mapping (host:ip)"),
        click.option("--group-add", multiple=True, help="Add additional groups to join"),
        click.option("--dns", multiple=True, help="Set custom DNS servers"),
        click.option("--dns-search", multiple=True, help="Set custom DNS search domains"),
        click.option("--dns-option", multiple=True, help="Set DNS options"),
        click.option("--domainname", default="", help="Container NIS domain name"),
        click.option("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)"),
        click.option("--mac-address", default="", help="Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
        click.option("--network-alias", multiple=True, help="Add network-scoped alias for the container"),
        click.option("-p", "--publish", multiple=True, help="Publish a container's port(s) to the host"),
        click.option("-P", "--publish-all", is_flag=True, help="Publish all exposed ports to random ports"),
        click.option("--expose", multiple=True, help="Expose a port or a range of ports"),
        click.option("--link", multiple=True, help="Add link to another container (name:alias)"),
        click.argument("image"),
        click.argument("command", nargs=-1, type=click.UNPROCESSED),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def create_body(o: dict[str, Any], attach_stdin: bool, attach_out: bool) -> dict[str, Any]:
    env = []
    for path in o["env_file"]:
        env += parse_env_file(path)
    env += env_list(o["env"])
    host_config: dict[str, Any] = {
        "NetworkMode": o["network"] or "default",
        "AutoRemove": o["rm"],
        "Privileged": o["privileged"],
        "CapAdd": list(o["cap_add"]) or None,
        "CapDrop": list(o["cap_drop"]) or None,
        "ReadonlyRootfs": o["read_only"],
        "LogConfig": {"Type": o["log_driver"], "Config": _log_opts(o["log_opt"])},
    }
    if o["shm_size"]:
        from moor.errors import InvalidParameter
        from moor.units import parse_size

        try:
            host_config["ShmSize"] = parse_size(o["shm_size"], "shm-size")
        except (InvalidParameter, OverflowError) as err:  # a usage error here
            fail(str(err), ENGINE_ERROR)
    if o["ulimit"]:
        host_config["Ulimits"] = [_ulimit(u) for u in o["ulimit"]]
    from moor.cli.resourceflags import resource_flags_to_host_config

    host_config.update(resource_flags_to_host_config(
        o["memory"], o["memory_swap"], o["cpus"], o["cpu_shares"], o["cpuset_cpus"],
        None if o["pids_limit"] in (None, "0") else o["pids_limit"], cpu_period=o["cpu_period"],
        cpu_quota=o["cpu_quota"], memory_reservation=o["memory_reservation"], cpuset_mems=o["cpuset_mems"]))
    from moor.containers.restart import parse_policy
    from moor.errors import InvalidParameter

    try:
        host_config["RestartPolicy"] = parse_policy(o["restart"])
    except InvalidParameter as err:
        fail(str(err), ENGINE_ERROR)
    if o["rm"] and host_config["RestartPolicy"]["Name"] != "no":
        fail("Conflicting options: --restart and --rm", ENGINE_ERROR)
    healthcheck = _healthcheck(o)
    host_config["Tmpfs"] = {path: opts for path, _, opts in (t.partition(":") for t in o["tmpfs"])} or None
    host_config["SecurityOpt"] = security_opts(o["security_opt"]) or None
    anonymous = _mount_flags(o, host_config)
    host_config["Init"] = True if o["init"] else None
    host_config["Devices"] = [_device(d) for d in o["device"]] or None
    host_config["Sysctls"] = dict(s.partition("=")[::2] for s in o["sysctl"]) or None
    host_config["ExtraHosts"] = list(o["add_host"]) or None
    host_config["GroupAdd"] = list(o["group_add"]) or None
    host_config["Dns"] = list(o["dns"]) or None
    host_config["DnsSearch"] = list(o["dns_search"]) or None
    host_config["DnsOptions"] = list(o["dns_option"]) or None
    body: dict[str, Any] = {
        "Hostname": o["hostname"], "User": o["user"], "Env": env, "Cmd": list(o["command"]) or None,
        "Image": o["image"], "WorkingDir": o["workdir"], "Labels": _labels(o["label"]),
        "Tty": o["tty"], "OpenStdin": o["interactive"], "StdinOnce": o["interactive"] and attach_stdin,
        "AttachStdin": attach_stdin, "AttachStdout": attach_out, "AttachStderr": attach_out,
        "StopSignal": o["stop_signal"] or None, "HostConfig": host_config,
    }
    if o["stop_timeout"] is not None:
        body["StopTimeout"] = o["stop_timeout"]
    if anonymous:
        body["Volumes"] = anonymous
    if healthcheck is not None:
        body["Healthcheck"] = healthcheck
    body["Domainname"] = o["domainname"]
    if o["mac_address"]:
        from moor.errors import InvalidParameter
        from moor.netaddr import check_mac_address

        try:
            body["MacAddress"] = check_mac_address(o["mac_address"])
        except InvalidParameter as err:
            fail(f'invalid argument "{o["mac_address"]}" for "--mac-address" flag: {err}', ENGINE_ERROR)
    bindings = port_bindings(o["publish"])
    exposed: dict[str, dict[str, Any]] = {port: {} for port in bindings}
    for text in o["expose"]:
        for port in _port_range(text):
            exposed[port] = {}
    host_config["PortBindings"] = bindings or None
    host_config["Links"] = list(o["link"]) or None
    host_config["PublishAllPorts"] = o["publish_all"]
    if exposed:
        body["ExposedPorts"] = exposed
    network = o["network"]
    user_defined = bool(network) and network not in ("bridge", "host", "none", "default") and not str(
        network).startswith("container:")
    if (o["ip"] or o["network_alias"] or o["link"]) and user_defined:
        # as the docker CLI: --link on a user-defined network is the endpoint's (the engine keeps no legacy link)
        endpoint = {"Aliases": list(o["network_alias"]) or None,
                    **({"IPAMConfig": {"IPv4Address": o["ip"]}} if o["ip"] else {}),
                    **({"Links": list(o["link"])} if o["link"] else {})}
        body["NetworkingConfig"] = {"EndpointsConfig": {network: endpoint}}
    elif o["ip"] or o["network_alias"]:
        fail("user specified IP address is supported on user defined networks only", ENGINE_ERROR)
    mode = network or "default"
    if body.get("MacAddress") and mode not in ("host", "none") and not mode.startswith("container:"):
        # as the docker CLI at API 1.44: the main network's endpoint MacAddress (Config.MacAddress is deprecated)
        endpoints = body.setdefault("NetworkingConfig", {"EndpointsConfig": {}})["EndpointsConfig"]
        endpoints.setdefault(mode, {})["MacAddress"] = body.pop("MacAddress")
    if o["entrypoint"] is not None:
        body["Entrypoint"] = [o["entrypoint"]] if o["entrypoint"] else [""]
    return body


def _mount_flags(o: dict[str, Any], host_config: dict[str, Any]) -> dict[str, Any]:
    """-v, --mount, --volumes-from, --volume-driver into the HostConfig; returns Config.Volumes."""
    from moor.cli.mountflags import MountFlagError, parse_mount, split_volumes

    try:
        binds, anonymous = split_volumes(o["volume"])
    except MountFlagError as err:
        fail(str(err), ENGINE_ERROR)
    mounts = []
    for value in o["mount"]:
        try:
            mounts.append(parse_mount(value))
        except MountFlagError as err:
            fail(f'invalid argument "{value}" for "--mount" flag: {err}', ENGINE_ERROR)
    host_config["Binds"] = binds or None
    if mounts:
        host_config["Mounts"] = mounts
    host_config["VolumesFrom"] = list(o["volumes_from"]) or None
    host_config["VolumeDriver"] = o["volume_driver"]
    return anonymous


def _port_range(text: str) -> list[str]:
    """``80``, ``80/udp``, ``8000-8002`` -> ["80/tcp", ...]."""
    number, _, protocol = text.partition("/")
    start, _, end = number.partition("-")
    if not start.isdigit() or (end and not end.isdigit()):
        fail(f'invalid argument "{text}" for "-p, --publish" flag: Invalid containerPort: {number}', ENGINE_ERROR)
    return [f"{port}/{protocol or 'tcp'}" for port in range(int(start), int(end or start) + 1)]


def port_bindings(values: tuple[str, ...]) -> dict[str, list[dict[str, str]]]:
    """Docker's -p forms: port, host:port, ip:host:port, ip::port, ranges, /udp."""
    bindings: dict[str, list[dict[str, str]]] = {}
    for value in values:
        parts = value.rsplit(":", 2) if value.count(":") <= 2 else None
        if parts is None:
            fail(f'invalid argument "{value}" for "-p, --publish" flag: Invalid hostPort', ENGINE_ERROR)
        container_part = parts[-1]
        host_port = parts[-2] if len(parts) >= 2 else ""
        host_ip = parts[0] if len(parts) == 3 else ""
        ports = _port_range(container_part)
        host_ports = [p.split("/")[0] for p in _port_range(host_port)] if host_port else [""] * len(ports)
        if len(host_ports) != len(ports) and len(ports) == 1:  # -p 8000-8010:80: the first free host port
            host_ports = [host_port]
        elif len(host_ports) != len(ports):
            fail(f'invalid argument "{value}" for "-p, --publish" flag: Invalid ranges specified for container '
                 f'and host Ports: {container_part.split("/")[0]} and {host_port}', ENGINE_ERROR)
        for port, host in zip(ports, host_ports):
            bindings.setdefault(port, []).append({"HostIp": host_ip, "HostPort": host})
    return bindings


def _device(text: str) -> dict[str, str]:
    parts = text.split(":")
    host = parts[0]
    inside = parts[1] if len(parts) > 1 and parts[1] else host
    permissions = parts[2] if len(parts) > 2 else "rwm"
    return {"PathOnHost": host, "PathInContainer": inside, "CgroupPermissions": permissions}


def _healthcheck(o: dict[str, Any]) -> dict[str, Any] | None:
    durations = {"Interval": o["health_interval"], "Timeout": o["health_timeout"],
                 "StartPeriod": o["health_start_period"]}
    given = o["health_cmd"] or any(durations.values()) or o["health_retries"]
    if o["no_healthcheck"]:
        if given:
            fail("--no-healthcheck conflicts with --health-* options", ENGINE_ERROR)
        return {"Test": ["NONE"]}
    if not given:
        return None
    from moor.images.healthcheck import go_duration_nanos  # (here: it loads re2, which a plain run never needs)

    check: dict[str, Any] = {"Test": ["CMD-SHELL", o["health_cmd"]] if o["health_cmd"] else []}
    for key, text in durations.items():
        if text:
            nanos = go_duration_nanos(text)
            if nanos <= 0 and text not in ("0", "0s"):
                fail(f'invalid argument "{text}" for "--health-{key.lower()}" flag: time: invalid duration',
                     ENGINE_ERROR)
            check[key] = nanos
    if o["health_retries"]:
        check["Retries"] = o["health_retries"]
    return check


def _ulimit(text: str) -> dict[str, Any]:
    name, _, values = text.partition("=")
    soft, _, hard = values.partition(":")
    try:
        return {"Name": name, "Soft": int(soft), "Hard": int(hard or soft)}
    except ValueError:
        fail(f'invalid argument "{text}" for "--ulimit" flag: invalid ulimit argument: {text}', ENGINE_ERROR)


def security_opts(values: tuple[str, ...]) -> list[str]:
    """``--security-opt`` values as the docker CLI sends them: a seccomp profile's file becomes its JSON."""
    import json

    result = []
    for value in values:
        key, separator, rest = value.partition("=")
        if not separator and value != "no-new-privileges":
            if ":" not in value:
                fail(f'Invalid --security-opt: "{value}"', ENGINE_ERROR)
            key, separator, rest = value.partition(":")
        if key == "seccomp" and rest != "unconfined":
            try:
                with open(rest, encoding="utf-8") as handle:
                    profile = json.load(handle)
            except OSError as err:
                fail(f"opening seccomp profile ({rest}) failed: {(err.strerror or str(err)).lower()}", ENGINE_ERROR)
            except ValueError as err:
                fail(f"compacting json for seccomp profile ({rest}) failed: {err}", ENGINE_ERROR)
            value = "seccomp=" + json.dumps(profile, separators=(",", ":"))
        result.append(value)
    return result
