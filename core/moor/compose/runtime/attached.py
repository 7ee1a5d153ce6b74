"""Attached ``up``: every container's output behind its prefix until all have exited, as docker compose v2.

After ``converge`` has created and started the containers, :func:`run_attached` prints ``Attaching to
web-1, db-1``, then each container's output: a container already started is read through its logs from its
start (or from ``since``), so that what it printed before we got here is not lost; one not started yet is
attached to. The project's events (subscribed before anything is inspected) tell when a container exits
(``web-1 exited with code 0``, or ``... (restarting)`` when a restart policy brings it back) and when one
starts again or anew (followed from its start). It returns when no watched container is left running.

``abort_on_exit`` (implied by ``exit_code_from``): the first exit prints ``Aborting on container exit...``
(on stderr, as compose's other messages) and stops every container; the exit code is that first
container's, or the one of ``exit_code_from``'s container when it is named. ``abort_on_failure``: the same
on the first exit with a non-zero code.

Ctrl-C (SIGINT or SIGTERM) prints ``Gracefully stopping... (press Ctrl+C again to force)`` and stops them;
a second one kills them; the exit code is then 130.
"""

from __future__ import annotations

import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

from moor.client import Client, DaemonError
from moor.compose.model import Project
from moor.compose.runtime.logs import LogPrinter, Streams, open_logs
from moor.compose.runtime.observed import SERVICE, label, name_of, project_containers
from moor.compose.runtime.progress import Progress
from moor.compose.runtime.watch import ContainerEvent, ProjectEvents, display_name
from moor.streams import UPGRADE

#: the exit code of an attached ``up`` ended by Ctrl-C (compose's: a cancelled context)
INTERRUPTED = 130


class _Interrupt:
    """A Ctrl-C (or SIGTERM) seen by the signal handler, for the loop of :class:`_Session`."""


class _Session:
    """The state of one attached run: what is watched, how it ends."""

    def __init__(self, client: Client, project: Project, printer: LogPrinter, progress: Progress, *,
                 abort_on_exit: bool, exit_code_from: str | None, stop_timeout: int | None,
                 abort_on_failure: bool = False) -> None:
        self.client = client
        self.project = project
        self.printer = printer
        self.progress = progress
        self.abort_on_failure = abort_on_failure and not abort_on_exit
        self.abort_on_exit = abort_on_exit or (bool(exit_code_from) and not self.abort_on_failure)
        self.exit_code_from = exit_code_from
        self.stop_timeout = stop_timeout
        self.streams = Streams(printer)
        self.watched: dict[str, str] = {}  # container ID -> display name
        self.services: set[str] = set()
        self.exit_code = 0
        self.aborting = False
        self.from_captured = False
        self.interrupts = 0
        self.workers: list[threading.Thread] = []
        #: containers attached to before they started: their first start event is nothing new
        self.attached_before_start: set[str] = set()
        #: services whose running containers an abort or Ctrl-C stops too (``up``'s services)
        self.stop_services: list[str] = []

    # -- output

    def follow(self, inspect: dict[str, Any], since: float | None) -> None:
        """Print the container's output from now on, and what it printed before: since ``since`` when given,
        else from just after what was printed of it (a restart), else from its start."""
        container_id = inspect["Id"]
        name = display_name(inspect)
        tty = bool((inspect.get("Config") or {}).get("Tty"))
        state = inspect.get("State") or {}
        if str(state.get("Status", "")) == "created":
            self.streams.add(container_id, name, self._attach(container_id), tty, split_stderr=True)
            self.attached_before_start.add(container_id)
            return
        start = f"{since:.9f}" if since is not None else self.streams.resume_since(container_id, inspect)
        try:
            response = open_logs(self.client, container_id, follow=True, since=start, timestamps=True)
        except DaemonError as err:
            if err.status == 404:
                return
            response = self._attach(container_id)  # logging driver "none": what comes from now on
            self.streams.add(container_id, name, response, tty, split_stderr=True)
            return
        self.streams.add(container_id, name, response, tty, split_stderr=True, stamped=True)

    def _attach(self, container_id: str) -> Any:
        return self.client.open("POST", f"/containers/{container_id}/attach",
                                {"stream": "1", "stdout": "1", "stderr": "1"}, headers=UPGRADE)

    # -- exits

    def exited(self, container_id: str, name: str, service: str, code: int) -> None:
        """A watched container is gone for good: its last lines, its status line, then abort if asked."""
        self.streams.join(container_id, timeout=5)
        self.printer.status(name, f"exited with code {code}")
        self.watched.pop(container_id, None)
        if (self.abort_on_exit or (self.abort_on_failure and code != 0)) and not self.aborting:
            self.aborting = True
            self.exit_code = code
            self.printer.info("Aborting on container exit...")
            self.background(self.stop_all)
        if self.exit_code_from and service == self.exit_code_from and not self.from_captured:
            self.from_captured = True
            self.exit_code = code

    def on_event(self, event: ContainerEvent) -> None:
        if self.services and event.service not in self.services:
            return
        if event.action == "start":
            self._on_start(event)
        elif event.action == "die" and event.id in self.watched:
            inspect = self._inspect(event.id)
            state = (inspect or {}).get("State") or {}
            if state.get("Restarting") or state.get("Running"):
                self.printer.status(event.name, f"exited with code {event.exit_code} (restarting)")
                return
            self.exited(event.id, event.name, event.service, event.exit_code)

    def _on_start(self, event: ContainerEvent) -> None:
        if self.aborting or self.interrupts:
            return
        if event.id in self.attached_before_start:
            self.attached_before_start.discard(event.id)
            return  # already followed
        self.streams.join(event.id, timeout=1)  # the stream of its previous run drains first
        if self.streams.active(event.id):
            return
        inspect = self._inspect(event.id)
        if inspect is None:
            return
        self.watched[event.id] = event.name
        self.follow(inspect, None)

    def _inspect(self, container_id: str) -> dict[str, Any] | None:
        try:
            found = self.client.get(f"/containers/{container_id}/json")
        except DaemonError:
            return None
        return found if isinstance(found, dict) else None

    # -- stopping

    def background(self, action: Callable[[], None]) -> None:
        worker = threading.Thread(target=action, daemon=True)
        self.workers.append(worker)
        worker.start()

    def _targets(self) -> dict[str, str]:
        """What a stop or kill acts on: the watched containers, and the running ones of ``stop_services``
        (container ID -> full name)."""
        targets = {container_id: name for container_id, name in list(self.watched.items())}
        if self.stop_services:
            try:
                running = project_containers(self.client, self.project.name, self.stop_services,
                                             include_stopped=False)
            except DaemonError:
                running = []
            for item in running:
                if label(item, SERVICE) in self.stop_services:
                    targets.setdefault(str(item["Id"]), name_of(item))
        return targets

    def _each_watched(self, action: Callable[[str, str], None]) -> None:
        threads = [threading.Thread(target=action, args=item, daemon=True) for item in self._targets().items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def stop_all(self) -> None:
        """Stop every watched container and those of ``stop_services`` (in parallel), as ``compose stop``
        reports it."""
        def stop(container_id: str, name: str) -> None:
            full = self._full_name(container_id, name)
            self.progress.event("Container", full, "Stopping")
            try:
                params = {"t": str(self.stop_timeout)} if self.stop_timeout is not None else None
                self.client.call("POST", f"/containers/{container_id}/stop", params)
            except DaemonError as err:
                if err.status not in (304, 404, 409):
                    self.progress.event("Container", full, "Error", err.message)
                    return
            self.progress.event("Container", full, "Stopped")

        self._each_watched(stop)

    def kill_all(self) -> None:
        """Kill what :meth:`stop_all` stops (the second Ctrl-C)."""
        def kill(container_id: str, name: str) -> None:
            try:
                self.client.call("POST", f"/containers/{container_id}/kill")
            except DaemonError:
                pass  # stopped or removed meanwhile

        self._each_watched(kill)

    def _full_name(self, container_id: str, name: str) -> str:
        inspect = self._inspect(container_id)
        return str(inspect.get("Name", name)).lstrip("/") if inspect else name

    def interrupt(self) -> None:
        self.interrupts += 1
        if self.interrupts == 1:
            self.printer.info("Gracefully stopping... (press Ctrl+C again to force)")
            self.background(self.stop_all)
        elif self.interrupts == 2:
            self.background(self.kill_all)


@contextmanager
def _signals_to(inbox: queue.SimpleQueue[ContainerEvent | _Interrupt | None]) -> Iterator[None]:
    """SIGINT and SIGTERM as :class:`_Interrupt` in ``inbox`` while attached (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    def handler(_signum: int, _frame: Any) -> None:
        inbox.put(_Interrupt())

    saved = {number: signal.signal(number, handler) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, previous in saved.items():
            signal.signal(number, previous)


def run_attached(client: Client, project: Project, containers: list[dict[str, Any]], *,
                 abort_on_exit: bool = False, exit_code_from: str | None = None, timestamps: bool = False,
                 no_color: bool = False, no_log_prefix: bool = False, stop_timeout: int | None = None,
                 progress: Progress, since: float | None = None, abort_on_failure: bool = False,
                 ansi: str = "auto", services: Sequence[str] | None = None, stdout: IO[str] | None = None,
                 stderr: IO[str] | None = None) -> int:
    """``up`` without ``-d`` after converge: the containers' output until all have exited; up's exit code.

    ``containers`` are the service containers to attach to (inspect or list shape); ``since`` (unix seconds,
    e.g. when this ``up`` began) keeps a container that was already running from replaying older output.
    ``abort_on_failure`` (``--abort-on-container-failure``) aborts on the first exit with a non-zero code only.
    ``ansi`` (``--ansi``): colours ``always``, ``never``, or when stdout is a terminal (``auto``).
    ``services``: the services ``up`` handled; an abort or Ctrl-C stops their running containers too, attached or
    not (compose stops ``up``'s services); None: only the attached containers.
    """
    out = stdout if stdout is not None else sys.stdout
    color = not no_color and ansi != "never" and (ansi == "always" or _isatty(out))
    printer = LogPrinter(out, stderr, color=color, prefix=not no_log_prefix, timestamps=timestamps)
    session = _Session(client, project, printer, progress, abort_on_exit=abort_on_exit,
                       exit_code_from=exit_code_from, stop_timeout=stop_timeout, abort_on_failure=abort_on_failure)
    session.services = {label(item, SERVICE) for item in containers}
    session.stop_services = list(services or ())
    if not containers:
        return 0
    events = ProjectEvents(client, project.name)
    inbox: queue.SimpleQueue[ContainerEvent | _Interrupt | None] = queue.SimpleQueue()
    pump = threading.Thread(target=_pump_events, args=(events, inbox), daemon=True)
    pump.start()
    try:
        with _signals_to(inbox):
            ordered = sorted(containers, key=display_name)
            printer.message(f"Attaching to {', '.join(display_name(item) for item in ordered)}")
            for item in ordered:
                printer.register(display_name(item))
            gone: list[tuple[str, str, str, int]] = []
            for item in ordered:
                inspect = session._inspect(item.get("Id") or item["ID"])
                if inspect is None:
                    continue
                session.watched[inspect["Id"]] = display_name(inspect)
                session.follow(inspect, since)
                state = inspect.get("State") or {}
                if str(state.get("Status", "")) in ("exited", "dead") and not state.get("Restarting"):
                    gone.append((inspect["Id"], display_name(inspect), label(inspect, SERVICE),
                                 int(state.get("ExitCode") or 0)))
            for container_id, name, service, code in gone:  # exited before we looked: no die event to come
                session.exited(container_id, name, service, code)
            _loop(session, inbox)
        for worker in session.workers:
            worker.join()
        session.streams.join_all(timeout=5)
    finally:
        events.close()
        session.streams.close()
    return INTERRUPTED if session.interrupts else session.exit_code


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _pump_events(events: ProjectEvents, inbox: queue.SimpleQueue[ContainerEvent | _Interrupt | None]) -> None:
    while True:
        event = events.get()
        inbox.put(event)
        if event is None:
            return


def _loop(session: _Session, inbox: queue.SimpleQueue[ContainerEvent | _Interrupt | None]) -> None:
    """Events and interrupts until no watched container is left (or the daemon's event stream ends)."""
    while session.watched:
        try:
            item = inbox.get(timeout=0.5)
        except queue.Empty:
            continue
        if item is None:
            return
        if isinstance(item, _Interrupt):
            session.interrupt()
            if session.interrupts >= 3:
                return  # the kill is under way: stop waiting for its events
            continue
        session.on_event(item)
