"""Start and stop a private moord for a test: its own data root, exec root and socket."""

from __future__ import annotations

import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

from moor.client import Client, ConnectError


def terminate(process: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM to ``process`` if it still runs; SIGKILL to its whole process group (a session of its own) after
    ``timeout`` seconds; then reaped."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class DaemonProcess:
    """A moord child process; use as a context manager so it is always stopped."""

    def __init__(self, root: str | None = None, config_text: str = "", extra_args: tuple[str, ...] = ()) -> None:
        self.root = root or tempfile.mkdtemp(prefix="moor-test-")
        os.makedirs(self.root, exist_ok=True)
        self.data_root = os.path.join(self.root, "data")
        self.exec_root = os.path.join(self.root, "exec")
        self.socket = os.path.join(self.root, "moor.sock")
        self.host = f"unix://{self.socket}"
        self.config_file = os.path.join(self.root, "moor.toml")
        self.log_file = os.path.join(self.root, "moord.log")
        self.bridge = ""
        if "[network]" not in config_text:  # the embedded DNS server forwards nowhere: no query leaves the host
            config_text += '\n[network]\ndns_upstreams = []\n'
        if "[network.bridge]" not in config_text:  # a default bridge of its own: never moor0, never another run's
            self.bridge = "mt" + os.urandom(4).hex()
            subnet = f"10.{208 + os.getpid() % 8}.{int.from_bytes(os.urandom(1), 'big')}.0/24"
            config_text += f'\n[network.bridge]\ndefault_bridge = "{self.bridge}"\ndefault_subnet = "{subnet}"\n'
        with open(self.config_file, "w") as handle:
            handle.write(config_text)
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "moor.daemon", "--config-file", self.config_file,
            "--data-root", self.data_root, "--exec-root", self.exec_root, "-H", self.host,
            *self.extra_args,
        ]

    def start(self, timeout: float = 20.0) -> DaemonProcess:
        log = open(self.log_file, "ab")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        client = self.client()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                message = f"moord exited with {self.process.returncode}: {self.log()}"
                self.cleanup()  # whatever it set up before it died (its bridge, say) goes too
                raise RuntimeError(message)
            try:
                client.get("/_ping")
                return self
            except (ConnectError, ConnectionError, OSError):
                time.sleep(0.05)
        message = f"moord did not answer within {timeout}s: {self.log()}"
        self.cleanup()
        raise RuntimeError(message)

    def client(self) -> Client:
        return Client(self.host)

    def log(self) -> str:
        try:
            with open(self.log_file, errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.process is None:
            return None
        terminate(self.process, timeout)
        return self.process.returncode

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def cleanup(self) -> None:
        """Stop moord, then remove whatever its containers left: runc state, monitors, mounts, files."""
        self.stop()
        kill_containers(os.path.join(self.exec_root, "runc"))
        kill_processes_mentioning(self.root)
        unmount_under(self.root)
        for bridge in {self.bridge, *bridges_made(self.data_root)} - {""}:
            remove_bridge(bridge)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DaemonProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()


def bridges_made(data_root: str) -> list[str]:
    """The Linux bridges the bridge driver of the moord at ``data_root`` made (user networks a test left)."""
    try:
        with open(os.path.join(data_root, "network", "bridge", "state.json"), encoding="utf-8") as handle:
            networks = json.load(handle).get("networks") or {}
    except (OSError, ValueError):
        return []
    return [record["bridge"] for record in networks.values()
            if isinstance(record, dict) and record.get("bridge") and record.get("created_bridge", True)]


def remove_bridge(name: str) -> None:
    """Remove a test daemon's default bridge and the firewall rules made for it, if moord left them."""
    subprocess.run(["ip", "link", "del", name], capture_output=True)
    for table in ("filter", "nat"):
        saved = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True).stdout
        for line in saved.splitlines():
            if line.startswith("-A ") and f"moor bridge {name}" in line:
                subprocess.run(["iptables", "-t", table, "-D", *shlex.split(line)[1:]], capture_output=True)
    try:  # the bridge driver's chains and jumps go too once no network has rules in them
        from moor_net_bridge import firewall  # noqa: PLC0415  (a plugin: the core runs without it)
    except ImportError:
        return
    firewall.prune()


def kill_containers(runc_root: str) -> None:
    """Force-delete every container runc knows under ``runc_root``."""
    if not os.path.isdir(runc_root):
        return
    for container_id in os.listdir(runc_root):
        subprocess.run(["runc", "--root", runc_root, "delete", "--force", container_id], capture_output=True)


def processes_under(root: str) -> list[int]:
    """Processes whose command line mentions ``root`` or whose working directory is below it.

    Monitors forked by the zygote keep the zygote's command line but work in their state directory.
    """
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if root in cmdline or cwd == root or cwd.startswith(root.rstrip("/") + "/"):
            found.append(int(entry))
    return found


def kill_processes_mentioning(root: str) -> None:
    """SIGKILL what a test's moord left running: monitors, zygote."""
    for pid in processes_under(root):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def unmount_under(root: str) -> None:
    """Lazily unmount every mount at or below ``root``, deepest first."""
    root = os.path.realpath(root)
    with open("/proc/self/mounts") as handle:
        targets = [line.split()[1].replace("\\040", " ") for line in handle]
    for target in sorted((t for t in targets if t == root or t.startswith(root + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a Unix socket, for tests that check raw status codes and headers."""

    def __init__(self, path: str, timeout: float | None = 10) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock
