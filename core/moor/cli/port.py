"""``moor port``: a container's published ports, as ``docker port`` lists them."""

from __future__ import annotations

import click

from moor.cli.main import client_of
from moor.client import quote_name


@click.command("port")
@click.argument("container")
@click.argument("private_port", required=False, default="")
@click.pass_context
def port(ctx: click.Context, container: str, private_port: str) -> None:
    """List port mappings or a specific mapping for the container."""
    info = client_of(ctx).get(f"/containers/{quote_name(container)}/json")
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    wanted = private_port if "/" in private_port or not private_port else f"{private_port}/tcp"
    found = False
    for name, bindings in sorted(ports.items()):
        if wanted and name != wanted:
            continue
        for binding in bindings or []:
            found = True
            prefix = "" if wanted else f"{name} -> "
            click.echo(f"{prefix}{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}")
    if wanted and not found:
        click.echo(f"Error: No public port '{wanted}' published for {container}", err=True)
        raise SystemExit(1)
