"""Container commands: run, create, start, ps, stop, kill, restart, rm, wait, rename, logs, top, prune."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from moor.cli.main import client_of
from moor.cli.output import act_on_each, fail, print_table, render_format
from moor.cli.queryflags import filters_param, since_param
from moor.cli.streams import attach_and_wait, demux_to_stdout
from moor.client import Client, DaemonError, quote_name
from moor.timefmt import human_duration
from moor.units import human_size

ENGINE_ERROR = 125


def _parse_env_file(path: str) -> list[str]:
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
            import os

            if line in os.environ:
                result.append(f"{line}={os.environ[line]}")
            continue
        result.append(line)
    return result


def _env_list(values: tuple[str, ...]) -> list[str]:
    import os

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


def _container_options(function: Any) -> Any:
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


def _create_body(o: dict[str, Any], attach_stdin: bool, attach_out: bool) -> dict[str, Any]:
    env = []
    for path in o["env_file"]:
        env += _parse_env_file(path)
    env += _env_list(o["env"])
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
    host_config["SecurityOpt"] = list(o["security_opt"]) or None
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
    bindings = _port_bindings(o["publish"])
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
    if (o["ip"] or o["network_alias"]) and network and network not in ("bridge", "host", "none", "default"):
        endpoint = {"Aliases": list(o["network_alias"]) or None,
                    **({"IPAMConfig": {"IPv4Address": o["ip"]}} if o["ip"] else {})}
        body["NetworkingConfig"] = {"EndpointsConfig": {network: endpoint}}
    elif o["ip"] or o["network_alias"]:
        fail("user specified IP address is supported on user defined networks only", ENGINE_ERROR)
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


def _port_bindings(values: tuple[str, ...]) -> dict[str, list[dict[str, str]]]:
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
    from moor.images.healthcheck import go_duration_nanos

    durations = {"Interval": o["health_interval"], "Timeout": o["health_timeout"],
                 "StartPeriod": o["health_start_period"]}
    given = o["health_cmd"] or any(durations.values()) or o["health_retries"]
    if o["no_healthcheck"]:
        if given:
            fail("--no-healthcheck conflicts with --health-* options", ENGINE_ERROR)
        return {"Test": ["NONE"]}
    if not given:
        return None
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


def _create(client: Client, body: dict[str, Any], name: str) -> str:
    try:
        reply = client.call("POST", "/containers/create", {"name": name or None}, body=body)
    except DaemonError as err:
        if err.status == 404 and "No such image" in err.message:
            image = body["Image"]
            if ":" not in image.rsplit("/", 1)[-1] and "@" not in image:
                image += ":latest"
            click.echo(f"Unable to find image '{image}' locally", err=True)
        click.echo(f"Error response from daemon: {err.message}", err=True)
        sys.exit(ENGINE_ERROR)
    for warning in reply.get("Warnings") or []:
        click.echo(f"WARNING: {warning}", err=True)
    return reply["Id"]


@click.command("create")
@_container_options
@click.pass_context
def create(ctx: click.Context, **options: Any) -> None:
    """Create a new container."""
    body = _create_body(options, False, False)
    click.echo(_create(client_of(ctx), body, options["name"]))


@click.command("run", context_settings={"allow_interspersed_args": False})
@click.option("-d", "--detach", is_flag=True, help="Run container in background and print container ID")
@click.option("--detach-keys", default="", help="Override the key sequence for detaching a container")
@click.option("--sig-proxy/--no-sig-proxy", default=True, help="Proxy received signals to the process")
@_container_options
@click.pass_context
def run(ctx: click.Context, detach: bool, detach_keys: str, sig_proxy: bool, **options: Any) -> None:
    """Run a command in a new container."""
    if detach and options["rm"] is False:
        pass
    client = client_of(ctx)
    attach_stdin = options["interactive"] and not detach
    body = _create_body(options, attach_stdin, not detach)
    container_id = _create(client, body, options["name"])
    if detach:
        _start(client, container_id)
        click.echo(container_id)
        return
    code = attach_and_wait(client, container_id, tty=options["tty"], stdin=attach_stdin,
                           detach_keys=detach_keys, sig_proxy=sig_proxy and not options["tty"],
                           start=lambda: _start(client, container_id), auto_remove=options["rm"])
    sys.exit(code)


def _start(client: Client, container_id: str) -> None:
    try:
        client.call("POST", f"/containers/{container_id}/start")
    except DaemonError as err:
        click.echo(f"Error response from daemon: {err.message}", err=True)
        sys.exit(_exit_code_of(err.message))


def _exit_code_of(message: str) -> int:
    lowered = message.lower()
    if "executable file not found" in lowered or "no such file or directory" in lowered:
        return 127
    if "permission denied" in lowered:
        return 126
    return ENGINE_ERROR


@click.command("start")
@click.argument("containers", nargs=-1, required=True)
@click.option("-a", "--attach", is_flag=True, help="Attach STDOUT/STDERR and forward signals")
@click.option("-i", "--interactive", is_flag=True, help="Attach container's STDIN")
@click.option("--detach-keys", default="", help="Override the key sequence for detaching a container")
@click.pass_context
def start(ctx: click.Context, containers: tuple[str, ...], attach: bool, interactive: bool, detach_keys: str) -> None:
    """Start one or more stopped containers."""
    client = client_of(ctx)
    if attach or interactive:
        if len(containers) > 1:
            fail("you cannot start and attach multiple containers at once", 1)
        info = client.get(f"/containers/{quote_name(containers[0])}/json")
        code = attach_and_wait(client, info["Id"], tty=info["Config"]["Tty"],
                               stdin=interactive and info["Config"]["OpenStdin"], detach_keys=detach_keys,
                               sig_proxy=not info["Config"]["Tty"],
                               start=lambda: client.call("POST", f"/containers/{info['Id']}/start"),
                               auto_remove=False)
        sys.exit(code)
    act_on_each(containers, lambda c: client.call("POST", f"/containers/{quote_name(c)}/start"))


@click.command("stop")
@click.argument("containers", nargs=-1, required=True)
@click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds to wait for stop before killing it")
@click.pass_context
def stop(ctx: click.Context, containers: tuple[str, ...], timeout: int | None) -> None:
    """Stop one or more running containers."""
    client = client_of(ctx)
    act_on_each(containers, lambda c: client.call("POST", f"/containers/{quote_name(c)}/stop", {"t": timeout}))


@click.command("restart")
@click.argument("containers", nargs=-1, required=True)
@click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds to wait for stop before killing it")
@click.pass_context
def restart(ctx: click.Context, containers: tuple[str, ...], timeout: int | None) -> None:
    """Restart one or more containers."""
    client = client_of(ctx)
    act_on_each(containers, lambda c: client.call("POST", f"/containers/{quote_name(c)}/restart", {"t": timeout}))


@click.command("kill")
@click.argument("containers", nargs=-1, required=True)
@click.option("-s", "--signal", "signal", default="KILL", help="Signal to send to the container")
@click.pass_context
def kill(ctx: click.Context, containers: tuple[str, ...], signal: str) -> None:
    """Kill one or more running containers."""
    client = client_of(ctx)
    act_on_each(containers, lambda c: client.call("POST", f"/containers/{quote_name(c)}/kill", {"signal": signal}))


@click.command("rm")
@click.argument("containers", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force the removal of a running container (uses SIGKILL)")
@click.option("-v", "--volumes", is_flag=True, help="Remove anonymous volumes associated with the container")
@click.pass_context
def rm(ctx: click.Context, containers: tuple[str, ...], force: bool, volumes: bool) -> None:
    """Remove one or more containers."""
    client = client_of(ctx)
    params = {"force": "1" if force else None, "v": "1" if volumes else None}
    act_on_each(containers, lambda c: client.call("DELETE", f"/containers/{quote_name(c)}", params))


@click.command("wait")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def wait(ctx: click.Context, containers: tuple[str, ...]) -> None:
    """Block until one or more containers stop, then print their exit codes."""
    client = client_of(ctx)

    def one(name: str) -> None:
        reply = client.call("POST", f"/containers/{quote_name(name)}/wait")
        click.echo(reply["StatusCode"])

    act_on_each(containers, one, echo=False)


@click.command("rename")
@click.argument("container")
@click.argument("new_name")
@click.pass_context
def rename(ctx: click.Context, container: str, new_name: str) -> None:
    """Rename a container."""
    client_of(ctx).call("POST", f"/containers/{quote_name(container)}/rename", {"name": new_name})


@click.command("logs")
@click.argument("container")
@click.option("-f", "--follow", is_flag=True, help="Follow log output")
@click.option("--tail", "-n", default="all", help="Number of lines to show from the end of the logs")
@click.option("--since", default="", help="Show logs since timestamp or relative (e.g. 42m)")
@click.option("--until", default="", help="Show logs before a timestamp or relative (e.g. 42m)")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps")
@click.option("--details", is_flag=True, help="Show extra details provided to logs")
@click.pass_context
def logs(ctx: click.Context, container: str, follow: bool, tail: str, since: str, until: str, timestamps: bool,
         details: bool) -> None:
    """Fetch the logs of a container."""
    client = client_of(ctx)
    info = client.get(f"/containers/{quote_name(container)}/json")
    response = client.open("GET", f"/containers/{quote_name(container)}/logs", {
        "stdout": "1", "stderr": "1", "follow": "1" if follow else None, "tail": tail,
        "since": since_param(since), "until": since_param(until), "timestamps": "1" if timestamps else None})
    demux_to_stdout(response, info["Config"]["Tty"])


def _mounts_text(mounts: list[dict[str, Any]], no_trunc: bool) -> str:
    """``{{.Mounts}}``: volume names or bind sources, each cut to 15 characters unless --no-trunc."""
    names = []
    for mount in mounts:
        name = mount.get("Name") or mount.get("Source") or ""
        if not no_trunc and len(name) > 15:
            name = name[:14] + "…"
        names.append(name)
    return ",".join(names)


def _status_rows(containers: list[dict[str, Any]], no_trunc: bool, size: bool) -> list[dict[str, str]]:
    from moor.cli.portdisplay import display_ports

    rows = []
    now = time.time()
    for c in containers:
        command = c["Command"]
        if not no_trunc and len(command) > 20:
            command = command[:19] + "…"
        row = {
            "ID": c["Id"] if no_trunc else c["Id"][:12],
            "Image": c["Image"],
            "Command": f'"{command}"',
            "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(c["Created"])),
            "RunningFor": human_duration(now - c["Created"]) + " ago",
            "Status": c["Status"],
            "State": c["State"],
            "Ports": display_ports(c.get("Ports") or []),
            "Names": ",".join(n.lstrip("/") for n in c["Names"]),
            "Labels": ",".join(f"{k}={v}" for k, v in (c.get("Labels") or {}).items()),
            "Networks": ",".join(((c.get("NetworkSettings") or {}).get("Networks") or {}).keys()),
            "Mounts": _mounts_text(c.get("Mounts") or [], no_trunc),
            "Size": "",
        }
        if size:
            row["Size"] = f"{human_size(c.get('SizeRw', 0), 3)} (virtual {human_size(c.get('SizeRootFs', 0), 3)})"
        rows.append(row)
    return rows


@click.command("ps")
@click.option("-a", "--all", "all_", is_flag=True, help="Show all containers (default shows just running)")
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs")
@click.option("-n", "--last", type=int, default=-1, help="Show n last created containers (includes all states)")
@click.option("-l", "--latest", is_flag=True, help="Show the latest created container (includes all states)")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output based on conditions provided")
@click.option("--format", "format_", default="", help="Pretty-print containers using a Go template")
@click.pass_context
def ps(ctx: click.Context, all_: bool, quiet: bool, last: int, latest: bool, size: bool, no_trunc: bool,
       filters: tuple[str, ...], format_: str) -> None:
    """List containers."""
    limit = 1 if latest else last
    params = {"all": "1" if all_ or limit > 0 else None, "limit": limit if limit > 0 else None,
              "size": "1" if size else None, "filters": filters_param(filters)}
    containers = client_of(ctx).get("/containers/json", **params)
    if quiet:
        for c in containers:
            click.echo(c["Id"] if no_trunc else c["Id"][:12])
        return
    rows = _status_rows(containers, no_trunc, size)
    if format_:
        headers = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
                   "RunningFor": "CREATED", "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES",
                   "Labels": "LABELS", "Size": "SIZE", "State": "STATE", "Networks": "NETWORKS", "Mounts": "MOUNTS"}
        render_format(format_, rows, headers)
        return
    columns = ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"] + (["Size"] if size else [])
    titles = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "RunningFor": "CREATED",
              "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES", "Size": "SIZE"}
    print_table([[titles[c] for c in columns]] + [[row[c] for c in columns] for row in rows])


@click.command("top")
@click.argument("container")
@click.argument("ps_args", nargs=-1)
@click.pass_context
def top(ctx: click.Context, container: str, ps_args: tuple[str, ...]) -> None:
    """Display the running processes of a container."""
    reply = client_of(ctx).get(f"/containers/{quote_name(container)}/top", ps_args=" ".join(ps_args) or None)
    print_table([reply["Titles"]] + reply["Processes"])
