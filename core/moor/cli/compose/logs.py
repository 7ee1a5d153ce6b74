"""``moor compose logs``: docker compose v2's flags over :mod:`moor.compose.runtime.logs`."""

from __future__ import annotations

import sys

import click

from moor.cli.compose import options_of


def use_colors(ctx: click.Context, no_color: bool) -> bool:
    """Compose's ANSI choice for log prefixes: never with ``--no-color`` or ``--ansi never``; always with
    ``--ansi always``; else when stdout is a terminal."""
    if no_color:
        return False
    ansi = options_of(ctx).ansi
    if ansi == "never":
        return False
    return ansi == "always" or sys.stdout.isatty()


@click.command("logs")
@click.option("-f", "--follow", is_flag=True, help="Follow log output")
@click.option("--index", default=0, type=int, metavar="int",
              help="index of the container if service has multiple replicas")
@click.option("--since", default="", metavar="string",
              help="Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
@click.option("--until", default="", metavar="string",
              help="Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
@click.option("--no-color", is_flag=True, help="Produce monochrome output")
@click.option("--no-log-prefix", is_flag=True, help="Don't print prefix in logs")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps")
@click.option("-n", "--tail", default="all", metavar="string",
              help="Number of lines to show from the end of the logs for each container")
@click.argument("services", nargs=-1)
@click.pass_context
def logs(ctx: click.Context, follow: bool, index: int, since: str, until: str, no_color: bool,
         no_log_prefix: bool, timestamps: bool, tail: str, services: tuple[str, ...]) -> None:
    """View output from containers."""
    from moor.cli.compose.target import project_or_name
    from moor.cli.main import client_of
    from moor.cli.queryflags import since_param
    from moor.compose.errors import ComposeError, ServiceNotFound
    from moor.compose.runtime.logs import LogOptions, LogPrinter, show_logs

    if index > 0 and len(services) != 1:
        raise ComposeError("--index requires one service to be selected")
    project, name = project_or_name(ctx, services)
    selected = list(services)
    if project is not None:
        for service in selected:
            if service not in project.services and service not in project.disabled_services:
                raise ServiceNotFound(f"no such service: {service}")
        if not selected:  # services with attach: false are left out unless named
            selected = [service for service in project.service_names()
                        if project.services[service].get("attach", True) is not False]
    options = LogOptions(services=selected, follow=follow, tail=tail, since=since_param(since, "since"),
                         until=since_param(until, "until"), timestamps=timestamps, index=index)
    printer = LogPrinter(color=use_colors(ctx, no_color), prefix=not no_log_prefix)
    try:
        show_logs(client_of(ctx), name, printer, options, project)
    except KeyboardInterrupt:
        sys.exit(130)
