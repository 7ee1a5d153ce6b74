"""Containers that attack the embedded DNS server from inside (issue 12): a reverse lookup of a name DNS
cannot carry, a number as an alias, crafted and random packets, a crowd of slow TCP clients. The server
must answer (or drop) each of them and go on serving every container, and containers must go on starting
on user-defined networks. Packets go only to 127.0.0.11 inside the test's containers; the upstream is a
fake one of the test's, on an address of the host made for it."""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
from collections.abc import Iterator

import pytest

from e2e.containerhelpers import address, import_busybox, inspect, moor
from e2e.test_dns import ask, run_d
from e2e.test_networking import make_network
from moor.services import dns_wire as wire
from moor.testing.daemon import DaemonProcess, UnixHTTPConnection
from moor.testing.dnsupstream import FakeUpstream, host_address

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with host_address() as where:
        server = FakeUpstream({"external.test": "192.0.2.10"}, address=where, port=53)
        yield server
        server.close()


@pytest.fixture(scope="module")
def hostile(upstream: FakeUpstream) -> Iterator[DaemonProcess]:
    with DaemonProcess(config_text=f'[network]\ndns_upstreams = ["{upstream.address}"]\n') as daemon:
        import_busybox(daemon)
        make_network(daemon, "hostnet")
        yield daemon
        moor(daemon, "rm", "-f", *moor(daemon, "ps", "-aq").stdout.split(), timeout=120)
        moor(daemon, "network", "rm", "hostnet")


def in_netns(daemon: DaemonProcess, container: str, script: str, *args: str, stdin: str = "",
             timeout: float = 60) -> str:
    pid = inspect(daemon, container)["State"]["Pid"]
    result = subprocess.run(["nsenter", "-t", str(pid), "-n", sys.executable, "-c", script, *args], input=stdin,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result.stdout


def still_serving(daemon: DaemonProcess, asker: str, peer: str) -> None:
    """Names and forwarding, over UDP and TCP, and a new container on the network starts and is known."""
    for tcp in (False, True):
        assert ask(daemon, asker, peer, tcp=tcp)["answers"] == [address(daemon, peer, "hostnet")]
        assert ask(daemon, asker, "external.test", tcp=tcp)["answers"] == ["192.0.2.10"]
    late = run_d(daemon, "--network", "hostnet", "busybox", "sleep", "300")
    try:
        assert ask(daemon, asker, late[:12])["answers"] == [inspect(daemon, late)["NetworkSettings"]["Networks"][
            "hostnet"]["IPAddress"]]
    finally:
        moor(daemon, "rm", "-f", late)


def test_reverse_lookup_of_a_name_dns_cannot_carry(hostile: DaemonProcess) -> None:
    long_name = "l" * 70  # a container name Docker takes, one label longer than the 63 octets DNS allows
    try:
        run_d(hostile, "--name", long_name, "--network", "hostnet", "busybox", "sleep", "300")
        run_d(hostile, "--name", "asker", "--network", "hostnet", "busybox", "sleep", "300")
        reverse = ".".join(reversed(address(hostile, long_name, "hostnet").split("."))) + ".in-addr.arpa"
        for tcp in (False, True):
            assert ask(hostile, "asker", reverse, qtype=wire.TYPE_PTR, tcp=tcp)["rcode"] == wire.NXDOMAIN
        still_serving(hostile, "asker", "asker")
    finally:
        moor(hostile, "rm", "-f", long_name, "asker")


def test_a_number_as_an_alias(hostile: DaemonProcess) -> None:
    """Through the API, where only types can be wrong: refused (400), or taken without harm."""
    body = json.dumps({"Image": "busybox", "Cmd": ["sleep", "300"], "HostConfig": {"NetworkMode": "hostnet"},
                       "NetworkingConfig": {"EndpointsConfig": {"hostnet": {"Aliases": [123]}}}})
    connection = UnixHTTPConnection(hostile.socket)
    try:
        connection.request("POST", "/v1.41/containers/create?name=numeric", body=body,
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    try:
        assert response.status in (201, 400)
        run_d(hostile, "--name", "asker2", "--network", "hostnet", "busybox", "sleep", "300")
        if response.status == 201:
            assert moor(hostile, "start", "numeric").returncode == 0
            assert ask(hostile, "asker2", "numeric")["answers"] == [address(hostile, "numeric", "hostnet")]
        still_serving(hostile, "asker2", "asker2")
    finally:
        moor(hostile, "rm", "-f", "numeric", "asker2")


VOLLEY = r"""
import socket, struct, sys
packets = [bytes.fromhex(line) for line in sys.stdin.read().split()]
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for packet in packets:
    try:
        udp.sendto(packet, ("127.0.0.11", 53))
    except OSError:
        pass  # too big for a datagram
for packet in packets[:40]:
    with socket.create_connection(("127.0.0.11", 53), timeout=10) as conn:
        try:
            conn.sendall(struct.pack("!H", min(len(packet), 65535)) + packet[:65535])
        except OSError:
            pass
print("sent")
"""


def crafted_packets(rng: random.Random) -> list[bytes]:
    header = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0)
    query = header + wire.encode_name("asker") + b"\x00\x01\x00\x01"
    packets = [
        header + b"\xc0\x0c\x00\x01\x00\x01", header + b"\x01a\xc0\x0e\x00\x01\x00\x01",  # pointer loops
        struct.pack("!HHHHHH", 1, 0x0100, 0, 0, 0, 0), struct.pack("!HHHHHH", 1, 0x0100, 9, 9, 9, 9),
        b"", b"\x00", query[:15], query + b"\x00" * 3000, query.replace(b"\x01\x00", b"\x81\x80", 1),
        struct.pack("!HHHHHH", 1, 0x2800, 1, 0, 0, 0) + wire.encode_name("asker") + b"\x00\x06\x00\x01",
        header[:10] + b"\x00\x01" + wire.encode_name("asker") + b"\x00\x01\x00\x01\x00\x00\x29\x10\x00\x01\x00\x00\x00",
        b"\x3f" * 60000,
    ]
    for _ in range(150):
        packet = bytearray(rng.choice(packets[:12]) if rng.random() < 0.6 else rng.randbytes(rng.randrange(600)))
        for _ in range(rng.randrange(4)):
            if packet:
                packet[rng.randrange(len(packet))] = rng.randrange(256)
        packets.append(bytes(packet))
    return packets


def test_crafted_and_random_packets(hostile: DaemonProcess) -> None:
    try:
        run_d(hostile, "--name", "attacker", "--network", "hostnet", "busybox", "sleep", "300")
        run_d(hostile, "--name", "bystander", "--network", "hostnet", "busybox", "sleep", "300")
        packets = crafted_packets(random.Random(12))
        assert in_netns(hostile, "attacker", VOLLEY, stdin="\n".join(p.hex() for p in packets)) == "sent\n"
        still_serving(hostile, "bystander", "attacker")
        still_serving(hostile, "attacker", "bystander")
    finally:
        moor(hostile, "rm", "-f", "attacker", "bystander")


SLOW_CLIENTS = r"""
import socket, sys, time
count, seconds = int(sys.argv[1]), float(sys.argv[2])
clients = []
for _ in range(count):
    conn = socket.create_connection(("127.0.0.11", 53), timeout=10)
    conn.sendall(b"\xff")  # a query of 65,000-odd bytes, to come one byte at a time
    conn.setblocking(False)
    clients.append(conn)
print("open", flush=True)
deadline, cut = time.monotonic() + seconds, set()
while time.monotonic() < deadline and len(cut) < count:
    time.sleep(0.2)
    for index, conn in enumerate(clients):
        if index in cut:
            continue
        try:
            if conn.recv(1) == b"":
                cut.add(index)
                continue
        except BlockingIOError:
            pass
        except OSError:
            cut.add(index)
            continue
        try:
            conn.send(b"\x00")
        except OSError:
            cut.add(index)
print("cut", len(cut), flush=True)
"""


def test_slow_tcp_clients_of_one_container_starve_no_other(hostile: DaemonProcess) -> None:
    """Twenty TCP clients of one container that trickle a byte every 0.2 s: another container's queries,
    answered or forwarded, over UDP and TCP, are still answered; the server cuts the slow ones off."""
    try:
        run_d(hostile, "--name", "hog", "--network", "hostnet", "busybox", "sleep", "300")
        run_d(hostile, "--name", "victim", "--network", "hostnet", "busybox", "sleep", "300")
        pid = inspect(hostile, "hog")["State"]["Pid"]
        hog = subprocess.Popen(["nsenter", "-t", str(pid), "-n", sys.executable, "-c", SLOW_CLIENTS, "20", "40"],
                               stdout=subprocess.PIPE, text=True)
        try:
            assert hog.stdout is not None and hog.stdout.readline() == "open\n"
            for tcp in (False, True):
                assert ask(hostile, "victim", "hog", tcp=tcp)["answers"] == [address(hostile, "hog", "hostnet")]
                assert ask(hostile, "victim", "external.test", tcp=tcp)["answers"] == ["192.0.2.10"]
            out, _ = hog.communicate(timeout=60)
            assert out == "cut 20\n"  # long before the 40 s the clients would have gone on
        finally:
            hog.kill()
            hog.wait()
        still_serving(hostile, "hog", "victim")
    finally:
        moor(hostile, "rm", "-f", "hog", "victim")
