"""``run`` and ``create``: a container made from the flags (:mod:`moor.cli.createflags`), its image pulled when
missing; run then attaches, starts and waits.

Apart from the other container commands so that those do not load the ~100 options of these two.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from moor.cli.createextra import apply_extra, extra_options, write_cidfile
from moor.cli.createflags import container_options, create_body
from moor.cli.main import client_of
from moor.cli.output import ENGINE_ERROR, fail
from moor.client import Client, DaemonError
from moor.streams import attach_and_wait

#: ``--pull`` of run and create
PULL_POLICIES = ("always", "missing", "never")


def _pull_options(function: Any) -> Any:
    function = click.option("--platform", default="", envvar="DOCKER_DEFAULT_PLATFORM",
                            help="Set platform if server is multi-platform capable")(function)
    return click.option("--pull", default="missing",
                        help='Pull image before running ("always"|"missing"|"never")')(function)


def _image_to_pull(image: str) -> Any:
    """``--pull always``: the image as a reference to pull (``latest`` when it names no tag); an image ID or
    a bad name fails with the docker CLI's words and exit 125."""
    from moor.cli.registry import parse_named

    reference = parse_named(image, ENGINE_ERROR)
    return reference if reference.tag or reference.digest else reference.with_tag("latest")


def _missing_image(image: str) -> Any:
    """The image a create found missing, as a reference to pull; None for an image ID (``ParseAnyReference``
    takes it as a digest: nothing to pull) or a name that does not parse (the daemon's answer then stands)."""
    import re

    from moor.errors import InvalidParameter
    from moor.images.reference import parse

    if re.fullmatch(r"(sha256:)?[a-f0-9]{64}", image):
        return None
    try:
        return parse(image)
    except InvalidParameter:
        return None


def _pull_for_create(client: Client, reference: Any, platform: str, error_code: int = ENGINE_ERROR) -> None:
    """Pull what run/create needs, its progress on stderr (stdout is for the container's ID)."""
    from moor.cli.progress import StreamError
    from moor.cli.registry import pull_image

    try:
        pull_image(client, reference, platform, sys.stderr, login_retry=False)
    except StreamError as err:
        fail(err.message, error_code)
    except DaemonError as err:
        fail(f"Error response from daemon: {err.message}", error_code)


def _create(client: Client, body: dict[str, Any], name: str, pull: str = "missing", platform: str = "",
            error_code: int = ENGINE_ERROR) -> str:
    """``POST /containers/create``, pulling the image first (``--pull always``) or when it is missing; a daemon's
    refusal exits with ``error_code`` (``docker run`` 125, ``docker create`` 1)."""
    if pull not in PULL_POLICIES:
        fail(f'invalid pull option: \'{pull}\': must be one of "always", "missing" or "never"', ENGINE_ERROR)
    params = {"name": name or None, "platform": platform or None}
    if pull == "always":
        _pull_for_create(client, _image_to_pull(body["Image"]), platform, error_code)
    try:
        reply = client.call("POST", "/containers/create", params, body=body)
    except DaemonError as err:
        reference = _missing_image(body["Image"]) if pull == "missing" else None
        if err.status != 404 or "No such image" not in err.message or reference is None:
            fail(f"Error response from daemon: {err.message}", error_code)
        click.echo(f"Unable to find image '{reference.familiar}' locally", err=True)
        _pull_for_create(client, reference, platform, error_code)
        try:
            reply = client.call("POST", "/containers/create", params, body=body)
        except DaemonError as again:
            fail(f"Error response from daemon: {again.message}", error_code)
    for warning in reply.get("Warnings") or []:
        click.echo(f"WARNING: {warning}", err=True)
    return str(reply["Id"])


@click.command("create", context_settings={"allow_interspersed_args": False})
@_pull_options
@container_options
@extra_options
@click.pass_context
def create(ctx: click.Context, pull: str, platform: str, **options: Any) -> None:
    """Create a new container."""
    body = create_body(options, False, False)
    apply_extra(options, body)
    container_id = _create(client_of(ctx), body, options["name"], pull, platform, error_code=1)
    write_cidfile(options, container_id)
    click.echo(container_id)


@click.command("run", context_settings={"allow_interspersed_args": False})
@click.option("-d", "--detach", is_flag=True, help="Run container in background and print container ID")
@click.option("--detach-keys", default="", help="Override the key sequence for detaching a container")
@click.option("--sig-proxy/--no-sig-proxy", default=True, help="Proxy received signals to the process")
@_pull_options
@container_options
@extra_options
@click.pass_context
def run(ctx: click.Context, detach: bool, detach_keys: str, sig_proxy: bool, pull: str, platform: str,
        **options: Any) -> None:
    """Run a command in a new container."""
    client = client_of(ctx)
    attach_stdin = options["interactive"] and not detach
    body = create_body(options, attach_stdin, not detach)
    apply_extra(options, body)
    container_id = _create(client, body, options["name"], pull, platform)
    write_cidfile(options, container_id)
    if detach:
        _start(client, container_id)
        click.echo(container_id)
        return
    code = attach_and_wait(client, container_id, tty=options["tty"], stdin=attach_stdin,
                           detach_keys=detach_keys, sig_proxy=sig_proxy and not options["tty"],
                           start=lambda: _start(client, container_id), auto_remove=options["rm"])
    sys.exit(code)


def _start(client: Client, container_id: str) -> None:
    try:
        client.call("POST", f"/containers/{container_id}/start")
    except DaemonError as err:
        click.echo(f"Error response from daemon: {err.message}", err=True)
        sys.exit(_exit_code_of(err.message))


def _exit_code_of(message: str) -> int:
    lowered = message.lower()
    if "executable file not found" in lowered or "no such file or directory" in lowered:
        return 127
    if "permission denied" in lowered:
        return 126
    return ENGINE_ERROR
