"""``moor compose config``: the project's model, normalised, as ``docker compose config`` prints it."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from moor.compose.model import Project


def _dependency_order(project: Project, names: list[str]) -> list[str]:
    """``names`` with each service after the services it depends on (ties in name order)."""
    ordered: list[str] = []

    def visit(name: str, seen: tuple[str, ...]) -> None:
        if name in ordered or name in seen or name not in project.services:
            return
        for dependency in sorted(project.services[name].get("depends_on") or {}):
            visit(dependency, (*seen, name))
        ordered.append(name)

    for name in sorted(names):
        visit(name, ())
    return ordered


def _with_dependencies(project: Project, names: tuple[str, ...]) -> list[str]:
    selected: list[str] = []
    pending = list(names)
    while pending:
        name = pending.pop(0)
        if name in selected:
            continue
        project.service(name)
        selected.append(name)
        pending.extend(project.services[name].get("depends_on") or {})
    return selected


def _table(rows: list[list[str]], headers: list[str]) -> str:
    """Go's tabwriter as compose's formatter sets it (minimum width 20, padding 3)."""
    table = [headers, *rows]
    widths = [max(20, max(len(row[column]) for row in table) + 3) for column in range(len(headers) - 1)]
    lines = []
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]
        lines.append("".join(cells).rstrip() if not row[-1] else "".join(cells))
    return "\n".join(lines) + "\n"


def _print_variables(project: Project, output_format: str | None) -> None:
    from moor.compose.loader.interpolation import variables as extract_variables
    from moor.compose.render import project_dict, to_yaml

    model = project_dict(project)
    model["services"] = {**project.services, **project.disabled_services}
    variables = extract_variables(model)
    names = sorted(variables)
    if output_format == "yaml":
        click.echo(to_yaml({name: {"name": variables[name].name, "defaultvalue": variables[name].default,
                                   "presencevalue": variables[name].alternate,
                                   "required": variables[name].required} for name in names}), nl=False)
        return
    if output_format == "json":
        click.echo(json.dumps({name: {"Name": variables[name].name, "DefaultValue": variables[name].default,
                                      "PresenceValue": variables[name].alternate,
                                      "Required": variables[name].required} for name in names}))
        return
    rows = [[name, "true" if variables[name].required else "false", variables[name].default,
             variables[name].alternate] for name in names]
    click.echo(_table(rows, ["NAME", "REQUIRED", "DEFAULT VALUE", "ALTERNATE VALUE"]), nl=False)


def _write(text: str, output: str | None) -> None:
    if output:
        try:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as err:
            from moor.compose.errors import ComposeError

            raise ComposeError(f"open {output}: {err.strerror or err}") from None
        return
    sys.stdout.write(text)
    sys.stdout.flush()


@click.command("config", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("services", nargs=-1)
@click.option("--format", "output_format", default=None, metavar="string",
              help="Format the output. Values: [yaml | json]")
@click.option("-q", "--quiet", is_flag=True, help="Only validate the configuration, don't print anything")
@click.option("--no-interpolate", is_flag=True, help="Don't interpolate environment variables")
@click.option("--no-normalize", is_flag=True, help="Don't normalize compose model")
@click.option("--no-path-resolution", is_flag=True, help="Don't resolve file paths")
@click.option("--no-consistency", is_flag=True,
              help="Don't check model consistency - warning: may produce invalid Compose output")
@click.option("--no-env-resolution", is_flag=True, help="Don't resolve service env files")
@click.option("--services", "list_services", is_flag=True, help="Print the service names, one per line.")
@click.option("--volumes", "list_volumes", is_flag=True, help="Print the volume names, one per line.")
@click.option("--networks", "list_networks", is_flag=True, help="Print the network names, one per line.")
@click.option("--profiles", "list_profiles", is_flag=True, help="Print the profile names, one per line.")
@click.option("--images", "list_images", is_flag=True, help="Print the image names, one per line.")
@click.option("--hash", "hash_services", default=None, metavar="string",
              help="Print the service config hash, one per line.")
@click.option("--variables", is_flag=True, help="Print model variables and default values.")
@click.option("--environment", is_flag=True, help="Print environment used for interpolation.")
@click.option("-o", "--output", default=None, metavar="string", help="Save to file (default to stdout)")
@click.pass_context
def config(ctx: click.Context, services: tuple[str, ...], output_format: str | None, quiet: bool,
           no_interpolate: bool, no_normalize: bool, no_path_resolution: bool, no_consistency: bool,
           no_env_resolution: bool, list_services: bool, list_volumes: bool, list_networks: bool,
           list_profiles: bool, list_images: bool, hash_services: str | None, variables: bool, environment: bool,
           output: str | None) -> None:
    """Parse, resolve and render compose file in canonical format"""
    from moor.cli.compose.loading import load_options
    from moor.compose.errors import ComposeError
    from moor.compose.loader.project import drop_unused_resources, load_project

    if output_format not in (None, "yaml", "json"):
        raise ComposeError(f"unsupported format \"{output_format}\"")

    def load(*names: str, **overrides: Any) -> Project:
        settings: dict[str, Any] = {"interpolate": not no_interpolate, "normalize": not no_normalize,
                                    "resolve_paths": not no_path_resolution, "consistency": not no_consistency,
                                    "resolve_environment": not no_env_resolution}
        settings.update(overrides)
        return load_project(load_options(ctx, names, **settings))

    if quiet:
        load(*services)
        return
    if list_services:
        project = load()
        click.echo("".join(f"{name}\n" for name in _dependency_order(project, list(project.services))), nl=False)
    elif list_volumes or list_networks:
        project = load()
        click.echo("".join(f"{name}\n" for name in sorted(project.volumes if list_volumes else project.networks)),
                   nl=False)
    elif hash_services:
        from moor.compose.confighash import config_hash

        project = load()
        names = project.service_names() if hash_services == "*" else hash_services.split(",")
        for name in names:
            project.service(name)
        click.echo("".join(f"{name} {config_hash(project, name)}\n" for name in sorted(names)), nl=False)
    elif list_profiles:
        from moor.compose.loader.profiles import all_profiles

        project = load(*services)
        click.echo("".join(f"{name}\n" for name in
                           all_profiles({**project.services, **project.disabled_services})), nl=False)
    elif list_images:
        project = load(*services)
        click.echo("".join(f"{project.services[name].get('image') or f'{project.name}-{name}'}\n"
                           for name in sorted(project.services)), nl=False)
    elif variables:
        if services:
            click.echo("service filtering is not applied when --variables is set, variables from the full model "
                       "will be rendered", err=True)
        _print_variables(load(interpolate=False, consistency=False), output_format)
    elif environment:
        project = load(*services)
        click.echo("".join(f"{key}={value}\n" for key, value in sorted(project.environment.items())), nl=False)
    else:
        from moor.compose.render import render

        project = load(*services)
        if services and not no_interpolate:
            keep = _with_dependencies(project, services)
            project.services = {name: project.services[name] for name in sorted(keep)}
            drop_unused_resources(project)
        text = render(project, output_format or "yaml")
        if not no_interpolate:
            text = text.replace("$", "$$")
        _write(text, output)
