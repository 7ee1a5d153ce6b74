"""``moor version``, ``moor info``, ``moor config default`` and ``moor system``."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from moor import API_VERSION, __version__
from moor.cli.gotemplate import struct
from moor.cli.main import LazyGroup, client_of
from moor.cli.output import parse_template, print_json, render_single


def _client_version() -> dict[str, Any]:
    """The docker CLI 20.10's client facts (its ``{{json .Client}}`` keys, in its order)."""
    from moor.cli.context import current_name

    return {
        "Platform": {"Name": ""},
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "DefaultAPIVersion": API_VERSION,
        "GitCommit": "",
        "GoVersion": f"python{sys.version.split()[0]}",  # (platform.python_version(): platform costs ~1 ms)
        "Os": "linux",
        "Arch": {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine),
        "BuildTime": "",
        "Context": current_name(),
        "Experimental": True,
    }


#: Go names of /version's fields where they differ from the JSON's (types.Version)
_VERSION_FIELDS = {"APIVersion": "ApiVersion", "MinAPIVersion": "MinAPIVersion"}


@click.command()
@click.option("-f", "--format", "format_", default="", help="Format the output using a Go template")
@click.pass_context
def version(ctx: click.Context, format_: str) -> None:
    """Show the moor version information."""
    from moor.client import ConnectError

    client = _client_version()
    server_error = None
    try:
        server = client_of(ctx).get("/version")
    except ConnectError as err:
        server, server_error = None, str(err)
    if format_:
        versions = {"Client": struct(client, "system.clientVersion", client, _VERSION_FIELDS),
                    "Server": None if server is None else struct(server, "*types.Version", server, _VERSION_FIELDS)}
        render_single(format_, struct(versions, "system.versionInfo"), name="version")
    else:
        lines = [
            "Client:",
            f" Version:           {client['Version']}",
            f" API version:       {client['ApiVersion']}",
            f" Go version:        {client['GoVersion']}",
            f" Git commit:        {client['GitCommit']}",
            f" Built:             {client['BuildTime']}",
            f" OS/Arch:           {client['Os']}/{client['Arch']}",
            f" Context:           {client['Context']}",
            f" Experimental:      {str(client['Experimental']).lower()}",
        ]
        if server is not None:
            lines += ["", f"Server: {server.get('Platform', {}).get('Name', '')}"]
            for component in server.get("Components") or []:
                details = component.get("Details", {})
                lines.append(f" {component['Name']}:")
                lines.append(f"  Version:          {component['Version']}")
                if component["Name"] == "Engine":
                    lines.append(f"  API version:      {details.get('ApiVersion')} "
                                 f"(minimum version {details.get('MinAPIVersion')})")
                    lines.append(f"  Go version:       {details.get('GoVersion')}")
                    lines.append(f"  Git commit:       {details.get('GitCommit', '')}")
                    lines.append(f"  Built:            {details.get('BuildTime', '')}")
                    lines.append(f"  OS/Arch:          {details.get('Os')}/{details.get('Arch')}")
                    lines.append(f"  Experimental:     {details.get('Experimental')}")
        click.echo("\n".join(lines))
    if server_error:
        click.echo(server_error, err=True)
        sys.exit(1)


def _print_info(info: dict[str, Any], debug: bool = False) -> None:
    """``info`` as the docker CLI 20.10 prints it: its Client section, then the server's facts."""
    from moor.cli.context import current_name

    plugins = info.get("Plugins") or {}
    registry = info.get("RegistryConfig") or {}
    insecure = list(registry.get("InsecureRegistryCIDRs") or []) + sorted(
        name for name, index in (registry.get("IndexConfigs") or {}).items() if not index.get("Secure", True))
    lines = [
        "Client:",
        f" Context:    {current_name()}",
        f" Debug Mode: {str(debug).lower()}",
        "",
        "Server:",
        f" Containers: {info.get('Containers', 0)}",
        f"  Running: {info.get('ContainersRunning', 0)}",
        f"  Paused: {info.get('ContainersPaused', 0)}",
        f"  Stopped: {info.get('ContainersStopped', 0)}",
        f" Images: {info.get('Images', 0)}",
        f" Server Version: {info.get('ServerVersion')}",
        f" Storage Driver: {info.get('Driver')}",
    ]
    lines += [f"  {key}: {value}" for key, value in info.get("DriverStatus") or []]
    lines += [
        f" Logging Driver: {info.get('LoggingDriver')}",
        f" Cgroup Driver: {info.get('CgroupDriver')}",
        f" Cgroup Version: {info.get('CgroupVersion')}",
        " Plugins:",
        f"  Volume: {' '.join(plugins.get('Volume') or [])}",
        f"  Network: {' '.join(plugins.get('Network') or [])}",
        f"  Log: {' '.join(plugins.get('Log') or [])}",
        f" Swarm: {(info.get('Swarm') or {}).get('LocalNodeState') or 'inactive'}",
        f" Runtimes: {' '.join(sorted(info.get('Runtimes') or {}))}",
        f" Default Runtime: {info.get('DefaultRuntime')}",
        f" Init Binary: {info.get('InitBinary') or ''}",
        f" containerd version: {(info.get('ContainerdCommit') or {}).get('ID', '')}",
        f" runc version: {(info.get('RuncCommit') or {}).get('ID', '')}",
        f" init version: {(info.get('InitCommit') or {}).get('ID', '')}",
        *_security_lines(info.get("SecurityOptions") or []),
        f" Kernel Version: {info.get('KernelVersion')}",
        f" Operating System: {info.get('OperatingSystem')}",
        f" OSType: {info.get('OSType')}",
        f" Architecture: {info.get('Architecture')}",
        f" CPUs: {info.get('NCPU')}",
        f" Total Memory: {_gib(info.get('MemTotal', 0))}",
        f" Name: {info.get('Name')}",
        f" ID: {info.get('ID')}",
        f" Docker Root Dir: {info.get('DockerRootDir')}",
        f" Debug Mode: {str(info.get('Debug')).lower()}",
        *[f" {title}: {info[key]}" for key, title in (("HttpProxy", "HTTP Proxy"), ("HttpsProxy", "HTTPS Proxy"),
                                                       ("NoProxy", "No Proxy")) if info.get(key)],
        f" Registry: {info.get('IndexServerAddress') or ''}",
        " Labels:",
        *[f"  {label}" for label in info.get("Labels") or []],
        f" Experimental: {str(bool(info.get('ExperimentalBuild'))).lower()}",
        *([" Insecure Registries:"] + [f"  {entry}" for entry in insecure] if insecure else []),
        *([" Registry Mirrors:"] + [f"  {mirror}" for mirror in registry.get("Mirrors") or []]
          if registry.get("Mirrors") else []),
        f" Live Restore Enabled: {str(info.get('LiveRestoreEnabled')).lower()}",
        "",
    ]
    click.echo("\n".join(lines))


def _security_lines(options: list[str]) -> list[str]:
    """``Security Options`` as docker info prints them: each name, then its profile."""
    lines = [" Security Options:"] if options else []
    for option in options:
        pairs = dict(part.partition("=")[::2] for part in option.split(","))
        lines.append(f"  {pairs.get('name', '')}")
        if pairs.get("profile"):
            lines.append(f"   Profile: {pairs['profile']}")
    return lines


def _gib(size: int) -> str:
    return f"{size / 1024**3:.4g}GiB"


@click.command()
@click.option("-f", "--format", "format_", default="", help="Format the output using a Go template")
@click.pass_context
def info(ctx: click.Context, format_: str) -> None:
    """Display system-wide information."""
    if format_:
        parse_template(format_)  # a bad template: exit 64 before asking the daemon, as docker
    data = client_of(ctx).get("/info")
    if format_:
        render_single(format_, struct(data, "system.info"))
    else:
        _print_info(data, bool((ctx.find_root().obj or {}).get("debug")))


@click.group()
def config() -> None:
    """Work with the moord configuration file."""


@config.command("default")
def config_default() -> None:
    """Print the default configuration file, with comments."""
    from moor.config import DEFAULT_FILE_TEXT

    click.echo(DEFAULT_FILE_TEXT, nl=False)


@click.group(cls=LazyGroup, lazy={"events": "events:events", "prune": "sysprune:prune"})
def system() -> None:
    """Manage moor."""


@system.command("info")
@click.option("-f", "--format", "format_", default="", help="Format the output using a Go template")
@click.pass_context
def system_info(ctx: click.Context, format_: str) -> None:
    """Display system-wide information."""
    ctx.invoke(info, format_=format_)


@system.command("df")
@click.option("-v", "--verbose", is_flag=True, help="Show detailed information on space usage")
@click.option("--format", "format_", default="", help="Pretty-print images using a Go template")
@click.pass_context
def system_df(ctx: click.Context, verbose: bool, format_: str) -> None:
    """Show moor disk usage."""
    from moor.cli.images import disk_usage

    disk_usage(ctx, verbose, format_)


__all__ = ["config", "info", "print_json", "system", "version"]
