"""The container service's create, start, stop, kill, wait, remove, rename and prune, without root.

The engine is built as moord builds it, over the shared fake drivers and the
shared fake process layer (:class:`moor.testing.fakes.FakeProcesses`, given to
the engine in place of runc and the containers' monitors): its containers "run"
until a fatal signal reaches them or the test ends them.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dockershapes import DOCKER_HOST_CONFIG_KEYS

from moor import config as config_module
from moor.containers import views
from moor.containers.record import Container
from moor.containers.spec import cgroup_v2, default_masked_paths
from moor.daemon.engine import Engine
from moor.errors import Conflict, InvalidParameter, MoorError, NotFound, NotModified
from moor.services.containers import ContainerService
from moor.testing.fakes import FakeProcesses, LifecycleRecorder, add_image, fake_drivers, fake_of

NAME_IN_USE = ('Conflict. The container name "/{name}" is already in use by container "{id}". You have to remove '
               '(or rename) that container to be able to reuse that name.')


# --------------------------------------------------------------------------- the engine over fakes


class FakeEngine:
    """An :class:`Engine` over fake drivers and fake processes, with busybox-like images."""

    def __init__(self, root: Path, previous: FakeEngine | None = None) -> None:
        self.root = root
        config = config_module.parse({"data_root": str(root / "data"), "exec_root": str(root / "exec")})
        self.processes = previous.processes.restarted() if previous else FakeProcesses()
        self.engine = Engine(config, previous.drivers if previous else fake_drivers(root / "drivers"), self.processes)
        self.containers = self.engine.containers
        self.drivers = self.engine.drivers
        self.successor: FakeEngine | None = None
        self.image = previous.image if previous else add_image(
            self.engine.images.store, "busybox",
            config={"Cmd": ["sh"], "Env": ["PATH=/bin", "KEEP=image"], "Labels": {"from": "image"}})

    def restart(self) -> FakeEngine:
        """moord stops (its containers run on) and starts again over the same data and drivers."""
        self.successor = FakeEngine(self.root, self)
        return self.successor

    def create(self, name: str = "", **body: Any) -> Container:
        return self.containers.create({"Image": "busybox", **body}, name)

    def actions(self, container_id: str | None = None) -> list[str]:
        """The container events so far (of one container), oldest first."""
        return [e["Action"] for e in self.engine.events.subscribe()[0]
                if e["Type"] == "container" and (container_id is None or e["Actor"]["ID"] == container_id)]

    def event(self, action: str) -> dict[str, Any]:
        return next(e for e in reversed(self.engine.events.subscribe()[0]) if e["Action"] == action)

    def lifecycle(self) -> list[str]:
        recorder = self.drivers.manager.get_plugin("lifecycle")
        assert isinstance(recorder, LifecycleRecorder)
        return recorder.seen

    def storage(self) -> Any:
        return fake_of(self.drivers, "storage")

    def wait_for(self, condition: Callable[[], bool], timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.01)

    def close(self) -> None:
        self.engine.close()
        if self.successor is not None:
            self.successor.close()


class Waiter:
    """``wait`` in a thread of its own, so that a wait that never ends fails the test instead of hanging it."""

    def __init__(self, service: ContainerService, ident: str, condition: str = "not-running") -> None:
        self.answer: list[int] = []
        self.thread = threading.Thread(target=lambda: self.answer.append(service.wait(ident, condition)),
                                       daemon=True)
        self.thread.start()

    def result(self, timeout: float = 5) -> int:
        self.thread.join(timeout)
        assert self.answer, "wait did not return"
        return self.answer[0]

    def pending(self) -> bool:
        self.thread.join(0.1)
        return self.thread.is_alive()


def waited(service: ContainerService, ident: str, condition: str = "not-running") -> int:
    return Waiter(service, ident, condition).result()


def container_directories(fake: FakeEngine) -> list[str]:
    """The containers' directories in the store (one per container ID)."""
    root = fake.containers.store.root
    return sorted(name for name in os.listdir(root) if re.fullmatch(r"[0-9a-f]{64}", name))


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeEngine]:
    engine = FakeEngine(tmp_path)
    yield engine
    engine.processes.end_all()  # let the waiter threads finish
    engine.close()


# --------------------------------------------------------------------------- create


def test_create_records_the_container_over_a_snapshot_of_its_image(fake: FakeEngine) -> None:
    container = fake.create("web", Cmd=["echo", "hi"], Env=["KEEP=run", "NEW=1"], Labels={"role": "test"})
    assert fake.containers.get("web").id == container.id == fake.containers.get(container.id[:12]).id
    assert (container.path, container.args) == ("echo", ["hi"])
    assert container.config["Env"] == ["KEEP=run", "NEW=1", "PATH=/bin"]  # Docker's merge: the body's first
    assert container.config["Labels"] == {"from": "image", "role": "test"}
    assert container.config["Hostname"] == container.id[:12]
    assert container.state.Status == "created" and not container.state.Running
    assert container.host_config["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert container.networks == {"bridge": {"IPAMConfig": None, "Aliases": None}}
    storage = fake.storage()
    top_key = fake.image.top_layer.split(":", 1)[1]
    init = container.id + "-init"  # Docker's init layer between the image and the container's own
    assert ("prepare", {"key": container.id, "parent": init}) in storage.calls
    assert storage.entries[container.id].parent == init and storage.entries[init].parent == top_key
    assert os.path.isdir(fake.containers.store.directory(container.id))
    assert fake.actions() == ["create"]
    assert fake.event("create")["Actor"]["Attributes"] == {"image": "busybox", "name": "web", "from": "image",
                                                           "role": "test"}
    assert fake.lifecycle() == [f"created {container.id}"]


def test_a_name_in_use_is_a_conflict_and_leaves_nothing(fake: FakeEngine) -> None:
    first = fake.create("web")
    snapshots = set(fake.storage().entries)
    with pytest.raises(Conflict) as refused:
        fake.create("web")
    assert str(refused.value) == NAME_IN_USE.format(name="web", id=first.id)
    assert set(fake.storage().entries) == snapshots
    assert [c.id for c in fake.containers.store.all()] == [first.id]
    assert container_directories(fake) == [first.id]


def test_create_applies_dockers_defaults(fake: FakeEngine) -> None:
    plain = fake.create("plain")
    assert (plain.path, plain.args) == ("sh", [])  # the image's Cmd
    assert plain.host_config["NetworkMode"] == "default" and plain.host_config["ShmSize"] == 64 * 1024 * 1024
    assert plain.host_config["RestartPolicy"]["Name"] == "no" and not plain.host_config.get("AutoRemove")
    assert views.inspect(fake.containers, plain, version="1.41")["HostConfig"]["AutoRemove"] is False
    on_host = fake.create("on-host", HostConfig={"NetworkMode": "host"})
    assert on_host.config["Hostname"] == socket.gethostname() and on_host.networks == {}
    entry = fake.create("entry", Entrypoint=["/bin/entry"], Cmd=["arg"])
    assert (entry.path, entry.args) == ("/bin/entry", ["arg"])




def test_inspect_host_config_has_dockers_keys_and_nulls(fake: FakeEngine) -> None:
    """A sparse create body: every key Docker 20.10 shows (Runtime only when the body has a HostConfig), lists
    not given are null (not []), the default masked and read-only paths and cgroupns mode are kept; a privileged
    container has null paths; what a body gives ([] included) is kept as given."""
    sparse = views.inspect(fake.containers, fake.create("sparse", HostConfig={}), version="1.41")["HostConfig"]
    assert set(sparse) == DOCKER_HOST_CONFIG_KEYS
    bare = views.inspect(fake.containers, fake.create("bare"), version="1.41")["HostConfig"]
    assert set(bare) == DOCKER_HOST_CONFIG_KEYS - {"Runtime"}  # no HostConfig in the body: no runtime named
    assert (sparse["Devices"], sparse["BlkioWeightDevice"], sparse["Ulimits"]) == (None, None, None)
    assert (sparse["CpuCount"], sparse["CpuPercent"], sparse["IOMaximumIOps"], sparse["IOMaximumBandwidth"]) == (
        0, 0, 0, 0)
    assert sparse["MaskedPaths"] == default_masked_paths()
    assert sparse["ReadonlyPaths"] == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    assert sparse["CgroupnsMode"] == ("private" if cgroup_v2() else "host")
    privileged = fake.create("privileged", HostConfig={"Privileged": True}).host_config
    assert (privileged["MaskedPaths"], privileged["ReadonlyPaths"]) == (None, None)
    given = fake.create("given", HostConfig={"MaskedPaths": [], "ReadonlyPaths": ["/proc/bus"], "Devices": [],
                                             "BlkioWeightDevice": [], "CgroupnsMode": "private"}).host_config
    assert (given["MaskedPaths"], given["ReadonlyPaths"], given["Devices"], given["BlkioWeightDevice"]) == (
        [], ["/proc/bus"], [], [])
    assert given["CgroupnsMode"] == "private"


def test_inspect_config_leaves_out_what_docker_leaves_out(fake: FakeEngine) -> None:
    """Docker 20.10's Config: no ExposedPorts, Healthcheck, MacAddress or StopSignal when unset (Go's
    omitempty), Env null when neither the body nor the image has one; the body's Env first, as given (its
    repeats too), then the image's variables it does not name."""
    add_image(fake.engine.images.store, "bare", config={"Cmd": ["sh"]})
    bare = views.inspect(fake.containers, fake.create("bare", Image="bare", Env=[]), version="1.41")["Config"]
    for key in ("ExposedPorts", "Healthcheck", "MacAddress", "StopSignal", "StopTimeout"):
        assert key not in bare
    assert bare["Env"] is None and bare["Labels"] == {} and bare["OnBuild"] is None
    old = views.inspect(fake.containers, fake.create("old"), version="1.20")["Config"]
    assert (old["ExposedPorts"], old["MacAddress"]) == (None, "")  # API 1.20's shape keeps them
    given = fake.create("given", Env=["A=1", "PATH=/x", "A=2"], StopSignal="SIGUSR1", ExposedPorts={"80/tcp": {}},
                        Healthcheck={"Test": ["NONE"]}, StopTimeout=0)
    config = views.inspect(fake.containers, given, version="1.41")["Config"]
    assert config["Env"] == ["A=1", "PATH=/x", "A=2", "KEEP=image"]
    assert (config["StopSignal"], config["ExposedPorts"], config["Healthcheck"], config["StopTimeout"]) == (
        "SIGUSR1", {"80/tcp": {}}, {"Test": ["NONE"]}, 0)


@pytest.mark.parametrize(("body", "message"), [
    ({"HostConfig": {"AutoRemove": True, "RestartPolicy": {"Name": "always"}}},
     "can't create 'AutoRemove' container with restart policy"),
    ({"HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}, "invalid restart policy 'sometimes'"),
    ({"Entrypoint": [""], "Cmd": None}, "No command specified"),
    ({"Image": ""}, "No image specified"),
])
def test_create_refuses_what_docker_refuses(fake: FakeEngine, body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        fake.create("refused", **body)
    assert str(refused.value) == message
    assert fake.containers.store.all() == [] and "prepare" not in fake.storage().operations()


def test_names_are_generated_or_checked(fake: FakeEngine) -> None:
    assert re.fullmatch(r"[a-z]+_[a-z]+", fake.create().name)
    with pytest.raises(InvalidParameter, match=r"^Invalid container name \(bad/name\)"):
        fake.create("bad/name")


def test_an_unknown_image_or_log_option_creates_nothing(fake: FakeEngine) -> None:
    with pytest.raises(NotFound, match="^No such image: nothere"):
        fake.containers.create({"Image": "nothere"}, "x")
    with pytest.raises(InvalidParameter, match="unknown log opt 'colour'"):
        fake.create("logged", HostConfig={"LogConfig": {"Type": "json-file", "Config": {"colour": "red"}}})
    assert fake.containers.store.all() == []
    assert "prepare" not in fake.storage().operations()
    assert fake.actions() == []


def test_a_storage_failure_undoes_the_create(fake: FakeEngine) -> None:
    fake.storage().fail_next("prepare", MoorError("disk full"))
    with pytest.raises(MoorError, match="disk full"):
        fake.create("broken", Volumes={"/data": {}})
    assert fake.containers.store.all() == []
    assert container_directories(fake) == []
    assert fake_of(fake.drivers, "volume").volumes == {}  # the anonymous volume went again
    assert fake.lifecycle() == [] and fake.actions() == []


# --------------------------------------------------------------------------- start, stop, kill


def test_start_honours_the_host_configs_paths_and_cgroupns_mode(fake: FakeEngine) -> None:
    """The bundle masks what ``MaskedPaths``/``ReadonlyPaths`` say ([] masks nothing: compose's
    ``systempaths=unconfined``) and has a cgroup namespace as ``CgroupnsMode`` says."""
    given = fake.create("given", Cmd=["sleep", "60"], HostConfig={
        "MaskedPaths": [], "ReadonlyPaths": ["/proc/bus"], "CgroupnsMode": "private"})
    plain = fake.create("plain", Cmd=["sleep", "60"], HostConfig={"CgroupnsMode": "host"})
    specs = {}
    for container in (given, plain):
        fake.containers.start(container.id)
        bundle = fake.processes.processes[container.id].bundle
        specs[container.name] = json.loads(Path(bundle, "config.json").read_text())["linux"]
    assert (specs["given"]["maskedPaths"], specs["given"]["readonlyPaths"]) == ([], ["/proc/bus"])
    assert {"type": "cgroup"} in specs["given"]["namespaces"]
    assert specs["plain"]["maskedPaths"] == default_masked_paths()
    assert {"type": "cgroup"} not in specs["plain"]["namespaces"]


def test_start_mounts_joins_and_runs_then_stop_undoes_it(fake: FakeEngine) -> None:
    container = fake.create("web", Cmd=["sleep", "60"])
    fake.containers.start("web")
    running = fake.containers.get("web")
    process = fake.processes.processes[container.id]
    assert running.state.Running and running.state.Status == "running" and running.state.Pid == process.pid
    assert fake.storage().mounts == {container.id: 1}
    spec = json.loads(Path(process.bundle, "config.json").read_text())
    assert spec["process"]["args"] == ["sleep", "60"]
    assert spec["root"]["path"] == os.path.join(fake.storage().context.home, "snapshots", container.id)
    assert running.networks["bridge"]["IPAddress"] == "172.17.0.2"
    bridge = fake_of(fake.drivers, "network", "bridge")
    assert len(next(iter(bridge.networks.values())).endpoints) == 1
    with pytest.raises(NotModified):
        fake.containers.start("web")

    fake.containers.stop("web", timeout=5)
    stopped = fake.containers.get("web")
    assert fake.processes.signals == [(container.id, "TERM")]
    assert not stopped.state.Running and stopped.state.Status == "exited" and stopped.state.ExitCode == 143
    assert stopped.state.Pid == 0 and stopped.state.FinishedAt != "0001-01-01T00:00:00Z"
    assert fake.storage().mounts == {}
    assert next(iter(bridge.networks.values())).endpoints == {}
    assert fake.actions(container.id) == ["create", "start", "kill", "die", "stop"]  # Docker's: kill per signal
    assert fake.event("die")["Actor"]["Attributes"]["exitCode"] == "143"
    assert fake.lifecycle() == [f"created {container.id}", f"started {container.id}", f"stopped {container.id} 143"]
    with pytest.raises(NotModified):
        fake.containers.stop("web")


def test_stop_kills_a_process_that_ignores_its_stop_signal(fake: FakeEngine) -> None:
    container = fake.create("stubborn", StopSignal="SIGUSR1")
    fake.containers.start("stubborn")
    fake.processes.processes[container.id].ignores = {"USR1"}
    fake.containers.stop("stubborn", timeout=0)
    assert fake.processes.signals == [(container.id, "USR1"), (container.id, "KILL")]
    assert fake.containers.get("stubborn").state.ExitCode == 137


def test_attach_hooks_run_once_the_monitor_is_ready_and_before_the_process_starts(fake: FakeEngine) -> None:
    container = fake.create("attached")
    seen: list[bool] = []
    fake.containers.attaches.add(container.id, lambda: seen.append(fake.processes.processes[container.id].started))
    fake.containers.start("attached")
    assert seen == [False]  # the monitor was launched, its process not started yet: no output is missed
    fake.containers.stop("attached", timeout=1)
    fake.containers.start("attached")
    assert seen == [False]  # taken: a hook runs for one start only


def test_pause_and_update_reach_the_process_and_stop_thaws_a_paused_container(fake: FakeEngine) -> None:
    container = fake.create("frozen")
    fake.containers.start("frozen")
    process = fake.processes.processes[container.id]
    fake.engine.resources.update("frozen", {"CpuShares": 512})
    assert fake.processes.updates == [(container.id, {"CpuShares": 512})]
    fake.engine.resources.pause("frozen")
    assert process.paused and fake.containers.get("frozen").state.Status == "paused"
    fake.containers.stop("frozen", timeout=1)
    assert not process.paused  # thawed after the signal, as Docker does, so that the process sees it
    assert fake.containers.get("frozen").state.Status == "exited"
    assert fake.actions(container.id) == ["create", "start", "update", "pause", "kill", "die", "stop"]


def test_a_start_that_fails_leaves_nothing_mounted_or_joined(fake: FakeEngine) -> None:
    container = fake.create("broken", Cmd=["nope"])
    fake.processes.start_failures[container.id] = MoorError(
        'exec: "nope": executable file not found in $PATH')
    with pytest.raises(MoorError, match="executable file not found"):
        fake.containers.start("broken")
    failed = fake.containers.get("broken")
    assert not failed.state.Running and failed.state.ExitCode == 127
    assert "executable file not found" in failed.state.Error
    assert fake.storage().mounts == {}
    bridge = fake_of(fake.drivers, "network", "bridge")
    assert all(not network.endpoints for network in bridge.networks.values())
    assert not os.path.exists(fake.containers.state_dir(container.id))
    assert fake.actions(container.id) == ["create"]


def test_kill_signals_and_refusals(fake: FakeEngine) -> None:
    container = fake.create("target")
    with pytest.raises(Conflict) as refused:
        fake.containers.kill("target")
    assert str(refused.value) == f"Cannot kill container: target: Container {container.id} is not running"
    fake.containers.start("target")
    with pytest.raises(InvalidParameter, match="^Invalid signal: FOO$"):
        fake.containers.kill("target", "FOO")
    fake.containers.kill("target", "SIGHUP")
    assert fake.containers.get("target").state.Running
    assert fake.event("kill")["Actor"]["Attributes"]["signal"] == "1"
    fake.containers.kill("target", "9")
    assert fake.containers.wait_until_stopped(container.id, 5)
    assert fake.containers.get("target").state.ExitCode == 137
    assert fake.processes.signals == [(container.id, "HUP"), (container.id, "KILL")]


def test_an_exit_of_its_own_is_recorded(fake: FakeEngine) -> None:
    container = fake.create("short")
    fake.containers.start("short")
    fake.processes.exit(container.id, 3)
    assert waited(fake.containers, "short") == 3
    assert fake.containers.get("short").state.Status == "exited"
    fake.wait_for(lambda: "die" in fake.actions(container.id))  # published after the state a waiter sees
    assert fake.actions(container.id) == ["create", "start", "die"]


# --------------------------------------------------------------------------- wait


def test_wait_conditions(fake: FakeEngine) -> None:
    container = fake.create("waited")
    assert waited(fake.containers, "waited") == 0  # never started: not running already
    with pytest.raises(InvalidParameter, match="invalid condition"):
        fake.containers.wait("waited", "someday")
    fake.containers.start("waited")
    fake.processes.exit(container.id, 4)
    assert waited(fake.containers, "waited") == 4
    fake.containers.start("waited")
    next_exit = Waiter(fake.containers, "waited", "next-exit")
    assert next_exit.pending()  # still running: next-exit waits for the new exit, not the old one
    fake.processes.exit(container.id, 5)
    assert next_exit.result() == 5
    removal = Waiter(fake.containers, "waited", "removed")
    assert removal.pending()
    fake.containers.remove("waited")
    assert removal.result() == 5


def test_wait_for_removed_ends_once_the_removal_is_over(fake: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """``run --rm`` waits so: its anonymous volumes, snapshot and directories must be gone when it returns."""
    container = fake.create("leaving", Volumes={"/data": {}})
    volume = container.mounts[0]["Name"]
    release, forgetting = threading.Event(), threading.Event()
    forget = fake.containers.networking.forget

    def slow_forget(container_id: str) -> None:  # a step of the removal after the record went
        forgetting.set()
        release.wait(5)
        forget(container_id)

    monkeypatch.setattr(fake.containers.networking, "forget", slow_forget)
    removal = Waiter(fake.containers, "leaving", "removed")
    remover = threading.Thread(target=fake.containers.remove, args=("leaving",), kwargs={"volumes": True})
    remover.start()
    assert forgetting.wait(5)
    removal.thread.join(1.5)  # past the wait's one-second tick
    assert removal.thread.is_alive()  # the record is gone, the removal is not over
    release.set()
    assert removal.result() == 0
    assert volume not in fake_of(fake.drivers, "volume").volumes
    remover.join(5)


def test_wait_as_a_stream_ticks_while_the_container_runs(fake: FakeEngine) -> None:
    """The API's /wait streams these: a tick at once (headers go out), one a second after, then the code."""
    container = fake.create("ticking")
    fake.containers.start("ticking")
    outcomes = fake.containers.wait_ticking("ticking")
    assert next(outcomes) is None  # at once, while it runs
    assert next(outcomes) is None  # a second later, still running: the server checks its client now
    fake.processes.exit(container.id, 3)
    assert [o for o in outcomes if o is not None] == [3]
    stopped = fake.containers.wait_ticking("ticking")
    assert list(stopped) == [3]  # already stopped: the code, no tick


# --------------------------------------------------------------------------- remove


def test_remove_takes_the_snapshot_log_and_directory_along(fake: FakeEngine) -> None:
    container = fake.create("gone", Volumes={"/data": {}})
    volume = container.mounts[0]["Name"]
    assert volume in fake_of(fake.drivers, "volume").volumes
    fake.containers.remove("gone", volumes=True)
    with pytest.raises(NotFound, match="^No such container: gone$"):
        fake.containers.get("gone")
    assert ("remove", {"key": container.id}) in fake.storage().calls
    assert container.id not in fake.storage().entries
    assert "remove" in fake_of(fake.drivers, "log").operations()
    assert not os.path.exists(fake.containers.store.directory(container.id))
    assert volume not in fake_of(fake.drivers, "volume").volumes  # rm -v: the anonymous volume too
    assert fake.actions(container.id) == ["create", "destroy"]
    assert fake.lifecycle()[-1] == f"removed {container.id}"


def test_a_running_container_is_removed_only_by_force(fake: FakeEngine) -> None:
    container = fake.create("busy")
    fake.containers.start("busy")
    with pytest.raises(Conflict) as refused:
        fake.containers.remove("busy")
    assert str(refused.value) == (f"You cannot remove a running container {container.id}. Stop the container before "
                                  "attempting removal or force remove")
    assert fake.containers.get("busy").state.Running
    assert container.id in fake.storage().entries
    fake.containers.remove("busy", force=True)
    assert fake.processes.signals == [(container.id, "KILL")]
    assert fake.containers.store.find(container.id) is None
    assert container.id not in fake.storage().entries and fake.storage().mounts == {}
    assert fake.actions(container.id) == ["create", "start", "kill", "die", "destroy"]


def test_auto_remove_after_the_exit(fake: FakeEngine) -> None:
    container = fake.create("once", HostConfig={"AutoRemove": True})
    fake.containers.start("once")
    fake.processes.exit(container.id, 0)
    fake.wait_for(lambda: "destroy" in fake.actions(container.id))
    assert fake.containers.store.find(container.id) is None
    assert fake.actions(container.id) == ["create", "start", "die", "destroy"]


def test_restart_policy_starts_the_container_again(fake: FakeEngine) -> None:
    container = fake.create("phoenix", HostConfig={"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 1}})
    fake.containers.start("phoenix")
    first = fake.processes.processes[container.id]
    fake.processes.exit(container.id, 1)
    fake.wait_for(lambda: fake.processes.processes[container.id] is not first
                  and fake.containers.get("phoenix").state.Running)
    assert fake.containers.get("phoenix").restart_count == 1
    fake.processes.exit(container.id, 1)  # the one retry is spent: it stays down
    fake.wait_for(lambda: not fake.containers.get("phoenix").state.Running)
    time.sleep(0.3)
    assert fake.containers.get("phoenix").state.Status == "exited"
    assert fake.actions(container.id) == ["create", "start", "die", "start", "die"]


def test_a_restarted_engine_adopts_running_containers_and_records_the_exits_it_missed(fake: FakeEngine) -> None:
    alive = fake.create("alive")
    fake.containers.start("alive")
    died = fake.create("died", HostConfig={"RestartPolicy": {"Name": "no"}})
    fake.containers.start("died")
    fake.processes.down = True  # moord stops; meanwhile one container exits
    fake.processes.exit(died.id, 7)
    again = fake.restart()
    assert again.containers.get("died").state.Status == "exited"
    assert again.containers.get("died").state.ExitCode == 7
    assert again.containers.get("alive").state.Running  # re-adopted, and watched:
    again.processes.exit(alive.id, 2)
    assert waited(again.containers, "alive") == 2
    assert again.containers.get("alive").state.Status == "exited"
    again.wait_for(lambda: again.actions().count("die") == 2)  # published after the state a waiter sees
    assert again.actions() == ["die", "die"]  # the new engine's bus: both exits, none twice


def test_rename(fake: FakeEngine) -> None:
    container = fake.create("old")
    other = fake.create("taken")
    fake.containers.rename("old", "new")
    assert fake.containers.get("new").id == container.id
    with pytest.raises(NotFound):
        fake.containers.get("old")
    assert fake.event("rename")["Actor"]["Attributes"]["oldName"] == "/old"
    assert fake.event("rename")["Actor"]["Attributes"]["name"] == "new"
    with pytest.raises(Conflict, match="^Renaming a container with the same name as its current name$"):
        fake.containers.rename("new", "new")
    with pytest.raises(Conflict) as refused:
        fake.containers.rename("new", "taken")
    assert str(refused.value) == NAME_IN_USE.format(name="taken", id=other.id)
    with pytest.raises(InvalidParameter, match="^Neither old nor new names may be empty$"):
        fake.containers.rename("new", "")
    assert fake.create("old").name == "old"  # the old name is free again


def test_prune_removes_the_stopped_containers_that_match(fake: FakeEngine) -> None:
    kept_running = fake.create("running")
    fake.containers.start("running")
    labelled = fake.create("labelled", Labels={"keep": "yes"})
    plain = fake.create("plain")
    root = fake.storage().moor_storage_mount(key=plain.id)
    Path(root, "written").write_bytes(b"w" * 1000)
    fake.storage().moor_storage_unmount(key=plain.id)
    report = fake.containers.prune({"label!": ["keep"]})
    assert report == {"ContainersDeleted": [plain.id], "SpaceReclaimed": 1000}
    assert fake.containers.prune({"label": ["nothing=here"]}) == {"ContainersDeleted": None, "SpaceReclaimed": 0}
    assert fake.containers.prune({})["ContainersDeleted"] == [labelled.id]
    assert [c.id for c in fake.containers.store.all()] == [kept_running.id]


def test_published_ports_are_taken_by_the_monitors_proxy(fake: FakeEngine) -> None:
    """Each published port is asked of the container's monitor; one it cannot take is Docker's conflict."""
    fake.processes.ports_held.add(("tcp", 8080))
    container = fake.create("web", ExposedPorts={"80/tcp": {}},
                            HostConfig={"PortBindings": {"80/tcp": [{"HostPort": "8080-8081"}]}})
    fake.containers.start("web")
    asked = {(cid, m["host_port"], m["target_port"], m["target"]) for cid, m in fake.processes.published}
    assert asked == {(container.id, 8081, 80, "172.17.0.2")}
    assert fake.containers.get("web").ports["80/tcp"][0] == {"HostIp": "0.0.0.0", "HostPort": "8081"}

    fake.create("db", HostConfig={"PortBindings": {"5432/tcp": [{"HostPort": "8080"}]}})
    with pytest.raises(Conflict, match=r"driver failed programming external connectivity on endpoint db .*"
                                       r"address already in use"):
        fake.containers.start("db")


def test_the_init_layer_probe_is_undone_by_the_orphan_sweep(fake: FakeEngine) -> None:
    """A create killed while it looked into its image (the image's top layer mounted) leaves an orphan
    directory with a mark; the sweep at start-up unmounts that layer and removes the init layer."""
    top_key = fake.image.top_layer.split(":", 1)[1]
    storage = fake.storage()
    container = fake.create("probed")
    assert [c for c in storage.calls if c[0] in ("mount", "unmount")] == [
        ("mount", {"key": top_key}), ("unmount", {"key": top_key})]  # learnt once per layer
    fake.create("again")
    assert len([c for c in storage.calls if c[0] == "mount"]) == 1
    directory = fake.containers.store.directory(container.id)
    assert not os.path.exists(os.path.join(directory, "init-probe.json"))
    orphan = "f" * 64
    os.makedirs(fake.containers.store.directory(orphan))
    with open(os.path.join(fake.containers.store.directory(orphan), "init-probe.json"), "w") as handle:
        json.dump(top_key, handle)
    fake.containers.recover()
    assert ("unmount", {"key": top_key}) == storage.calls[-1]
    assert not os.path.exists(fake.containers.store.directory(orphan))
