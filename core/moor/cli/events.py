"""``moor events``: the daemon's event stream, printed as Docker prints it."""

from __future__ import annotations

from typing import Any

import click

from moor.cli.main import client_of
from moor.cli.output import render_format
from moor.cli.queryflags import filters_param, since_param
from moor.timefmt import rfc3339_nano_fixed


def _line(event: dict[str, Any]) -> str:
    nanos = event.get("timeNano", event.get("time", 0) * 1_000_000_000)
    attributes = event.get("Actor", {}).get("Attributes", {})
    pairs = ", ".join(f"{k}={v}" for k, v in sorted(attributes.items()))
    text = f"{rfc3339_nano_fixed(nanos)} {event['Type']} {event['Action']} {event['Actor']['ID']}"
    return text + (f" ({pairs})" if pairs else "")


@click.command("events")
@click.option("--since", default="", help="Show all events created since timestamp")
@click.option("--until", default="", help="Stream events until this timestamp")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output based on conditions provided")
@click.option("--format", "format_", default="", help="Format the output using the given Go template")
@click.pass_context
def events(ctx: click.Context, since: str, until: str, filters: tuple[str, ...], format_: str) -> None:
    """Get real time events from the server."""
    client = client_of(ctx)
    response = client.open("GET", "/events", {"since": since_param(since), "until": since_param(until),
                                              "filters": filters_param(filters)})
    for event in client.stream_json(response):
        if format_:
            render_format(format_, [event])
        else:
            click.echo(_line(event))
