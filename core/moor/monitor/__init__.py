"""The per-container monitor: moor's containerd-shim / conmon.

One monitor process runs per container process (the container's init, or one
``exec``). moord starts it in a session of its own; it outlives moord. It

* makes itself a child subreaper, so the container process becomes its child
  once runc has exited, and records that process's exit code;
* owns the process's stdio (pipes, or the pty master runc hands over on its
  console socket), pumps output to the log driver (init only) and to attached
  clients, and attached clients' input to the process; it builds its log
  driver from the recipe moord built its own with (the same factory, the same
  :class:`moor.types.DriverContext`; see :mod:`moor.driverbuild`);
* answers requests on ``<state dir>/control.sock`` (:mod:`moor.monitor.protocol`);
* on exit writes ``<state dir>/exit.json``, runs ``runc delete -f`` (init only)
  and goes away.

Two implementations speak the same protocol and leave the same records:
``shim/moor-shim.c``, a small compiled monitor (built by ``make install``) for
the common case (the json-file log without ``compress``, ``none``, execs), and
this Python package for everything else (any other log driver, built from
moord's recipe). moord picks one per process in
:func:`moor.containers.launch.select_monitor_command`, and uses the Python one
when the binary is missing.

Modules: :mod:`~moor.monitor.main` (command line and lifecycle),
:mod:`~moor.monitor.streams` (output pumping and attached clients),
:mod:`~moor.monitor.protocol` (wire format and socket paths) and
:mod:`~moor.monitor.client` (what moord uses). The monitor imports only what
it needs (no pluggy, no stevedore): its memory is measured.
"""
