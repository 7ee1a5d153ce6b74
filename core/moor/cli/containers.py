"""Container commands: start, stop, restart, kill, rm, wait, rename, logs, ps, top (run and create:
:mod:`moor.cli.run`)."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from moor.cli.main import client_of
from moor.cli.output import PARALLEL_OPERATIONS, act_on_each, fail, print_table, render_format
from moor.cli.queryflags import filters_param, since_param
from moor.client import DaemonError, quote_name
from moor.timefmt import human_duration
from moor.units import human_size

#: the Content-Type of a container's output stream: framed (no TTY) or raw
MULTIPLEXED_STREAM, RAW_STREAM = "application/vnd.docker.multiplexed-stream", "application/vnd.docker.raw-stream"


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
        from moor.streams import attach_and_wait

        info = client.get(f"/containers/{quote_name(containers[0])}/json")
        code = attach_and_wait(client, info["Id"], tty=info["Config"]["Tty"],
                               stdin=interactive and info["Config"]["OpenStdin"], detach_keys=detach_keys,
                               sig_proxy=not info["Config"]["Tty"],
                               start=lambda: client.call("POST", f"/containers/{info['Id']}/start"),
                               auto_remove=False)
        sys.exit(code)
    failed: list[str] = []

    def start_one(name: str) -> None:
        try:
            client.call("POST", f"/containers/{quote_name(name)}/start")
        except DaemonError as err:
            if err.status != 304:
                failed.append(name)
            raise

    def summary() -> None:  # the docker CLI's last line
        if failed:
            click.echo(f"Error: failed to start containers: {', '.join(failed)}", err=True)

    act_on_each(containers, start_one, after=summary)


@click.command("stop")
@click.argument("containers", nargs=-1, required=True)
@click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds to wait for stop before killing it")
@click.pass_context
def stop(ctx: click.Context, containers: tuple[str, ...], timeout: int | None) -> None:
    """Stop one or more running containers."""
    client = client_of(ctx)
    act_on_each(containers, lambda c: client.call("POST", f"/containers/{quote_name(c)}/stop", {"t": timeout}),
                parallel=PARALLEL_OPERATIONS)


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
    act_on_each(containers, lambda c: client.call("POST", f"/containers/{quote_name(c)}/kill", {"signal": signal}),
                parallel=PARALLEL_OPERATIONS)


@click.command("rm")
@click.argument("containers", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force the removal of a running container (uses SIGKILL)")
@click.option("-v", "--volumes", is_flag=True, help="Remove anonymous volumes associated with the container")
@click.option("-l", "--link", is_flag=True, help="Remove the specified link")
@click.pass_context
def rm(ctx: click.Context, containers: tuple[str, ...], force: bool, volumes: bool, link: bool) -> None:
    """Remove one or more containers."""
    client = client_of(ctx)
    params = {"force": "1" if force else None, "v": "1" if volumes else None, "link": "1" if link else None}
    act_on_each(containers, lambda c: client.call("DELETE", f"/containers/{quote_name(c.strip('/'))}", params),
                parallel=PARALLEL_OPERATIONS)


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
    try:
        client_of(ctx).call("POST", f"/containers/{quote_name(container)}/rename", {"name": new_name})
    except DaemonError as err:
        click.echo(f"Error response from daemon: {err.message}", err=True)
        fail(f"Error: failed to rename container named {container}")


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
    response = client.open("GET", f"/containers/{quote_name(container)}/logs", {
        "stdout": "1", "stderr": "1", "follow": "1" if follow else None, "tail": tail,
        "since": since_param(since, "since"), "until": since_param(until, "until"),
        "timestamps": "1" if timestamps else None,
        "details": "1" if details else None})
    # the answer's type says whether the stream is framed (API 1.42+): no inspect first, as the docker CLI's
    content_type = response.getheader("Content-Type")
    if content_type in (MULTIPLEXED_STREAM, RAW_STREAM):
        tty = content_type == RAW_STREAM
    else:
        tty = client.get(f"/containers/{quote_name(container)}/json")["Config"]["Tty"]
    from moor.streams import demux_to_stdout

    demux_to_stdout(response, tty)


def _mounts_text(mounts: list[dict[str, Any]], no_trunc: bool) -> str:
    """``{{.Mounts}}``: volume names or bind sources, each cut to 15 characters unless --no-trunc."""
    names = []
    for mount in mounts:
        name = mount.get("Name") or mount.get("Source") or ""
        if not no_trunc and len(name) > 15:
            name = name[:14] + "…"
        names.append(name)
    return ",".join(names)


def _label_method(labels: dict[str, str]) -> Any:
    """A row's ``{{.Label "name"}}``: the label's value, empty when absent (Docker's contexts' Label method)."""
    return lambda name: labels.get(name, "")


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
            "Labels": ",".join(f"{k}={v}" for k, v in sorted((c.get("Labels") or {}).items())),
            "Networks": ",".join(((c.get("NetworkSettings") or {}).get("Networks") or {}).keys()),
            "Mounts": _mounts_text(c.get("Mounts") or [], no_trunc),
            "Size": human_size(c.get("SizeRw") or 0, 3),
            "LocalVolumes": str(sum(1 for m in c.get("Mounts") or [] if m.get("Driver") == "local")),
            "Label": _label_method(c.get("Labels") or {}),
        }
        if c.get("SizeRootFs"):
            row["Size"] += f" (virtual {human_size(c['SizeRootFs'], 3)})"
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
    format_ = "" if format_ == "table" else format_  # a bare "table" is the default table, as docker
    limit = 1 if latest else last
    # the docker CLI asks for sizes when the format reads .Size (or writes the whole row as JSON)
    compact = format_.replace(" ", "")
    size = size or (not quiet and (".Size" in compact or "json.}}" in compact))
    params = {"all": "1" if all_ or limit > 0 else None, "limit": limit if limit > 0 else None,
              "size": "1" if size else None, "filters": filters_param(filters)}
    containers = client_of(ctx).get("/containers/json", **params)
    if quiet:  # one write, not one per container
        click.echo("".join(f"{c['Id'] if no_trunc else c['Id'][:12]}\n" for c in containers), nl=False)
        return
    rows = _status_rows(containers, no_trunc, size)
    if format_:
        headers = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
                   "RunningFor": "CREATED", "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES",
                   "Labels": "LABELS", "Size": "SIZE", "State": "STATE", "Networks": "NETWORKS", "Mounts": "MOUNTS",
                   "LocalVolumes": "LOCAL VOLUMES"}
        render_format(format_, rows, headers, struct_type="*formatter.ContainerContext",
                      error_prefix="failed to parse template: ", exec_prefix="failed to execute template: ")
        return
    columns = ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"] + (["Size"] if size else [])
    titles = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "RunningFor": "CREATED",
              "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES", "Size": "SIZE"}
    print_table([[titles[c] for c in columns]] + [[row[c] for c in columns] for row in rows], min_width=10)


@click.command("top")
@click.argument("container")
@click.argument("ps_args", nargs=-1)
@click.pass_context
def top(ctx: click.Context, container: str, ps_args: tuple[str, ...]) -> None:
    """Display the running processes of a container."""
    reply = client_of(ctx).get(f"/containers/{quote_name(container)}/top", ps_args=" ".join(ps_args) or None)
    print_table([reply["Titles"]] + reply["Processes"], min_width=20)  # the docker CLI: tabwriter(20, 1, 3)
