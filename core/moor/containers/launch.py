"""Starting a container's monitor process and handing it the go signal.

The monitor runs in a session of its own so that it outlives moord. It
reports readiness (or runc's error) as one JSON line on fd 3; moord then
connects any waiting attach streams and sends ``start``.
"""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from moor import tracing
from moor.containers.runtime import Runtime
from moor.driverbuild import DriverRecipe
from moor.errors import MoorError
from moor.logdrivers.attrs import extra_attributes
from moor.monitor.client import request
from moor.units import parse_size

log = logging.getLogger(__name__)

READY_TIMEOUT = 30.0

#: The compiled monitor (core/moor/monitor/shim/, built by ``make install``): the common case, at a fraction of
#: the Python monitor's memory. Missing, it is simply not used.
SHIM_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "monitor", "shim",
                         "moor-shim")
#: moord's environment may force the Python monitor (``MOOR_MONITOR=python``: benchmarks, comparisons)
MONITOR_ENV = "MOOR_MONITOR"
#: moord's environment may let runc see every container's root (``MOOR_HIDE_ROOTS=0``: benchmarks, comparisons)
HIDE_ROOTS_ENV = "MOOR_HIDE_ROOTS"
#: where moor-shim finds the namespace lent for ``runc create`` (:mod:`moor.containers.runcnamespace`)
RUNC_NAMESPACE_FD = 4
#: the log drivers moor-shim writes itself (their factories, as the drivers' entry points name them)
SHIM_LOG_FACTORIES = {"json-file": "moor.logdrivers.jsonfile:JsonFileLogDriver",
                      "none": "moor.logdrivers.none:NoneLogDriver"}


@dataclass
class Monitor:
    """A monitor that is ready: its container process exists but has not started."""

    pid: int
    state_dir: str
    own_child: bool = True  # started by moord itself (not forked by the zygote): moord reaps it
    on_ready: list[Callable[[], None]] = field(default_factory=list)
    container_pid: int = 0  # the created (not yet started) container process, from the readiness report

    def start(self) -> int:
        """Run the hooks waiting for readiness (attach relays), then start the process; return its pid."""
        with tracing.phase("attach"):
            for hook in self.on_ready:
                hook()
        with tracing.phase("runc-start"):
            reply = request(self.state_dir, {"op": "start"}, timeout=READY_TIMEOUT)
        if not reply.get("ok"):
            raise MoorError(_runtime_error(reply.get("error", "unknown error")))
        return int(reply.get("pid") or 0)

    def reap(self) -> None:
        """Collect the monitor's exit status when it is moord's own child (the zygote reaps its own)."""
        if not self.own_child:
            return
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


class MonitoredProcess(Protocol):
    """What :func:`monitor_command` reads of a container: a :class:`~moor.containers.record.Container`, or an
    exec's view of one."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def tty(self) -> bool: ...

    @property
    def config(self) -> Mapping[str, Any]: ...

    @property
    def log_options(self) -> Mapping[str, str]: ...

    @property
    def log_path(self) -> str: ...


def root_hiding(bundle: str, hide_roots: str, exec_process: str = "") -> list[str]:
    """The monitor's ``--hide-roots DIR [--rootfs PATH]``: its runc commands then run in a mount namespace
    without the other containers' roots (:mod:`moor.monitor.mountns`), ``hide_roots`` being the mount that holds
    them all (:mod:`moor.daemon.storagemounts`). ``runc exec`` and ``runc delete`` need none of them;
    ``runc create`` keeps the container's own (``--rootfs``, from the bundle), and sees every root as before
    when a bind of the container reaches into the storage root or holds it (``-v /:/host``): what such a
    container sees of the other roots stays as it was. Nothing when there is no such mount, or when moord's
    environment says ``MOOR_HIDE_ROOTS=0``."""
    if not hide_roots or os.environ.get(HIDE_ROOTS_ENV) == "0":
        return []
    if exec_process:
        return ["--hide-roots", hide_roots]
    with open(os.path.join(bundle, "config.json"), "rb") as handle:
        spec = json.load(handle)
    storage = os.path.dirname(hide_roots)
    for mount in spec.get("mounts") or []:
        if mount.get("type") != "bind" and not {"bind", "rbind"} & set(mount.get("options") or []):
            continue
        source = os.path.normpath(str(mount.get("source") or "/"))
        if source == storage or source.startswith(storage + "/") or storage.startswith(source.rstrip("/") + "/"):
            return ["--hide-roots", hide_roots]
    return ["--hide-roots", hide_roots, "--rootfs", str((spec.get("root") or {}).get("path") or "")]


def monitor_command(container: MonitoredProcess, state_dir: str, bundle: str, runtime: Runtime, log_driver: str,
                    exec_process: str = "", log_recipe: DriverRecipe | None = None, hide_roots: str = "") -> list[str]:
    """The Python monitor's command line (``hide_roots``: see :func:`root_hiding`)."""
    command = [sys.executable, "-m", "moor.monitor", "--id", container.id, "--state-dir", state_dir,
               "--bundle", bundle, "--runtime", runtime.path, "--runtime-root", runtime.root]
    tty = container.tty
    stdin = bool(container.config.get("OpenStdin"))
    stdin_once = bool(container.config.get("StdinOnce"))
    if exec_process:
        command += ["--exec", exec_process]
    command += root_hiding(bundle, hide_roots, exec_process)
    if tty:
        command.append("--tty")
    if stdin:
        command.append("--stdin")
    if stdin_once:
        command.append("--stdin-once")
    if log_driver and not exec_process:
        if log_recipe is not None:  # the monitor builds the driver as moord did (moor.driverbuild)
            command += ["--log-driver-recipe", log_recipe.to_json()]
        command += ["--log-driver", log_driver,
                    "--log-opts", json.dumps(container.log_options), "--log-path", container.log_path,
                    "--name", container.name]
        attributes = extra_attributes(dict(container.log_options), dict(container.config.get("Labels") or {}),
                                      list(container.config.get("Env") or []))
        if attributes:  # only what the labels/env log options pick
            command += ["--log-attrs", json.dumps(attributes)]
    return command


def select_monitor_command(container: MonitoredProcess, state_dir: str, bundle: str, runtime: Runtime, log_driver: str,
                           exec_process: str = "", log_recipe: DriverRecipe | None = None,
                           hide_roots: str = "") -> list[str]:
    """The monitor of this process, chosen in this one place: moor-shim when it is built and covers what the
    process needs (no log, or the core json-file driver without ``compress``, or ``none``), the Python monitor
    (:func:`monitor_command`) for everything else. ``hide_roots``: the mount holding every container's root,
    which a container's ``runc create`` does not see (:func:`root_hiding`); empty: it sees them all."""
    shim = shim_command(container, state_dir, bundle, runtime, log_driver, exec_process, log_recipe, hide_roots)
    if shim is not None:
        return shim
    return monitor_command(container, state_dir, bundle, runtime, log_driver, exec_process=exec_process,
                           log_recipe=log_recipe, hide_roots=hide_roots)


def shim_command(container: MonitoredProcess, state_dir: str, bundle: str, runtime: Runtime, log_driver: str,
                 exec_process: str = "", log_recipe: DriverRecipe | None = None,
                 hide_roots: str = "") -> list[str] | None:
    """moor-shim's command line for this process, or None when the Python monitor must run it."""
    if os.environ.get(MONITOR_ENV) == "python" or not os.access(SHIM_PATH, os.X_OK):
        return None
    command = [SHIM_PATH, "--id", container.id, "--state-dir", state_dir, "--bundle", bundle,
               "--runtime", runtime.path, "--runtime-root", runtime.root]
    if exec_process:
        command += ["--exec", exec_process]
    command += root_hiding(bundle, hide_roots, exec_process)
    for flag, wanted in (("--tty", container.tty), ("--stdin", bool(container.config.get("OpenStdin"))),
                         ("--stdin-once", bool(container.config.get("StdinOnce")))):
        if wanted:
            command.append(flag)
    if not log_driver or exec_process:
        return command
    if log_recipe is None or SHIM_LOG_FACTORIES.get(log_driver) != log_recipe.factory:
        return None  # a plugin's driver, or one registered under another name: the Python monitor builds it
    if log_driver == "none":
        return command
    options = {str(k): str(v) for k, v in {**log_recipe.context.options, **container.log_options}.items()}
    if options.get("compress", "false").lower() in ("true", "1", "t"):
        return None
    size = options.get("max-size", "-1")
    attributes = extra_attributes(options, dict(container.config.get("Labels") or {}),
                                  list(container.config.get("Env") or []))
    command += ["--log-path", container.log_path,
                "--log-max-size", str(parse_size(size, "max-size") if size != "-1" else -1),
                "--log-max-file", str(int(options.get("max-file", "1")))]
    if attributes:  # the very text json-file writes in each record (keys sorted)
        command += ["--log-attrs", json.dumps(dict(sorted(attributes.items())), ensure_ascii=False)]
    return command


class Zygote:
    """moord's end of :mod:`moor.monitor.zygote`: fork a warm monitor instead of starting Python."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channel: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def _ensure(self) -> socket.socket:
        if self._channel is not None and self._process is not None and self._process.poll() is None:
            return self._channel
        self.close()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._process = subprocess.Popen([sys.executable, "-m", "moor.monitor.zygote", str(theirs.fileno())],
                                         pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        theirs.close()
        self._channel = ours
        return ours

    def fork(self, arguments: list[str], sync_fd: int, runc_namespace: int | None = None) -> int:
        """Fork a monitor running ``arguments``; return its pid. ``runc_namespace``: the monitor's fd 4."""
        fds = [sync_fd] if runc_namespace is None else [sync_fd, runc_namespace]
        with self._lock:
            channel = self._ensure()
            socket.send_fds(channel, [json.dumps(arguments).encode()], fds)
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = channel.recv(4096)
                if not chunk:
                    self.close()
                    raise OSError("the monitor zygote went away")
                reply += chunk
        answer = json.loads(reply)
        if "pid" not in answer:
            raise OSError(answer.get("error", "the monitor zygote refused"))
        return int(answer["pid"])

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._process is not None:
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


ZYGOTE = Zygote()


def takes_runc_namespace(command: list[str]) -> bool:
    """Whether the monitor ``command`` can run ``runc create`` in a lent namespace (:func:`spawn`): one creating
    a container whose own root it keeps (``--rootfs``, :func:`root_hiding`)."""
    return "--rootfs" in command


def _posix_spawn(command: list[str], write_end: int, runc_namespace: int | None = None) -> int:
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
                   (os.POSIX_SPAWN_DUP2, devnull, 2), (os.POSIX_SPAWN_DUP2, write_end, 3)]
        if runc_namespace is not None:
            actions.append((os.POSIX_SPAWN_DUP2, runc_namespace, RUNC_NAMESPACE_FD))
        return os.posix_spawn(command[0], command, os.environ, file_actions=actions, setsid=True)
    finally:
        os.close(devnull)


def spawn(command: list[str], state_dir: str, runc_namespace: int | None = None) -> Monitor:
    """Start the monitor in its own session with a sync pipe on fd 3; wait for its readiness line.

    moor-shim is started directly (it is small and starts at once); the zygote forks the Python monitor when it
    can (fast), a fresh interpreter starts it otherwise. ``runc_namespace``: a descriptor of the mount namespace
    the monitor runs ``runc create`` in (:func:`takes_runc_namespace`), passed on as its fd 4.
    """
    if runc_namespace is not None:
        command = [*command, "--runc-mount-ns", str(RUNC_NAMESPACE_FD)]
    read_end, write_end = os.pipe()
    forked = False
    try:
        with tracing.phase("fork"):
            if command[0] == SHIM_PATH:  # it forks again at once and leaves: moord reaps it below
                pid, forked = _posix_spawn(command, write_end, runc_namespace), True
            else:
                try:
                    pid = ZYGOTE.fork(command[3:], write_end, runc_namespace)
                    forked = True
                except OSError as err:
                    log.warning("monitor zygote unavailable (%s): starting the monitor directly", err)
                    pid = _posix_spawn(command, write_end, runc_namespace)
    finally:
        os.close(write_end)
    monitor = Monitor(pid=pid, state_dir=state_dir, own_child=not forked)
    try:
        with tracing.phase("ready"):  # the monitor's set-up and `runc create`
            line = _read_line(read_end, READY_TIMEOUT)
    finally:
        os.close(read_end)
        if command[0] == SHIM_PATH and forked:
            _reap_now(pid)
    reply: dict[str, Any]
    try:
        reply = json.loads(line) if line else {"ok": False, "error": "the monitor exited without a word"}
    except ValueError:
        reply = {"ok": False, "error": f"the monitor said: {line!r}"}
    if not reply.get("ok"):
        threading.Thread(target=monitor.reap, daemon=True).start()
        raise MoorError(_runtime_error(reply.get("error", "unknown error")))
    monitor.container_pid = int(reply.get("pid") or 0)
    if reply.get("runc_create"):  # the part of "ready" that runc took (a monitor may not tell)
        tracing.add("runc-create", float(reply["runc_create"]))
    if reply.get("runc_create_cpu"):  # and its CPU time: what the load does not change
        tracing.add("runc-create-cpu", float(reply["runc_create_cpu"]))
    return monitor


def _reap_now(pid: int) -> None:
    """Collect moor-shim's first process, which left as soon as it had forked the monitor proper."""
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _read_line(fd: int, timeout: float) -> str:
    data = b""
    poller = select.poll()  # not select(): with many containers moord's descriptors pass FD_SETSIZE (1024)
    poller.register(fd, select.POLLIN)
    while not data.endswith(b"\n"):
        if not poller.poll(timeout * 1000):
            raise MoorError("the container monitor did not report within 30 s")
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


def _runtime_error(message: str) -> str:
    """Docker's wording for runc failures, with a hint where this machine is the cause."""
    if "setting rlimit" in message and "operation not permitted" in message:
        message += (" (raising a hard limit needs CAP_SYS_RESOURCE, which moord lacks on this machine: "
                    "ask for at most the current hard limit)")
    return f"failed to create shim task: OCI runtime create failed: {message}: unknown"
