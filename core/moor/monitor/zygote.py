"""A pre-warmed process that forks container monitors: no interpreter start-up per container.

Starting Python and importing the monitor costs ~80 ms, more than runc itself.
moord keeps one zygote (its child, single-threaded, with the monitor and the
core log drivers already imported) and asks it over a socket pair to fork a
monitor: the request is the monitor's argument list, with the readiness pipe
passed as a file descriptor. The forked monitor starts a session of its own
and outlives both the zygote and moord, exactly like a monitor started with
``python -m moor.monitor``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

from moor.logdrivers import jsonfile, none
from moor.monitor.main import main as monitor_main

MAX_REQUEST = 1 << 20

#: Imported before the first fork, so that forked monitors start warm: the core log drivers
#: (the monitor itself is imported for :func:`_child`).
PRELOADED = (jsonfile, none)


def _reap(_signum: int, _frame: object) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _child(argv: list[str], sync_fd: int, channel: socket.socket) -> None:
    """In the forked child: become a monitor (never returns)."""
    code = 1
    try:
        channel.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        os.dup2(sync_fd, 3)
        if sync_fd != 3:
            os.close(sync_fd)
        os.closerange(4, 65536)
        code = monitor_main(argv) or 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException as err:  # noqa: BLE001 -- the child must never return into the zygote's loop
        try:
            os.write(2, f"monitor failed: {err}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(code)


def serve(channel: socket.socket) -> None:
    """Fork a monitor per request until moord closes its end."""
    signal.signal(signal.SIGCHLD, _reap)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(channel, MAX_REQUEST, 1)
        except InterruptedError:
            continue
        if not message:
            return
        argv = json.loads(message)
        if not fds:
            channel.sendall(b'{"error": "no readiness pipe"}\n')
            continue
        pid = os.fork()
        if pid == 0:
            _child(argv, fds[0], channel)
        os.close(fds[0])
        channel.sendall(json.dumps({"pid": pid}).encode() + b"\n")


def main() -> None:
    channel = socket.socket(fileno=int(sys.argv[1]))
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    serve(channel)


if __name__ == "__main__":
    main()
