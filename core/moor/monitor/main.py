"""The monitor's command line and lifecycle: set up stdio, run runc, serve requests, record the exit.

Usage (moord runs it; fd 3 is a pipe on which the monitor reports readiness)::

    python -m moor.monitor --id ID --state-dir DIR --bundle BUNDLE --runtime runc --runtime-root ROOT
        [--exec PROCESS_JSON] [--tty] [--stdin] [--stdin-once]
        [--log-driver NAME --log-driver-recipe JSON --log-opts JSON --log-path PATH --name NAME --log-attrs JSON]
        [--hide-roots DIR [--rootfs PATH [--runc-mount-ns FD]]]

The log driver is built from the recipe moord built its own with
(:meth:`moor.driverbuild.DriverRecipe.build`): the same factory, the same
context. See :mod:`moor.driverbuild`.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import json
import os
import resource
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from moor.containers.cgroups import cgroup_paths, oom_killed
from moor.driverbuild import DriverRecipe, call_hook
from moor.monitor.mountns import hide_before_exec
from moor.monitor.ports import open_proxy
from moor.monitor.protocol import SOCKET_NAME, encode, read_line
from moor.monitor.streams import Client, Hub, LineLogger, pump
from moor.types import ContainerRef, LogMessage

PR_SET_CHILD_SUBREAPER = 36
SYNC_FD = 3
CONSOLE_NAME = "console.sock"
RUNC_LOG = "runc.log"
PID_FILE = "init.pid"
START_TIMEOUT = 120.0  # a monitor that moord never tells to start (moord died meanwhile) gives up


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="moor-monitor")
    parser.add_argument("--id", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--runtime", default="runc")
    parser.add_argument("--runtime-root", required=True)
    parser.add_argument("--exec", dest="exec_process", default="")
    parser.add_argument("--tty", action="store_true")
    parser.add_argument("--stdin", action="store_true")
    parser.add_argument("--stdin-once", action="store_true")
    parser.add_argument("--log-driver", default="")
    parser.add_argument("--log-driver-recipe", default="", help="JSON: how moord built the log driver")
    parser.add_argument("--log-opts", default="{}")
    parser.add_argument("--log-path", default="")
    parser.add_argument("--log-attrs", default="{}", help="JSON: the attributes recorded with each message")
    parser.add_argument("--name", default="")
    parser.add_argument("--hide-roots", default="", help="runc without the mounts under this one")
    parser.add_argument("--runc-mount-ns", type=int, default=-1,
                        help="a descriptor of moord's namespace without them, for runc create (closed after it)")
    parser.add_argument("--rootfs", default="", help="the container's root, kept for runc create (without it, "
                                                     "runc create sees every root)")
    return parser.parse_args(argv)


def open_log_writer(args: argparse.Namespace) -> LineLogger | None:
    """Build the log driver from moord's recipe (no stevedore, no pluggy manager) and open the log."""
    if not args.log_driver:
        return None
    if not args.log_driver_recipe:
        raise RuntimeError(f"no recipe for the log driver {args.log_driver!r}")
    driver = DriverRecipe.from_json(args.log_driver_recipe).build()
    container = ContainerRef(id=args.id, name=args.name, log_options=json.loads(args.log_opts),
                             log_path=args.log_path, log_attrs=json.loads(args.log_attrs))
    return LineLogger(call_hook(driver, "moor_log_open", container=container), LogMessage)


def runc_error(fallback: str) -> str:
    """The last error runc logged (its --log file, JSON lines), else the last line of ``fallback``."""
    message = ""
    try:
        with open(RUNC_LOG) as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("level") in ("error", "fatal"):
                    message = record.get("msg", "")
    except OSError:
        pass
    if message:
        return message
    lines = [line for line in fallback.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "runc failed"


class Monitor:
    """One container process (init or exec) and the clients around it."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.exec_mode = bool(args.exec_process)
        self.runc = [args.runtime, "--root", args.runtime_root, "--log", RUNC_LOG, "--log-format", "json"]
        self.pid = 0
        self.exit_code: int | None = None
        self.finished_at = 0.0
        self.started_at = 0.0
        self.exited = threading.Event()
        self.started = False
        self.abandoned = False
        self.stdin_fd: int | None = None
        self.master_fd: int | None = None
        self.child_fds: dict[str, int] = {}
        self.stdin_waiting: list[socket.socket] = []  # attached with stdin before an exec's terminal existed
        self.readers: list[tuple[int, str]] = []
        self.pumps: list[threading.Thread] = []
        self.proxies: list[Any] = []  # published ports (moor.monitor.ports.PortProxy)
        self.hub = Hub(open_log_writer(args))
        self.lock = threading.Lock()
        self.waiters = 0
        self.replying = 0  # requests being answered (not attach streams): the monitor leaves after their reply
        self.cgroups: Any = None  # the init's cgroup directories, to look for OOM kills after it exits
        self.oom_killed = False
        self.runc_create_seconds = 0.0  # told to moord in the readiness report (its start trace shows it)
        self.runc_create_cpu = 0.0  # and the CPU time runc create took (user + system, its children included)

    # ------------------------------------------------------------------ stdio

    def _pipes(self) -> None:
        devnull = os.open(os.devnull, os.O_RDWR)
        if self.args.stdin:
            read_end, write_end = os.pipe()
            self.child_fds["stdin"], self.stdin_fd = read_end, write_end
        else:
            self.child_fds["stdin"] = devnull
        for stream in ("stdout", "stderr"):
            read_end, write_end = os.pipe()
            self.child_fds[stream] = write_end
            self.readers.append((read_end, stream))

    def _console_listener(self) -> socket.socket:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(CONSOLE_NAME)
        listener.listen(1)
        listener.settimeout(30)
        return listener

    def _console_path(self) -> str:
        """The console socket as runc must name it: runc create works from the bundle directory,
        runc exec from ours; relative paths keep us clear of the 107-byte socket path limit."""
        if self.exec_mode:
            return CONSOLE_NAME
        return os.path.relpath(os.path.abspath(CONSOLE_NAME), os.path.abspath(self.args.bundle))

    def _receive_master(self, listener: socket.socket, holder: list[int]) -> None:
        try:
            connection, _ = listener.accept()
            with connection:
                _, fds, _, _ = socket.recv_fds(connection, 4096, 1)
                if fds:
                    holder.append(fds[0])
        except OSError:
            pass

    def _run_runc(self, command: list[str], preexec: Callable[[], None] | None = None) -> None:
        """Run a runc command that sets up the process; the pty master arrives on the console socket.
        ``preexec`` runs in the child before it execs runc."""
        listener = self._console_listener() if self.args.tty else None
        holder: list[int] = []
        receiver = None
        if listener is not None:
            command = command[:-1] + ["--console-socket", self._console_path(), command[-1]]
            receiver = threading.Thread(target=self._receive_master, args=(listener, holder), daemon=True)
            receiver.start()
            stdio: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
                                     "stderr": subprocess.PIPE}
        else:
            stdio = {"stdin": self.child_fds["stdin"], "stdout": self.child_fds["stdout"],
                     "stderr": self.child_fds["stderr"]}
        result = subprocess.run(command, **stdio, cwd=os.getcwd(), timeout=60, preexec_fn=preexec)
        if receiver is not None:
            receiver.join(5 if result.returncode == 0 else 0.1)
            assert listener is not None
            listener.close()
            os.unlink(CONSOLE_NAME)
            if holder:
                self.master_fd = holder[0]
                self.stdin_fd = holder[0]
                self.readers = [(holder[0], "stdout")]
        if result.returncode != 0:
            stderr = result.stderr.decode(errors="replace") if isinstance(result.stderr, bytes) else ""
            raise RuntimeError(runc_error(stderr))
        if self.args.tty and self.master_fd is None:
            raise RuntimeError("runc did not send the console")

    def _hiding(self, keep: str) -> Callable[[], None] | None:
        """What the child runs before it execs runc: every root hidden but ``keep`` (``runc create``), or all of
        them (``runc exec``, ``runc delete``: they need none); None without ``--hide-roots``."""
        if not self.args.hide_roots:
            return None
        return partial(hide_before_exec, self.args.hide_roots, keep, os.path.abspath(RUNC_LOG),
                       self.args.runc_mount_ns if keep else -1)

    def _close_child_ends(self) -> None:
        """Our copies of the container's ends of the pipes: closed, so EOF comes when it exits."""
        for fd in set(self.child_fds.values()):
            try:
                os.close(fd)
            except OSError:
                pass
        self.child_fds = {}

    def _read_pid(self) -> int:
        with open(PID_FILE) as handle:
            return int(handle.read().strip())

    # ------------------------------------------------------------------ lifecycle

    def prepare(self) -> None:
        """Init mode: ``runc create`` (the process waits for ``start``). Exec mode: only the stdio."""
        if not self.args.tty:
            self._pipes()
        if self.exec_mode:
            return
        create = [*self.runc, "create", "--bundle", self.args.bundle, "--pid-file", PID_FILE, self.args.id]
        # runc creates the container in a mount namespace without the other containers' roots (moor.monitor.mountns)
        hide = self._hiding(self.args.rootfs) if self.args.rootfs else None
        began, used = time.perf_counter(), _children_cpu()
        try:
            self._run_runc(create, hide)
        except RuntimeError as err:
            if "already exists" not in str(err):
                raise
            # the previous run's monitor answered its waiters before deleting the runc state
            subprocess.run([*self.runc, "delete", "--force", self.args.id], capture_output=True, timeout=60)
            self._run_runc(create, hide)
        finally:
            if self.args.runc_mount_ns >= 0:  # it must not keep the lent namespace alive
                os.close(self.args.runc_mount_ns)
                self.args.runc_mount_ns = -1
        self.runc_create_seconds = time.perf_counter() - began
        self.runc_create_cpu = _children_cpu() - used
        self._close_child_ends()
        self.pid = self._read_pid()
        try:
            self.cgroups = cgroup_paths(self.pid)
        except OSError:
            self.cgroups = None

    def start(self) -> int:
        with self.lock:
            if self.abandoned:
                raise RuntimeError("the container was abandoned: no start request arrived in time")
            if self.started:
                return self.pid
            if self.exec_mode:
                self._run_runc([*self.runc, "exec", "--process", self.args.exec_process, "--pid-file", PID_FILE,
                                "--detach", self.args.id], self._hiding(""))
                self._close_child_ends()
                self.pid = self._read_pid()
            elif not self._start_by_exec_fifo():
                result = subprocess.run([*self.runc, "start", self.args.id], capture_output=True, timeout=60)
                if result.returncode != 0:
                    raise RuntimeError(runc_error(result.stderr.decode(errors="replace")))
            self.started = True
            self.started_at = time.time()
            waiting, self.stdin_waiting = self.stdin_waiting, []
        for connection in waiting if self.stdin_fd is not None else []:
            threading.Thread(target=self._feed_stdin, args=(connection,), daemon=True).start()
        for fd, stream in self.readers:
            thread = threading.Thread(target=pump, args=(fd, stream, self.hub), daemon=True)
            thread.start()
            self.pumps.append(thread)
        threading.Thread(target=self._reap, daemon=True).start()
        return self.pid

    def _start_by_exec_fifo(self) -> bool:
        """What ``runc start`` does to a created container, without starting runc: open its exec.fifo for
        reading (its init, blocked opening the other end, then writes its byte), read the byte, remove the fifo.
        False when there is no such fifo (another runtime): run ``runc start`` then. As moor-shim does."""
        if os.path.basename(self.args.runtime) != "runc":
            return False
        path = os.path.join(self.args.runtime_root, self.args.id, "exec.fifo")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                return False
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            deadline = time.monotonic() + 60
            while True:
                if poller.poll(100):
                    try:
                        if os.read(fd, 1):
                            break
                    except BlockingIOError:
                        continue
                    raise RuntimeError("container process is already dead")  # its end closed without a byte
                if _ended(self.pid) or time.monotonic() > deadline:
                    raise RuntimeError("container process is already dead")
        finally:
            os.close(fd)
        os.unlink(path)
        return True

    def _reap(self) -> None:
        try:
            _, status = os.waitpid(self.pid, 0)
            code = os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            code = 255
        self.exit_code = 128 - code if code < 0 else code
        self.finished_at = time.time()
        self._finish()

    def _finish(self) -> None:
        """Record the exit, answer waiters, clean up runc's state, and leave — whatever fails on the way."""
        try:
            deadline = time.monotonic() + 5
            for thread in self.pumps:
                thread.join(max(deadline - time.monotonic(), 0))
            self.hub.close()
            if self.cgroups is not None:  # before runc delete removes the cgroup
                self.oom_killed = oom_killed(self.cgroups)
            self._write_exit_record()
        except Exception as err:  # noqa: BLE001 -- the state directory may be gone: still answer and exit
            print(f"recording the exit failed: {err}", flush=True)
        self.exited.set()  # answer waiters first: runc's clean-up is not on the user's clock
        give_up = time.monotonic() + 2
        # a process that ends at once may end before the reply to `start` is out: exiting then would leave
        # moord without its answer ("the container monitor went away without answering")
        while (self.waiters or self.replying) and time.monotonic() < give_up:
            time.sleep(0.01)
        if not self.exec_mode:
            # No --log: once the waiters have their answer, `rm -f` may remove the state directory, and runc
            # would then fail to open its relative log file and leave its state and the cgroups behind.
            try:
                subprocess.run([self.args.runtime, "--root", self.args.runtime_root, "delete", "--force",
                                self.args.id], capture_output=True, timeout=60, preexec_fn=self._hiding(""))
            except (OSError, subprocess.SubprocessError) as err:
                print(f"runc delete failed: {err}", flush=True)
        try:
            os.unlink(SOCKET_NAME)
        except OSError:
            pass
        os._exit(0)

    def _write_exit_record(self) -> None:
        record = {"exit_code": self.exit_code, "finished_at": self.finished_at, "started_at": self.started_at,
                  "oom_killed": self.oom_killed}
        temp = "exit.json.tmp"
        with open(temp, "w") as handle:
            json.dump(record, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, "exit.json")

    # ------------------------------------------------------------------ requests

    def handle(self, connection: socket.socket) -> None:
        keep = False
        try:
            line = read_line(connection)
            if not line:
                return
            request = json.loads(line)
            op = request.get("op")
            if op == "attach":
                keep = self._attach(connection, request)
                return
            with self.lock:
                self.replying += 1
            try:
                reply = self._answer(op, request)
                connection.sendall(encode(reply))
            finally:
                with self.lock:
                    self.replying -= 1
        except (OSError, ValueError) as err:
            try:
                connection.sendall(encode({"ok": False, "error": str(err)}))
            except OSError:
                pass
        finally:
            if not keep:
                connection.close()

    def _answer(self, op: str | None, request: dict[str, Any]) -> dict[str, Any]:
        if op == "start":
            try:
                return {"ok": True, "pid": self.start()}
            except (RuntimeError, OSError, subprocess.SubprocessError) as err:
                self._fail_later(str(err))
                return {"ok": False, "error": str(err)}
        if op == "wait":
            with self.lock:
                self.waiters += 1
            try:
                self.exited.wait()
            finally:
                with self.lock:
                    self.waiters -= 1
            return {"ok": True, "exit_code": self.exit_code, "finished_at": self.finished_at,
                    "oom_killed": self.oom_killed}
        if op == "state":
            return {"ok": True, "pid": self.pid, "running": self.started and not self.exited.is_set(),
                    "exit_code": self.exit_code}
        if op == "resize":
            if self.master_fd is None:
                return {"ok": False, "error": "the process has no terminal"}
            size = struct.pack("HHHH", int(request.get("height", 24)), int(request.get("width", 80)), 0, 0)
            fcntl.ioctl(self.master_fd, termios.TIOCSWINSZ, size)
            return {"ok": True}
        if op == "close-stdin":
            self._close_stdin()
            return {"ok": True}
        if op == "publish":
            try:
                proxy = open_proxy(str(request.get("protocol") or "tcp"), str(request.get("host_ip") or ""),
                                   int(request.get("host_port") or 0), str(request["target"]),
                                   int(request["target_port"]))
            except OSError as err:
                return {"ok": False, "error": str(err)}
            self.proxies.append(proxy)
            return {"ok": True, "host_port": proxy.port}
        if op == "abort":  # moord gave up on starting this process: remove it now
            threading.Thread(target=self.abandon_unless_started, daemon=True).start()
            return {"ok": True}
        return {"ok": False, "error": "unknown op"}

    def abandon_unless_started(self) -> None:
        """Nobody sent ``start`` in time: remove the created container and go away."""
        with self.lock:
            if self.started:
                return
            self.abandoned = True  # a late start now fails instead of racing the cleanup
        print("no start request arrived: abandoning the container", flush=True)
        self.exit_code, self.finished_at = 128, time.time()
        self._finish()

    def _fail_later(self, message: str) -> None:
        """A failed start: record it, clean up, and go away once the reply is out."""
        print(f"start failed: {message}", flush=True)
        self.exit_code = 127 if "not found" in message or "no such file" in message.lower() else 128
        self.finished_at = time.time()
        threading.Thread(target=self._finish_after_reply, daemon=True).start()

    def _finish_after_reply(self) -> None:
        time.sleep(0.2)
        self._finish()

    def _close_stdin(self) -> None:
        if self.stdin_fd is not None and self.stdin_fd != self.master_fd:
            try:
                os.close(self.stdin_fd)
            except OSError:
                pass
            self.stdin_fd = None

    def _attach(self, connection: socket.socket, request: dict[str, Any]) -> bool:
        if self.exited.is_set():
            connection.sendall(encode({"ok": False, "error": "the container process has exited"}))
            return False
        connection.sendall(encode({"ok": True}))
        self.hub.add(Client(connection, bool(request.get("stdout")), bool(request.get("stderr")),
                            framed=not self.args.tty))
        if request.get("stdin"):
            with self.lock:
                if self.stdin_fd is None and self.exec_mode and self.args.tty and not self.started:
                    self.stdin_waiting.append(connection)  # an exec's terminal arrives with its start
                    return True
            if self.stdin_fd is not None:
                threading.Thread(target=self._feed_stdin, args=(connection,), daemon=True).start()
        return True

    def _feed_stdin(self, connection: socket.socket) -> None:
        while True:
            try:
                data = connection.recv(65536)
            except OSError:
                data = b""
            if not data:
                if self.args.stdin_once:
                    self._close_stdin()
                return
            target = self.stdin_fd
            if target is None:
                return
            try:
                os.write(target, data)
            except OSError:
                return


def _children_cpu() -> float:
    """The CPU time (user + system) of the monitor's waited-for children so far, in seconds."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _ended(pid: int) -> bool:
    """Whether ``pid`` has ended (gone, or a zombie not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rpartition(")")[2].split()
    except OSError:
        return True
    return not state or state[0] in ("Z", "X")


def _daemonize(state_dir: str) -> None:
    os.chdir(state_dir)
    log = os.open("monitor.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(devnull)
    os.close(log)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    for name in ("SIGHUP", "SIGPIPE", "SIGINT", "SIGTERM"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def _report(message: dict[str, Any]) -> None:
    try:
        os.write(SYNC_FD, encode(message))
        os.close(SYNC_FD)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        _daemonize(args.state_dir)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            listener.bind(SOCKET_NAME)
        finally:
            os.umask(old)
        listener.listen(16)
        monitor = Monitor(args)
        monitor.prepare()
    except Exception as err:  # noqa: BLE001 -- the whole setup: report one line to moord, leave nothing running
        print(f"setup failed: {err}", flush=True)
        if not args.exec_process:
            subprocess.run([args.runtime, "--root", args.runtime_root, "delete", "--force", args.id],
                           capture_output=True)
        try:
            os.unlink(os.path.join(args.state_dir, SOCKET_NAME))
        except OSError:
            pass
        _report({"ok": False, "error": str(err)})
        return 1
    _report({"ok": True, "pid": monitor.pid, "runc_create": monitor.runc_create_seconds,
             "runc_create_cpu": monitor.runc_create_cpu})
    watchdog = threading.Timer(START_TIMEOUT, monitor.abandon_unless_started)
    watchdog.daemon = True
    watchdog.start()
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=monitor.handle, args=(connection,), daemon=True).start()
