"""``moor compose ps|ls|top|port|version``: docker compose v2's flags and output over
:mod:`moor.compose.runtime.status` (the tables, JSON and Go templates are made here)."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from moor.cli.compose import options_of

#: compose v2's ``ps`` table
PS_TABLE = "table {{.Name}}\\t{{.Image}}\\t{{.Command}}\\t{{.Service}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}"

#: the titles of ``ps`` fields in a ``table`` format
PS_HEADERS = {"ID": "CONTAINER ID", "Name": "NAME", "Project": "PROJECT", "Service": "SERVICE", "Image": "IMAGE",
              "Command": "COMMAND", "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS",
              "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Names": "NAMES",
              "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS", "Health": "HEALTH",
              "ExitCode": "EXIT CODE", "Publishers": "PUBLISHERS"}


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: double quotes, with ``"``, ``\\`` and non-printable characters escaped."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                        "\v": "\\v"}[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not ch.isprintable() and code > 0x7F:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out) + '"'


def ellipsis(text: str, width: int) -> str:
    """The docker CLI's ``Ellipsis``: cut to ``width`` characters, the last one ``…``."""
    if len(text) <= width:
        return text
    return text[:width - 1] + "…"


def ps_row(summary: dict[str, Any], trunc: bool = True, now: float | None = None) -> Any:
    """A container summary as compose's ``ContainerContext``: the fields a ``--format`` template reads and the
    object ``{{json .}}`` (``--format json``) writes."""
    from moor.cli.gotemplate import struct
    from moor.cli.gotemplate.executor import OrderedJSON
    from moor.cli.portdisplay import display_ports
    from moor.timefmt import human_duration
    from moor.units import human_size

    labels = summary.get("Labels") or {}
    names = list(summary.get("Names") or [])
    if trunc:
        plain = [name for name in names if "/" not in name]
        names = plain[:1] or names
    size = human_size(summary.get("SizeRw") or 0, 3)
    if summary.get("SizeRootFs"):
        size += f" (virtual {human_size(summary['SizeRootFs'], 3)})"
    created = int(summary.get("Created") or 0)
    mounts = [ellipsis(m, 15) if trunc else m for m in summary.get("Mounts") or []]
    row = {
        "ID": summary["ID"][:12] if trunc else summary["ID"],
        "Name": summary.get("Name", ""),
        "Names": ",".join(names),
        "Service": summary.get("Service", ""),
        "Project": summary.get("Project", ""),
        "Image": summary.get("Image", ""),
        "Command": go_quote(ellipsis(summary.get("Command", ""), 20) if trunc else summary.get("Command", "")),
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(created)),
        "RunningFor": human_duration((time.time() if now is None else now) - created) + " ago",
        "ExitCode": int(summary.get("ExitCode") or 0),
        "State": summary.get("State", ""),
        "Status": summary.get("Status", ""),
        "Health": summary.get("Health", ""),
        "Publishers": [OrderedJSON(p) for p in summary.get("Publishers") or []],
        "Ports": display_ports(summary.get("Ports") or []),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "Mounts": ",".join(mounts),
        "LocalVolumes": str(summary.get("LocalVolumes") or 0),
        "Networks": ",".join(summary.get("Networks") or []),
        "Size": size,
        "Label": lambda name: labels.get(name, ""),
    }
    return struct(row, "*formatter.ContainerContext")


def print_ps(summaries: list[dict[str, Any]], format_: str, *, quiet: bool = False, services: bool = False,
             trunc: bool = True) -> None:
    """``docker compose ps``'s output: IDs (``-q``), service names (``--services``), the table, ``json``
    (an object a line) or a Go template (``table`` prefix: with headers)."""
    from moor.cli.output import render_format

    if quiet:
        for summary in summaries:
            click.echo(summary["ID"])
        return
    if services:
        names: list[str] = []
        for summary in summaries:
            if summary["Service"] not in names:
                names.append(summary["Service"])
        click.echo("\n".join(names))
        return
    if format_ in ("", "table"):
        format_ = PS_TABLE
    elif format_ == "json":
        format_ = "{{json .}}"
    rows = [ps_row(summary, trunc) for summary in summaries]
    render_format(format_, rows, PS_HEADERS, error_prefix="template parsing error: ")


@click.command("ps")
@click.argument("services", nargs=-1)
@click.option("--format", "format_", default="", metavar="string",
              help="Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
@click.option("--filter", "filter_", default="", metavar="string",
              help="Filter services by a property (supported filters: status)")
@click.option("--status", "statuses", multiple=True, metavar="stringArray",
              help="Filter services by status. Values: [paused | restarting | removing | running | dead | created "
                   "| exited]")
@click.option("-q", "--quiet", is_flag=True, help="Only display IDs")
@click.option("--services", "show_services", is_flag=True, help="Display services")
@click.option("--orphans", type=click.BOOL, default=True, is_flag=False, flag_value=True, metavar="",
              help="Include orphaned services (not declared by project) (default true)")
@click.option("-a", "--all", "all_", is_flag=True,
              help="Show all stopped containers (including those created by the run command)")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.pass_context
def ps(ctx: click.Context, services: tuple[str, ...], format_: str, filter_: str, statuses: tuple[str, ...],
       quiet: bool, show_services: bool, orphans: bool, all_: bool, no_trunc: bool) -> None:
    """List containers"""
    from moor.cli.compose.target import project_or_name
    from moor.cli.main import client_of
    from moor.compose.runtime import status

    wanted = list(statuses) + status.parse_ps_filter(filter_)
    project, name = project_or_name(ctx, services)
    summaries = status.ps(client_of(ctx), name, project=project, services=services, all_=all_, statuses=wanted,
                          orphans=orphans, parallel=options_of(ctx).parallel)
    print_ps(summaries, format_, quiet=quiet, services=show_services, trunc=not no_trunc)


def print_stacks(stacks: list[dict[str, str]], format_: str, quiet: bool = False) -> None:
    """``docker compose ls``'s output: names (``-q``), the NAME STATUS CONFIG FILES table, ``json`` (one
    array) or ``{{json .}}`` (an object a line)."""
    from moor.cli.output import fail, print_table

    if quiet:
        for stack in stacks:
            click.echo(stack["Name"])
        return
    kind = format_.lower()
    if kind in ("table", "pretty", ""):
        print_table([["NAME", "STATUS", "CONFIG FILES"]]
                    + [[s["Name"], s["Status"], s["ConfigFiles"]] for s in stacks], padding=3, min_width=20)
    elif kind == "json":
        click.echo(json.dumps(stacks, separators=(",", ":"), ensure_ascii=False))
    elif kind == "{{json.}}" or kind.replace(" ", "") == "{{json.}}":
        for stack in stacks:
            click.echo(json.dumps(stack, separators=(",", ":"), ensure_ascii=False))
    else:
        fail(f'format value "{format_}" could not be parsed: parsing failed')


@click.command("ls")
@click.option("--format", "format_", default="table", metavar="string",
              help='Format the output. Values: [table | json] (default "table")')
@click.option("-q", "--quiet", is_flag=True, help="Only display project names")
@click.option("--filter", "filters", multiple=True, metavar="filter", help="Filter output based on conditions provided")
@click.option("-a", "--all", "all_", is_flag=True, help="Show all stopped Compose projects")
@click.pass_context
def ls(ctx: click.Context, format_: str, quiet: bool, filters: tuple[str, ...], all_: bool) -> None:
    """List running compose projects"""
    from moor.cli.main import client_of
    from moor.compose.runtime import status

    print_stacks(status.stacks(client_of(ctx), all_=all_, filters=filters), format_, quiet)


def top_rows(containers: list[dict[str, Any]]) -> list[list[str]]:
    """``docker compose top``'s table: SERVICE, #, every process column seen (CMD last), ``-`` where a
    container lacks one; a row per process."""
    header = ["SERVICE", "#"]
    rows: list[dict[str, str]] = []
    for container in containers:
        for process in container["Processes"]:
            entry = {"SERVICE": container["Service"], "#": str(container["Replica"])}
            for index, title in enumerate(container["Titles"]):
                if title not in header:
                    header.append(title)
                entry[title] = process[index] if index < len(process) else ""
            rows.append(entry)
    if "CMD" in header:
        header.remove("CMD")
        header.append("CMD")
    return [header] + [[row.get(title, "-") for title in header] for row in rows]


@click.command("top")
@click.argument("services", nargs=-1)
@click.pass_context
def top(ctx: click.Context, services: tuple[str, ...]) -> None:
    """Display the running processes"""
    from moor.cli.compose.target import project_name
    from moor.cli.main import client_of
    from moor.cli.output import print_table
    from moor.compose.runtime import status

    containers = status.top(client_of(ctx), project_name(ctx), services, parallel=options_of(ctx).parallel)
    rows = top_rows(containers)
    if len(rows) > 1:
        print_table(rows, padding=2, min_width=4)


@click.command("port")
@click.argument("service")
@click.argument("private_port")
@click.option("--protocol", default="tcp", metavar="string", help='tcp or udp (default "tcp")')
@click.option("--index", type=int, default=0, metavar="int",
              help="Index of the container if service has multiple replicas")
@click.pass_context
def port(ctx: click.Context, service: str, private_port: str, protocol: str, index: int) -> None:
    """Print the public port for a port binding"""
    from moor.cli.compose.target import project_name
    from moor.cli.main import client_of
    from moor.cli.output import fail
    from moor.compose.runtime import status

    if not private_port.isdigit() or int(private_port) > 65535:
        reason = "value out of range" if private_port.isdigit() else "invalid syntax"
        fail(f'strconv.ParseUint: parsing "{private_port}": {reason}')
    ip, public = status.port(client_of(ctx), project_name(ctx), service, int(private_port), protocol=protocol,
                             index=index)
    click.echo(f"{ip}:{public}")


@click.command("version")
@click.option("-f", "--format", "format_", default="", metavar="string",
              help="Format the output. Values: [pretty | json]. (Default: pretty)")
@click.option("--short", is_flag=True, help="Shows only Compose's version number")
def version(format_: str, short: bool) -> None:
    """Show the moor compose version information"""
    from moor.compose.runtime.status import version as compose_version

    number = compose_version()
    if short:
        click.echo(number.removeprefix("v"))
    elif format_ == "json":
        click.echo(json.dumps({"version": number}, separators=(",", ":")))
    else:
        click.echo(f"Docker Compose version {number}")
