"""Crafted DNS packets from inside a container to the embedded server (127.0.0.11): each answered with a
reply to that query, or dropped, never a reply to a response; afterwards another container on the network
still resolves names over UDP and TCP, and moord still serves. Packets go only to 127.0.0.11 inside the
suite's own containers' network namespaces (entered with nsenter)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from collections.abc import Iterator

import pytest

from hostile.dnscases import CASES, DnsCase, answers_of, query
from hostile.invariants import Guard
from hostile.wire import call, call_json
from moor.testing.daemon import DaemonProcess

NETWORK = "hostile-dns"

#: runs inside a container's network namespace: sends the packets on stdin (hex, JSON), prints the replies
SENDER = r"""
import json, socket, struct, sys, time
case = json.load(sys.stdin)
packets = [bytes.fromhex(p) for p in case["packets"]]
replies = []
if case["tcp"]:
    for packet in packets:
        sock = socket.create_connection(("127.0.0.11", 53), timeout=case["wait"])
        sock.sendall(packet)
        data = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                if case["one"] and len(data) >= 2 and len(data) >= 2 + struct.unpack("!H", data[:2])[0]:
                    break
        except (socket.timeout, ConnectionResetError):
            pass
        sock.close()
        while len(data) >= 2:
            size = struct.unpack("!H", data[:2])[0]
            replies.append(data[2:2 + size].hex())
            data = data[2 + size:]
else:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for packet in packets:
        try:
            sock.sendto(packet, ("127.0.0.11", 53))
        except OSError:
            pass
    sock.settimeout(case["wait"])
    while True:
        try:
            replies.append(sock.recv(65536).hex())
        except (socket.timeout, ConnectionRefusedError):
            break
        if case["one"]:
            break
        sock.settimeout(0.5)
print(json.dumps(replies))
"""

#: holds ``count`` TCP connections to 127.0.0.11 with half a length prefix sent, until stdin closes
SLOW_CLIENTS = r"""
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    sock = socket.create_connection(("127.0.0.11", 53), timeout=5)
    sock.sendall(b"\x00")
    held.append(sock)
print("ready", flush=True)
sys.stdin.read()
"""


def _pid(daemon: DaemonProcess, name: str) -> int:
    return int(call(daemon.socket, "GET", f"/containers/{name}/json").json()["State"]["Pid"])


def _ip(daemon: DaemonProcess, name: str) -> str:
    networks = call(daemon.socket, "GET", f"/containers/{name}/json").json()["NetworkSettings"]["Networks"]
    return str(networks[NETWORK]["IPAddress"])


def in_netns(pid: int, script: str, stdin: str, timeout: float = 60) -> str:
    result = subprocess.run(["nsenter", "-t", str(pid), "-n", sys.executable, "-c", script], input=stdin,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result.stdout


def send(pid: int, packets: list[bytes], tcp: bool, one: bool = False) -> list[bytes]:
    """Send ``packets`` from the namespace of ``pid``; the replies (only the first when ``one``)."""
    order = {"packets": [p.hex() for p in packets], "tcp": tcp, "one": one, "wait": 10 if one else 1.5}
    out = in_netns(pid, SENDER, json.dumps(order))
    return [bytes.fromhex(reply) for reply in json.loads(out)]


def resolves(daemon: DaemonProcess, asker: int, peer: str) -> None:
    """The asker's namespace gets the peer's address, over UDP and over TCP."""
    want = _ip(daemon, peer)
    for tcp in (False, True):
        packet = query(peer, ident=0x4242)
        replies = send(asker, [struct.pack("!H", len(packet)) + packet if tcp else packet], tcp, one=True)
        assert replies, f"no answer over {'TCP' if tcp else 'UDP'}"
        assert answers_of(replies[0]) == (0, [want]), replies[0].hex()


@pytest.fixture(scope="module")
def dns_world(hostile_daemon: DaemonProcess) -> Iterator[dict[str, int]]:
    """A user network with an attacker, an asker and a peer container, all running."""
    sock = hostile_daemon.socket
    assert call_json(sock, "POST", "/networks/create", {"Name": NETWORK}).status == 201
    names = ("dns-attacker", "dns-asker", "dns-peer")
    try:
        for name in names:
            body = {"Image": "busybox", "Cmd": ["sleep", "100000"], "HostConfig": {"NetworkMode": NETWORK}}
            assert call_json(sock, "POST", f"/containers/create?name={name}", body).status == 201
            assert call(sock, "POST", f"/containers/{name}/start", timeout=60).status == 204
        yield {name: _pid(hostile_daemon, name) for name in names}
    finally:
        for name in names:
            call(sock, "DELETE", f"/containers/{name}?force=1", timeout=60)
        call(sock, "DELETE", f"/networks/{NETWORK}")


def _messages(case: DnsCase) -> list[bytes]:
    """The DNS messages in a case's packets (TCP ones split at their length prefixes)."""
    if not case.tcp:
        return [packet for packet in case.packets if len(packet) >= 2]
    found = []
    for data in case.packets:
        while len(data) >= 4:
            size = struct.unpack("!H", data[:2])[0]
            found.append(data[2:2 + size])
            data = data[2 + size:]
    return found


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_dns_packet(hostile_daemon: DaemonProcess, guard: Guard, dns_world: dict[str, int], case: DnsCase) -> None:
    replies = send(dns_world["dns-attacker"], case.packets, case.tcp)
    if case.silent:
        assert replies == [], "the server answered a response (two servers could loop)"
    sent_ids = {message[:2] for message in _messages(case)}
    for reply in replies:
        assert len(reply) >= 12, reply.hex()
        assert reply[2] & 0x80, f"not a response: {reply[:12].hex()}"
        assert reply[:2] in sent_ids or not sent_ids, f"a reply to no query: {reply[:12].hex()}"
    resolves(hostile_daemon, dns_world["dns-asker"], "dns-peer")


@pytest.mark.parametrize("count", [16, 64])
def test_slow_tcp_clients_starve_nobody(hostile_daemon: DaemonProcess, guard: Guard, dns_world: dict[str, int],
                                        count: int) -> None:
    """Many TCP clients of one container stalled mid-length-prefix: another container still resolves."""
    holder = subprocess.Popen(["nsenter", "-t", str(dns_world["dns-attacker"]), "-n", sys.executable, "-c",
                               SLOW_CLIENTS, str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        resolves(hostile_daemon, dns_world["dns-asker"], "dns-peer")
    finally:
        holder.communicate("", timeout=30)
    resolves(hostile_daemon, dns_world["dns-asker"], "dns-peer")
