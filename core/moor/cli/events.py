"""``moor events``: the daemon's event stream, printed as Docker prints it."""

from __future__ import annotations

from typing import Any

import click

from moor.cli.gotemplate import TemplateError, struct
from moor.cli.main import client_of
from moor.cli.output import TEMPLATE_ERROR, fail, parse_template
from moor.cli.queryflags import filters_param, since_param
from moor.timefmt import rfc3339_nano_fixed


def _line(event: dict[str, Any]) -> str:
    nanos = event.get("timeNano", event.get("time", 0) * 1_000_000_000)
    attributes = event.get("Actor", {}).get("Attributes", {})
    pairs = ", ".join(f"{k}={v}" for k, v in sorted(attributes.items()))
    text = f"{rfc3339_nano_fixed(nanos)} {event['Type']} {event['Action']} {event['Actor']['ID']}"
    return text + (f" ({pairs})" if pairs else "")


def _message(event: dict[str, Any]) -> dict[str, Any]:
    """An event as the docker CLI's template sees it: Go's events.Message (its Go field names; ``json`` gives the
    daemon's JSON)."""
    actor = event.get("Actor") or {}
    return struct({"Status": event.get("status", ""), "ID": event.get("id", ""), "From": event.get("from", ""),
                   "Type": event.get("Type", ""), "Action": event.get("Action", ""),
                   "Actor": struct({"ID": actor.get("ID", ""), "Attributes": actor.get("Attributes") or {}},
                                   "events.Actor", {"ID": actor.get("ID", ""),
                                                    "Attributes": actor.get("Attributes") or {}}),
                   "Scope": event.get("scope", ""), "Time": event.get("time", 0),
                   "TimeNano": event.get("timeNano", 0)}, "*events.Message", event)


def _template(format_: str) -> Any:
    """The --format template, checked as the docker CLI checks it: parsed, then run on an empty event (exit 64:
    ``Error parsing format: ...``)."""
    template = parse_template(format_, error_prefix="Error parsing format: ")
    try:
        template.execute(_message({}))
    except TemplateError as err:
        fail(f"Error parsing format: {err}", TEMPLATE_ERROR)
    return template


@click.command("events")
@click.option("--since", default="", help="Show all events created since timestamp")
@click.option("--until", default="", help="Stream events until this timestamp")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output based on conditions provided")
@click.option("--format", "format_", default="", help="Format the output using the given Go template")
@click.pass_context
def events(ctx: click.Context, since: str, until: str, filters: tuple[str, ...], format_: str) -> None:
    """Get real time events from the server."""
    template = _template(format_) if format_ else None
    client = client_of(ctx)
    response = client.open("GET", "/events", {"since": since_param(since), "until": since_param(until),
                                              "filters": filters_param(filters)})
    for event in client.stream_json(response):
        if template is not None:
            try:
                click.echo(template.execute(_message(event)))
            except TemplateError as err:
                fail(str(err))
        else:
            click.echo(_line(event))
