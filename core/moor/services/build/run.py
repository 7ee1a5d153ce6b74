"""RUN: the command in a real container made from the stage's image, its output streamed, its changes committed.

The container gets the stage's config (Env with the build arguments in scope, WorkingDir, User), the build's
network mode, extra hosts and resource limits, and the step's ``--mount``s; it is started with an output
attachment in place (no byte is missed), waited for, and its snapshot's changes become the step's layer (none
when it changed nothing). It is removed afterwards: after success unless ``rm`` is off, after a failure or a
cancellation always (unlike Docker, which keeps a failed step's container unless ``forcerm``: a failed build
leaves nothing behind here).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moor.errors import InvalidParameter, MoorError, NotFound
from moor.images.store import LayerRecord
from moor.services.build import output
from moor.services.build.commit import StepCommitter, check_depth
from moor.services.build.scheduler import Cancelled
from moor.services.build.state import StageState
from moor.services.container_io import ContainerIO
from moor.services.containers import ContainerService

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], None]


class StepFailed(MoorError):
    """A RUN's command ended with a non-zero code (Docker's words; ``code`` is that exit code)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class RunRequest:
    """One RUN: its container's config (Cmd, Env, WorkingDir, User, ... as Docker's ``container.Config``) and
    what its HostConfig adds (network, extra hosts, resources, mounts)."""

    config: dict[str, Any]
    host_config: dict[str, Any] = field(default_factory=dict)
    #: where the step's ``--mount``s go (kept out of its layer)
    mount_targets: list[str] = field(default_factory=list)


class RunExecutor:
    """Runs RUN steps in containers of the container service."""

    def __init__(self, containers: ContainerService, container_io: ContainerIO, committer: StepCommitter) -> None:
        self.containers = containers
        self.container_io = container_io
        self.committer = committer

    def run(self, state: StageState, request: RunRequest, send: Send, cancel: threading.Event,
            keep: bool) -> tuple[str, LayerRecord | None]:
        """Run the step; return its container's ID and the layer of its changes. The container is removed
        unless ``keep`` (``rm`` off) and the step succeeded."""
        check_depth(state)
        config = request.config
        command = list(config.get("Cmd") or [])
        if state.image is None:  # FROM scratch and nothing yet: no file at all, so no program to run
            program = command[0] if command else ""
            raise InvalidParameter(f'the image has no files (FROM scratch): exec: "{program}": stat {program}: '
                                   "no such file or directory")
        body: dict[str, Any] = {key: value for key, value in config.items() if value is not None}
        body.update({"Image": state.image.id, "Cmd": command, "Entrypoint": [""], "AttachStdout": True,
                     "AttachStderr": True, "HostConfig": dict(request.host_config)})
        body.pop("Hostname", None)
        container = self.containers.create(body)
        succeeded = False
        try:
            send(output.running_in(container.id))
            attachment = self.container_io.output(container)
            killer = threading.Thread(target=self._kill_when_cancelled, args=(container.id, cancel, attachment),
                                      daemon=True)
            try:
                self.containers.start(container.id)
                killer.start()
                for stream, data in attachment.chunks(lambda: self._exists(container.id)):
                    send(output.output(data, stream == "stderr"))
                code = self.containers.wait(container.id)
            finally:
                attachment.close()
                cancel_check = cancel.is_set()
            if cancel_check:
                raise Cancelled("the build was cancelled")
            if code != 0:
                raise StepFailed(f"The command '{' '.join(command)}' returned a non-zero code: {code}", code)
            layer = self.committer.layer_from_snapshot(state, container.storage_key, request.mount_targets)
            succeeded = True
            return container.id, layer
        finally:
            if not (succeeded and keep):
                self.remove(container.id)

    def remove(self, container_id: str) -> None:
        """Remove a step's container (killing it if it still runs); never raises."""
        try:
            self.containers.remove(container_id, force=True, volumes=True)
        except NotFound:
            pass
        except MoorError:
            log.exception("could not remove the build container %s", container_id[:12])

    def _exists(self, container_id: str) -> bool:
        try:
            return self.containers.get(container_id).state.Running
        except NotFound:
            return False

    def _kill_when_cancelled(self, container_id: str, cancel: threading.Event, attachment: Any) -> None:
        """While the step runs: once the build is cancelled, kill its container (its output then ends)."""
        while not cancel.wait(0.5):
            try:
                if not self.containers.get(container_id).state.Running:
                    return
            except NotFound:
                return
        try:
            self.containers.kill(container_id, "KILL")
        except MoorError:
            pass
        attachment.close()
