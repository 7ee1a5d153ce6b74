"""``moor build`` (also ``moor image build``, ``moor builder build``) and ``moor builder prune``.

Docker 20.10's classic-builder flags, output and exit codes (``DOCKER_BUILDKIT=0 docker build``): the context
is a directory (sent as a tar made here, with ``.dockerignore`` applied, written by a thread into a pipe
and streamed to moord as it is made: never held whole in memory), a tar or a Dockerfile on stdin (``-``);
a Dockerfile from ``-f -`` or from outside the context travels inside the context tar under a random
name, listed in the tar's ``.dockerignore``, as the docker CLI sends it. The daemon's messages are printed
as they come (:mod:`moor.cli.buildoutput`); a failed RUN exits with the command's code, as Docker.
"""

from __future__ import annotations

import os
import sys
from typing import IO, TYPE_CHECKING, Any

import click

from moor.cli.main import client_of
from moor.cli.output import ENGINE_ERROR, fail

if TYPE_CHECKING:
    from moor.build.sendcontext import Context

#: ``--progress`` values (BuildKit's; moor draws the classic output either way)
PROGRESS_MODES = ("auto", "plain", "tty")
#: the ``--build-arg``, ``--label``... flags whose Go bool form (``--rm=false``) is accepted
_GO_BOOLS = ("--rm", "--force-rm", "--no-cache", "--pull", "--quiet", "-q", "--compress", "--squash",
             "--disable-content-trust")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


class GoBoolCommand(click.Command):
    """A command whose boolean flags also take Go's ``--flag=true|false`` forms (``--rm=false``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rewritten: list[str] = []
        for index, arg in enumerate(args):
            if arg == "--":
                rewritten.extend(args[index:])
                break
            name, sep, value = arg.partition("=")
            if sep and name in _GO_BOOLS:
                if value in _TRUE:
                    rewritten.append(name)
                elif value in _FALSE:
                    if name == "--rm":
                        rewritten.append("--no-rm")
                else:
                    raise click.UsageError(f'invalid argument "{value}" for "{_flag_name(name)}" flag: '
                                           f'strconv.ParseBool: parsing "{value}": invalid syntax', ctx)
                continue
            rewritten.append(arg)
        return super().parse_args(ctx, rewritten)


def _flag_name(name: str) -> str:
    return "-q, --quiet" if name in ("-q", "--quiet") else name


def _usage(ctx: click.Context | None, flag: str, value: str, reason: str) -> click.UsageError:
    return click.UsageError(f'invalid argument "{value}" for "{flag}" flag: {reason}', ctx)


@click.command("build", cls=GoBoolCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("context_paths", metavar="PATH | URL | -", nargs=-1)
@click.option("--add-host", "add_hosts", multiple=True, metavar="list",
              help="Add a custom host-to-IP mapping (host:ip)")
@click.option("--build-arg", "build_args", multiple=True, metavar="list", help="Set build-time variables")
@click.option("--cache-from", "cache_from", multiple=True, metavar="strings",
              help="Images to consider as cache sources")
@click.option("--cgroup-parent", default="", metavar="string", help="Optional parent cgroup for the container")
@click.option("--compress", is_flag=True, help="Compress the build context using gzip")
@click.option("--cpu-period", default="0", metavar="int", help="Limit the CPU CFS (Completely Fair Scheduler) period")
@click.option("--cpu-quota", default="0", metavar="int", help="Limit the CPU CFS (Completely Fair Scheduler) quota")
@click.option("-c", "--cpu-shares", default="0", metavar="int", help="CPU shares (relative weight)")
@click.option("--cpuset-cpus", default="", metavar="string", help="CPUs in which to allow execution (0-3, 0,1)")
@click.option("--cpuset-mems", default="", metavar="string", help="MEMs in which to allow execution (0-3, 0,1)")
@click.option("--disable-content-trust", is_flag=True, help="Skip image verification (default true)")
@click.option("-f", "--file", "dockerfile", default="", metavar="string",
              help="Name of the Dockerfile (Default is 'PATH/Dockerfile')")
@click.option("--force-rm", is_flag=True, help="Always remove intermediate containers")
@click.option("--iidfile", default="", metavar="string", help="Write the image ID to the file")
@click.option("--isolation", default="", metavar="string", help="Container isolation technology")
@click.option("--label", "labels", multiple=True, metavar="list", help="Set metadata for an image")
@click.option("-m", "--memory", default="", metavar="bytes", help="Memory limit")
@click.option("--memory-swap", default="", metavar="bytes",
              help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
@click.option("--network", default="default", metavar="string",
              help='Set the networking mode for the RUN instructions during build (default "default")')
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image")
@click.option("--platform", default="", envvar="DOCKER_DEFAULT_PLATFORM", metavar="string",
              help="Set platform if server is multi-platform capable")
@click.option("--progress", default="auto", metavar="string",
              help="Set type of progress output (auto, plain, tty). Use plain to show container output")
@click.option("--pull", is_flag=True, help="Always attempt to pull a newer version of the image")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the build output and print image ID on success")
@click.option("--rm", "rm", is_flag=True, default=True,
              help="Remove intermediate containers after a successful build (default true)")
@click.option("--no-rm", "rm", flag_value=False, hidden=True)
@click.option("--secret", "secrets", multiple=True, metavar="stringArray",
              help="Secret file to expose to the build: id=mysecret,src=/local/secret")
@click.option("--security-opt", "security_opts", multiple=True, metavar="strings", help="Security options")
@click.option("--shm-size", default="", metavar="bytes", help="Size of /dev/shm")
@click.option("--squash", is_flag=True, hidden=True, help="Squash newly built layers into a single new layer")
@click.option("-t", "--tag", "tags", multiple=True, metavar="list",
              help="Name and optionally a tag in the 'name:tag' format")
@click.option("--target", default="", metavar="string", help="Set the target build stage to build.")
@click.option("--ulimit", "ulimits", multiple=True, metavar="ulimit", help="Ulimit options (default [])")
@click.pass_context
def build(ctx: click.Context, context_paths: tuple[str, ...], **flags: Any) -> None:
    """Build an image from a Dockerfile"""
    from moor.build.sendcontext import ContextError, prepare_context

    if len(context_paths) != 1:
        fail(f'"{ctx.command_path}" requires exactly 1 argument.\nSee \'{ctx.command_path} --help\'.\n\n'
             f"Usage:  {ctx.command_path} [OPTIONS] PATH | URL | -\n\nBuild an image from a Dockerfile")
    context_path = context_paths[0]
    params = build_params(ctx, flags)
    headers = build_headers(flags["secrets"], ctx)
    if flags["squash"]:
        fail('"--squash" is only supported on a Docker daemon with experimental features enabled')
    iidfile = flags["iidfile"]
    if iidfile:
        try:
            os.remove(iidfile)
        except FileNotFoundError:
            pass
        except OSError as err:
            fail(f"Removing image ID file: {err}")
    try:
        context = prepare_context(context_path, flags["dockerfile"], sys.stdin.buffer, flags["compress"])
    except ContextError as err:
        fail(f"unable to prepare context: {err}" if err.prepare else str(err))
    params["dockerfile"] = context.dockerfile
    image_id = send_build(ctx, context, params, headers, flags)
    if iidfile:
        if not image_id:
            fail(f"Server did not provide an image ID. Cannot write {iidfile}")
        try:
            with open(iidfile, "w") as handle:
                handle.write(image_id)
        except OSError as err:
            fail(f"open {iidfile}: {(err.strerror or str(err)).lower()}")


def build_params(ctx: click.Context, flags: dict[str, Any]) -> dict[str, Any]:
    """The query parameters of ``POST /build`` as the docker CLI sends them; bad flags are usage errors (125)."""
    import json

    from moor.cli.resourceflags import parse_int, parse_memory, parse_memory_swap

    memory = parse_memory(flags["memory"]) if flags["memory"] else 0
    swap = parse_memory_swap(flags["memory_swap"]) if flags["memory_swap"] else 0
    shm = parse_memory(flags["shm_size"], "--shm-size") if flags["shm_size"] else 0
    progress = flags["progress"]
    if progress not in PROGRESS_MODES:
        fail(f'invalid value "{progress}" for --progress: use auto, plain or tty', ENGINE_ERROR)
    for host in flags["add_hosts"]:
        check_extra_host(ctx, host)
    tags = [check_tag(ctx, tag) for tag in flags["tags"]]
    cache_from = [item for value in flags["cache_from"] for item in value.split(",") if item]
    ulimits = [parse_ulimit(ctx, text) for text in flags["ulimits"]]
    return {
        "t": tags or None,
        "extrahosts": list(flags["add_hosts"]) or None,
        "q": "1" if flags["quiet"] else None,
        "nocache": "1" if flags["no_cache"] else None,
        "rm": "1" if flags["rm"] else "0",
        "forcerm": "1" if flags["force_rm"] else None,
        "pull": "1" if flags["pull"] else None,
        "isolation": flags["isolation"] or None,
        "securityopt": list(flags["security_opts"]) or None,
        "cpusetcpus": flags["cpuset_cpus"],
        "networkmode": flags["network"],
        "cpusetmems": flags["cpuset_mems"],
        "cpushares": parse_int(flags["cpu_shares"], "-c, --cpu-shares"),
        "cpuquota": parse_int(flags["cpu_quota"], "--cpu-quota"),
        "cpuperiod": parse_int(flags["cpu_period"], "--cpu-period"),
        "memory": memory,
        "memswap": swap,
        "cgroupparent": flags["cgroup_parent"],
        "shmsize": shm,
        "target": flags["target"],
        "ulimits": json.dumps(ulimits, separators=(",", ":")) if ulimits else "null",
        "buildargs": json.dumps(build_args(flags["build_args"]), separators=(",", ":")),
        "labels": json.dumps(labels(flags["labels"]), separators=(",", ":")),
        "cachefrom": json.dumps(cache_from, separators=(",", ":")),
        "platform": flags["platform"].lower() or None,
        "version": "1",
    }


def check_extra_host(ctx: click.Context, text: str) -> None:
    """``--add-host host:ip`` as the docker CLI's ValidateExtraHost checks it."""
    import ipaddress

    name, sep, address = text.partition(":")
    if not sep or not name:
        raise _usage(ctx, "--add-host", text, f'bad format for add-host: "{text}"')
    if address == "host-gateway":
        return
    try:
        ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        raise _usage(ctx, "--add-host", text, f'invalid IP address in add-host: "{address}"') from None


def check_tag(ctx: click.Context, text: str) -> str:
    """``-t`` as the docker CLI's ValidateTag reads it (a name, optionally a tag; never a digest)."""
    from moor.errors import InvalidParameter
    from moor.images.reference import parse

    try:
        reference = parse(text, default_tag=False)
    except InvalidParameter as err:
        reason = ("invalid reference format: repository name must be lowercase" if "must be lowercase" in err.message
                  else "invalid reference format")
        raise _usage(ctx, "-t, --tag", text, reason) from None
    if reference.digest:
        raise _usage(ctx, "-t, --tag", text, "invalid reference format")
    return text


def parse_ulimit(ctx: click.Context, text: str) -> dict[str, Any]:
    """``--ulimit name=soft[:hard]`` as go-units' ParseUlimit."""
    name, sep, values = text.partition("=")
    soft_text, _, hard_text = values.partition(":")
    try:
        if not sep:
            raise ValueError(f"invalid ulimit argument: {text}")
        soft = int(soft_text)
        hard = int(hard_text) if hard_text else soft
    except ValueError as err:
        message = str(err) if "ulimit" in str(err) else f"invalid ulimit argument: {text}"
        raise _usage(ctx, "--ulimit", text, message) from None
    return {"Name": name, "Hard": hard, "Soft": soft}


def build_args(values: tuple[str, ...]) -> dict[str, str | None]:
    """``--build-arg NAME=value``, or ``NAME`` alone: its value in the environment, else null (the ARG's default)."""
    result: dict[str, str | None] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        result[name] = rest if sep else os.environ.get(name)
    return result


def labels(values: tuple[str, ...]) -> dict[str, str]:
    result: dict[str, str] = {}
    for value in values:
        name, _, rest = value.partition("=")
        result[name] = rest
    return result


def build_headers(secrets: tuple[str, ...], ctx: click.Context) -> dict[str, str]:
    """``Content-Type``, the registry credentials (``X-Registry-Config``: every stored login, as the docker CLI
    sends them) and the ``--secret`` files (``X-Moor-Build-Secrets``)."""
    import base64
    import json

    headers = {"Content-Type": "application/x-tar", "X-Registry-Config": registry_config()}
    if secrets:
        contents = {}
        for spec in secrets:
            ident, path = parse_secret(ctx, spec)
            try:
                with open(path, "rb") as handle:
                    contents[ident] = base64.b64encode(handle.read()).decode()
            except OSError as err:
                fail(f"could not read secret {ident}: {err.strerror or err}: {path}")
        headers["X-Moor-Build-Secrets"] = base64.b64encode(json.dumps(contents).encode()).decode()
    return headers


def parse_secret(ctx: click.Context, spec: str) -> tuple[str, str]:
    """``--secret id=x,src=path`` (also ``source=``, ``type=file``; ``id`` defaults to the file's name)."""
    fields: dict[str, str] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep:
            raise _usage(ctx, "--secret", spec, f"invalid field '{part}' must be a key=value pair")
        if key not in ("id", "src", "source", "type", "env"):
            raise _usage(ctx, "--secret", spec, f"unexpected key '{key}' in '{part}'")
        fields[key] = value
    if fields.get("type", "file") != "file":
        raise _usage(ctx, "--secret", spec, f"unsupported secret type {fields['type']!r}")
    if "env" in fields:
        raise _usage(ctx, "--secret", spec, "secrets from the environment are not supported: use src=")
    path = fields.get("src") or fields.get("source") or ""
    ident = fields.get("id") or os.path.basename(path)
    if not path or not ident:
        raise _usage(ctx, "--secret", spec, "secret requires an id and a src")
    return ident, path


def registry_config() -> str:
    """``X-Registry-Config``: base64url JSON of every registry login the config file (or its stores) holds."""
    from moor.dockerconfig import registry_config_header

    return registry_config_header()


def send_build(ctx: click.Context, context: Context, params: dict[str, Any], headers: dict[str, str],
               flags: dict[str, Any]) -> str:
    """POST the context, print the daemon's messages; the image ID (exits on failure as docker does)."""
    import io

    from moor.cli.buildoutput import BuildOutput, SendingProgress
    from moor.client import ConnectError, DaemonError

    quiet = flags["quiet"]
    terminal = _stdout_terminal()
    progress_out: IO[str] = io.StringIO() if quiet else sys.stdout
    build_out: IO[str] = io.StringIO() if quiet else sys.stdout
    live = not quiet and (flags["progress"] == "tty" or (flags["progress"] == "auto" and terminal))
    sending = SendingProgress(context.stream, progress_out, terminal and not quiet)
    output = BuildOutput(build_out, live)
    client = client_of(ctx)
    try:
        try:
            response = client.open("POST", "/build", params, sending, headers)
        finally:
            sending.finish()
            context.close()
        try:
            output.show(client.stream_json(response))
        finally:
            output.close()
    except DaemonError:
        if context.error:
            fail(context.error)
        raise
    except ConnectError as err:
        if context.error:
            fail(context.error)
        if output.started:
            fail("unexpected EOF")
        raise ConnectError(str(err)) from None
    except KeyboardInterrupt:
        sys.exit(130)
    if context.error:
        fail(context.error)
    if output.error is not None:
        if quiet:
            assert isinstance(progress_out, io.StringIO) and isinstance(build_out, io.StringIO)
            sys.stderr.write(progress_out.getvalue() + build_out.getvalue())
        fail(output.error, output.error_code or 1)
    if quiet:
        assert isinstance(build_out, io.StringIO)
        sys.stdout.write(build_out.getvalue())
        sys.stdout.flush()
        return build_out.getvalue().strip() or output.image_id
    return output.image_id


def _stdout_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


# ---------------------------------------------------------------------- builder


def _builder_group() -> click.Group:
    from moor.cli.main import LazyGroup

    @click.group("builder", cls=LazyGroup, lazy={})
    def builder() -> None:
        """Manage builds"""

    builder.add_command(build, "build")
    builder.add_command(prune, "prune")
    return builder


@click.command("prune")
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all unused build cache, not just dangling ones")
@click.option("--filter", "filters", multiple=True, metavar="filter", help="Provide filter values (e.g. 'until=24h')")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--keep-storage", default="", metavar="bytes", help="Amount of disk space to keep for cache")
@click.pass_context
def prune(ctx: click.Context, all_: bool, filters: tuple[str, ...], force: bool, keep_storage: str) -> None:
    """Remove build cache"""
    from moor.cli.resourceflags import parse_memory
    from moor.dockerconfig import go_json
    from moor.units import human_size

    values: dict[str, dict[str, bool]] = {}
    for text in filters:
        key, sep, value = text.partition("=")
        if not sep:
            raise _usage(ctx, "--filter", text, "bad format of filter (expected name=value)")
        values.setdefault(key.strip().lower(), {})[value.strip()] = True
    keep = parse_memory(keep_storage, "--keep-storage") if keep_storage else 0
    if not force:
        what = "all build cache" if all_ else "all dangling build cache"
        click.echo(f"WARNING! This will remove {what}. Are you sure you want to continue? [y/N] ", nl=False)
        answer = sys.stdin.readline().rstrip("\n").rstrip("\r")
        if answer.lower() != "y":
            click.echo("Total reclaimed space: 0B")
            return
    params = {"all": "1" if all_ else None, "keep-storage": keep,
              "filters": go_json(values) if values else None}
    report = client_of(ctx).call("POST", "/build/prune", params) or {}
    deleted = report.get("CachesDeleted") or []
    if deleted:
        click.echo("Deleted build cache objects:\n" + "".join(f"{ident}\n" for ident in deleted))
    click.echo(f"Total reclaimed space: {human_size(int(report.get('SpaceReclaimed') or 0))}")


builder = _builder_group()
