"""A container's streams: attach (relayed to its monitor), logs (from its log driver), and exec.

Without a TTY, output travels in Docker's multiplexed frames: an 8-byte
header (stream type 1 stdout / 2 stderr, three zero bytes, big-endian
length) before each chunk; the monitor frames, moord relays bytes untouched.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import select
import shutil
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from moor.containers.spec import available_capabilities, default_env
from moor.containers.users import resolve_user
from moor.detachkeys import DetachMatcher, parse_detach_keys
from moor.errors import Conflict, InvalidParameter, MoorError, NotFound
from moor.framing import STDERR, read_frames
from moor.fsutil import read_json
from moor.logdrivers.attrs import details_prefix
from moor.monitor.client import open_stream
from moor.services.exec_registry import ExecRegistry
from moor.timefmt import log_timestamp
from moor.types import LogMessage

if TYPE_CHECKING:
    from moor.containers.processes import ContainerProcesses, LaunchedMonitor
    from moor.containers.record import Container
    from moor.services.containers import ContainerService
    from moor.services.events import EventBus
    from moor.services.start_hooks import PendingAttaches

log = logging.getLogger(__name__)


def frame(stream: str, data: bytes) -> bytes:
    return struct.pack(">BxxxL", 2 if stream == "stderr" else 1, len(data)) + data


class Deframer:
    """The stdout payloads of a multiplexed stream (8-byte headers), fed in chunks as they come: as Docker's
    exec start with a TTY for a process without one, stderr is dropped."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, data: bytes) -> bytes:
        self.pending += data
        out = bytearray()
        while len(self.pending) >= 8:
            length = struct.unpack(">L", self.pending[4:8])[0]
            if len(self.pending) < 8 + length:
                break
            if self.pending[0] == 1:
                out += self.pending[8:8 + length]
            self.pending = self.pending[8 + length:]
        return bytes(out)


def stream_converter(pty: bool, raw: bool) -> Callable[[bytes], bytes] | None:
    """How an exec's output becomes what its client reads: a terminal's output framed as stdout when the
    start asked for no TTY, a multiplexed stream unframed when it asked for one (as Docker: the process's
    terminal is the exec's create ``Tty``, the stream's shape the start's)."""
    if pty and not raw:
        return lambda data: frame("stdout", data)
    if raw and not pty:
        return Deframer().feed
    return None


def relay(client: socket.socket, client_in: IO[bytes], upstream: socket.socket, stdin: bool,
          detach_keys: bytes | None, before_close: Callable[[], object] | None = None,
          convert: Callable[[bytes], bytes] | None = None) -> None:
    """Copy upstream -> client until upstream ends (each chunk through ``convert``); client -> upstream (stdin)
    meanwhile.

    ``before_close`` runs after the output ended and before the client sees EOF
    (exec waits there for its exit code to be recorded). A client that hangs up ends the relay even
    while the container is silent (its end of stdin alone, as the docker CLI sends at once, does not).
    """
    matcher = DetachMatcher(detach_keys) if detach_keys else None
    finished = threading.Event()

    def pump_stdin() -> bool:
        """Copy stdin until its end; False when the client detached (the relay is over)."""
        try:
            while True:
                data = client_in.read1(65536) if hasattr(client_in, "read1") else client_in.read(65536)
                if not data:
                    upstream.shutdown(socket.SHUT_WR)
                    return True
                if matcher is not None:
                    data, detach = matcher.feed(data)
                    if detach:
                        upstream.sendall(data)
                        upstream.shutdown(socket.SHUT_RDWR)
                        return False
                if data:
                    upstream.sendall(data)
        except OSError:
            return True

    def from_client() -> None:
        if stdin and not pump_stdin():
            return
        _end_when_gone(client, upstream, finished)

    threading.Thread(target=from_client, daemon=True).start()
    try:
        while True:
            data = upstream.recv(65536)
            if not data:
                break
            if convert is not None:
                data = convert(data)
            if data:
                client.sendall(data)
    except OSError:
        pass
    finally:
        finished.set()
        upstream.close()
        if before_close is not None:
            before_close()
        try:
            client.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _end_when_gone(client: socket.socket, upstream: socket.socket, finished: threading.Event) -> None:
    """Until ``finished``: when the client hangs up, shut ``upstream`` so that the relay reading it ends."""
    poller = select.poll()
    try:
        poller.register(client, 0)  # hang-ups and errors are always reported; no data wakes it
    except (OSError, ValueError):  # the relay ended and the connection is closed already
        return
    while not finished.is_set():
        try:
            events = poller.poll(1000)
        except OSError:
            return
        if any(mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, mask in events):
            try:
                upstream.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return


def exec_words(command: list[str]) -> str:
    """An exec's command as Docker's exec events name it: the program, a space, its arguments (``true `` alone)."""
    return f"{command[0]} {' '.join(command[1:])}" if command else ""


@dataclass
class ExecRecord:
    """An exec instance, as ``/exec/{id}/json`` reports it."""

    id: str
    container_id: str
    config: dict[str, Any]
    running: bool = False
    exit_code: int | None = None
    pid: int = 0
    done: threading.Event = field(default_factory=threading.Event)
    finished_at: float | None = None
    run: str = ""  #: the container's StartedAt when the exec was made (its execs end with that run)


class ContainerIO:
    """Attach, logs and exec on top of the container service.

    An attach to a container that does not run yet leaves a hook in ``attaches``, the registry the
    engine shares with the container service, which runs it when the container's monitor is ready.
    Exec monitors are launched, and monitors asked, through ``processes``, the container service's.
    """

    def __init__(self, containers: ContainerService, events: EventBus, processes: ContainerProcesses,
                 attaches: PendingAttaches) -> None:
        self.containers = containers
        self.events = events
        self.processes = processes
        self.attaches = attaches
        self.execs: ExecRegistry[ExecRecord] = ExecRegistry(self._container_exists)

    # ------------------------------------------------------------------ attach

    def attach(self, container: Container, sock: socket.socket, client_in: IO[bytes], options: dict[str, Any]) -> None:
        wanted = {"op": "attach", "stdin": bool(options.get("stdin")), "stdout": bool(options.get("stdout")),
                  "stderr": bool(options.get("stderr"))}
        if options.get("logs"):
            for chunk in self.log_chunks(container, {"stdout": options.get("stdout"), "stderr": options.get("stderr"),
                                                     "follow": False, "tail": -1}):
                sock.sendall(chunk)
        if not options.get("stream", True):
            return
        state_dir = self.containers.state_dir(container.id)
        if container.state.Running:
            upstream = open_stream(state_dir, wanted)
        else:
            ready = threading.Event()
            holder: list[socket.socket | BaseException] = []

            def connect() -> None:
                try:
                    holder.append(open_stream(state_dir, wanted))
                except BaseException as err:  # noqa: BLE001 - reported to the attaching client below
                    holder.append(err)
                ready.set()

            self.attaches.add(container.id, connect)
            while not ready.wait(0.5):
                if self.containers.store.find(container.id) is None:
                    return
            if isinstance(holder[0], BaseException):
                raise holder[0]
            upstream = holder[0]
        self.events.publish_container(container, "attach")
        keys = parse_detach_keys(options.get("detachKeys", "")) if options.get("stdin") and container.tty else None
        relay(sock, client_in, upstream, bool(options.get("stdin")), keys)

    def resize(self, container: Container, height: int, width: int) -> None:
        if not container.state.Running:
            raise Conflict(f"Container {container.id} is not running")
        self.processes.request(self.containers.state_dir(container.id),
                               {"op": "resize", "height": height, "width": width})
        self.events.publish_container(container, "resize", height=str(height), width=str(width))

    def output(self, container: Container) -> ContainerOutput:
        """Before ``container`` starts: its standard output and error from their first byte (what the builder
        shows of a RUN). Iterate :meth:`ContainerOutput.chunks` after the start; close it in any case."""
        attachment = ContainerOutput()
        state_dir = self.containers.state_dir(container.id)
        self.attaches.add(container.id, lambda: attachment.connect(state_dir))
        return attachment

    # ------------------------------------------------------------------ logs

    def log_chunks(self, container: Container, options: dict[str, Any]) -> Iterator[bytes]:
        driver = self.containers.drivers.log(container.log_driver)
        if not driver.implements("read"):
            raise MoorError("configured logging driver does not support reading")
        want = {s for s in ("stdout", "stderr") if options.get(s)}
        timestamps, details = bool(options.get("timestamps")), bool(options.get("details"))
        messages = driver.read(container=self.containers.ref(container), since=float(options.get("since") or 0),
                               until=float(options.get("until") or 0), tail=int(options.get("tail", -1)),
                               follow=bool(options.get("follow")) and container.state.Running)
        return self._format(messages, want, timestamps, container.tty, details)

    @staticmethod
    def _format(messages: Iterator[LogMessage | None], want: set[str], timestamps: bool,
                tty: bool, details: bool = False) -> Iterator[bytes]:
        """Docker's framing of each message; a driver's ``None`` tick (a quiet second) as ``b""``, which
        sends nothing and lets the server see whether the client left. ``details``: the message's
        attributes before it (after the time stamp), as Docker's."""
        for message in messages:
            if message is None:
                yield b""
                continue
            if message.stream not in want:
                continue
            line = message.line
            if details:
                line = details_prefix(message.attrs) + line
            if timestamps:
                line = log_timestamp(message.timestamp).encode() + b" " + line
            yield line if tty else frame(message.stream, line)

    # ------------------------------------------------------------------ exec

    def exec_create(self, container: Container, body: dict[str, Any]) -> ExecRecord:
        if not container.state.Running:
            raise Conflict(f"Container {container.id} is not running")
        if container.state.Paused:
            raise Conflict(f"Container {container.name} is paused, unpause the container before exec")
        command = body.get("Cmd") or []
        if isinstance(command, str):
            command = [command]
        if not command:
            raise InvalidParameter("No exec command specified")
        record = ExecRecord(id=secrets.token_hex(32), container_id=container.id, config={
            "Cmd": list(command), "Env": list(body.get("Env") or []), "User": body.get("User") or "",
            "WorkingDir": body.get("WorkingDir") or "", "Tty": bool(body.get("Tty")),
            "AttachStdin": bool(body.get("AttachStdin")), "AttachStdout": bool(body.get("AttachStdout")),
            "AttachStderr": bool(body.get("AttachStderr")), "Privileged": bool(body.get("Privileged")),
            "DetachKeys": body.get("DetachKeys") or "",
        }, run=container.state.StartedAt)
        self.execs.add(record)
        self.events.publish_container(container, "exec_create: " + exec_words(command), execID=record.id)
        return record

    def exec_ids(self, container: Container) -> list[str] | None:
        """Docker's ``ExecIDs``: the execs of the container's current run not ended; None when it does not run."""
        if not container.state.Running:
            return None
        current = [exec_id for exec_id in self.execs.active_ids(container.id)
                   if (record := self.execs.get(exec_id)) is not None and record.run == container.state.StartedAt]
        return current or None

    def get_exec(self, exec_id: str) -> ExecRecord:
        record = self.execs.get(exec_id)
        if record is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return record

    def _container_exists(self, container_id: str) -> bool:
        try:
            return self.containers.get(container_id).id == container_id
        except NotFound:
            return False

    def _process_file(self, record: ExecRecord, container: Container, state_dir: str, tty: bool) -> str:
        bundle = os.path.join(self.containers.state_dir(container.id), "bundle", "config.json")
        with open(bundle) as handle:
            process = json.load(handle)["process"]
        config = record.config
        env = default_env(self.containers.networking.link_env(container) + list(container.config.get("Env") or [])
                          + config["Env"], tty, container.config["Hostname"])
        process.update({"args": config["Cmd"], "env": env, "terminal": tty,
                        "cwd": config["WorkingDir"] or process.get("cwd") or "/"})
        if config["User"]:
            process["user"] = resolve_user(container.rootfs, config["User"]).to_oci()
        if config["Privileged"]:  # as Docker: every capability, and no AppArmor confinement, for this process
            caps = available_capabilities()
            process["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
            if "apparmorProfile" in process:
                process["apparmorProfile"] = "unconfined"
        process.pop("consoleSize", None)
        path = os.path.join(state_dir, "process.json")
        with open(path, "w") as handle:
            json.dump(process, handle)
        return path

    def exec_start(self, record: ExecRecord, detach: bool, tty: bool | None,
                   sock: socket.socket | None = None, client_in: IO[bytes] | None = None) -> None:
        pty = bool(record.config["Tty"])  # as Docker: the create's Tty gives the terminal, the start's the stream
        raw = pty if tty is None else bool(tty)
        stdin = record.config["AttachStdin"] and not detach
        upstream = self._launch_exec(record, pty, stdin, attach=not detach and sock is not None)
        if upstream is not None and sock is not None and client_in is not None:
            keys = parse_detach_keys(record.config["DetachKeys"]) if stdin and pty else None
            relay(sock, client_in, upstream, stdin, keys, before_close=lambda: record.done.wait(10),
                  convert=stream_converter(pty, raw))

    def exec_attach_tty(self, record: ExecRecord, tty: bool | None) -> bool:
        """Before an attached exec start: whether its streams are a TTY's (raw) or multiplexed; Conflict when
        its container does not run (refused before the connection is taken over)."""
        container = self.containers.get(record.container_id)
        if not container.state.Running:
            raise Conflict(f"Container {container.id} is not running")
        return bool(record.config["Tty"] if tty is None else tty)

    def _launch_exec(self, record: ExecRecord, tty: bool, stdin: bool, attach: bool) -> socket.socket | None:
        """Start the exec's monitor and process; return its attach stream when asked for."""
        if record.running or record.exit_code is not None:
            raise Conflict(f"Error: Exec command {record.id} has already run")
        container = self.containers.get(record.container_id)
        if not container.state.Running:
            raise Conflict(f"Container {container.id} is not running")
        state_dir = os.path.join(self.containers.config.exec_root, "exec", record.id[:32])
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        process_file = self._process_file(record, container, state_dir, tty)
        exec_view = _ExecContainer(container, tty=tty, stdin=stdin)
        bundle = os.path.join(self.containers.state_dir(container.id), "bundle")
        monitor = self.processes.launch(exec_view, state_dir, bundle, exec_process=process_file)
        upstream = None
        if attach:
            upstream = open_stream(state_dir, {"op": "attach", "stdin": stdin, "stdout": True, "stderr": True})
        try:
            record.pid = monitor.start()
        except MoorError as err:
            message = str(err)
            record.exit_code = 127 if "executable file not found" in message or "no such file" in message else 126
            self.execs.finished(record)
            record.done.set()
            threading.Thread(target=monitor.reap, daemon=True).start()
            if upstream is not None:
                upstream.close()
            raise MoorError(message.replace("OCI runtime create failed", "OCI runtime exec failed")
                            .replace("failed to create shim task: ", "")) from None
        record.running = True
        self.events.publish_container(container, "exec_start: " + exec_words(record.config["Cmd"]), execID=record.id)
        threading.Thread(target=self._exec_waiter, args=(record, monitor, state_dir), daemon=True).start()
        return upstream

    def exec_capture(self, container: Container, command: list[str], timeout: float,
                     limit: int = 4096) -> tuple[int, str]:
        """Run ``command`` in the container and return (exit code, first ``limit`` bytes of output).

        Used by health checks; a command that outlives ``timeout`` is killed and reported as -1. Its exec events
        are published as Docker publishes a health probe's (exec_create, exec_start, exec_die).
        """
        record = ExecRecord(id=secrets.token_hex(32), container_id=container.id, config={
            "Cmd": list(command), "Env": [], "User": "", "WorkingDir": "", "Tty": False, "AttachStdin": False,
            "AttachStdout": True, "AttachStderr": True, "Privileged": False, "DetachKeys": "", "Internal": True})
        self.events.publish_container(container, "exec_create: " + exec_words(command), execID=record.id)
        try:
            upstream = self._launch_exec(record, tty=False, stdin=False, attach=True)
        except MoorError as err:
            return (record.exit_code if record.exit_code is not None else 126), str(err)
        assert upstream is not None
        deadline = time.monotonic() + timeout
        output = bytearray()
        buffer = b""
        timed_out = False
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                upstream.settimeout(remaining)
                try:
                    chunk = upstream.recv(65536)
                except TimeoutError:
                    timed_out = True
                    break
                if not chunk:
                    break
                buffer += chunk
                while len(buffer) >= 8:
                    length = struct.unpack(">L", buffer[4:8])[0]
                    if len(buffer) < 8 + length:
                        break
                    if len(output) < limit:
                        output += buffer[8:8 + length][: limit - len(output)]
                    buffer = buffer[8 + length:]
        finally:
            upstream.close()
        if timed_out:
            try:
                os.kill(record.pid, 9)
            except OSError:
                pass
            record.done.wait(5)
            return -1, f"Health check exceeded timeout ({timeout:g}s)"
        record.done.wait(10)
        return (record.exit_code if record.exit_code is not None else 255), output.decode(errors="replace")

    def _exec_waiter(self, record: ExecRecord, monitor: LaunchedMonitor, state_dir: str) -> None:
        try:
            reply = self.processes.request(state_dir, {"op": "wait"})
            record.exit_code = int(reply.get("exit_code", 255))
        except (OSError, MoorError) as err:
            log.debug("exec %s: wait failed (%s); reading exit.json", record.id, err)
        monitor.reap()
        if record.exit_code is None:
            record.exit_code = int((read_json(os.path.join(state_dir, "exit.json")) or {}).get("exit_code", 255))
        record.running = False
        self.execs.finished(record)
        container = self.containers.store.find(record.container_id)
        if container is not None:
            self.events.publish_container(container, "exec_die", execID=record.id, exitCode=str(record.exit_code))
        record.done.set()
        shutil.rmtree(state_dir, ignore_errors=True)

    def exec_resize(self, record: ExecRecord, height: int, width: int) -> None:
        state_dir = os.path.join(self.containers.config.exec_root, "exec", record.id[:32])
        deadline = time.monotonic() + 5
        while not record.running and record.exit_code is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if record.running:
            try:
                self.processes.request(state_dir, {"op": "resize", "height": height, "width": width})
            except (OSError, MoorError):
                if not record.done.wait(2):  # an exec that ended meanwhile has nothing to resize: no error
                    raise

    def exec_inspect(self, record: ExecRecord) -> dict[str, Any]:
        config = record.config
        return {
            "ID": record.id, "Running": record.running, "ExitCode": record.exit_code,
            "ProcessConfig": {"tty": config["Tty"], "entrypoint": config["Cmd"][0], "arguments": config["Cmd"][1:],
                              "privileged": config["Privileged"], "user": config["User"]},
            "OpenStdin": config["AttachStdin"], "OpenStderr": config["AttachStderr"],
            "OpenStdout": config["AttachStdout"], "CanRemove": False, "ContainerID": record.container_id,
            "DetachKeys": config["DetachKeys"], "Pid": record.pid,
        }


class _ExecContainer:
    """What :func:`monitor_command` reads of a container, for an exec."""

    def __init__(self, container: Container, tty: bool, stdin: bool) -> None:
        self.id = container.id
        self.name = container.name
        self.tty = tty
        self.config = {"OpenStdin": stdin, "StdinOnce": stdin}
        self.log_options: dict[str, str] = {}
        self.log_path = ""


class ContainerOutput:
    """A container's output stream as (stream name, bytes) chunks, connected once its monitor is ready."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._sock: socket.socket | None = None
        self._error: BaseException | None = None
        self._closed = False

    def connect(self, state_dir: str) -> None:
        """The monitor is ready (an attach hook): connect before the process starts."""
        try:
            sock = open_stream(state_dir, {"op": "attach", "stdin": False, "stdout": True, "stderr": True})
        except BaseException as err:  # noqa: BLE001 - raised to the reader of the chunks
            self._error = err
        else:
            if self._closed:
                sock.close()
            else:
                self._sock = sock
        self._ready.set()

    def chunks(self, started: Callable[[], bool]) -> Iterator[tuple[str, bytes]]:
        """The output until it ends; ``started()`` tells whether the container is still there to be waited for
        (no stream ever comes when its start failed)."""
        while not self._ready.wait(0.2):
            if not started():
                return
        if self._error is not None:
            raise self._error
        sock = self._sock
        if sock is None:
            return

        def receive() -> bytes:
            try:
                return sock.recv(65536)
            except OSError:
                return b""

        for kind, payload in read_frames(receive):
            yield ("stderr" if kind == STDERR else "stdout"), payload

    def close(self) -> None:
        """Stop reading (a killed build step); the stream's socket is closed."""
        self._closed = True
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
