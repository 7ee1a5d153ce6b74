"""A private dockerd for interop tests and side-by-side benchmarks: its own data root, socket and no iptables.

Tests that use it skip when Docker is not installed (the suite never needs it); ``make install`` installs
Debian's docker.io, so CI runs them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator

from moor.testing.daemon import terminate, unmount_under


@contextlib.contextmanager
def private_dockerd(bridge: bool = False, base: str | None = None,
                    extra_args: tuple[str, ...] = ()) -> Iterator[str | None]:
    """A dockerd with its own data root and socket and no iptables rules; None if not installed.

    Without ``bridge`` it has no default bridge network. With it, its default ``bridge``
    network is a Linux bridge of its own (``mbd<hex>``, a random 10.199.x.0/24; never
    docker0), removed afterwards; containers reach the host through it and published
    ports go through docker-proxy (no NAT rules, as ``--iptables=false``). Its directory is made
    in ``base`` (default: the temp directory). ``extra_args`` go to dockerd as they are
    (``--registry-mirror=...``, say).
    """
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
         "--ip6tables=false", *network_args, "--storage-driver=overlay2", *extra_args],
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
        _remove_containers_and_networks(f"unix://{socket}")  # dockerd leaves the bridges of its networks behind
        terminate(process, 30)
        unmount_under(root)  # its root is no mount point: what dockerd mounted below it (exec/netns/default)
        shutil.rmtree(root, ignore_errors=True)
        if bridge_name:
            subprocess.run(["ip", "link", "del", bridge_name], capture_output=True)


def _remove_containers_and_networks(host: str) -> None:
    """Remove every container and user-defined network of the dockerd at ``host`` (their veths and bridges)."""
    docker = ["docker", "-H", host]
    listed = subprocess.run([*docker, "ps", "-aq"], capture_output=True, text=True, timeout=60)
    if listed.returncode == 0 and listed.stdout.split():
        subprocess.run([*docker, "rm", "-f", *listed.stdout.split()], capture_output=True, timeout=120)
    subprocess.run([*docker, "network", "prune", "-f"], capture_output=True, timeout=60)
