"""``compose exec``: a command in a running container of a service, as docker compose v2.

The target is the service's running container with the lowest number (``index`` picks one; one-off
containers come last), found by the project's labels; the command runs through the exec API with the
docker CLI's stream handling, and its exit code is returned.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from moor.client import Client, DaemonError
from moor.compose.errors import ComposeError
from moor.compose.runtime import observed
from moor.streams import exec_attached

#: what ``exec`` exits with when the exec's exit code cannot be read
UNKNOWN_EXIT = 126


@dataclass
class ExecOptions:
    """What ``compose exec`` was asked for."""

    command: Sequence[str]
    index: int = 0
    detach: bool = False
    #: ``KEY=VALUE`` (or ``KEY``, resolved by the caller) entries
    environment: list[str] = field(default_factory=list)
    user: str = ""
    workdir: str = ""
    tty: bool = False
    interactive: bool = True
    privileged: bool = False
    detach_keys: str = ""


def target_container(client: Client, project_name: str, service: str, index: int = 0) -> dict[str, Any]:
    """The running container ``exec`` (and ``cp``, ``port``...) acts on: ``index``'s, else the lowest number,
    service containers before one-off ones. ComposeError ``service "web" is not running`` otherwise."""
    found = [item for item in observed.project_containers(client, project_name, [service], oneoff=None,
                                                          include_stopped=False)
             if observed.label(item, observed.SERVICE) == service]
    if index > 0:
        found = [item for item in found if observed.number_of(item) == index]
    if not found:
        if index > 0:
            raise ComposeError(f'service "{service}" is not running container #{index}')
        raise ComposeError(f'service "{service}" is not running')
    found.sort(key=lambda item: (observed.label(item, observed.ONEOFF) == "True", observed.number_of(item)))
    return found[0]


def exec_in_service(client: Client, project_name: str, service: str, options: ExecOptions) -> int:
    """Run ``options.command`` in the service's container; its exit code (0 when detached)."""
    target = target_container(client, project_name, service, options.index)
    attach = not options.detach
    body = {"AttachStdin": options.interactive and attach, "AttachStdout": attach, "AttachStderr": attach,
            "Tty": options.tty, "Env": list(options.environment), "Cmd": list(options.command),
            "User": options.user, "WorkingDir": options.workdir, "Privileged": options.privileged,
            "DetachKeys": options.detach_keys}
    try:
        exec_id = client.call("POST", f"/containers/{target['Id']}/exec", body=body)["Id"]
        if options.detach:
            client.call("POST", f"/exec/{exec_id}/start", body={"Detach": True, "Tty": options.tty})
            return 0
    except DaemonError as err:
        raise ComposeError(err.message) from None
    exec_attached(client, exec_id, options.tty, options.interactive, options.detach_keys)
    return exit_code_of(client, exec_id)


def exit_code_of(client: Client, exec_id: str) -> int:
    """The exec's exit code once it has ended (the stream may close a moment before the daemon records it)."""
    for _ in range(200):
        try:
            info = client.get(f"/exec/{exec_id}/json")
        except DaemonError:
            return UNKNOWN_EXIT
        if not info.get("Running") and info.get("ExitCode") is not None:
            return int(info["ExitCode"])
        time.sleep(0.05)
    return UNKNOWN_EXIT
