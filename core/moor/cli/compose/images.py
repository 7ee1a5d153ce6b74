"""``moor compose build|pull|push|images``: docker compose v2's flags over :mod:`moor.compose.runtime.images`."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from moor.cli.compose import options_of

if TYPE_CHECKING:
    from moor.compose.model import Project
    from moor.compose.runtime.progress import Progress

_RED = "\x1b[31m"
_RESET = "\x1b[0m"


@contextmanager
def _progress(ctx: click.Context, quiet: bool = False) -> Iterator[Progress]:
    """The progress display ``--progress`` (``--ansi never``: plain; ``quiet``: nothing) asks for, on stderr."""
    from moor.compose.runtime.progress import Progress

    options = options_of(ctx)
    mode = "quiet" if quiet else options.progress
    if mode == "auto" and options.ansi == "never":
        mode = "plain"
    progress = Progress(mode, sys.stderr)
    try:
        yield progress
    finally:
        progress.close()


def _selected(project: Project, services: Sequence[str], with_dependencies: bool) -> list[str]:
    """The named services (all when none), with their dependencies when asked; an unknown one is an error."""
    from moor.compose.runtime.graph import DependencyGraph

    names = list(dict.fromkeys(services)) or project.service_names()
    for name in names:
        project.service(name)
    if with_dependencies:
        return DependencyGraph.of(project, names).services()
    return names


def _check_image_or_build(project: Project, names: Sequence[str]) -> None:
    from moor.compose.errors import ComposeError

    for name in names:
        service = project.service(name)
        if not service.get("image") and service.get("build") is None:
            raise ComposeError(f'invalid service "{name}". Must specify either image or build')


def _build_args(values: Sequence[str]) -> dict[str, str | None]:
    """``--build-arg NAME=value``; ``NAME`` alone takes its value from the project environment when it has one."""
    args: dict[str, str | None] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        args[name] = rest if sep else None
    return args


def _deprecated(flag: str) -> None:
    click.echo(f"{_RED}option '--{flag}' is DEPRECATED and will be ignored.\n{_RESET}", err=True, nl=False)


@click.command("build")
@click.argument("services", nargs=-1)
@click.option("--build-arg", "build_args", multiple=True, metavar="stringArray",
              help="Set build-time variables for services")
@click.option("-m", "--memory", default="", metavar="bytes",
              help="Set memory limit for the build container. Not supported by BuildKit.")
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image")
@click.option("--pull", is_flag=True, help="Always attempt to pull a newer version of the image")
@click.option("--push", is_flag=True, help="Push service images")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the build output")
@click.option("--ssh", default=None, metavar="string",
              help="Set SSH authentications used when building service images. (use 'default' for using your "
                   "default SSH Agent)")
@click.option("--with-dependencies", is_flag=True, help="Also build dependencies (transitively)")
@click.option("--parallel", is_flag=True, hidden=True)
@click.option("--compress", is_flag=True, hidden=True)
@click.option("--force-rm", is_flag=True, hidden=True)
@click.option("--no-rm", is_flag=True, hidden=True)
@click.option("--progress", "progress_mode", default=None, hidden=True)
@click.pass_context
def build(ctx: click.Context, services: tuple[str, ...], build_args: tuple[str, ...], memory: str, no_cache: bool,
          pull: bool, push: bool, quiet: bool, ssh: str | None, with_dependencies: bool, **hidden: Any) -> None:
    """Build or rebuild services"""
    from moor.cli.compose.loading import load_project_of
    from moor.cli.main import client_of
    from moor.compose.errors import ComposeError
    from moor.compose.runtime.images import build_services, push_services

    if hidden.get("progress_mode") is not None:
        click.echo("--progress is a global compose flag, better use `moor compose --progress xx build ...",
                   err=True)
    if ssh is not None:
        raise ComposeError("the classic builder doesn't support SSH keys")
    limit = 0
    if memory:
        from moor.cli.resourceflags import parse_memory

        limit = parse_memory(memory, "-m, --memory")
    project = load_project_of(ctx, services)
    names = _selected(project, services, with_dependencies)
    _check_image_or_build(project, project.service_names())
    buildable = [name for name in names if project.service(name).get("build") is not None]
    if not buildable:
        click.echo("WARN[0000] No services to build", err=True)
        return
    client = client_of(ctx)
    parallel = options_of(ctx).parallel
    with _progress(ctx, quiet) as progress:
        build_services(client, project, buildable, no_cache=no_cache, pull=pull, build_args=_build_args(build_args),
                       quiet=quiet, progress=progress, parallel=parallel, memory=limit)
        if push:
            push_services(client, project, buildable, quiet=quiet, progress=progress, parallel=parallel)


@click.command("pull")
@click.argument("services", nargs=-1)
@click.option("--ignore-buildable", is_flag=True, help="Ignore images that can be built")
@click.option("--ignore-pull-failures", is_flag=True, help="Pull what it can and ignores images with pull failures")
@click.option("--include-deps", is_flag=True, help="Also pull services declared as dependencies")
@click.option("--policy", default="", metavar="string", help='Apply pull policy ("missing"|"always")')
@click.option("-q", "--quiet", is_flag=True, help="Pull without printing progress information")
@click.option("--parallel", is_flag=True, hidden=True)
@click.option("--no-parallel", is_flag=True, hidden=True)
@click.pass_context
def pull(ctx: click.Context, services: tuple[str, ...], ignore_buildable: bool, ignore_pull_failures: bool,
         include_deps: bool, policy: str, quiet: bool, parallel: bool, no_parallel: bool) -> None:
    """Pull service images"""
    from moor.cli.compose.loading import load_project_of
    from moor.cli.main import client_of
    from moor.compose.runtime.images import pull_services

    if no_parallel:
        _deprecated("no-parallel")
    if parallel:
        _deprecated("parallel")
    project = load_project_of(ctx, services)
    names = _selected(project, services, include_deps)
    with _progress(ctx, quiet) as progress:
        pull_services(client_of(ctx), project, names, quiet=quiet, ignore_failures=ignore_pull_failures,
                      policy=policy or None, ignore_buildable=ignore_buildable, progress=progress,
                      parallel=options_of(ctx).parallel)


@click.command("push")
@click.argument("services", nargs=-1)
@click.option("--ignore-push-failures", is_flag=True, help="Push what it can and ignores images with push failures")
@click.option("--include-deps", is_flag=True, help="Also push images of services declared as dependencies")
@click.option("-q", "--quiet", is_flag=True, help="Push without printing progress information")
@click.pass_context
def push(ctx: click.Context, services: tuple[str, ...], ignore_push_failures: bool, include_deps: bool,
         quiet: bool) -> None:
    """Push service images"""
    from moor.cli.compose.loading import load_project_of
    from moor.cli.main import client_of
    from moor.compose.runtime.images import push_services

    project = load_project_of(ctx, services)
    names = _selected(project, services, include_deps)
    with _progress(ctx, quiet) as progress:
        push_services(client_of(ctx), project, names, ignore_failures=ignore_push_failures, quiet=quiet,
                      progress=progress, parallel=options_of(ctx).parallel)


@click.command("images")
@click.argument("services", nargs=-1)
@click.option("--format", "format_", default="table", metavar="string",
              help="Format the output. Values: [table | json]")
@click.option("-q", "--quiet", is_flag=True, help="Only display IDs")
@click.pass_context
def images(ctx: click.Context, services: tuple[str, ...], format_: str, quiet: bool) -> None:
    """List images used by the created containers"""
    from moor.cli.compose.loading import project_name_of
    from moor.cli.main import client_of
    from moor.compose.errors import ComposeError
    from moor.compose.runtime.images import project_images

    if not quiet and format_.lower() not in ("table", "pretty", "", "json"):
        raise ComposeError(f'format value "{format_}" could not be parsed: parsing failed')
    rows = project_images(client_of(ctx), project_name_of(ctx), services)
    if quiet:
        seen: list[str] = []
        for row in rows:
            ident = str(row["ID"]).partition(":")[2] or str(row["ID"])
            if ident not in seen:
                seen.append(ident)
        for ident in seen:
            click.echo(ident)
        return
    if format_.lower() == "json":
        click.echo(_json(rows))
        return
    _table(rows)


def _json(rows: list[dict[str, Any]]) -> str:
    """compose's JSON: a list of objects in its field order (``Created`` and ``LastTagTime`` left out when
    unknown), Go's encoder (HTML characters kept), ``null`` for none, with its newline."""
    import json

    if not rows:
        return "null\n"
    items = []
    for row in rows:
        item: dict[str, Any] = {"ID": row["ID"], "ContainerName": row["ContainerName"],
                                "Repository": row["Repository"], "Tag": row["Tag"], "Platform": row["Platform"],
                                "Size": row["Size"]}
        if row["Created"]:
            item["Created"] = row["Created"]
        if row["LastTagTime"]:
            item["LastTagTime"] = row["LastTagTime"]
        items.append(item)
    text = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"


def _table(rows: list[dict[str, Any]]) -> None:
    """compose's table: CONTAINER, REPOSITORY, TAG, PLATFORM, IMAGE ID, SIZE, CREATED (tabwriter: cells at
    least 20 wide, 3 spaces of padding)."""
    import time

    from moor.cli.output import print_table
    from moor.errors import InvalidParameter
    from moor.timefmt import human_duration, parse_timestamp
    from moor.units import human_size

    table = [["CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE ID", "SIZE", "CREATED"]]
    now = time.time()
    for row in rows:
        ident = str(row["ID"])
        ident = (ident.partition(":")[2] or ident)[:12]
        created = "N/A"
        if row["Created"]:
            try:
                created = human_duration(now - parse_timestamp(str(row["Created"]))) + " ago"
            except InvalidParameter:
                pass
        table.append([row["ContainerName"], row["Repository"] or "<none>", row["Tag"] or "<none>",
                      row["Platform"], ident, human_size(int(row["Size"]), 3), created])
    print_table(table, padding=3, min_width=20)
