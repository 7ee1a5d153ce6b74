"""Helpers shared by the benchmarks: a private moord, a dockerd when asked for, and the CLIs to drive them."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

from moor.testing.daemon import DaemonProcess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def moor_cli(daemon: DaemonProcess) -> list[str]:
    """The ``moor`` command talking to ``daemon``."""
    return [shutil.which("moor") or os.path.join(os.path.dirname(sys.executable), "moor"), "-H", daemon.host]


def import_busybox(cli: list[str], env: dict[str, str], *changes: str) -> None:
    """Import the same busybox image into either engine (``changes``: ``-c`` options of ``import``)."""
    rootfs = subprocess.run([os.path.join(REPO, "scripts", "busybox-rootfs")], capture_output=True, check=True).stdout
    subprocess.run([*cli, "import", *changes, "-", "busybox:latest"], input=rootfs, env=env, capture_output=True,
                   check=True)


@contextlib.contextmanager
def docker_cli(bridge: bool = False) -> Iterator[tuple[list[str], dict[str, str]] | None]:
    """The docker CLI and its environment for a private dockerd (see :func:`private_dockerd`); None without Docker."""
    with private_dockerd(bridge) as host:
        if host is None:
            yield None
            return
        work = tempfile.mkdtemp(prefix="moor-bench-docker-cli-")
        try:
            yield ["docker"], {**os.environ, "DOCKER_HOST": host, "DOCKER_CONFIG": work}
        finally:
            shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def private_daemon(config_text: str = "") -> Iterator[DaemonProcess]:
    with DaemonProcess(config_text=config_text) as daemon:
        yield daemon


@contextlib.contextmanager
def private_dockerd(bridge: bool = False, base: str | None = None) -> Iterator[str | None]:
    """A dockerd with its own data root and socket and no iptables rules; None if not installed.

    Without ``bridge`` it has no default bridge network. With it, its default ``bridge``
    network is a Linux bridge of its own (``mbd<hex>``, a random 10.199.x.0/24; never
    docker0), removed afterwards; containers reach the host through it and published
    ports go through docker-proxy (no NAT rules, as ``--iptables=false``). Its directory is made
    in ``base`` (default: the temp directory).
    """
    import secrets
    import signal
    import time

    binary = shutil.which("dockerd")
    if binary is None:
        yield None
        return
    root = tempfile.mkdtemp(prefix="moor-bench-dockerd-", dir=base)
    socket = os.path.join(root, "docker.sock")
    bridge_name = ""
    network_args = ["--bridge=none"]
    if bridge:
        bridge_name = "mbd" + secrets.token_hex(4)
        subprocess.run(["ip", "link", "add", bridge_name, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", f"10.199.{secrets.randbelow(250)}.1/24", "dev", bridge_name], check=True)
        subprocess.run(["ip", "link", "set", bridge_name, "up"], check=True)
        network_args = [f"--bridge={bridge_name}"]
    process = subprocess.Popen(
        [binary, "--data-root", os.path.join(root, "data"), "--exec-root", os.path.join(root, "exec"),
         "--pidfile", os.path.join(root, "docker.pid"), "-H", f"unix://{socket}", "--iptables=false",
         "--ip6tables=false", *network_args, "--storage-driver=overlay2"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(root, "dockerd.log"), "wb"), start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ping = subprocess.run(["docker", "-H", f"unix://{socket}", "version"], capture_output=True)
            if ping.returncode == 0:
                break
            time.sleep(0.2)
        yield f"unix://{socket}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        subprocess.run(["umount", "-R", "-l", root], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        if bridge_name:
            subprocess.run(["ip", "link", "del", bridge_name], capture_output=True)


def print_side_by_side(title: str, moor: dict[str, float], docker: dict[str, float] | None, width: int = 42,
                       precision: int = 3) -> None:
    """One table: each measure for moor, Docker (when measured) and their ratio."""
    print(title)
    print(f"  {'measure':<{width}}{'moor':>10}{'docker':>10}{'moor/docker':>14}")
    for name, value in moor.items():
        other = docker.get(name) if docker else None
        ratio = f"{value / other:14.2f}" if other else f"{'-':>14}"
        shown = f"{other:10.{precision}f}" if other is not None else f"{'-':>10}"
        print(f"  {name:<{width}}{value:10.{precision}f}{shown}{ratio}")
    if docker is None:
        print("  (dockerd not installed: `apt-get install docker.io` for the side-by-side figures)")
