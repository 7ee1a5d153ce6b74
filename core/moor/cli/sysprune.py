"""``moor system prune``: stopped containers, unused networks, (with ``--volumes``) unused volumes, dangling (or
with ``-a`` unused) images and the build cache, in that order, as the docker CLI 20.10 prints them."""

from __future__ import annotations

import json
from typing import Any

import click

from moor.cli.main import client_of
from moor.cli.output import confirm, fail
from moor.cli.queryflags import filters_param
from moor.units import human_size


def _warning(all_: bool, volumes: bool) -> str:
    lines = ["WARNING! This will remove:", "  - all stopped containers",
             "  - all networks not used by at least one container"]
    if volumes:
        lines.append("  - all volumes not used by at least one container")
    lines += (["  - all images without at least one container associated to them", "  - all build cache"] if all_
              else ["  - all dangling images", "  - all dangling build cache"])
    return "\n".join(lines) + "\n"


def _section(title: str, lines: list[str]) -> None:
    if lines:
        click.echo(f"{title}:\n" + "".join(f"{line}\n" for line in lines))


@click.command("prune")
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all unused images not just dangling ones")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (e.g. 'label=<key>=<value>')")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--volumes", is_flag=True, help="Prune volumes")
@click.pass_context
def prune(ctx: click.Context, all_: bool, filters: tuple[str, ...], force: bool, volumes: bool) -> None:
    """Remove unused data."""
    merged: dict[str, Any] = json.loads(filters_param(filters) or "{}")
    if volumes and "until" in merged:
        fail('ERROR: The "until" filter is not supported with "--volumes"')
    if not force and not confirm(_warning(all_, volumes)):
        return
    client = client_of(ctx)
    query = {"filters": json.dumps(merged) if merged else None}
    space = 0
    report = client.call("POST", "/containers/prune", query)
    _section("Deleted Containers", report.get("ContainersDeleted") or [])
    space += int(report.get("SpaceReclaimed") or 0)
    report = client.call("POST", "/networks/prune", query)
    _section("Deleted Networks", report.get("NetworksDeleted") or [])
    if volumes:
        report = client.call("POST", "/volumes/prune", {"filters": json.dumps({**merged, "all": ["true"]})})
        _section("Deleted Volumes", report.get("VolumesDeleted") or [])
        space += int(report.get("SpaceReclaimed") or 0)
    report = client.call("POST", "/images/prune", {"filters": json.dumps({**merged,
                                                                          "dangling": [str(not all_).lower()]})})
    _section("Deleted Images", [f"{key.lower()}: {value}" for item in report.get("ImagesDeleted") or []
                                for key, value in item.items()])
    space += int(report.get("SpaceReclaimed") or 0)
    report = client.call("POST", "/build/prune", {"all": "1" if all_ else None, **query}) or {}
    _section("Deleted build cache objects", report.get("CachesDeleted") or [])
    space += int(report.get("SpaceReclaimed") or 0)
    click.echo(f"Total reclaimed space: {human_size(space, 3)}")


__all__ = ["prune"]
