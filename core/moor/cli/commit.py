"""``moor commit`` and ``moor diff``."""

from __future__ import annotations

import click

from moor.cli.images import split_repo_tag
from moor.cli.main import client_of
from moor.client import quote_name

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
    repo, tag = split_repo_tag(repository) if repository else ("", "")
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

