"""``moor container``: Docker's management command that gathers the container commands.

Each subcommand is the top-level command of the same name (``container ls`` is ``ps``), defined
in the module that says what it is (:mod:`moor.cli.containers`, :mod:`moor.cli.run`, :mod:`moor.cli.resources`,
:mod:`moor.cli.cp`); ``container prune`` and ``container inspect`` live only here.
"""

from __future__ import annotations

import click

from moor.cli.commit import commit, diff
from moor.cli.containers import kill, logs, ps, rename, restart, rm, start, stop, top, wait
from moor.cli.cp import cp, export
from moor.cli.exec import attach, exec_
from moor.cli.main import client_of
from moor.cli.output import confirm, inspect_many, print_prune_report
from moor.cli.port import port
from moor.cli.queryflags import filters_param
from moor.cli.resources import pause, stats, unpause, update
from moor.cli.run import create, run
from moor.client import quote_name


@click.group("container")
def container() -> None:
    """Manage containers."""


for _command in (create, run, start, stop, restart, kill, rm, wait, rename, logs, top, ps, stats, update, pause,
                 unpause, cp, export, commit, diff, attach, port):
    container.add_command(_command)
container.add_command(exec_, "exec")
container.add_command(ps, "ls")
container.add_command(ps, "list")


@container.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (e.g. 'until=<timestamp>')")
@click.pass_context
def container_prune(ctx: click.Context, force: bool, filters: tuple[str, ...]) -> None:
    """Remove all stopped containers."""
    if not force and not confirm("WARNING! This will remove all stopped containers."):
        return
    report = client_of(ctx).call("POST", "/containers/prune", {"filters": filters_param(filters)})
    print_prune_report("Containers", report.get("ContainersDeleted") or [], report.get("SpaceReclaimed", 0))


@container.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "format_", default="", help="Format the output using a Go template")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes")
@click.pass_context
def container_inspect(ctx: click.Context, names: tuple[str, ...], format_: str, size: bool) -> None:
    """Display detailed information on one or more containers."""
    inspect_many(client_of(ctx), names, lambda name: f"/containers/{quote_name(name)}/json", "container", format_,
                 {"size": "1" if size else None})
