"""``moor compose up``, ``create`` and ``down`` with docker compose v2's flags, over :mod:`moor.compose.runtime`."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from moor.cli.compose import options_of

if TYPE_CHECKING:
    from moor.compose.model import Project
    from moor.compose.runtime.up import UpOptions

_TRUE = ("1", "true", "yes", "y", "on")


def _client(ctx: click.Context, progress: Any) -> Any:
    """The engine's client; under ``--dry-run`` one that changes nothing, and progress lines that say so."""
    from moor.cli.main import client_of

    client = client_of(ctx)
    if options_of(ctx).dry_run:
        from moor.compose.runtime.dryrun import DryRunClient
        from moor.compose.runtime.progress import DRY_RUN_PREFIX

        progress.prefix = DRY_RUN_PREFIX
        return DryRunClient(client)
    return client


@contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C while compose works: the operations under way finish, then exit 130 without a traceback."""
    try:
        yield
    except KeyboardInterrupt:
        sys.exit(130)


def _error(message: str) -> Exception:
    from moor.compose.errors import ComposeError

    return ComposeError(message)


def _scales(project: Project, values: Sequence[str]) -> dict[str, int]:
    """``--scale SERVICE=NUM`` (repeated), each service checked."""
    found: dict[str, int] = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep or not number.strip().isdigit():
            raise _error(f"invalid --scale value {value!r}: expected SERVICE=NUM")
        project.service(name)
        found[name] = int(number)
    return found


def _pull(value: str | None) -> str | None:
    """``--pull``: ``policy`` (the default) leaves each service's ``pull_policy``; other values override it
    (checked by the images module, as compose-go checks them)."""
    if value in (None, "", "policy"):
        return None
    return value


def _build_flags(function: Any) -> Any:
    for decorator in reversed((
        click.option("--build", is_flag=True, help="Build images before starting containers"),
        click.option("--no-build", is_flag=True, help="Don't build an image, even if it's policy"),
        click.option("--pull", default="policy", metavar="string",
                     help='Pull image before running ("always"|"missing"|"never") (default "policy")'),
        click.option("--quiet-pull", is_flag=True, help="Pull without printing progress information"),
        click.option("--force-recreate", is_flag=True,
                     help="Recreate containers even if their configuration and image haven't changed"),
        click.option("--no-recreate", is_flag=True,
                     help="If containers already exist, don't recreate them. Incompatible with --force-recreate."),
        click.option("--remove-orphans", is_flag=True, default=None,
                     help="Remove containers for services not defined in the Compose file"),
        click.option("--scale", multiple=True, metavar="stringArray",
                     help="Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if "
                          "present."),
        click.option("-y", "--yes", is_flag=True,
                     help='Assume "yes" as answer to all prompts and run non-interactively'),
    )):
        function = decorator(function)
    return function


def _up_options(ctx: click.Context, project: Project, *, build: bool, no_build: bool, pull: str | None,
                quiet_pull: bool, force_recreate: bool, no_recreate: bool, remove_orphans: bool | None,
                scale: Sequence[str], **extra: Any) -> UpOptions:
    from moor.compose.runtime.up import UpOptions

    if build and no_build:
        raise _error("--build and --no-build are incompatible")
    if force_recreate and no_recreate:
        raise _error("--force-recreate and --no-recreate are incompatible")
    if extra.get("always_recreate_deps") and no_recreate:
        raise _error("--always-recreate-deps and --no-recreate are incompatible")
    if extra.get("renew_anon_volumes") and no_recreate:
        raise _error("--no-recreate and --renew-anon-volumes are incompatible")
    if remove_orphans is None:
        remove_orphans = os.environ.get("COMPOSE_REMOVE_ORPHANS", "").lower() in _TRUE
    ignore_orphans = project.environment.get("COMPOSE_IGNORE_ORPHANS", "").lower() in _TRUE
    if ignore_orphans and remove_orphans:
        raise _error("cannot combine COMPOSE_IGNORE_ORPHANS and --remove-orphans")
    return UpOptions(build=build, no_build=no_build, pull=_pull(pull), quiet_pull=quiet_pull,
                     force_recreate=force_recreate, no_recreate=no_recreate, remove_orphans=remove_orphans,
                     scale=_scales(project, scale), parallel=options_of(ctx).parallel, ignore_orphans=ignore_orphans,
                     **extra)


@click.command("up")
@click.argument("services", nargs=-1)
@click.option("-d", "--detach", is_flag=True, help="Detached mode: Run containers in the background")
@_build_flags
@click.option("--no-color", is_flag=True, help="Produce monochrome output")
@click.option("--no-log-prefix", is_flag=True, help="Don't print prefix in logs")
@click.option("--no-start", is_flag=True, help="Don't start the services after creating them")
@click.option("--abort-on-container-exit", is_flag=True,
              help="Stops all containers if any container was stopped. Incompatible with -d")
@click.option("--abort-on-container-failure", is_flag=True,
              help="Stops all containers if any container exited with failure. Incompatible with -d")
@click.option("--exit-code-from", default=None, metavar="string",
              help="Return the exit code of the selected service container. Implies --abort-on-container-exit")
@click.option("-t", "--timeout", type=int, default=None, metavar="int",
              help="Use this timeout in seconds for container shutdown when attached or when containers are already "
                   "running")
@click.option("--timestamps", is_flag=True, help="Show timestamps")
@click.option("--no-deps", is_flag=True, help="Don't start linked services")
@click.option("--always-recreate-deps", is_flag=True,
              help="Recreate dependent containers. Incompatible with --no-recreate.")
@click.option("-V", "--renew-anon-volumes", is_flag=True,
              help="Recreate anonymous volumes instead of retrieving data from the previous containers")
@click.option("--quiet-build", is_flag=True, help="Suppress the build output")
@click.option("--attach", multiple=True, metavar="stringArray",
              help="Restrict attaching to the specified services. Incompatible with --attach-dependencies.")
@click.option("--no-attach", multiple=True, metavar="stringArray",
              help="Do not attach (stream logs) to the specified services")
@click.option("--attach-dependencies", is_flag=True,
              help="Automatically attach to log output of dependent services")
@click.option("--wait", is_flag=True, help="Wait for services to be running|healthy. Implies detached mode.")
@click.option("--wait-timeout", type=int, default=0, metavar="int",
              help="Maximum duration in seconds to wait for the project to be running|healthy")
@click.option("-w", "--watch", is_flag=True,
              help="Watch source code and rebuild/refresh containers when files are updated.")
@click.option("--menu", is_flag=True, hidden=True)
@click.pass_context
def up(ctx: click.Context, services: tuple[str, ...], detach: bool, build: bool, no_build: bool, pull: str,
       quiet_pull: bool, force_recreate: bool, no_recreate: bool, remove_orphans: bool | None, scale: tuple[str, ...],
       yes: bool, no_color: bool, no_log_prefix: bool, no_start: bool, abort_on_container_exit: bool,
       abort_on_container_failure: bool, exit_code_from: str | None, timeout: int | None, timestamps: bool,
       no_deps: bool, always_recreate_deps: bool, renew_anon_volumes: bool, quiet_build: bool,
       attach: tuple[str, ...], no_attach: tuple[str, ...], attach_dependencies: bool, wait: bool, wait_timeout: int,
       watch: bool, menu: bool) -> None:
    """Create and start containers"""
    from moor.cli.compose.loading import load_project_of
    from moor.cli.compose.target import progress_of
    from moor.compose.runtime.up import converge

    if wait_timeout < 0:
        raise _error("--wait-timeout must be a non-negative integer")
    if exit_code_from and not abort_on_container_failure:
        abort_on_container_exit = True
    if abort_on_container_exit and abort_on_container_failure:
        raise _error("--abort-on-container-failure cannot be combined with --abort-on-container-exit")
    if wait:
        if attach_dependencies or abort_on_container_exit or attach:
            raise _error("--wait cannot be combined with --abort-on-container-exit, --attach or "
                         "--attach-dependencies")
        detach = True
    if detach and (attach_dependencies or abort_on_container_exit or abort_on_container_failure or attach or watch):
        raise _error("--detach cannot be combined with --abort-on-container-exit, --abort-on-container-failure, "
                     "--attach, --attach-dependencies or --watch")
    if watch:
        raise _error("--watch is not supported by moor compose")
    if attach and attach_dependencies:
        raise _error("cannot combine --attach and --attach-dependencies")
    project = load_project_of(ctx, services)
    for service in services:
        project.service(service)
    if not project.services:
        raise _error("no service selected")
    if exit_code_from:
        project.service(exit_code_from)
    options = _up_options(ctx, project, build=build, no_build=no_build, pull=pull, quiet_pull=quiet_pull,
                          force_recreate=force_recreate, no_recreate=no_recreate, remove_orphans=remove_orphans,
                          scale=scale, no_deps=no_deps, always_recreate_deps=always_recreate_deps,
                          renew_anon_volumes=renew_anon_volumes, no_start=no_start, timeout=timeout, wait=wait,
                          wait_timeout=float(wait_timeout) if wait_timeout else None)
    chosen: set[str] = set()
    if not (detach or no_start):
        chosen = _attach_set(project, services, attach, no_attach, attach_dependencies, no_deps)
    began = time.time()
    with _interruptible(), progress_of(ctx) as progress:
        client = _client(ctx, progress)
        # the attached printer inspects what it follows itself: converge need not
        containers = converge(client, project, list(services), options, progress, inspect=False)
    if detach or no_start:
        return
    if options_of(ctx).dry_run:
        click.echo("end of 'compose up' output, interactive run is not supported in dry-run mode")
        return
    attached = [item for item in containers
                if ((item.get("Config") or {}).get("Labels") or {}).get("com.docker.compose.service") in chosen]
    code = _attached(ctx, client, project, attached, abort=abort_on_container_exit,
                     abort_on_failure=abort_on_container_failure, exit_code_from=exit_code_from,
                     timestamps=timestamps, no_color=no_color, no_log_prefix=no_log_prefix, timeout=timeout,
                     since=began, services=list(services) or project.service_names())
    if code:
        sys.exit(code)


def _attach_set(project: Project, services: Sequence[str], attach: Sequence[str], no_attach: Sequence[str],
                attach_dependencies: bool, no_deps: bool) -> set[str]:
    """The services whose output an attached ``up`` prints: ``--attach``, else the services named (with their
    dependencies under ``--attach-dependencies``), else all; less ``--no-attach`` and ``attach: false``."""
    from moor.compose.runtime.up import handled_services

    if attach:
        unknown = sorted(set(attach) - set(handled_services(project, list(services), no_deps=no_deps)))
        if unknown:
            raise _error(f"cannot attach to services not included in up: {', '.join(unknown)}")
        chosen = set(attach)
    elif attach_dependencies or not services:
        chosen = set(handled_services(project, list(services), no_deps=no_deps))
    else:
        chosen = set(services)
    chosen = {name for name in chosen if project.services[name].get("attach", True) is not False}
    return chosen - set(no_attach)


def _attached(ctx: click.Context, client: Any, project: Project, containers: list[dict[str, Any]], *, abort: bool,
              abort_on_failure: bool, exit_code_from: str | None, timestamps: bool, no_color: bool,
              no_log_prefix: bool, timeout: int | None, since: float, services: list[str]) -> int:
    from moor.cli.compose.target import progress_of
    from moor.compose.runtime.attached import run_attached

    ansi = options_of(ctx).ansi  # colours: always, never, or when stdout is a terminal
    with progress_of(ctx) as progress:
        return run_attached(client, project, containers, abort_on_exit=abort, abort_on_failure=abort_on_failure,
                            exit_code_from=exit_code_from, timestamps=timestamps,
                            no_color=no_color or ansi == "never", no_log_prefix=no_log_prefix, stop_timeout=timeout,
                            progress=progress, since=since, ansi=ansi,
                            services=services)  # an abort or Ctrl-C stops up's services, attached or not


@click.command("create")
@click.argument("services", nargs=-1)
@_build_flags
@click.pass_context
def create(ctx: click.Context, services: tuple[str, ...], build: bool, no_build: bool, pull: str, quiet_pull: bool,
           force_recreate: bool, no_recreate: bool, remove_orphans: bool | None, scale: tuple[str, ...],
           yes: bool) -> None:
    """Creates containers for a service"""
    from moor.cli.compose.loading import load_project_of
    from moor.cli.compose.target import progress_of
    from moor.compose.runtime.up import converge

    project = load_project_of(ctx, services)
    for service in services:
        project.service(service)
    options = _up_options(ctx, project, build=build, no_build=no_build, pull=pull, quiet_pull=quiet_pull,
                          force_recreate=force_recreate, no_recreate=no_recreate, remove_orphans=remove_orphans,
                          scale=scale, no_start=True)
    with _interruptible(), progress_of(ctx) as progress:
        converge(_client(ctx, progress), project, list(services), options, progress, inspect=False)


@click.command("down")
@click.argument("services", nargs=-1)
@click.option("--remove-orphans", is_flag=True, default=None,
              help="Remove containers for services not defined in the Compose file")
@click.option("--rmi", default=None, type=click.Choice(["local", "all"]), metavar="string",
              help='Remove images used by services. "local" remove only images that don\'t have a custom tag '
                   '("local"|"all")')
@click.option("-t", "--timeout", type=int, default=None, metavar="int", help="Specify a shutdown timeout in seconds")
@click.option("-v", "--volumes", is_flag=True,
              help="Remove named volumes declared in the \"volumes\" section of the Compose file and anonymous "
                   "volumes attached to containers")
@click.pass_context
def down(ctx: click.Context, services: tuple[str, ...], remove_orphans: bool | None, rmi: str | None,
         timeout: int | None, volumes: bool) -> None:
    """Stop and remove containers, networks"""
    from moor.cli.compose.target import progress_of, project_or_name
    from moor.compose.runtime.down import down as down_project

    if remove_orphans is None:
        remove_orphans = os.environ.get("COMPOSE_REMOVE_ORPHANS", "").lower() in _TRUE
    project, name = project_or_name(ctx)
    with _interruptible(), progress_of(ctx) as progress:
        down_project(_client(ctx, progress), name, project, volumes=volumes, rmi=rmi, remove_orphans=remove_orphans,
                     timeout=timeout, progress=progress, services=services, parallel=options_of(ctx).parallel)
