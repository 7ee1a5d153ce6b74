"""The ``moor`` command: a click group whose subcommands load only when used."""

from __future__ import annotations

import gc
import os
import sys
from importlib import import_module
from typing import Any

import click

#: command name -> "module:attribute" under moor.cli
COMMANDS: dict[str, str] = {
    "version": "system:version",
    "info": "system:info",
    "config": "system:config",
    "system": "system:system",
    "images": "images:images",
    "image": "images:image",
    "rmi": "images:rmi",
    "tag": "images:tag",
    "inspect": "inspect:inspect",
    "history": "images:history",
    "load": "images:load",
    "save": "images:save",
    "import": "images:import_",
    "run": "run:run",
    "create": "run:create",
    "start": "containers:start",
    "stop": "containers:stop",
    "restart": "containers:restart",
    "kill": "containers:kill",
    "rm": "containers:rm",
    "wait": "containers:wait",
    "rename": "containers:rename",
    "logs": "containers:logs",
    "top": "containers:top",
    "ps": "containers:ps",
    "container": "container:container",
    "exec": "exec:exec_",
    "attach": "exec:attach",
    "events": "events:events",
    "cp": "cp:cp",
    "export": "cp:export",
    "commit": "commit:commit",
    "stats": "resources:stats",
    "update": "resources:update",
    "pause": "resources:pause",
    "unpause": "resources:unpause",
    "diff": "commit:diff",
    "port": "port:port",
    "network": "networks:network",
    "volume": "volumes:volume",
    "pull": "registry:pull",
    "push": "registry:push",
    "login": "registry:login",
    "logout": "registry:logout",
    "search": "registry:search",
    "build": "build:build",
    "builder": "build:builder",
    "context": "context:context",
    "completion": "completion:completion",
    "compose": "compose:compose",
}

#: ``--log-level`` values the docker CLI takes
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``-v``/``--version``: one line, as ``docker --version``."""
    if value and not ctx.resilient_parsing:
        from moor import __version__

        click.echo(f"moor version {__version__}, build {__version__}")
        ctx.exit(0)


class LazyGroup(click.Group):
    """Imports a subcommand's module only when that subcommand runs (``lazy``: name -> "module:attribute" under
    ``package``)."""

    def __init__(self, *args: Any, lazy: dict[str, str], package: str = "moor.cli", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy
        self.package = package

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module, attribute = self.lazy[name].split(":")
            command = getattr(import_module(f"{self.package}.{module}"), attribute)
            gc.enable()  # (off while the CLI loads: moor.cli.entry)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        from moor.client import ConnectError, DaemonError

        try:
            return super().invoke(ctx)
        except ConnectError as err:
            click.echo(str(err), err=True)
            sys.exit(1)
        except DaemonError as err:
            click.echo(f"Error response from daemon: {err.message}", err=True)
            sys.exit(1)
        except BrokenPipeError:
            sys.exit(0)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_dir", default=None, metavar="string",
              help="Location of client config files (default \"~/.docker\")")
@click.option("-c", "--context", "context_name", default=None, metavar="string",
              help="Name of the context to use to connect to the daemon (overrides MOOR_HOST env var and default "
                   "context set with \"moor context use\")")
@click.option("-H", "--host", envvar="MOOR_HOST", default=None, metavar="HOST",
              help="Daemon socket to connect to (default unix:///run/moor/moor.sock, or $MOOR_HOST)")
@click.option("-D", "--debug", is_flag=True, help="Enable debug mode")
@click.option("-l", "--log-level", default="info", metavar="string",
              help='Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")')
@click.option("--tls", is_flag=True, help="Use TLS; implied by --tlsverify (moor serves Unix sockets only)")
@click.option("--tlscacert", default="", metavar="string", help="Trust certs signed only by this CA")
@click.option("--tlscert", default="", metavar="string", help="Path to TLS certificate file")
@click.option("--tlskey", default="", metavar="string", help="Path to TLS key file")
@click.option("--tlsverify", is_flag=True, help="Use TLS and verify the remote")
@click.option("-v", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Print version information and quit")
@click.pass_context
def cli(ctx: click.Context, config_dir: str | None, context_name: str | None, host: str | None, debug: bool,
        log_level: str, **_tls: Any) -> None:
    """A Docker-compatible container engine."""
    if log_level not in LOG_LEVELS:
        click.echo(f"Unable to parse logging level: {log_level}", err=True)
        sys.exit(1)
    if context_name and ctx.get_parameter_source("host") == click.core.ParameterSource.COMMANDLINE:
        click.echo("Conflicting options: either specify --host or --context, not both", err=True)
        sys.exit(1)
    if config_dir:
        os.environ["DOCKER_CONFIG"] = config_dir  # where logins and contexts are kept, as the docker CLI's
    ctx.obj = {"host": host, "debug": debug, "context": context_name}


def client_of(ctx: click.Context) -> Any:
    """The API client for the daemon this invocation talks to: ``-H``, else ``-c``'s context, else ``$MOOR_HOST``,
    else the current context (``moor context use``), else moor's socket."""
    from moor.client import Client

    root = ctx.find_root()
    obj = root.obj or {}
    host = obj.get("host")
    if obj.get("context") and root.get_parameter_source("host") != click.core.ParameterSource.COMMANDLINE:
        from moor.cli.context import host_of

        host = host_of(obj["context"])
    elif host is None:
        from moor.cli.context import DEFAULT, current_name, host_of

        name = current_name()
        host = host_of(name) if name != DEFAULT else None
    return Client(host)


def _usage_message(error: click.UsageError) -> str:
    if isinstance(error, click.NoSuchOption):
        return f"unknown flag: {error.option_name}"
    return error.format_message()


def main() -> None:
    """Run the CLI; usage errors print Docker's way (``unknown flag: --x``) and exit 125; no command prints the
    help (exit 0) and an unknown one ``moor: 'x' is not a moor command.`` (exit 1), as the docker CLI."""
    if len(sys.argv) == 1 and "_MOOR_COMPLETE" not in os.environ:  # (a shell's completion asks with no args)
        click.echo(cli.get_help(click.Context(cli, info_name="moor")))
        sys.exit(0)
    try:
        cli.main(prog_name="moor", standalone_mode=False)
    except click.UsageError as error:
        from moor.cli.output import ENGINE_ERROR

        command = error.ctx.command_path if error.ctx else "moor"
        unknown = error.message.startswith("No such command ") and error.ctx is not None \
            and error.ctx.parent is None
        if unknown:
            name = error.message[len("No such command "):].rstrip(".").strip("'")
            click.echo(f"moor: '{name}' is not a moor command.\nSee 'moor --help'", err=True)
            sys.exit(1)
        click.echo(f"{_usage_message(error)}\nSee '{command} --help'.", err=True)
        sys.exit(ENGINE_ERROR)
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)
