"""``moor inspect``: any object by name or ID, looked up as ``docker inspect`` does."""

from __future__ import annotations

from typing import Any

import click

from moor.cli.main import client_of
from moor.cli.output import fail, parse_template, print_inspected
from moor.client import DaemonError, quote_name

#: The kinds ``--type`` names, in the order a bare name is looked up, with their inspect paths.
KINDS = (("container", "/containers/{}/json"), ("image", "/images/{}/json"), ("network", "/networks/{}"),
         ("volume", "/volumes/{}"))


@click.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "format_", default="", help="Format the output using a Go template")
@click.option("--type", "type_", default="", help="Return JSON for specified type")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes if the type is container")
@click.pass_context
def inspect(ctx: click.Context, names: tuple[str, ...], format_: str, type_: str, size: bool) -> None:
    """Return low-level information on moor objects (containers first, then images, networks, volumes)."""
    if type_ not in ("", *(kind for kind, _ in KINDS)):
        fail(f'"{type_}" is not a valid value for --type')  # exit 1, as the docker CLI
    client = client_of(ctx)
    if format_:
        parse_template(format_)  # a bad template: exit 64 before any lookup, as docker
    results: list[Any] = []
    kinds: list[str] = []
    for name in names:
        item = None
        for kind, path in KINDS:
            if type_ and type_ != kind:
                continue
            try:
                item = client.get(path.format(quote_name(name)), size="1" if size and kind == "container" else None)
                break
            except DaemonError as err:
                if err.status != 404:
                    raise
        results.append(f"Error: No such {type_ or 'object'}: {name}" if item is None else item)
        kinds.append(kind if item is not None else "")
    print_inspected(format_, results, kinds)
