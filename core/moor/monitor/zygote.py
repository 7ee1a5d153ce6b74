"""A pre-warmed process that forks container monitors: no interpreter start-up per container.

Starting Python and importing the monitor costs ~80 ms, more than runc itself.
moord keeps one zygote (its child, single-threaded, with the monitor and the
core log drivers already imported) and asks it over a socket pair to fork a
monitor: the request is the monitor's argument list, with the readiness pipe
passed as a file descriptor (and a second one, the mount namespace lent for
``runc create``, which the monitor gets as its fd 4). The forked monitor starts a session of its own
and outlives both the zygote and moord, exactly like a monitor started with
``python -m moor.monitor``.
"""

from __future__ import annotations

import fcntl
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


def _child(argv: list[str], fds: list[int], channel: socket.socket) -> None:
    """In the forked child: become a monitor (never returns). ``fds``: the readiness pipe, then (maybe) the lent
    namespace: they become fds 3 and 4, every other one is closed."""
    code = 1
    try:
        channel.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        kept = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in fds]  # out of the way of the numbers they take
        for number, fd in enumerate(kept, start=3):
            os.dup2(fd, number)
        os.closerange(3 + len(kept), 65536)
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
            message, fds, _, _ = socket.recv_fds(channel, MAX_REQUEST, 2)
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
            _child(argv, fds, channel)
        for fd in fds:
            os.close(fd)
        channel.sendall(json.dumps({"pid": pid}).encode() + b"\n")


def main() -> None:
    channel = socket.socket(fileno=int(sys.argv[1]))
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    serve(channel)


if __name__ == "__main__":
    main()
