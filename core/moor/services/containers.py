"""The container service: create, start, stop, kill, wait, remove, rename, list, and re-adoption.

Each started container has a monitor process (:mod:`moor.monitor`) that owns
its stdio and records its exit; moord keeps a waiter thread per running
container that learns the exit from the monitor. When moord starts again it
re-adopts containers whose monitor still runs and records the exit of the
others from the monitor's ``exit.json``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import shutil
import signal as signals
import socket
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from moor import tracing
from moor.containers import initlayer, security
from moor.containers import restart as restart_policy
from moor.containers.cgroups import container_cgroups_path
from moor.containers.createcheck import check_create
from moor.containers.etcfiles import check_network_files, write_etc_files
from moor.containers.limits import apply_resource_defaults, oci_resources, validate_resources
from moor.containers.links import parse_link
from moor.containers.model import ProcessSpec, RuntimeSpecInput
from moor.containers.mountpoints import discard_anonymous, in_root, oci_mounts, plan, release, rootfs_propagation
from moor.containers.record import Container, State, check_name, random_name
from moor.containers.spec import build_spec, default_env, merge_command
from moor.errors import Conflict, InvalidParameter, MoorError, NotFound, NotModified
from moor.filters import labels_match
from moor.fsutil import atomic_write_json, read_json
from moor.images import reference
from moor.images.healthcheck import effective_config
from moor.services import container_list
from moor.services.container_query import get_container
from moor.services.start_hooks import PendingAttaches, StartListeners
from moor.timefmt import format_timestamp, parse_timestamp
from moor.types import ContainerRef

if TYPE_CHECKING:
    from moor.config import Config
    from moor.containers.processes import ContainerProcesses, LaunchedMonitor
    from moor.containers.record import ContainerStore
    from moor.drivers import DriverSet
    from moor.services.container_networking import ContainerNetworking, Joining
    from moor.services.events import EventBus
    from moor.services.images import ImageService
    from moor.services.volumes import VolumeService

log = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT = 10
MONITOR_START_TIMEOUT = 30


#: in a container's directory while its create looks into its image (see ContainerService._init_layer)
INIT_PROBE_MARK = "init-probe.json"


def now_text() -> str:
    return format_timestamp(time.time())


#: How long a SIGKILL waits for the container to stop before ``kill`` returns (Docker waits too).
KILL_WAIT_TIMEOUT = 10.0
#: how many monitors moord asks at once how their containers are when it starts again
RECOVER_WORKERS = 16

class ContainerService:
    """Owns the container records and their monitors.

    Its collaborators are given, built by the engine: the store of the container records (which the
    image and volume services read through a :class:`~moor.services.container_query.ContainerQuery`),
    the image and volume services, the containers' networking, the event bus, the attach hooks that
    wait for a container's monitor (filled by :class:`~moor.services.container_io.ContainerIO`) and
    the listeners told of each start (health checks). The last two default to empty ones.

    Every real process goes through ``processes`` (:class:`~moor.containers.processes.ContainerProcesses`):
    the OCI runtime, the containers' monitors and their control channel; the engine gives
    :class:`~moor.containers.processes.RuncProcesses`, the unit tests a fake.
    """

    def __init__(self, config: Config, drivers: DriverSet, store: ContainerStore, images: ImageService,
                 volumes: VolumeService, networking: ContainerNetworking, events: EventBus,
                 processes: ContainerProcesses, attaches: PendingAttaches | None = None,
                 started: StartListeners | None = None) -> None:
        self.config = config
        self.drivers = drivers
        self.store = store
        self.images = images
        #: the containers' volumes are created, mounted and released through the volume service
        self.volumes = volumes
        #: endpoints, published ports, /etc/hosts and embedded DNS of the containers
        self.networking = networking
        self.events = events
        #: runc and the monitors (the services beside this one are given the same)
        self.processes = processes
        #: container ID -> hooks to run once its monitor is ready (attach streams)
        self.attaches = attaches if attaches is not None else PendingAttaches()
        #: told of every container that starts running or is re-adopted (health checks)
        self.started = started if started is not None else StartListeners()
        self.state_root = os.path.join(config.exec_root, "containers")
        os.makedirs(self.state_root, mode=0o700, exist_ok=True)
        self._changed = threading.Condition()
        #: container ID -> the thread starting it (a removal waits for the start to end)
        self._starting: dict[str, int] = {}
        #: IDs of the containers being removed: no start (by hand or by restart policy) may begin
        self._removing: set[str] = set()
        #: image layer key -> its init layer's entries (None: the image lacks nothing), see _init_layer
        self._init_plans: dict[str | None, list[tarfile.TarInfo] | None] = {}
        #: name -> ID of the containers being created: their names are taken while their layers are made (store lock)
        self._creating: dict[str, str] = {}
        #: IDs of the containers ``restart`` stops: an ``--rm`` one is not removed by that exit, as in Docker
        self._restarting: set[str] = set()
        #: IDs of the containers whose exit is being recorded: waiters see it once its die event is out
        self._exiting: set[str] = set()

    # ------------------------------------------------------------------ helpers for other services

    def counts(self) -> dict[str, int]:
        containers = self.store.all()
        running = sum(1 for c in containers if c.state.Running and not c.state.Paused)
        paused = sum(1 for c in containers if c.state.Paused)
        return {"containers": len(containers), "running": running, "paused": paused,
                "stopped": len(containers) - running - paused}

    def get(self, ident: str) -> Container:
        """The container by full or short ID or name; NotFound in Docker's words."""
        return get_container(self.store, ident)

    def list_containers(self, all_containers: bool = False, filters: dict[str, list[str]] | None = None,
                        limit: int = -1) -> list[Container]:
        """``docker ps``: the running containers (every one with ``all_containers``), filtered, newest first."""
        return container_list.select(self.store.all(), all_containers, filters or {}, limit, self.images.find,
                                     self.get, self.images.children)

    def state_dir(self, container_id: str) -> str:
        return os.path.join(self.state_root, container_id)

    def ref(self, container: Container) -> ContainerRef:
        return ContainerRef(id=container.id, name=container.name, image=container.image,
                            labels=dict(container.config.get("Labels") or {}),
                            log_options=container.log_options, log_path=container.log_path,
                            exit_code=container.state.ExitCode if not container.state.Running else None)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    # ------------------------------------------------------------------ create

    def create(self, body: dict[str, Any], name: str = "") -> Container:
        with tracing.operation("create", "") as trace:
            container = self._create(body, name, trace)
        return container

    def _create(self, body: dict[str, Any], name: str, trace: tracing.Trace) -> Container:
        if not isinstance(body, dict):
            raise InvalidParameter("config cannot be empty in order to create a container")
        with trace.phase("check"):
            host_config = dict(body.get("HostConfig") or {})
            validate_resources(host_config)
            check_create(body, host_config, self.config.runtime.name)
            check_network_files(body, host_config)
            self.networking.check_network_mode(body, host_config)
            self._check_pid_mode(host_config)
        image_name = body.get("Image") or ""
        if not image_name:
            raise InvalidParameter("No image specified")  # Docker: "config cannot be empty..."
        with trace.phase("image"):
            try:
                image = self.images.resolve(image_name)
            except NotFound:
                reference.parse(image_name)  # a name that is no reference is a 400, as in Docker (a 404: pull)
                raise
        with trace.phase("volumes"):
            mounts = self._plan_mounts(body, host_config, image.config)
        try:
            container = self._create_locked(body, name, host_config, image, image_name, mounts)
        except BaseException:
            discard_anonymous(mounts, self.volumes)  # outside the store lock: the volume service takes its own
            raise
        trace.subject = container.short_id
        with trace.phase("events"):
            self.drivers.notify("created", container=self.ref(container))
            self.events.publish_container(container, "create")
        return container

    def _check_pid_mode(self, host_config: dict[str, Any]) -> None:
        """``--pid container:NAME`` names a container that exists (a 400 otherwise, as in Docker)."""
        pid_mode = str(host_config.get("PidMode") or "")
        if pid_mode.startswith("container:"):
            try:
                self.get(pid_mode.split(":", 1)[1])
            except NotFound as err:
                raise InvalidParameter(str(err)) from None

    def _joined_pidns(self, container: Container) -> str:
        """With ``--pid container:<other>``: the PID namespace of the running ``other`` to join, else ""."""
        pid_mode = str(container.host_config.get("PidMode") or "")
        if not pid_mode.startswith("container:"):
            return ""
        other = self.get(pid_mode.split(":", 1)[1])
        if not other.state.Running:
            raise Conflict(f"container {other.id} is not running")  # Docker's words for --pid
        return f"/proc/{other.state.Pid}/ns/pid"

    def _plan_mounts(self, body: dict[str, Any], host_config: dict[str, Any],
                     image_config: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The new container's mount points; its volumes are created here, before the store is locked."""
        host_config.setdefault("VolumeDriver", "")
        host_config.setdefault("VolumesFrom", None)
        image_volumes = (effective_config(image_config or {}) or {}).get("Volumes") or {}
        wanted = {**image_volumes, **(body.get("Volumes") or {})}
        return plan(host_config, wanted, self.get, self.volumes)

    def _create_locked(self, body: dict[str, Any], name: str, host_config: dict[str, Any], image: Any,
                       image_name: str, mounts: list[dict[str, Any]]) -> Container:
        with tracing.phase("lock"):
            self.store.lock.acquire()  # timed: parallel creates queue here
        try:
            with tracing.phase("config"):
                name = check_name(name) if name else self._unused_name()
                self._check_name_free(name)
                image_config = effective_config(image.config) or {}
                given_entrypoint = body.get("Entrypoint") if body.get("Entrypoint") is not None else None
                command = merge_command(image_config.get("Entrypoint"), image_config.get("Cmd"), given_entrypoint,
                                        body.get("Cmd") or None)
                config = self._container_config(body, image_config, image_name)
                host_config = self._host_config(host_config)
                if body.get("HostConfig") is None:  # Docker names a runtime only when the body has a HostConfig
                    del host_config["Runtime"]
                wanted_networks = self.networking.wanted_networks(host_config, body.get("NetworkingConfig") or {})
                self.networking.mac_address(config, host_config, body.get("NetworkingConfig") or {})
                if host_config.get("Links"):
                    host_config["Links"] = [link.replace("{self}", name) for link in host_config["Links"]]
                container_id = secrets.token_hex(32)
                container = Container(
                    id=container_id, name=name, created=now_text(), image_id=image.id, image=image_name,
                    path=command[0], args=command[1:], config=config, host_config=host_config,
                    networks=wanted_networks, home=self.store.root,
                )
                if not config.get("Hostname") and host_config["NetworkMode"] == "host":
                    config["Hostname"] = socket.gethostname()  # Docker: host networking shows the host's name
                container.config["Hostname"] = config.get("Hostname") or container.short_id
            self._creating[name] = container_id  # the name is taken; its layers are made outside the lock
        finally:
            self.store.lock.release()
        directory = self.store.directory(container_id)
        try:
            container.mounts = mounts
            os.makedirs(directory, mode=0o710)
            container.log_path = os.path.join(directory, f"{container_id}-json.log") \
                if container.log_driver == "json-file" else ""
            top = image.top_layer
            container.storage_key = container_id
            with tracing.phase("init-layer"):
                parent = self._init_layer(container_id, top.split(":", 1)[1] if top else None)
            with tracing.phase("snapshot"):
                self.drivers.storage.prepare(key=container_id, parent=parent)
            with tracing.phase("save"):
                with self.store.lock:
                    pending = self.store.prepare(container)
                    del self._creating[name]  # the record is in the store: its name taken there
                self.store.write(pending)  # its fsync outside the lock
        except BaseException:
            with self.store.lock:
                self._creating.pop(name, None)
            self._discard(container)
            raise
        return container

    def _check_name_free(self, name: str) -> None:
        """Conflict in Docker's words when a container has ``name`` or a create under way took it (store lock held)."""
        existing = self.store.by_name(name)
        holder = existing.id if existing is not None else self._creating.get(name)
        if holder is not None:
            raise Conflict(f'Conflict. The container name "/{name}" is already in use by container '
                           f'"{holder}". You have to remove (or rename) that container to be able '
                           "to reuse that name.")

    def _init_layer(self, container_id: str, parent: str | None) -> str | None:
        """Docker's init layer (:mod:`moor.containers.initlayer`) on ``parent``; the layer the container's own
        goes on (``parent`` itself when the image lacks nothing). What the image lacks is learnt once per layer."""
        if parent not in self._init_plans:
            # the mark names the layer mounted meanwhile: an orphan sweep after a crash unmounts it
            mark = os.path.join(self.store.directory(container_id), INIT_PROBE_MARK)
            if parent:
                atomic_write_json(mark, parent)
            root = self.drivers.storage.mount(key=parent) if parent else None
            try:
                self._init_plans[parent] = initlayer.plan(root)
            finally:
                if parent:
                    self.drivers.storage.unmount(key=parent)
                    os.unlink(mark)
        planned = self._init_plans[parent]
        if planned is None:
            return parent
        self.drivers.storage.apply_layer(key=initlayer.init_key(container_id), parent=parent,
                                         diff=io.BytesIO(initlayer.layer_tar(planned)), durable=False)
        return initlayer.init_key(container_id)

    def _remove_init_layer(self, container_id: str) -> None:
        """Remove the init layer of a container whose snapshot is gone (none for containers made without)."""
        key = initlayer.init_key(container_id)
        try:
            if self.drivers.storage.exists(key=key):
                self.drivers.storage.remove(key=key)
        except MoorError:
            log.exception("could not remove the init layer of %s", container_id[:12])

    def _unused_name(self) -> str:
        for _ in range(100):
            name = random_name()
            if self.store.by_name(name) is None and name not in self._creating:
                return name
        return f"{random_name()}_{secrets.token_hex(2)}"

    def _container_config(self, body: dict[str, Any], image_config: dict[str, Any], image_name: str) -> dict[str, Any]:
        # Docker's merge: the body's Env as given, then each image variable the body does not name
        env = list(body.get("Env") or [])
        names = {item.split("=", 1)[0] for item in env}
        env += [item for item in image_config.get("Env") or [] if item.split("=", 1)[0] not in names]
        labels = {**(image_config.get("Labels") or {}), **(body.get("Labels") or {})}
        return {
            "Hostname": body.get("Hostname") or "",
            "Domainname": body.get("Domainname") or "",
            "MacAddress": body.get("MacAddress") or "",
            "User": body.get("User") or image_config.get("User") or "",
            "AttachStdin": bool(body.get("AttachStdin")),
            "AttachStdout": bool(body.get("AttachStdout")),
            "AttachStderr": bool(body.get("AttachStderr")),
            "ExposedPorts": {**(image_config.get("ExposedPorts") or {}), **(body.get("ExposedPorts") or {})} or None,
            "Tty": bool(body.get("Tty")),
            "OpenStdin": bool(body.get("OpenStdin")),
            "StdinOnce": bool(body.get("StdinOnce")),
            "Env": env,
            "Cmd": body.get("Cmd") if body.get("Cmd") else
            (None if body.get("Entrypoint") else image_config.get("Cmd")),
            "Healthcheck": _merge_healthcheck(image_config.get("Healthcheck"), body.get("Healthcheck")),
            "Image": image_name,
            "Volumes": {**(image_config.get("Volumes") or {}), **(body.get("Volumes") or {})} or None,
            "WorkingDir": body.get("WorkingDir") or image_config.get("WorkingDir") or "",
            "Entrypoint": body.get("Entrypoint") if body.get("Entrypoint") is not None
            else image_config.get("Entrypoint"),
            "OnBuild": None,
            "Labels": labels,
            "StopSignal": body.get("StopSignal") or image_config.get("StopSignal") or "",
            **({"StopTimeout": body["StopTimeout"]} if body.get("StopTimeout") is not None else {}),
        }

    def _host_config(self, host_config: dict[str, Any]) -> dict[str, Any]:
        network = host_config.get("NetworkMode") or "default"
        log_config = dict(host_config.get("LogConfig") or {})
        driver_name = log_config.get("Type") or self.drivers.defaults["log"]
        options = {str(k): str(v) for k, v in (log_config.get("Config") or {}).items()}
        driver = self.drivers.log(driver_name)
        driver.validate(options=options)
        host_config["LogConfig"] = {"Type": driver_name, "Config": options}
        host_config["NetworkMode"] = network
        host_config.setdefault("AutoRemove", False)
        host_config["RestartPolicy"] = restart_policy.validate(host_config.get("RestartPolicy"),
                                                               bool(host_config.get("AutoRemove")))
        security.validate(host_config)
        security.apply_defaults(host_config)
        self.networking.check_host_config(host_config)
        host_config.setdefault("Binds", None)
        host_config.setdefault("Privileged", False)
        host_config["Runtime"] = host_config.get("Runtime") or "runc"  # check_create refused any other
        host_config.setdefault("ShmSize", 64 * 1024 * 1024)
        if not host_config.get("ShmSize"):
            host_config["ShmSize"] = 64 * 1024 * 1024
        apply_resource_defaults(host_config)
        return host_config

    def _discard(self, container: Container) -> None:
        """Undo a create that failed half-way: nothing may be left."""
        try:
            if self.drivers.storage.exists(key=container.id):
                self.drivers.storage.remove(key=container.id)
        except MoorError:
            log.exception("could not remove the snapshot of %s", container.id)
        self._remove_init_layer(container.id)
        shutil.rmtree(self.store.directory(container.id), ignore_errors=True)
        self.store.forget(container.id)

    # ------------------------------------------------------------------ start

    def start(self, ident: str, by_policy: bool = False) -> Container:
        container = self.get(ident)
        with self.store.lock:
            if container.state.Paused:
                raise Conflict("cannot start a paused container, try unpause instead")
            if container.state.Running:
                raise NotModified("container already started")
            if not by_policy:  # as Docker's: a start by hand begins the policy afresh (its count too)
                container.manually_stopped = False
                container.restart_delay = 0.0
                container.restart_count = 0
            if container.id in self._removing:
                raise Conflict(f"removal of container {container.id} is already in progress")
            if container.id in self._starting:
                raise Conflict(f"container {container.id} is being started")
            self._starting[container.id] = threading.get_ident()
        try:
            with tracing.operation("start", container.id):
                self._start(container)
        finally:
            with self.store.lock:
                self._starting.pop(container.id, None)
            self._notify()
        return container

    def _start(self, container: Container) -> None:
        with tracing.phase("state-dir"):
            self.processes.check()
            state_dir = self.state_dir(container.id)
            shutil.rmtree(state_dir, ignore_errors=True)
            os.makedirs(state_dir, mode=0o700)
        with tracing.phase("mount"):
            rootfs = self.drivers.storage.mount(key=container.storage_key)
        monitor = None
        # its network namespace made now, its network set up while runc creates the container (None: after it)
        premade = self.networking.prepare(container)
        joining: Joining | None = None
        try:
            with tracing.phase("bundle"):
                bundle = self._write_bundle(container, rootfs, state_dir, premade.path if premade else "")
            if premade is not None:
                joining = self.networking.join_in_background(container, premade)
            with tracing.phase("monitor"):
                monitor = self.processes.launch(container, state_dir, bundle, log_driver=container.log_driver,
                                                log_recipe=self.drivers.recipe("log", container.log_driver))
            monitor.on_ready.extend(self.attaches.take(container.id))
            container.rootfs = rootfs
            if joining is None:
                with tracing.phase("network"):
                    self.networking.join(container, monitor.container_pid)
            else:
                with tracing.phase("network-wait"):
                    joining.wait()
                if premade is not None and not premade.joined_by(monitor.container_pid):
                    raise MoorError("the container is not in the network namespace made for it")
            with tracing.phase("ports"):
                self.networking.publish_ports(container, state_dir)
            with tracing.phase("run"):
                pid = monitor.start()
        except BaseException as err:
            if joining is not None:
                joining.finish()
            if monitor is not None:
                self._abort_monitor(state_dir)
            self.networking.leave(container)
            release(container, self.volumes)
            self.drivers.storage.unmount(key=container.storage_key)
            _remove_tree(state_dir)
            container.state.Error = str(err)
            container.state.ExitCode = _exit_code_for(err)
            self._save_existing(container)
            if container.host_config.get("AutoRemove") and container.id not in self._removing:
                self.remove(container.id, force=True, volumes=True)
            if type(err) is MoorError and container.state.ExitCode in (126, 127):
                raise InvalidParameter(err.message) from err  # Docker: a command that cannot run is a 400
            raise
        finally:
            if premade is not None:
                premade.close()  # the container's processes hold the namespace now
        # as Docker: FinishedAt keeps the last exit while it runs again (a wait begun before this start tells
        # this run's exit from the last one by it)
        container.state = State(Status="running", Running=True, Pid=pid, StartedAt=now_text(),
                                FinishedAt=container.state.FinishedAt)
        with tracing.phase("save"):
            self._save_existing(container)
        with tracing.phase("events"):
            self._watch(container, monitor)
            self.started.started(container)
            self.drivers.notify("started", container=self.ref(container))
            self.events.publish_container(container, "start")
            self._notify()

    def _abort_monitor(self, state_dir: str) -> None:
        """Tell a monitor whose process will not start to remove it, and wait until it has gone."""
        try:
            self.processes.request(state_dir, {"op": "abort"}, timeout=10)
        except (OSError, MoorError):
            return
        for _ in range(100):
            if not os.path.exists(os.path.join(state_dir, "control.sock")):
                return
            time.sleep(0.05)

    def _write_bundle(self, container: Container, rootfs: str, state_dir: str, netns_path: str = "") -> str:
        """The OCI bundle; ``netns_path``: the network namespace runc puts the container in (made ahead of it)."""
        host_network = container.host_config["NetworkMode"] == "host"
        joined = self.networking.joined_container(container)
        if joined is not None:  # as Docker: the hostname of the container whose network namespace it joins
            container.config["Hostname"] = joined.config["Hostname"]
            container.config["Domainname"] = joined.config.get("Domainname") or ""
        with tracing.phase("etc-files"):
            etc = write_etc_files(self.store.directory(container.id), container.config["Hostname"], host_network,
                                  self.networking.etc_hosts_extra(container),
                                  {key: list(container.host_config.get(key) or [])
                                   for key in ("Dns", "DnsSearch", "DnsOptions")},
                                  embedded_dns=self.networking.embedded_dns(container))
        if joined is not None and joined.hosts_path:  # ... and its /etc/hosts, hostname and resolv.conf
            etc = {"/etc/hostname": joined.hostname_path, "/etc/hosts": joined.hosts_path,
                   "/etc/resolv.conf": joined.resolv_conf_path}
        container.hostname_path, container.hosts_path = etc["/etc/hostname"], etc["/etc/hosts"]
        container.resolv_conf_path = etc["/etc/resolv.conf"]
        hc = container.host_config
        shared_netns = "" if joined is None else f"/proc/{joined.state.Pid}/ns/net"
        process = ProcessSpec(
            args=[container.path, *container.args],
            env=default_env(self.networking.link_env(container) + list(container.config.get("Env") or []),
                            container.tty, container.config["Hostname"]),
            cwd=container.config.get("WorkingDir") or "/",
            user=container.config.get("User") or "",
            tty=container.tty,
            stdin=bool(container.config.get("OpenStdin")),
        )
        spec = build_spec(RuntimeSpecInput(
            id=container.id, rootfs=rootfs, hostname=container.config["Hostname"],
            domainname=container.config.get("Domainname") or "", process=process,
            network_mode="host" if host_network else ("container:" if shared_netns else "none"),
            netns_path=shared_netns or netns_path,
            ipc_mode=hc.get("IpcMode") or "private", pid_mode=hc.get("PidMode") or "",
            pidns_path=self._joined_pidns(container),
            uts_mode=hc.get("UTSMode") or "", privileged=bool(hc.get("Privileged")),
            read_only=bool(hc.get("ReadonlyRootfs")), cap_add=list(hc.get("CapAdd") or []),
            cap_drop=list(hc.get("CapDrop") or []), shm_size=int(hc.get("ShmSize") or 64 * 1024 * 1024),
            etc_files={path: source for path, source in etc.items()  # a user's mount there replaces ours
                       if path not in {point["Destination"] for point in container.mounts}},
            ulimits=list(hc.get("Ulimits") or []), sysctls=dict(hc.get("Sysctls") or {}),
            cgroups_path=container_cgroups_path(container.id, str(hc.get("CgroupParent") or "")),
            masked_paths=hc.get("MaskedPaths"), readonly_paths=hc.get("ReadonlyPaths"),
            cgroupns_mode=str(hc.get("CgroupnsMode") or ""),
            oom_score_adj=int(hc.get("OomScoreAdj") or 0), labels=dict(container.config.get("Labels") or {}),
            annotations={str(k): str(v) for k, v in (hc.get("Annotations") or {}).items()},
            mounts=in_root(security.tmpfs_mounts(hc.get("Tmpfs")), rootfs)
            + oci_mounts(container, rootfs, self.volumes, self.config.data_root),
            resources=oci_resources(hc),
        ))
        spec = security.apply(spec, hc, rootfs)
        if rootfs_propagation(spec["mounts"]):
            spec["linux"]["rootfsPropagation"] = rootfs_propagation(spec["mounts"])
        domainname = container.config.get("Domainname")
        if domainname and hc.get("UTSMode") != "host":  # runc 1.1 ignores the spec's domainname: set it as Docker does
            spec["linux"].setdefault("sysctl", {})["kernel.domainname"] = domainname
        bundle = os.path.join(state_dir, "bundle")
        with tracing.phase("spec-write"):
            os.makedirs(bundle, mode=0o700, exist_ok=True)
            # a fresh state directory that no reader sees before runc: no temp file, no fsync (it is run-time state)
            with open(os.path.join(bundle, "config.json"), "w") as handle:
                json.dump(spec, handle, separators=(",", ":"))
        return bundle

    # ------------------------------------------------------------------ networks

    def connect_network(self, ident: str, network: str, settings: dict[str, Any]) -> None:
        self.networking.connect(ident, network, settings)

    def disconnect_network(self, ident: str, network: str, force: bool) -> None:
        self.networking.disconnect(ident, network, force)

    # ------------------------------------------------------------------ exits

    def _watch(self, container: Container, monitor: LaunchedMonitor | None) -> None:
        """Have the process layer tell of the container's exit (one thread waits for every container's)."""
        container_id = container.id
        self.processes.watch_exit(self.state_dir(container_id),
                                  lambda reply: self._wait_for_exit(container_id, monitor, reply))

    def _wait_for_exit(self, container_id: str, monitor: LaunchedMonitor | None,
                       reply: dict[str, Any] | None) -> None:
        """Record the container's exit; ``reply``: its monitor's answer to ``wait`` (None when it gave none)."""
        state_dir = self.state_dir(container_id)
        exit_code, finished, oom_killed = None, time.time(), False
        if reply is not None:
            exit_code, finished = reply.get("exit_code"), reply.get("finished_at") or time.time()
            oom_killed = bool(reply.get("oom_killed"))
        with tracing.operation("exit", container_id) as trace:
            if exit_code is not None:  # from the process's end to the monitor's answer here
                trace.add("monitor", max(time.time() - float(finished), 0.0))
            with trace.phase("reap"):
                if monitor is not None:
                    monitor.reap()
            if exit_code is None:
                recorded = read_json(os.path.join(state_dir, "exit.json")) or {}
                exit_code = recorded.get("exit_code", 255)
                finished = recorded.get("finished_at", finished)
                oom_killed = bool(recorded.get("oom_killed"))
            self._record_exit(container_id, int(exit_code), float(finished), oom_killed)

    def _record_exit(self, container_id: str, exit_code: int, finished: float, oom_killed: bool = False) -> None:
        with self._changed:
            container = self.store.find(container_id)
            if container is None or not container.state.Running:
                return
            self._exiting.add(container_id)
        try:
            self._record_stopped(container, exit_code, finished, oom_killed)
        finally:
            with self._changed:
                self._exiting.discard(container_id)
                self._changed.notify_all()

    def _record_stopped(self, container: Container, exit_code: int, finished: float, oom_killed: bool) -> None:
        """:meth:`_record_exit` of a container that was running: its state, resources, events, restart, removal.
        A waiter sees it stopped only once this is over (its die event out), as Docker's stop and wait."""
        container_id = container.id
        auto_remove = container.host_config.get("AutoRemove") and container_id not in self._restarting
        with tracing.phase("unmount"):
            try:
                self.drivers.storage.unmount(key=container.storage_key)
            except MoorError:
                log.exception("unmounting the root filesystem of %s failed", container_id)
        with tracing.phase("volumes"):
            release(container, self.volumes)
        with tracing.phase("network"):
            self.networking.leave(container)
        container.ports = {}
        container.state.Running = False
        container.state.Paused = False
        container.state.Status = "exited"
        container.state.Pid = 0
        container.state.ExitCode = exit_code
        container.state.OOMKilled = oom_killed
        container.state.FinishedAt = format_timestamp(finished)
        if not (auto_remove and container.id not in self._removing):
            # an --rm container's record is deleted right below: no synced write of it first (should moord die
            # in between, the record that says running makes the next start find the exit and remove it then)
            with tracing.phase("save"):
                self._save_existing(container)
        with tracing.phase("cgroups"):
            self.processes.remove_empty_cgroup_parents()
        with tracing.phase("events"):
            self.drivers.notify("stopped", container=self.ref(container))
            # a policy restart is decided (State.Restarting) before the die event, as Docker's monitor does:
            # whoever inspects on that event (compose's monitor) must see that the container comes back
            self._maybe_restart(container, finished)
            if oom_killed:
                self.events.publish_container(container, "oom")
            self.events.publish_container(container, "die", exitCode=str(exit_code))
        with self._changed:  # the exit is recorded: waiters may go on (an --rm removal below has its own)
            self._exiting.discard(container_id)
            self._changed.notify_all()
        if auto_remove and container.id not in self._removing:
            try:
                with tracing.phase("remove"):  # its own trace line tells its phases
                    self.remove(container.id, force=True, volumes=True)
            except MoorError:
                log.exception("auto-removing %s failed", container_id)

    def _maybe_restart(self, container: Container, finished: float, daemon_starting: bool = False) -> None:
        """Apply the restart policy after an exit: schedule a start after the back-off delay."""
        policy = container.host_config.get("RestartPolicy") or {}
        if not restart_policy.should_restart(policy, container.state.ExitCode, container.restart_count,
                                             container.manually_stopped, daemon_starting):
            return
        started = container.state.StartedAt
        ran_for = finished - parse_timestamp(started) if started != "0001-01-01T00:00:00Z" else 0.0
        container.restart_delay = 0.0 if daemon_starting else restart_policy.next_delay(container.restart_delay,
                                                                                        ran_for)
        with self.store.lock:
            if container.id in self._removing:
                return
            container.state.Restarting = True
            container.state.Status = "restarting"
            if daemon_starting:
                container.manually_stopped = False  # `always` forgives a manual stop when moord starts again
            self._save_existing(container)
        timer = threading.Timer(container.restart_delay, self._restart_by_policy, args=(container.id,))
        timer.daemon = True
        timer.start()

    def _restart_by_policy(self, container_id: str) -> None:
        with self.store.lock:
            container = self.store.find(container_id)
            if container is None or not container.state.Restarting or container.manually_stopped \
                    or container_id in self._removing:
                return
            container.restart_count += 1
            container.state.Restarting = False
        try:
            self.start(container_id, by_policy=True)
        except MoorError as err:
            with self.store.lock:
                if container_id in self._removing or self.store.find(container_id) is not container:
                    return  # `rm -f` won: nothing more to do or to record
                log.warning("restart policy: starting %s failed: %s", container.short_id, err)
                container.state.Status = "exited"
                self._save_existing(container)
            self._maybe_restart(container, time.time())

    def _save_existing(self, container: Container) -> None:
        """Save ``container`` unless it was removed meanwhile (a late save must not bring its record back)."""
        with self.store.lock:
            if self.store.find(container.id) is not container:
                return
            pending = self.store.prepare(container)
        self.store.write(pending)  # its fsync outside the lock (unless the caller holds it)

    def recover(self) -> None:
        """At start-up: re-adopt containers whose monitor lives, record the exits of the others; undo what
        an interrupted create, start or remove left.

        The monitors are asked how their containers are by :data:`RECOVER_WORKERS` threads at once, and a
        container is thawed only when its freezer says it is frozen (or cannot tell): no ``runc resume`` per
        container."""
        self._remove_orphans()
        containers = self.store.all()
        running = [container for container in containers if container.state.Running]
        with ThreadPoolExecutor(RECOVER_WORKERS, thread_name_prefix="recover") as pool:
            replies = dict(zip([c.id for c in running], pool.map(self._monitor_state, running)))
        for container in containers:
            if not container.state.Running:
                self._tidy_interrupted_start(container)
                continue
            state_dir = self.state_dir(container.id)
            reply = replies.get(container.id)
            if reply and reply.get("running"):
                log.info("re-adopting running container %s", container.short_id)
                if not container.state.Paused and self.processes.frozen(container.id) is not False:
                    # frozen by a commit that moord did not finish: thaw it
                    try:
                        self.processes.resume(container.id)
                        log.info("resumed %s, left paused by an interrupted commit", container.short_id)
                    except MoorError:
                        pass  # it was not paused
                self.networking.sync_dns(container, container.state.Pid)
                self._watch(container, None)
                self.started.started(container)
                continue
            recorded = read_json(os.path.join(state_dir, "exit.json")) or {}
            replied = reply.get("exit_code") if reply else None
            exit_code = replied if replied is not None else recorded.get("exit_code", 255)
            log.info("container %s exited while moord was down (exit code %s)", container.short_id, exit_code)
            self._record_exit(container.id, int(exit_code), float(recorded.get("finished_at", time.time())),
                              bool(recorded.get("oom_killed")))
        for container in self.store.all():
            if not container.state.Running and (container.state.Restarting or container.state.Status == "exited"):
                container.state.Restarting = False
                self._maybe_restart(container, time.time(), daemon_starting=True)

    def _monitor_state(self, container: Container) -> dict[str, Any] | None:
        """The reply of the container's monitor to ``state``; None when no monitor answers."""
        try:
            return self.processes.request(self.state_dir(container.id), {"op": "state"}, timeout=5)
        except (OSError, MoorError):
            return None

    def _remove_orphans(self) -> None:
        """Container directories without a record (a create or a remove that moord did not finish) go, with
        their snapshots."""
        for container_id in self.store.orphans():
            log.info("removing what an interrupted create or remove of %s left", container_id[:12])
            try:
                if self.drivers.storage.exists(key=container_id):
                    self.drivers.storage.remove(key=container_id)
            except MoorError:
                log.exception("could not remove the snapshot of %s", container_id[:12])
                continue
            self._remove_init_layer(container_id)
            probed = read_json(os.path.join(self.store.directory(container_id), INIT_PROBE_MARK))
            if isinstance(probed, str):  # moord died while it looked into this image layer
                try:
                    self.drivers.storage.unmount(key=probed)
                except MoorError:
                    log.exception("could not unmount the image layer %s", probed[:12])
            shutil.rmtree(self.store.directory(container_id), ignore_errors=True)

    def _tidy_interrupted_start(self, container: Container) -> None:
        """moord died while starting ``container``: its record never said running, yet its monitor may live
        (its process created or even started), and its endpoints, volumes and root file system may be
        mounted. Stop the process and undo the rest, as a failed start does."""
        state_dir = self.state_dir(container.id)
        try:
            reply: dict[str, Any] | None = self.processes.request(state_dir, {"op": "state"}, timeout=5)
        except (OSError, MoorError):
            reply = None
        recorded = read_json(os.path.join(state_dir, "exit.json"))
        exit_recorded = isinstance(recorded, dict) and container.state.FinishedAt == format_timestamp(
            float(recorded.get("finished_at") or 0))
        if (not (reply or {}).get("running") and (not os.path.isdir(state_dir) or exit_recorded)
                and (reply is None or reply.get("exit_code") is not None)):
            return  # never started, or exited and recorded
        log.info("container %s: undoing a start that moord did not finish", container.short_id)
        if reply is not None and reply.get("running"):
            try:
                self.processes.kill(container.id, "KILL")
            except MoorError:
                pass
            try:
                self.processes.request(state_dir, {"op": "wait"}, timeout=30)
            except (OSError, MoorError):
                pass
        if reply is not None:
            self._abort_monitor(state_dir)
        self.networking.leave(container)
        release(container, self.volumes)
        try:
            self.drivers.storage.unmount(key=container.storage_key)
        except MoorError:
            log.exception("unmounting the root filesystem of %s failed", container.short_id)
        _remove_tree(state_dir)
        self.store.save(container)

    # ------------------------------------------------------------------ stop / kill / wait

    def kill(self, ident: str, signal: str = "KILL") -> Container:
        container = self.get(ident)
        name = _signal_name(signal)  # a bad signal is a 400 whatever the state, as in Docker
        if not container.state.Running:
            raise Conflict(f"Cannot kill container: {ident}: Container {container.id} is not running")
        stop_signal = _signal_name(container.config.get("StopSignal") or "TERM")
        if name in ("KILL", "TERM", "INT", "QUIT", stop_signal):  # fatal: the restart policy stands down
            container.manually_stopped = True
            self.store.save(container)
        self.processes.kill(container.id, name)
        if name in ("KILL", stop_signal):
            self._resume_if_paused(container)
        self.events.publish_container(container, "kill", signal=str(int(getattr(signals, "SIG" + name))))
        if name == "KILL":  # as Docker: a SIGKILL returns once the container has stopped (its 137 recorded)
            self.wait_until_stopped(container.id, KILL_WAIT_TIMEOUT)
        return container

    def stop(self, ident: str, timeout: int | None = None, signal: str = "") -> Container:
        """Stop with ``signal`` (else the container's StopSignal, else TERM), then KILL after ``timeout``."""
        container = self.get(ident)
        if container.state.Restarting:  # stopping a container waiting for its restart
            container.manually_stopped = True
            container.state.Restarting = False
            container.state.Status = "exited"
            self.store.save(container)
            return container
        if not container.state.Running:
            raise NotModified("container already stopped")
        stop_signal = _signal_name(signal or container.config.get("StopSignal") or "TERM")
        container.manually_stopped = True
        self.store.save(container)
        if timeout is None:
            timeout = container.config.get("StopTimeout")
            timeout = DEFAULT_STOP_TIMEOUT if timeout is None else int(timeout)
        try:
            self.processes.kill(container.id, stop_signal)
            self.events.publish_container(container, "kill", signal=str(int(getattr(signals, "SIG" + stop_signal))))
        except Conflict:
            pass
        self._resume_if_paused(container)
        if timeout < 0 or not self.wait_until_stopped(container.id, timeout):
            try:
                self.processes.kill(container.id, "KILL", all_processes=False)
                self.events.publish_container(container, "kill", signal="9")  # as Docker's stop, each signal
            except Conflict:
                pass
            self.wait_until_stopped(container.id, 30)
        self.events.publish_container(container, "stop")
        return container

    def _resume_if_paused(self, container: Container) -> None:
        """A frozen container gets its signal once thawed: resume it after signalling, as Docker does."""
        if not container.state.Paused:
            return
        try:
            self.processes.resume(container.id)
        except MoorError as err:
            log.warning("cannot unpause %s: %s", container.short_id, err)
            return
        container.state.Paused = False
        container.state.Status = "running"
        self.store.save(container)

    def wait_until_stopped(self, container_id: str, timeout: float | None) -> bool:
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        with self._changed:
            while True:
                container = self.store.find(container_id)
                if container is None or not (container.state.Running or container_id in self._exiting):
                    return True
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._changed.wait(remaining if remaining is not None else 1.0)

    def wait(self, ident: str, condition: str = "not-running") -> int:
        """Block until the condition holds; return the exit code (Docker's ``/wait``)."""
        for outcome in self.wait_ticking(ident, condition):
            if outcome is not None:
                return outcome
        raise AssertionError("wait_ticking ended without an exit code")  # never: its last item is the code

    def wait_ticking(self, ident: str, condition: str = "not-running") -> Iterator[int | None]:
        """:meth:`wait` as a stream: ``None`` about once a second while the condition does not hold, then the
        exit code. The ticks let the API notice a client that went away while the container runs on."""
        container = self.get(ident)
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidParameter(f"invalid condition: {condition!r}")
        finished_before = container.state.FinishedAt
        last = container

        def outcome() -> int | None:
            nonlocal last
            current = self.store.find(container.id)
            if current is None:  # "removed": once the whole removal is over (its volumes too), as Docker's
                removing = condition == "removed" and container.id in self._removing
                return None if removing else last.state.ExitCode
            last = current
            recording = current.id in self._exiting  # its exit, until its die event is out
            stopped = not current.state.Running and current.id not in self._starting and not recording
            # an exit since the wait began ends it even if a restart came at once (Docker's stop waiters are told
            # at each exit: docker-compose 1.29's logs -f waits so for a container being restarted)
            exited = current.state.FinishedAt != finished_before and not recording
            if condition == "not-running" and (stopped or exited):
                return current.state.ExitCode
            if condition == "next-exit" and exited:
                return current.state.ExitCode
            return None

        return self._ticking(outcome)

    def _ticking(self, outcome: Callable[[], int | None]) -> Iterator[int | None]:
        """``outcome()`` until it is not None, checked at each change of a container and at least each second;
        the first ``None`` comes at once (an HTTP answer's headers go out as Docker's do)."""
        first = True
        while True:
            with self._changed:
                code = outcome()
                if code is None and not first:
                    self._changed.wait(1.0)
                    code = outcome()
            first = False
            yield code
            if code is not None:
                return

    def restart(self, ident: str, timeout: int | None = None, signal: str = "") -> Container:
        container = self.get(ident)
        if container.state.Running:
            with self.store.lock:
                self._restarting.add(container.id)
            try:
                self.stop(container.id, timeout, signal)
            finally:
                with self.store.lock:
                    self._restarting.discard(container.id)
        self.start(container.id)
        self.events.publish_container(container, "restart")
        return container

    # ------------------------------------------------------------------ remove / rename

    def remove(self, ident: str, force: bool = False, volumes: bool = False) -> None:
        """Remove a container; with ``force`` a running, restarting or starting one is killed first.

        Removal wins over the restart policy: once it begins no start may begin, a start under way
        is waited for (then killed), and no later exit or restart brings the record back.
        """
        container = self.get(ident)
        with self.store.lock:
            if container.id in self._removing:
                raise Conflict(f"removal of container {container.id} is already in progress")
            if container.state.Restarting and not force:
                raise Conflict(f"You cannot remove a restarting container {container.id}. Stop the container "
                               "before attempting removal or force remove")
            if container.state.Paused and not force:
                raise Conflict(f"You cannot remove a paused container {container.id}. Unpause and then stop the "
                               "container before attempting removal or force remove")
            if (container.state.Running or container.id in self._starting) and not force:
                raise Conflict(f"You cannot remove a running container {container.id}. Stop the container before "
                               "attempting removal or force remove")
            self._removing.add(container.id)
            container.manually_stopped = True  # no restart policy applies from now on
            container.state.Restarting = False
        try:
            with tracing.operation("remove", container.id) as trace:
                with trace.phase("stop"):
                    self._stop_for_removal(container)
                self._delete(container, volumes)
        finally:
            with self.store.lock:
                self._removing.discard(container.id)
            self._notify()  # the waiters for "removed"

    def _stop_for_removal(self, container: Container) -> None:
        """Let a start under way end, then kill the container and wait for its exit to be recorded."""
        with self._changed:
            while self._starting.get(container.id) not in (None, threading.get_ident()):
                self._changed.wait(1.0)
        if container.state.Running:
            try:
                self.processes.kill(container.id, "KILL")
                self.events.publish_container(container, "kill", signal="9")  # as Docker's rm -f
            except Conflict:
                pass
            self._resume_if_paused(container)
            self.wait_until_stopped(container.id, 30)

    def _delete(self, container: Container, volumes: bool) -> None:
        with self.store.lock:
            if self.store.find(container.id) is not container:
                return  # removed meanwhile (auto-remove)
            self.store.delete(container.id)
        with tracing.phase("snapshot"):
            try:
                self.drivers.storage.remove(key=container.storage_key)
            except MoorError:
                log.exception("could not remove the snapshot of %s", container.id)
        with tracing.phase("init-layer"):
            self._remove_init_layer(container.id)
        with tracing.phase("log"):
            if container.log_driver:
                driver = self.drivers.log(container.log_driver)
                if driver.implements("remove"):
                    driver.remove(container=self.ref(container))
        with tracing.phase("dirs"):
            shutil.rmtree(self.store.directory(container.id), ignore_errors=True)
            _remove_tree(self.state_dir(container.id))
        self.networking.forget(container.id)
        with tracing.phase("volumes"):
            if volumes:
                discard_anonymous(container.mounts, self.volumes)
        with tracing.phase("events"):
            self.drivers.notify("removed", container=self.ref(container))
            self.events.publish_container(container, "destroy")
            self._notify()

    def rename(self, ident: str, new_name: str) -> None:
        container = self.get(ident)
        if not new_name:
            raise InvalidParameter("Neither old nor new names may be empty")
        try:
            new_name = check_name(new_name)
        except InvalidParameter:  # Docker's words, which show the name with its slash
            raise InvalidParameter(f"Error when allocating new name: Invalid container name (/{new_name.lstrip('/')}), "
                                   "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed") from None
        with self.store.lock:
            if container.name == new_name:
                raise Conflict("Renaming a container with the same name as its current name")
            self._check_name_free(new_name)
            old = container.name
            container.name = new_name
            self.store.save(container)
        self.networking.rename(container.id, new_name)
        self.events.publish_container(container, "rename", oldName="/" + old)

    def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        deleted, reclaimed = [], 0
        for container in self.store.all():
            if container.state.Running:
                continue
            if not labels_match(container.config.get("Labels") or {}, filters):
                continue
            if any(_created(container) >= parse_timestamp(u) for u in filters.get("until", [])):
                continue
            reclaimed += self.size_rw(container)
            self.remove(container.id)
            deleted.append(container.id)
        self.events.publish("container", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def remove_link(self, name: str) -> None:
        """``DELETE /containers/<parent>/<alias>?link=1``: the container ``parent`` no longer links under ``alias``.

        As Docker, ``name`` must name a link (404 otherwise); a container's own name is refused (409)."""
        parent_name, _, alias = name.strip("/").rpartition("/")
        if not parent_name:
            self.get(alias)
            raise Conflict("Conflict, cannot remove the default link name of the container")
        parent = self.store.find(parent_name)
        links = list(parent.host_config.get("Links") or []) if parent is not None else []
        kept = [link for link in links if parse_link(link)[1] != alias]
        if parent is None or len(kept) == len(links):
            raise NotFound(f"No such container: {name.strip('/')}")
        parent.host_config["Links"] = kept or None
        self.store.save(parent)
        if parent.state.Running:  # its /etc/hosts loses the alias, as Docker's
            self.networking.refresh_hosts(parent)

    def link_names(self, container: Container) -> list[str]:
        """The names other containers' ``--link``s give this one (``/<linking container>/<alias>``, as Docker)."""
        return self.link_index().get(container.name, [])

    def link_index(self) -> dict[str, list[str]]:
        """Container name -> the names other containers' ``--link``s give it: one pass over the records, so a
        list of every container costs that pass once, not once per row."""
        index: dict[str, list[str]] = {}
        for other in self.store.all():
            for child, alias in map(parse_link, other.host_config.get("Links") or []):
                index.setdefault(child, []).append(f"/{other.name}/{alias}")
        return index

    def size_rw(self, container: Container) -> int:
        try:
            return int(self.drivers.storage.usage(key=container.storage_key))
        except MoorError:
            return 0


def _created(container: Container) -> float:
    return parse_timestamp(container.created)


def create_warnings(container: Container) -> list[str]:
    """The warnings of ``POST /containers/create`` for the container just made (Docker's words)."""
    warnings = []
    if container.host_config.get("NetworkMode") == "host" and container.host_config.get("PortBindings"):
        warnings.append("Published ports are discarded when using host network mode")
    return warnings


def _remove_tree(path: str, attempts: int = 40) -> None:
    """Remove a state directory a monitor may still be finishing in (runc writes its log there)."""
    for _ in range(attempts):
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.exists(path):
            return
        time.sleep(0.05)
    log.warning("could not remove %s", path)


def _merge_healthcheck(image: dict[str, Any] | None, given: dict[str, Any] | None) -> dict[str, Any] | None:
    """Docker's merge: the run's fields win, the image fills in those left zero."""
    if not given:
        return image
    merged = dict(image or {})
    for key, value in given.items():
        if value:
            merged[key] = value
    return merged or None


def _signal_name(signal: str | int) -> str:
    """``SIGTERM``, ``TERM``, ``15`` -> ``TERM``; InvalidParameter for anything else."""
    text = str(signal).strip().upper()
    if text.isdigit():
        try:
            return signals.Signals(int(text)).name[3:]
        except ValueError:
            raise InvalidParameter(f"Invalid signal: {signal}") from None
    name = text[3:] if text.startswith("SIG") else text
    if not hasattr(signals, "SIG" + name) or name.startswith("_"):
        raise InvalidParameter(f"Invalid signal: {signal}")
    return name


def _exit_code_for(error: BaseException) -> int:
    text = str(error)
    if "executable file not found" in text or "no such file or directory" in text:
        return 127
    if "permission denied" in text:
        return 126
    return 128
