"""RUN steps without root: the container service over the shared fakes, the step's output from a stand-in for
the container's attach stream (the fake monitors have none)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from moor import config as config_module
from moor.build.dispatch import BuildArgs
from moor.containers.record import Container
from moor.daemon.engine import Engine
from moor.services.build.commit import StepCommitter
from moor.services.build.run import RunExecutor, RunRequest, StepFailed
from moor.services.build.scheduler import Cancelled
from moor.services.build.state import StageState
from moor.testing.fakes import FakeProcesses, add_image, fake_drivers


class ScriptedOutput:
    """What the container "prints", then how it ends (``act`` runs with the container meanwhile)."""

    def __init__(self, chunks: list[tuple[str, bytes]], act: Callable[[], None]) -> None:
        self._chunks = chunks
        self._act = act
        self.closed = False

    def chunks(self, started: Callable[[], bool]) -> Iterator[tuple[str, bytes]]:
        yield from self._chunks
        self._act()

    def close(self) -> None:
        self.closed = True


class ScriptedIO:
    """Stands for ContainerIO: each container's output is made by ``script(container)``."""

    def __init__(self, script: Callable[[Container], ScriptedOutput]) -> None:
        self.script = script
        self.outputs: list[ScriptedOutput] = []

    def output(self, container: Container) -> ScriptedOutput:
        made = self.script(container)
        self.outputs.append(made)
        return made


class Harness:
    def __init__(self, root: Path) -> None:
        config = config_module.parse({"data_root": str(root / "data"), "exec_root": str(root / "exec")})
        self.processes = FakeProcesses()
        self.engine = Engine(config, fake_drivers(root / "drivers"), self.processes)
        self.store = self.engine.images.store
        self.image = add_image(self.store, "busybox", config={"Cmd": ["sh"], "Env": ["PATH=/bin"]})
        self.committer = StepCommitter(self.store, self.engine.drivers.storage)

    def executor(self, script: Callable[[Container], ScriptedOutput]) -> tuple[RunExecutor, ScriptedIO]:
        scripted = ScriptedIO(script)
        return RunExecutor(self.engine.containers, scripted, self.committer), scripted  # type: ignore[arg-type]

    def state(self) -> StageState:
        return StageState.from_image("", self.image, BuildArgs())

    def exits(self, container: Container, code: int, files: dict[str, str] | None = None) -> Callable[[], None]:
        def act() -> None:
            root = self.engine.drivers.storage.mount(key=container.storage_key)
            for path, content in (files or {}).items():
                os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
                with open(os.path.join(root, path), "w") as handle:
                    handle.write(content)
            self.engine.drivers.storage.unmount(key=container.storage_key)
            self.processes.exit(container.id, code)

        return act


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    made = Harness(tmp_path)
    yield made
    made.processes.end_all()
    made.engine.close()


def request(*command: str) -> RunRequest:
    return RunRequest(config={"Cmd": ["/bin/sh", "-c", *command], "Env": ["PATH=/bin"]})


def test_output_is_streamed_and_the_changes_become_the_layer(harness: Harness) -> None:
    executor, _ = harness.executor(lambda c: ScriptedOutput(
        [("stdout", b"hi\n"), ("stderr", b"oops\n")], harness.exits(c, 0, {"made/by-run": "x\n"})))
    sent: list[dict[str, Any]] = []
    container_id, layer = executor.run(harness.state(), request("echo hi"), sent.append, threading.Event(),
                                       keep=False)
    assert sent == [{"stream": f" ---> Running in {container_id[:12]}\n"}, {"stream": "hi\n"},
                    {"stream": "\x1b[91moops\n\x1b[0m"}]
    assert layer is not None and layer.parent == harness.image.top_layer
    assert harness.engine.containers.list_containers(all_containers=True) == []


def test_no_change_is_no_layer_and_keep_keeps_the_container(harness: Harness) -> None:
    executor, _ = harness.executor(lambda c: ScriptedOutput([], harness.exits(c, 0)))
    container_id, layer = executor.run(harness.state(), request("true"), lambda m: None, threading.Event(), keep=True)
    assert layer is None
    assert [c.id for c in harness.engine.containers.list_containers(all_containers=True)] == [container_id]


def test_a_failure_is_docker_words_with_the_code_and_the_container_goes(harness: Harness) -> None:
    executor, _ = harness.executor(lambda c: ScriptedOutput([], harness.exits(c, 3)))
    with pytest.raises(StepFailed) as failure:
        executor.run(harness.state(), request("exit 3"), lambda m: None, threading.Event(), keep=True)
    assert (failure.value.message, failure.value.code) == (
        "The command '/bin/sh -c exit 3' returned a non-zero code: 3", 3)
    assert harness.engine.containers.list_containers(all_containers=True) == []


def test_cancelling_kills_the_running_step_and_removes_it(harness: Harness) -> None:
    cancel = threading.Event()

    def script(container: Container) -> ScriptedOutput:
        def act() -> None:
            cancel.set()  # the client left while the step runs; the step ends when its container is killed
            harness.processes.processes[container.id].exited.wait(10)

        return ScriptedOutput([("stdout", b"working\n")], act)

    executor, scripted = harness.executor(script)
    with pytest.raises(Cancelled):
        executor.run(harness.state(), request("sleep 100"), lambda m: None, cancel, keep=False)
    assert ("KILL" in [signal for _, signal in harness.processes.signals])
    assert scripted.outputs[0].closed
    assert harness.engine.containers.list_containers(all_containers=True) == []
