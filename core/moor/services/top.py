"""``docker top``: the host's ``ps`` output, filtered to the container's processes."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, Any

from moor.errors import Conflict, InvalidParameter

if TYPE_CHECKING:
    from moor.services.containers import ContainerService


def top(service: ContainerService, ident: str, ps_args: str) -> dict[str, Any]:
    """Docker's ``/containers/{id}/top``: ``ps`` with ``ps_args`` (``-ef`` by default), the container's rows only."""
    container = service.get(ident)
    if not container.state.Running:
        raise Conflict(f"Container {container.id} is not running")
    pids = {int(p) for p in service.processes.ps(container.id)}
    if "\x00" in ps_args:  # no argument of a program can hold one (Go's exec refuses it too)
        raise InvalidParameter("ps: invalid argument: ps_args contains a NUL byte")
    args = (ps_args or "-ef").split()
    result = subprocess.run(["ps", *args], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise InvalidParameter(f"ps: {result.stderr.strip() or 'failed'}")
    lines = result.stdout.splitlines()
    if not lines:
        raise InvalidParameter("ps printed nothing")
    titles = lines[0].split()
    if "PID" not in titles:
        raise InvalidParameter("Couldn't find PID field in ps output")
    pid_index = titles.index("PID")
    processes = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > pid_index and fields[pid_index].isdigit() and int(fields[pid_index]) in pids:
            processes.append(fields)
    service.events.publish_container(container, "top")  # as Docker, after ps answered
    return {"Titles": titles, "Processes": processes}
