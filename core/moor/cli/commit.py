"""``moor commit`` and ``moor diff``."""

from __future__ import annotations

import click

from moor.cli.client import quote_name
from moor.cli.images import _split_repo_tag
from moor.cli.main import client_of

KINDS = {0: "C", 1: "A", 2: "D"}


@click.command("commit")
@click.option("-a", "--author", default="", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
@click.option("-c", "--change", "changes", multiple=True, help="Apply Dockerfile instruction to the created image")
@click.option("-m", "--message", default="", help="Commit message")
@click.option("-p", "--pause/--no-pause", default=True, help="Pause container during commit")
@click.argument("container")
@click.argument("repository", required=False, default="")
@click.pass_context
def commit(ctx: click.Context, author: str, changes: tuple[str, ...], message: str, pause: bool, container: str,
           repository: str) -> None:
    """Create a new image from a container's changes."""
    repo, tag = _split_repo_tag(repository) if repository else ("", "")
    reply = client_of(ctx).call("POST", "/commit", {
        "container": container, "repo": repo or None, "tag": tag or None, "comment": message or None,
        "author": author or None, "pause": "1" if pause else "0", "changes": list(changes)})
    click.echo(reply["Id"])


@click.command("diff")
@click.argument("container")
@click.pass_context
def diff(ctx: click.Context, container: str) -> None:
    """Inspect changes to files or directories on a container's filesystem."""
    for change in client_of(ctx).get(f"/containers/{quote_name(container)}/changes") or []:
        click.echo(f"{KINDS.get(change['Kind'], '?')} {change['Path']}")


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
