"""A container on a network gets a network namespace moord made before runc creates the container, and its network
is set up while runc works (the start's trace shows ``network-wait``); moord lets go of the namespace once the
container holds it, and a join that fails leaves no namespace, veth or address behind."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from e2e.containerhelpers import import_busybox, inspect, moor
from moor import tracing
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def traced() -> Iterator[DaemonProcess]:
    with DaemonProcess(extra_args=("--debug",)) as daemon:
        import_busybox(daemon)
        yield daemon
        moor(daemon, "rm", "-f", *moor(daemon, "ps", "-aq").stdout.split(), timeout=120)


def netns_fds(daemon: DaemonProcess) -> int:
    """How many descriptors on network namespaces other than its own moord holds."""
    assert daemon.process is not None
    own = os.readlink(f"/proc/{daemon.process.pid}/ns/net")
    fd_dir = f"/proc/{daemon.process.pid}/fd"
    count = 0
    for name in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        count += target.startswith("net:") and target != own
    return count


def start_phases(daemon: DaemonProcess, container_id: str) -> dict[str, float]:
    for line in reversed(daemon.log().splitlines()):
        parsed = tracing.parse(line)
        if parsed is not None and parsed[0] == "start" and parsed[1] == container_id[:12]:
            return parsed[2]
    raise AssertionError(f"no start trace of {container_id[:12]}")


def make_network(daemon: DaemonProcess, name: str) -> str:
    prefix = f"10.205.{secrets.randbelow(250)}"
    made = moor(daemon, "network", "create", "--subnet", f"{prefix}.0/24",
                "-o", f"com.docker.network.bridge.name=mt{secrets.token_hex(4)}", name)
    assert made.returncode == 0, made.stderr
    return prefix


def test_the_network_is_set_up_while_runc_creates_the_container(traced: DaemonProcess) -> None:
    prefix = make_network(traced, "aheadnet")
    try:
        held = netns_fds(traced)
        started = moor(traced, "run", "-d", "--name", "ahead", "--network", "aheadnet", "busybox", "sleep", "300")
        assert started.returncode == 0, started.stderr
        phases = start_phases(traced, started.stdout.strip())
        assert "network-wait" in phases and "network" in phases and "net.connect" in phases, phases
        facts = inspect(traced, "ahead")
        address = facts["NetworkSettings"]["Networks"]["aheadnet"]["IPAddress"]
        assert address.startswith(prefix + ".")
        inside = moor(traced, "exec", "ahead", "sh", "-c", "ip -o -4 addr show eth0; nslookup ahead 127.0.0.11")
        assert f"inet {address}/24" in inside.stdout and address in inside.stdout.split("Name:")[-1], inside.stdout
        pid = facts["State"]["Pid"]
        assert os.stat(f"/proc/{pid}/ns/net").st_ino != os.stat("/proc/self/ns/net").st_ino
        # moord keeps one handle: the embedded DNS server's, to forward from the container's namespace
        assert netns_fds(traced) == held + 1
        on_bridge = moor(traced, "run", "-d", "--name", "ahead-bridge", "busybox", "sleep", "300")
        assert on_bridge.returncode == 0, on_bridge.stderr
        assert "network-wait" in start_phases(traced, on_bridge.stdout.strip())
        assert netns_fds(traced) == held + 1  # the default bridge has no DNS server: nothing held for it
        reached = moor(traced, "exec", "ahead-bridge", "ping", "-c1", "-W2",
                       inspect(traced, "ahead-bridge")["NetworkSettings"]["Gateway"])
        assert reached.returncode == 0, reached.stdout + reached.stderr
    finally:
        moor(traced, "rm", "-f", "ahead", "ahead-bridge")
        moor(traced, "network", "rm", "aheadnet")


def test_a_failed_join_leaves_nothing_behind(traced: DaemonProcess) -> None:
    """The second container asks for the first one's address: its start fails with Docker's words, and the
    namespace made for it, its veth and any address are gone; it starts once the address is free."""
    prefix = make_network(traced, "clashnet")
    try:
        first = moor(traced, "run", "-d", "--name", "first", "--network", "clashnet", "--ip", f"{prefix}.9",
                     "busybox", "sleep", "300")
        assert first.returncode == 0, first.stderr
        held = netns_fds(traced)
        ports = sorted(os.listdir(f"/sys/class/net/{_bridge_of(traced, 'clashnet')}/brif"))
        second = moor(traced, "run", "-d", "--name", "second", "--network", "clashnet", "--ip", f"{prefix}.9",
                      "busybox", "sleep", "300")
        assert second.returncode != 0 and "Address already in use" in second.stderr, second.stderr
        assert netns_fds(traced) == held
        assert sorted(os.listdir(f"/sys/class/net/{_bridge_of(traced, 'clashnet')}/brif")) == ports
        assert not inspect(traced, "second")["State"]["Running"]
        moor(traced, "rm", "-f", "first")
        again = moor(traced, "start", "second")
        assert again.returncode == 0, again.stderr
        assert inspect(traced, "second")["NetworkSettings"]["Networks"]["clashnet"]["IPAddress"] == f"{prefix}.9"
    finally:
        moor(traced, "rm", "-f", "first", "second")
        moor(traced, "network", "rm", "clashnet")


def test_a_runtime_failure_after_the_join_leaves_nothing_behind(traced: DaemonProcess) -> None:
    """runc cannot start the command while the network was being set up beside it: the endpoint is taken down,
    the namespace let go of, and the address is free for the next container."""
    prefix = make_network(traced, "failnet")
    bridge = _bridge_of(traced, "failnet")
    try:
        held = netns_fds(traced)
        failed = moor(traced, "run", "-d", "--name", "nocommand", "--network", "failnet", "busybox",
                      "/no/such/command")
        assert failed.returncode != 0 and "no/such/command" in failed.stderr, failed.stderr
        assert netns_fds(traced) == held
        assert os.listdir(f"/sys/class/net/{bridge}/brif") == []
        assert inspect(traced, "nocommand")["NetworkSettings"]["Networks"]["failnet"].get("IPAddress") in ("", None)
        after = moor(traced, "run", "-d", "--name", "after", "--network", "failnet", "busybox", "sleep", "300")
        assert after.returncode == 0, after.stderr
        assert inspect(traced, "after")["NetworkSettings"]["Networks"]["failnet"]["IPAddress"] == f"{prefix}.2"
    finally:
        moor(traced, "rm", "-f", "nocommand", "after")
        moor(traced, "network", "rm", "failnet")


def _bridge_of(daemon: DaemonProcess, network: str) -> str:
    shown = moor(daemon, "network", "inspect", "--format", '{{index .Options "com.docker.network.bridge.name"}}',
                 network)
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.strip()
