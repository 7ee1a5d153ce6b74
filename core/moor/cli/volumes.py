"""``moor volume``: create, ls, inspect, rm, prune."""

from __future__ import annotations

import json
from typing import Any

import click

from moor.cli.main import client_of
from moor.cli.output import (
    ENGINE_ERROR,
    act_on_each,
    confirm,
    fail,
    inspect_many,
    print_prune_report,
    print_table,
    render_format,
)
from moor.cli.queryflags import filters_param
from moor.client import quote_name


@click.group("volume")
def volume() -> None:
    """Manage volumes."""


def _pairs(values: tuple[str, ...]) -> dict[str, str]:
    """``key=value`` flags (a bare ``key`` maps to the empty string), as the docker CLI reads them."""
    return dict(v.partition("=")[::2] for v in values)


@volume.command("create")
@click.option("-d", "--driver", default="local", show_default=True, help="Specify volume driver name")
@click.option("--label", multiple=True, help="Set metadata for a volume")
@click.option("-o", "--opt", multiple=True, help="Set driver specific options")
@click.option("--name", "name_flag", default="", hidden=True, help="Specify volume name")
@click.argument("name", required=False, default="")
@click.pass_context
def create(ctx: click.Context, driver: str, label: tuple[str, ...], opt: tuple[str, ...], name_flag: str,
           name: str) -> None:
    """Create a volume."""
    if name and name_flag and name != name_flag:
        fail("Conflicting options: either specify --name or provide positional arg, not both")
    for value in label:
        if not value.partition("=")[0]:
            fail(f'invalid argument "{value}" for "--label" flag: invalid label \'{value}\': empty name', ENGINE_ERROR)
    body = {"Name": name or name_flag, "Driver": driver, "DriverOpts": _pairs(opt), "Labels": _pairs(label)}
    click.echo(client_of(ctx).call("POST", "/volumes/create", body=body)["Name"])


def _row(volume_: dict[str, Any]) -> dict[str, Any]:
    labels = volume_.get("Labels") or {}
    usage = volume_.get("UsageData") or {}
    return {"Name": volume_["Name"], "Driver": volume_["Driver"], "Scope": volume_.get("Scope", "local"),
            "Mountpoint": volume_.get("Mountpoint", ""),
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
            "Links": str(usage.get("RefCount", "N/A")), "Size": "N/A",
            "Label": lambda name: labels.get(name, "")}


@volume.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display volume names")
@click.option("-f", "--filter", "filters", multiple=True, help="Provide filter values (e.g. 'dangling=true')")
@click.option("--format", "format_", default="", help="Pretty-print volumes using a Go template")
@click.pass_context
def ls(ctx: click.Context, quiet: bool, filters: tuple[str, ...], format_: str) -> None:
    """List volumes."""
    format_ = "" if format_ == "table" else format_  # a bare "table" is the default table, as docker
    reply = client_of(ctx).get("/volumes", filters=filters_param(filters))
    rows = [_row(v) for v in reply.get("Volumes") or []]
    for warning in reply.get("Warnings") or []:
        click.echo(warning, err=True)
    if quiet:
        for row in rows:
            click.echo(row["Name"])
        return
    if format_:
        render_format(format_, rows, {"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE",
                                      "Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "Links": "LINKS",
                                      "Size": "SIZE"}, struct_type="*formatter.volumeContext")
        return
    print_table([["DRIVER", "VOLUME NAME"]] + [[r["Driver"], r["Name"]] for r in rows], min_width=10)


volume.add_command(ls, "list")


@volume.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "format_", default="", help="Format the output using the given Go template")
@click.pass_context
def inspect(ctx: click.Context, names: tuple[str, ...], format_: str) -> None:
    """Display detailed information on one or more volumes."""
    inspect_many(client_of(ctx), names, lambda name: f"/volumes/{quote_name(name)}", "volume", format_,
                 daemon_wording=True)


@volume.command("rm")
@click.option("-f", "--force", is_flag=True, help="Force the removal of one or more volumes")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def rm(ctx: click.Context, force: bool, names: tuple[str, ...]) -> None:
    """Remove one or more volumes. You cannot remove a volume that is in use by a container."""
    client = client_of(ctx)
    params = {"force": "1" if force else None}
    act_on_each(names, lambda name: client.call("DELETE", f"/volumes/{quote_name(name)}", params=params))


volume.add_command(rm, "remove")


@volume.command("prune")
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all unused volumes, not just anonymous ones")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (e.g. 'label=<label>')")
@click.pass_context
def prune(ctx: click.Context, all_: bool, force: bool, filters: tuple[str, ...]) -> None:
    """Remove unused local volumes."""
    merged = json.loads(filters_param(filters) or "{}")
    if "all" in merged and all_:
        fail("conflicting options: cannot specify both --all and --filter all=1")
    if all_:
        merged["all"] = ["true"]
    merged.setdefault("all", ["false"])  # anonymous only, as docker 23+, whatever API version moor speaks
    everything = all_ or any(v.lower() in ("1", "true") for v in merged.get("all", []))
    what = "all local volumes" if everything else "anonymous local volumes"
    if not force and not confirm(f"WARNING! This will remove {what} not used by at least one container."):
        return
    report = client_of(ctx).call("POST", "/volumes/prune", {"filters": json.dumps(merged) if merged else None})
    print_prune_report("Volumes", report.get("VolumesDeleted") or [], report.get("SpaceReclaimed", 0))


__all__ = ["volume"]
