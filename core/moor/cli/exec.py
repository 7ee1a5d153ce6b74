"""``moor exec`` and ``moor attach``."""

from __future__ import annotations

import sys
import time

import click

from moor.cli.main import client_of
from moor.cli.output import fail
from moor.client import quote_name
from moor.streams import UPGRADE, exec_attached, forward_signals, resize, stream_attached


@click.command("exec", context_settings={"allow_interspersed_args": False})
@click.option("-d", "--detach", is_flag=True, help="Detached mode: run command in the background")
@click.option("--detach-keys", default="", help="Override the key sequence for detaching a container")
@click.option("-e", "--env", multiple=True, help="Set environment variables")
@click.option("--env-file", multiple=True, help="Read in a file of environment variables")
@click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open even if not attached")
@click.option("--privileged", is_flag=True, help="Give extended privileges to the command")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY")
@click.option("-u", "--user", default="", help="Username or UID (format: <name|uid>[:<group|gid>])")
@click.option("-w", "--workdir", default="", help="Working directory inside the container")
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_(ctx: click.Context, detach: bool, detach_keys: str, env: tuple[str, ...], env_file: tuple[str, ...],
          interactive: bool, privileged: bool, tty: bool, user: str, workdir: str, container: str,
          command: tuple[str, ...]) -> None:
    """Run a command in a running container."""
    client = client_of(ctx)
    environment: list[str] = []
    if env or env_file:
        from moor.cli.createflags import env_list, parse_env_file  # (here: it defines run's ~100 options)

        environment = [e for path in env_file for e in parse_env_file(path)] + env_list(env)
    body = {"AttachStdin": interactive and not detach, "AttachStdout": not detach, "AttachStderr": not detach,
            "Tty": tty, "Env": environment, "Cmd": list(command), "User": user, "WorkingDir": workdir,
            "Privileged": privileged, "DetachKeys": detach_keys}
    exec_id = client.call("POST", f"/containers/{quote_name(container)}/exec", body=body)["Id"]
    if detach:
        client.call("POST", f"/exec/{exec_id}/start", body={"Detach": True, "Tty": tty})
        return
    exec_attached(client, exec_id, tty, interactive, detach_keys)
    code = None
    for _ in range(100):
        info = client.get(f"/exec/{exec_id}/json")
        if not info["Running"] and info["ExitCode"] is not None:
            code = info["ExitCode"]
            break
        time.sleep(0.05)
    sys.exit(code if code is not None else 126)


@click.command("attach")
@click.option("--detach-keys", default="", help="Override the key sequence for detaching a container")
@click.option("--no-stdin", is_flag=True, help="Do not attach STDIN")
@click.option("--sig-proxy/--no-sig-proxy", default=True, help="Proxy all received signals to the process")
@click.argument("container")
@click.pass_context
def attach(ctx: click.Context, detach_keys: str, no_stdin: bool, sig_proxy: bool, container: str) -> None:
    """Attach local standard input, output, and error streams to a running container."""
    import json

    client = client_of(ctx)
    info = client.get(f"/containers/{quote_name(container)}/json")
    if not info["State"]["Running"]:
        fail("You cannot attach to a stopped container, start it first", 1)
    tty = info["Config"]["Tty"]
    stdin = info["Config"]["OpenStdin"] and not no_stdin
    path = f"/containers/{info['Id']}"
    attached = client.open("POST", f"{path}/attach", {"stream": "1", "stdout": "1", "stderr": "1",
                                                       "stdin": "1" if stdin else None,
                                                       "detachKeys": detach_keys or None}, headers=UPGRADE)
    waiter = client.open("POST", f"{path}/wait", {"condition": "not-running"})
    if tty:
        resize(client, path)
    if sig_proxy and not tty:
        forward_signals(client, path)
    if stream_attached(attached, tty, stdin, detach_keys):
        click.echo("read escape sequence", err=True)
        sys.exit(0)
    body = waiter.read()
    waiter.close()
    sys.exit(int(json.loads(body)["StatusCode"]))
