"""Resource commands: stats, update, pause, unpause (Docker's output and exit codes)."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import click

from moor.cli.main import client_of
from moor.cli.output import PARALLEL_OPERATIONS, act_on_each
from moor.client import Client, DaemonError, quote_name
from moor.units import bytes_size, human_size

DEFAULT_STATS_FORMAT = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}"
                        "\t{{.PIDs}}")
STATS_HEADERS = {"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
                 "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
                 "PIDs": "PIDS"}
CLEAR_SCREEN = "\033[2J\033[H"
REDRAW_INTERVAL = 0.5


# --------------------------------------------------------------------------- numbers as Docker's CLI shows them


def cpu_percent(stats: dict[str, Any]) -> float:
    """Docker's calculateCPUPercentUnix: the CPU share between this sample and the previous one."""
    cpu = stats.get("cpu_stats") or {}
    pre = stats.get("precpu_stats") or {}
    usage = cpu.get("cpu_usage") or {}
    cpu_delta = float(usage.get("total_usage", 0)) - float((pre.get("cpu_usage") or {}).get("total_usage", 0))
    system_delta = float(cpu.get("system_cpu_usage", 0)) - float(pre.get("system_cpu_usage", 0))
    online = float(cpu.get("online_cpus") or 0) or float(len(usage.get("percpu_usage") or []))
    if system_delta > 0.0 and cpu_delta > 0.0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def memory_usage(memory: dict[str, Any]) -> float:
    """Docker's calculateMemUsageUnixNoCache: usage less the inactive page cache."""
    usage = int(memory.get("usage", 0))
    raw = memory.get("stats") or {}
    if "total_inactive_file" in raw and raw["total_inactive_file"] < usage:  # cgroup v1
        return float(usage - raw["total_inactive_file"])
    if raw.get("inactive_file", 0) < usage:  # cgroup v2
        return float(usage - raw.get("inactive_file", 0))
    return float(usage)


def block_io(blkio: dict[str, Any]) -> tuple[int, int]:
    read = write = 0
    for entry in (blkio or {}).get("io_service_bytes_recursive") or []:
        op = (entry.get("op") or " ")[0]
        if op in "rR":
            read += int(entry.get("value", 0))
        elif op in "wW":
            write += int(entry.get("value", 0))
    return read, write


def stats_row(container: str, stats: dict[str, Any] | None, no_trunc: bool) -> dict[str, str]:
    """One ``docker stats`` row (the template fields) from a stats JSON; None: unknown (``--``)."""
    if stats is None:
        return {"Container": container, "ID": container, "Name": "--", "CPUPerc": "--", "MemUsage": "-- / --",
                "MemPerc": "--", "NetIO": "--", "BlockIO": "--", "PIDs": "--"}
    memory = stats.get("memory_stats") or {}
    used = memory_usage(memory)
    limit = float(memory.get("limit", 0))
    rx = sum(float(n.get("rx_bytes", 0)) for n in (stats.get("networks") or {}).values())
    tx = sum(float(n.get("tx_bytes", 0)) for n in (stats.get("networks") or {}).values())
    read, write = block_io(stats.get("blkio_stats") or {})
    ident = stats.get("id") or container
    name = stats.get("name") or ""
    return {
        "BlockIO": f"{human_size(read, 3)} / {human_size(write, 3)}",
        "CPUPerc": f"{cpu_percent(stats):.2f}%",
        "Container": container,
        "ID": ident if no_trunc else ident[:12],
        "MemPerc": f"{(used / limit * 100.0 if limit else 0.0):.2f}%",
        "MemUsage": f"{bytes_size(used)} / {bytes_size(limit)}",
        "Name": name[1:] if len(name) > 1 else "--",
        "NetIO": f"{human_size(rx, 3)} / {human_size(tx, 3)}",
        "PIDs": str(int((stats.get("pids_stats") or {}).get("current", 0))),
    }


def format_table(rows: list[list[str]], minwidth: int = 10, padding: int = 3) -> list[str]:
    """Go's tabwriter as Docker's formatter sets it up (minimum cell width 10, padding 3)."""
    widths: list[int] = []
    for row in rows:
        for index, cell in enumerate(row[:-1]):
            if index >= len(widths):
                widths.append(0)
            widths[index] = max(widths[index], len(cell) + padding, minwidth)
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[index]) for index, cell in enumerate(row[:-1])]
        lines.append("".join(cells) + (row[-1] if row else ""))
    return lines


def render_stats(format_: str, rows: list[dict[str, str]]) -> list[str]:
    """The lines ``docker stats`` prints for ``rows`` with ``--format`` (empty: the default table)."""
    from moor.cli.gotemplate import render

    template = format_ or "table"
    if template == "table":
        template = DEFAULT_STATS_FORMAT
    if template.startswith("table"):
        template = template[len("table"):].lstrip()
        lines = [render(template, STATS_HEADERS, header=True)] + [render(template, _context(row)) for row in rows]
        return format_table([line.split("\t") for line in lines])
    return [render(template, _context(row)) for row in rows]


def _context(row: dict[str, str]) -> dict[str, str]:
    """A row as the docker CLI's stats template sees it: its statsContext (an unknown field is an error)."""
    from moor.cli.gotemplate import struct

    return struct(row, "*container.statsContext")


# --------------------------------------------------------------------------- stats


class _Collector:
    """The latest stats of each container, kept fresh by one thread per container (streaming)."""

    def __init__(self, client: Client, no_trunc: bool) -> None:
        self.client = client
        self.no_trunc = no_trunc
        self.lock = threading.Lock()
        self.order: list[str] = []
        self.latest: dict[str, dict[str, Any] | None] = {}
        self.errors: dict[str, str] = {}

    def add(self, container: str, stream: bool) -> None:
        with self.lock:
            if container in self.latest:
                return
            self.order.append(container)
            self.latest[container] = None
        target = self._stream if stream else self._once
        thread = threading.Thread(target=target, args=(container,), daemon=True)
        thread.start()

    def remove(self, container: str) -> None:
        with self.lock:
            if container in self.latest:
                self.order.remove(container)
                del self.latest[container]

    def _once(self, container: str) -> None:
        try:
            stats = self.client.get(f"/containers/{quote_name(container)}/stats", stream="0")
        except DaemonError as err:
            with self.lock:
                self.errors[container] = err.message
            return
        with self.lock:
            if container in self.latest:
                self.latest[container] = stats

    def _stream(self, container: str) -> None:
        try:
            response = self.client.open("GET", f"/containers/{quote_name(container)}/stats", {"stream": "1"})
            for stats in self.client.stream_json(response):
                with self.lock:
                    if container not in self.latest:
                        response.close()
                        return
                    self.latest[container] = stats
        except DaemonError as err:
            with self.lock:
                self.errors[container] = err.message
        except (OSError, ValueError):
            pass
        with self.lock:
            if container in self.latest:
                self.latest[container] = None  # the stream ended: shown as "--"

    def wait_first(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(v is not None or c in self.errors for c, v in self.latest.items()):
                    return
            time.sleep(0.05)

    def rows(self) -> list[dict[str, str]]:
        with self.lock:
            return [stats_row(c, self.latest[c], self.no_trunc) for c in self.order]


def _listed(client: Client, all_: bool) -> list[str]:
    containers = client.get("/containers/json", all="1" if all_ else None)
    return [c["Id"][:12] for c in containers]


@click.command("stats")
@click.argument("containers", nargs=-1)
@click.option("-a", "--all", "all_", is_flag=True, help="Show all containers (default shows just running)")
@click.option("--format", "format_", default="", help="Pretty-print images using a Go template")
@click.option("--no-stream", is_flag=True, help="Disable streaming stats and only pull the first result")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output")
@click.pass_context
def stats(ctx: click.Context, containers: tuple[str, ...], all_: bool, format_: str, no_stream: bool,
          no_trunc: bool) -> None:
    """Display a live stream of container(s) resource usage statistics."""
    from moor.cli.gotemplate import TemplateError

    client = client_of(ctx)
    collector = _Collector(client, no_trunc)
    named = bool(containers)
    act_on_each(containers, lambda name: client.get(f"/containers/{quote_name(name)}/json"), echo=False,
                errors_last=True)
    for name in containers if named else _listed(client, all_):
        collector.add(name, stream=not no_stream)
    try:
        # Like Docker's CLI, wait for a first sample of each container (a stream=0 answer takes a second).
        collector.wait_first(5.0 if no_stream else 2.0)
        if no_stream:
            _print(render_stats(format_, collector.rows()))
            return
        while True:
            if not named:
                current = _listed(client, all_)
                for name in current:
                    collector.add(name, stream=True)
                for name in list(collector.order):
                    if name not in current:
                        collector.remove(name)
            lines = render_stats(format_, collector.rows())
            click.echo(CLEAR_SCREEN + "\n".join(lines), nl=bool(lines), color=True)  # keep the escapes in a pipe
            if not collector.order and not all_:
                return
            time.sleep(REDRAW_INTERVAL)
    except TemplateError as err:
        click.echo(f"template parsing error: {err}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        return


def _print(lines: list[str]) -> None:
    for line in lines:
        click.echo(line)


# --------------------------------------------------------------------------- update


@click.command("update")
@click.argument("containers", nargs=-1, required=True)
@click.option("--blkio-weight", default=None, help="Block IO (relative weight), between 10 and 1000, or 0 to disable")
@click.option("--cpu-period", default=None, help="Limit CPU CFS (Completely Fair Scheduler) period")
@click.option("--cpu-quota", default=None, help="Limit CPU CFS (Completely Fair Scheduler) quota")
@click.option("-c", "--cpu-shares", default=None, help="CPU shares (relative weight)")
@click.option("--cpus", default=None, help="Number of CPUs")
@click.option("--cpuset-cpus", default=None, help="CPUs in which to allow execution (0-3, 0,1)")
@click.option("--cpuset-mems", default=None, help="MEMs in which to allow execution (0-3, 0,1)")
@click.option("-m", "--memory", default=None, help="Memory limit")
@click.option("--memory-reservation", default=None, help="Memory soft limit")
@click.option("--memory-swap", default=None,
              help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
@click.option("--pids-limit", default=None, help="Tune container pids limit (set -1 for unlimited)")
@click.option("--restart", default=None, help="Restart policy to apply when a container exits")
@click.option("--cpu-rt-period", type=int, default=None, help="Limit the CPU real-time period in microseconds")
@click.option("--cpu-rt-runtime", type=int, default=None, help="Limit the CPU real-time runtime in microseconds")
@click.option("--kernel-memory", default=None, help="Kernel memory limit")
@click.pass_context
def update(ctx: click.Context, containers: tuple[str, ...], blkio_weight: str | None, cpu_period: str | None,
           cpu_quota: str | None, cpu_shares: str | None, cpus: str | None, cpuset_cpus: str | None,
           cpuset_mems: str | None, memory: str | None, memory_reservation: str | None, memory_swap: str | None,
           pids_limit: str | None, restart: str | None, cpu_rt_period: int | None, cpu_rt_runtime: int | None,
           kernel_memory: str | None) -> None:
    """Update configuration of one or more containers."""
    from moor.cli.resourceflags import parse_restart_policy, resource_flags_to_host_config

    body = resource_flags_to_host_config(memory, memory_swap, cpus, cpu_shares, cpuset_cpus, pids_limit,
                                         cpu_period=cpu_period, cpu_quota=cpu_quota,
                                         memory_reservation=memory_reservation, cpuset_mems=cpuset_mems,
                                         blkio_weight=blkio_weight)
    if restart is not None:
        body["RestartPolicy"] = parse_restart_policy(restart)
    if cpu_rt_period is not None:
        body["CpuRealtimePeriod"] = cpu_rt_period
    if cpu_rt_runtime is not None:
        body["CpuRealtimeRuntime"] = cpu_rt_runtime
    if kernel_memory is not None:
        from moor.errors import InvalidParameter
        from moor.units import parse_size

        try:
            body["KernelMemory"] = parse_size(kernel_memory, "kernel-memory")
        except InvalidParameter as err:
            click.echo(str(err), err=True)
            sys.exit(125)
    if not body:
        click.echo("you must provide one or more flags when using this command", err=True)
        sys.exit(1)
    client = client_of(ctx)
    warnings: list[str] = []

    def update_one(name: str) -> None:
        reply = client.call("POST", f"/containers/{quote_name(name)}/update", body=body) or {}
        warnings.extend(reply.get("Warnings") or [])

    def print_warnings() -> None:
        if warnings:
            click.echo("\n".join(warnings))

    act_on_each(containers, update_one, errors_last=True, after=print_warnings)


# --------------------------------------------------------------------------- pause / unpause


def _each(ctx: click.Context, containers: tuple[str, ...], action: str) -> None:
    """``POST /containers/{name}/{action}`` for each name; the errors together at the end, as docker prints them."""
    client = client_of(ctx)
    act_on_each(containers, lambda name: client.call("POST", f"/containers/{quote_name(name)}/{action}"),
                errors_last=True, parallel=PARALLEL_OPERATIONS)


@click.command("pause")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def pause(ctx: click.Context, containers: tuple[str, ...]) -> None:
    """Pause all processes within one or more containers."""
    _each(ctx, containers, "pause")


@click.command("unpause")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def unpause(ctx: click.Context, containers: tuple[str, ...]) -> None:
    """Unpause all processes within one or more containers."""
    _each(ctx, containers, "unpause")
