"""``moor context``: named daemon endpoints (Unix sockets), kept where and as the docker CLI keeps its contexts.

A context is ``$DOCKER_CONFIG/contexts/meta/<sha256 of its name>/meta.json`` (``{"Name", "Metadata",
"Endpoints": {"docker": {"Host", "SkipTLSVerify"}}}``) and the current one is ``currentContext`` of
``config.json``, so ``docker context ls`` and ``moor context ls`` show the same list. ``default`` is built in:
``$MOOR_HOST`` or moor's socket. The ls columns, messages and exit codes are the docker CLI 20.10's.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from moor.cli.output import fail, print_table, render_format

DEFAULT = "default"
DEFAULT_HOST = "unix:///run/moor/moor.sock"


def _config_dir() -> str:
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def _meta_dir(name: str) -> str:
    import hashlib  # (here: every command resolves its context, and only a named one needs the digest)

    return os.path.join(_config_dir(), "contexts", "meta", hashlib.sha256(name.encode()).hexdigest())


def _read_config() -> dict[str, Any]:
    try:
        with open(os.path.join(_config_dir(), "config.json")) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def current_name() -> str:
    """The context in use: ``$DOCKER_CONTEXT``, else ``currentContext`` of config.json, else ``default``."""
    return os.environ.get("DOCKER_CONTEXT") or str(_read_config().get("currentContext") or "") or DEFAULT


def _default() -> dict[str, Any]:
    return {"Name": DEFAULT, "Metadata": {"StackOrchestrator": "swarm"},
            "Endpoints": {"docker": {"Host": os.environ.get("MOOR_HOST") or DEFAULT_HOST, "SkipTLSVerify": False}}}


def load(name: str) -> dict[str, Any] | None:
    """The context ``name`` as meta.json holds it (``default`` built in), None when there is none."""
    if name == DEFAULT:
        return _default()
    try:
        with open(os.path.join(_meta_dir(name), "meta.json")) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("Name") == name else None


def host_of(name: str) -> str:
    """The daemon address of context ``name`` (exits 1 with the docker CLI's words when it does not exist)."""
    found = load(name)
    if found is None:
        fail(f'context "{name}" does not exist')
    return str(((found.get("Endpoints") or {}).get("docker") or {}).get("Host") or DEFAULT_HOST)


def _all() -> list[dict[str, Any]]:
    found = [_default()]
    root = os.path.join(_config_dir(), "contexts", "meta")
    for entry in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        try:
            with open(os.path.join(root, entry, "meta.json")) as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("Name"), str):
            found.append(data)
    return [found[0], *sorted(found[1:], key=lambda c: c["Name"])]


def _set_current(name: str) -> None:
    config = _read_config()
    if name == DEFAULT:
        config.pop("currentContext", None)
    else:
        config["currentContext"] = name
    os.makedirs(_config_dir(), exist_ok=True)
    path = os.path.join(_config_dir(), "config.json")
    with open(path + ".tmp", "w") as handle:
        handle.write(json.dumps(config, indent="\t"))
    os.replace(path + ".tmp", path)


@click.group("context")
def context() -> None:
    """Manage contexts."""


@context.command("ls")
@click.option("--format", "format_", default="", help="Pretty-print contexts using a Go template")
@click.option("-q", "--quiet", is_flag=True, help="Only show context names")
def ls(format_: str, quiet: bool) -> None:
    """List contexts."""
    current = current_name()
    rows = []
    for item in _all():
        metadata = item.get("Metadata") or {}
        rows.append({"Name": item["Name"], "Current": item["Name"] == current,
                     "Description": "Current MOOR_HOST based configuration" if item["Name"] == DEFAULT
                     else str(metadata.get("Description") or ""),
                     "DockerEndpoint": str(((item.get("Endpoints") or {}).get("docker") or {}).get("Host") or ""),
                     "KubernetesEndpoint": "", "StackOrchestrator": str(metadata.get("StackOrchestrator") or "")})
    if quiet:
        for row in rows:
            click.echo(row["Name"])
        return
    if format_:
        if format_ == "json":
            format_ = "{{json .}}"
        render_format(format_, rows, {"Name": "NAME", "Description": "DESCRIPTION",
                                      "DockerEndpoint": "DOCKER ENDPOINT"})
        return
    table = [["NAME", "DESCRIPTION", "DOCKER ENDPOINT", "KUBERNETES ENDPOINT", "ORCHESTRATOR"]]
    for row in rows:
        table.append([row["Name"] + (" *" if row["Current"] else ""), row["Description"], row["DockerEndpoint"],
                      "", row["StackOrchestrator"]])
    print_table(table)


context.add_command(ls, "list")


@context.command("inspect")
@click.option("-f", "--format", "format_", default="", help="Format the output using the given Go template")
@click.argument("names", nargs=-1)
def inspect(format_: str, names: tuple[str, ...]) -> None:
    """Display detailed information on one or more contexts."""
    from moor.cli.output import print_inspected

    results: list[Any] = []
    for name in names or (current_name(),):
        found = load(name)
        if found is None:
            results.append(f'context "{name}" does not exist')
            continue
        path = "<IN MEMORY>" if name == DEFAULT else _meta_dir(name)
        tls = "<IN MEMORY>" if name == DEFAULT else path.replace(f"{os.sep}meta{os.sep}", f"{os.sep}tls{os.sep}")
        results.append({**found, "TLSMaterial": {}, "Storage": {"MetadataPath": path, "TLSPath": tls}})
    print_inspected(format_, results)


@context.command("use")
@click.argument("name")
def use(name: str) -> None:
    """Set the current docker context."""
    if load(name) is None:
        fail(f'context "{name}" does not exist')
    _set_current(name)
    click.echo(name)
    click.echo(f'Current context is now "{name}"', err=True)


@context.command("show")
def show() -> None:
    """Print the name of the current context."""
    click.echo(current_name())


def _docker_host(values: tuple[str, ...]) -> str:
    host = ""
    for value in values:
        for part in value.split(","):
            key, _, setting = part.partition("=")
            if key == "host":
                host = setting
            elif key not in ("skip-tls-verify", "ca", "cert", "key", "from"):
                fail(f"unable to parse docker host `{value}`: unrecognized config key: {key}")
    return host


def _write(name: str, description: str, host: str, orchestrator: str = "") -> None:
    metadata: dict[str, Any] = {}
    if description:
        metadata["Description"] = description
    if orchestrator:
        metadata["StackOrchestrator"] = orchestrator
    directory = _meta_dir(name)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "meta.json"), "w") as handle:
        handle.write(json.dumps({"Name": name, "Metadata": metadata,
                                 "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}},
                                separators=(",", ":")))


@context.command("create")
@click.option("--description", default="", help="Description of the context")
@click.option("--docker", "docker_", multiple=True, help="set the docker endpoint (host=unix:///path)")
@click.option("--from", "from_", default="", help="create context from a named context")
@click.option("--default-stack-orchestrator", default="", help="Default orchestrator for stack operations")
@click.argument("name")
def create(description: str, docker_: tuple[str, ...], from_: str, default_stack_orchestrator: str,
           name: str) -> None:
    """Create a context."""
    if name == DEFAULT or not name or not (name[0].isalnum()) or not all(c.isalnum() or c in "_.+-" for c in name):
        fail(f'context name "{name}" is invalid, names are validated against regexp "^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$"')
    if load(name) is not None:
        fail(f'context "{name}" already exists')
    if from_ and docker_:
        fail("cannot use --docker or --kubernetes flags when --from is set")
    if docker_:
        host = _docker_host(docker_) or DEFAULT_HOST
        orchestrator = default_stack_orchestrator
    else:
        host = host_of(from_ or current_name())
        orchestrator = default_stack_orchestrator or "swarm"
    _write(name, description, host, orchestrator)
    click.echo(name)
    click.echo(f'Successfully created context "{name}"', err=True)


@context.command("update")
@click.option("--description", default=None, help="Description of the context")
@click.option("--docker", "docker_", multiple=True, help="set the docker endpoint (host=unix:///path)")
@click.argument("name")
def update(description: str | None, docker_: tuple[str, ...], name: str) -> None:
    """Update a context."""
    found = load(name) if name != DEFAULT else None
    if found is None:
        fail(f'context "{name}" does not exist')
    metadata = found.get("Metadata") or {}
    host = _docker_host(docker_) if docker_ else host_of(name)
    _write(name, metadata.get("Description", "") if description is None else description, host,
           str(metadata.get("StackOrchestrator") or ""))
    click.echo(name)
    click.echo(f'Successfully updated context "{name}"', err=True)


@context.command("rm")
@click.option("-f", "--force", is_flag=True, help="Force the removal of a context in use")
@click.argument("names", nargs=-1, required=True)
def rm(force: bool, names: tuple[str, ...]) -> None:
    """Remove one or more contexts."""
    errors = []
    current = current_name()
    for name in names:
        if name == DEFAULT:
            errors.append(f"{name}: default context cannot be removed")
        elif load(name) is None:
            errors.append(f'{name}: context "{name}" does not exist')
        elif name == current and not force:
            errors.append(f"{name}: context is in use, set -f flag to force remove")
        else:
            if name == current:
                _set_current(DEFAULT)
            import shutil

            shutil.rmtree(_meta_dir(name), ignore_errors=True)
            click.echo(name)
    if errors:
        fail("\n".join(errors))


context.add_command(rm, "remove")

__all__ = ["context", "current_name", "host_of"]
