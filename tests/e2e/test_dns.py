"""The embedded DNS server at 127.0.0.11 on user-defined networks: names, aliases and IDs of the
containers on shared networks, forwarding to upstream servers from the container's own network
namespace (a fake upstream run by the test on an address of the host made for it, reached through the
containers' routes), resolv.conf, and its listeners across network connect/disconnect and a moord
restart. Queries go only to 127.0.0.11 inside the test's containers and to the test's fake upstreams."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator

import pytest

from e2e.containerhelpers import address, import_busybox, inspect, moor
from e2e.test_networking import make_network
from moor.services import dns_wire as wire
from moor.services.dns_netns import NetworkNamespace
from moor.testing.daemon import DaemonProcess
from moor.testing.dnsupstream import FakeUpstream, host_address

pytestmark = pytest.mark.root

EXTERNAL = {"external.test": "192.0.2.10"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with host_address() as where:
        server = FakeUpstream(EXTERNAL, address=where, port=53)
        yield server
        server.close()


@pytest.fixture(scope="module")
def dnsd(upstream: FakeUpstream) -> Iterator[DaemonProcess]:
    with DaemonProcess(config_text=f'[network]\ndns_upstreams = ["{upstream.address}"]\n') as daemon:
        assert daemon.bridge  # the per-run default bridge is kept beside our [network] table
        import_busybox(daemon)
        yield daemon
        moor(daemon, "rm", "-f", *moor(daemon, "ps", "-aq").stdout.split(), timeout=120)


ASK = r"""
import socket, struct, sys, json
name, qtype, tcp = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "tcp"
query = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
query += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", qtype, 1)
if tcp:
    sock = socket.create_connection(("127.0.0.11", 53), timeout=10)
    sock.sendall(struct.pack("!H", len(query)) + query)
    data = b""
    while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
        data += sock.recv(4096)
    data = data[2:]
else:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(10)
    sock.sendto(query, ("127.0.0.11", 53))
    data = sock.recv(4096)
ident, flags, qd, an = struct.unpack("!HHHH", data[:8])
offset = len(query) - 12 + 12
answers = []
for _ in range(an):
    offset += 2
    rtype, _, _, size = struct.unpack("!HHIH", data[offset:offset + 10])
    rdata = data[offset + 10:offset + 10 + size]
    offset += 10 + size
    answers.append(socket.inet_ntoa(rdata) if rtype == 1 else rdata.hex())
print(json.dumps({"id": ident, "rcode": flags & 15, "answers": answers}))
"""


def ask(daemon: DaemonProcess, container: str, name: str, qtype: int = wire.TYPE_A, tcp: bool = False) -> dict:
    """Query 127.0.0.11 in the container's network namespace from the host (nsenter -n)."""
    pid = inspect(daemon, container)["State"]["Pid"]
    result = subprocess.run(["nsenter", "-t", str(pid), "-n", sys.executable, "-c", ASK, name, str(qtype),
                             "tcp" if tcp else "udp"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["id"] == 0x1234
    return reply


def run_d(daemon: DaemonProcess, *args: str) -> str:
    result = moor(daemon, "run", "-d", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_names_aliases_and_ids_on_shared_networks(dnsd: DaemonProcess) -> None:
    make_network(dnsd, "dnsnet")
    make_network(dnsd, "farnet")
    try:
        db = run_d(dnsd, "--name", "db", "--network", "dnsnet", "--network-alias", "database",
                   "--network-alias", "pool", "busybox", "sleep", "300")
        run_d(dnsd, "--name", "db2", "--network", "dnsnet", "--network-alias", "pool", "busybox", "sleep", "300")
        run_d(dnsd, "--name", "client", "--network", "dnsnet", "busybox", "sleep", "300")
        db_ip, db2_ip = address(dnsd, "db", "dnsnet"), address(dnsd, "db2", "dnsnet")
        # (a full ID is 64 characters, one more than a DNS label may hold: no resolver asks for it)
        script = (f"for n in db database DB. {db[:12]}; do ping -c1 -W2 $n >/dev/null && echo ok-$n; done; "
                  "nslookup db 2>&1; cat /etc/resolv.conf; echo HOSTS; cat /etc/hosts")
        out = moor(dnsd, "exec", "client", "sh", "-c", script).stdout
        for name in ("db", "database", "DB.", db[:12]):
            assert f"ok-{name}" in out, out
        assert db_ip in out and "nameserver 127.0.0.11" in out and "options ndots:0" in out, out
        assert db_ip not in out.split("HOSTS", 1)[1], "no peers in /etc/hosts"

        assert sorted(ask(dnsd, "client", "pool")["answers"]) == sorted([db_ip, db2_ip])
        assert ask(dnsd, "client", "db.dnsnet", tcp=True)["answers"] == [db_ip]
        assert ask(dnsd, "client", "db", qtype=wire.TYPE_AAAA) == {"id": 0x1234, "rcode": 0, "answers": []}
        ptr = ask(dnsd, "client", ".".join(reversed(db_ip.split("."))) + ".in-addr.arpa", qtype=wire.TYPE_PTR)
        assert bytes.fromhex(ptr["answers"][0]) == wire.encode_name("db.dnsnet")

        run_d(dnsd, "--name", "late", "--network", "dnsnet", "busybox", "sleep", "300")
        assert ask(dnsd, "client", "late")["answers"] == [address(dnsd, "late", "dnsnet")]
        assert moor(dnsd, "rm", "-f", "late").returncode == 0
        assert ask(dnsd, "client", "late")["rcode"] == wire.NXDOMAIN  # forwarded: the upstream knows no "late"

        far = moor(dnsd, "run", "--rm", "--network", "farnet", "busybox", "sh", "-c",
                   "nslookup db >/dev/null 2>&1 && echo found || echo unknown; ping -c1 -W1 db 2>&1")
        assert far.stdout.startswith("unknown"), far.stdout + far.stderr
    finally:
        moor(dnsd, "rm", "-f", "db", "db2", "client", "late")
        for name in ("dnsnet", "farnet"):
            moor(dnsd, "network", "rm", name)


def test_forwarding_udp_and_tcp(dnsd: DaemonProcess, upstream: FakeUpstream) -> None:
    make_network(dnsd, "fwdnet")
    try:
        run_d(dnsd, "--name", "asker", "--network", "fwdnet", "busybox", "sleep", "300")
        out = moor(dnsd, "exec", "asker", "nslookup", "external.test").stdout
        assert "192.0.2.10" in out, out
        assert ask(dnsd, "asker", "external.test", tcp=True)["answers"] == ["192.0.2.10"]
        assert ask(dnsd, "asker", "nowhere.test")["rcode"] == wire.NXDOMAIN
        assert "external.test" in upstream.asked and "asker" not in upstream.asked
        # --dns replaces the upstreams for that container: nothing listens on its own 127.0.0.1 -> SERVFAIL
        run_d(dnsd, "--name", "own", "--network", "fwdnet", "--dns", "127.0.0.1", "busybox", "sleep", "300")
        assert ask(dnsd, "own", "external.test")["rcode"] == wire.SERVFAIL
        assert ask(dnsd, "own", "asker")["answers"] == [address(dnsd, "asker", "fwdnet")]
    finally:
        moor(dnsd, "rm", "-f", "asker", "own")
        moor(dnsd, "network", "rm", "fwdnet")


def loopback_upstream(known: dict[str, str], address: str, pid: int | None = None) -> FakeUpstream:
    """A fake upstream at ``address``:53 (a loopback address, port 53 as Docker's --dns takes only an
    address) on the host (``pid`` None) or in a container's network namespace."""
    if pid is None:
        return FakeUpstream(known, address=address, port=53)
    namespace = NetworkNamespace(f"/proc/{pid}/ns/net")
    try:
        return FakeUpstream(known, sockets=namespace.listeners(address, 53))
    finally:
        namespace.close()


def test_forwarding_leaves_from_the_containers_namespace(dnsd: DaemonProcess, upstream: FakeUpstream) -> None:
    """As Docker, the server forwards from inside the container: --dns 127.0.0.1 is the container's own
    loopback, never the host's, and a container on an --internal network reaches no upstream at all."""
    # an address of 127.0.0.0/8 of the test's own (the whole range is loopback, on the host and in containers)
    loopback = f"127.{secrets.randbelow(200) + 50}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 2}"
    host_side = loopback_upstream({"loop.test": "192.0.2.66"}, loopback)
    make_network(dnsd, "nsnet")
    sealed_subnet = f"10.205.{secrets.randbelow(250)}.0/24"
    assert moor(dnsd, "network", "create", "--internal", "--subnet", sealed_subnet,
                "-o", f"com.docker.network.bridge.name=mt{secrets.token_hex(4)}", "sealednet").returncode == 0
    inside = None
    try:
        run_d(dnsd, "--name", "own-loop", "--network", "nsnet", "--dns", loopback, "busybox", "sleep", "300")
        for tcp in (False, True):  # nothing listens at that address in the container yet
            assert ask(dnsd, "own-loop", "loop.test", tcp=tcp)["rcode"] == wire.SERVFAIL
        assert host_side.asked == []
        # a server at that address on the container's own loopback is the one asked
        inside = loopback_upstream({"loop.test": "192.0.2.77"}, loopback, inspect(dnsd, "own-loop")["State"]["Pid"])
        for tcp in (False, True):
            assert ask(dnsd, "own-loop", "loop.test", tcp=tcp)["answers"] == ["192.0.2.77"]
        assert inside.asked == ["loop.test", "loop.test"] and host_side.asked == []

        token = secrets.token_hex(4)
        run_d(dnsd, "--name", "sealed", "--network", "sealednet", "busybox", "sleep", "300")
        run_d(dnsd, "--name", "sealmate", "--network", "sealednet", "busybox", "sleep", "300")
        run_d(dnsd, "--name", "open", "--network", "nsnet", "busybox", "sleep", "300")
        for tcp in (False, True):
            assert ask(dnsd, "sealed", f"sealed-{token}.test", tcp=tcp)["rcode"] == wire.SERVFAIL
            assert ask(dnsd, "sealed", "sealmate", tcp=tcp)["answers"] == [address(dnsd, "sealmate", "sealednet")]
            assert ask(dnsd, "open", f"open-{token}.test", tcp=tcp)["rcode"] == wire.NXDOMAIN  # reached, unknown
        assert f"sealed-{token}.test" not in upstream.asked and f"open-{token}.test" in upstream.asked
        out = moor(dnsd, "exec", "sealed", "nslookup", "external.test").stdout
        assert "192.0.2.10" not in out, out
    finally:
        host_side.close()
        if inside is not None:
            inside.close()
        moor(dnsd, "rm", "-f", "own-loop", "sealed", "sealmate", "open")
        for name in ("nsnet", "sealednet"):
            moor(dnsd, "network", "rm", name)


def test_resolv_conf_options_and_default_bridge(dnsd: DaemonProcess) -> None:
    make_network(dnsd, "optnet")
    try:
        user = moor(dnsd, "run", "--rm", "--network", "optnet", "--dns-search", "example.test",
                    "--dns-option", "ndots:2", "--dns-option", "timeout:1", "busybox", "cat", "/etc/resolv.conf")
        assert user.stdout == "search example.test\nnameserver 127.0.0.11\noptions ndots:2 timeout:1\n"
        default = moor(dnsd, "run", "--rm", "--dns", "127.0.0.1", "busybox", "cat", "/etc/resolv.conf")
        assert "nameserver 127.0.0.11" not in default.stdout and "nameserver 127.0.0.1" in default.stdout
    finally:
        moor(dnsd, "network", "rm", "optnet")


def test_connect_disconnect_and_moord_restart(dnsd: DaemonProcess) -> None:
    make_network(dnsd, "joinnet")
    try:
        run_d(dnsd, "--name", "anchor", "--network", "joinnet", "busybox", "sleep", "300")
        run_d(dnsd, "--name", "roamer", "busybox", "sleep", "300")  # the default bridge: no embedded DNS
        assert "127.0.0.11" not in moor(dnsd, "exec", "roamer", "cat", "/etc/resolv.conf").stdout
        assert moor(dnsd, "network", "connect", "--alias", "wanderer", "joinnet", "roamer").returncode == 0
        roamer_ip = address(dnsd, "roamer", "joinnet")
        assert ask(dnsd, "anchor", "wanderer")["answers"] == [roamer_ip]
        assert ask(dnsd, "roamer", "anchor")["answers"] == [address(dnsd, "anchor", "joinnet")]
        assert "nameserver 127.0.0.11" in moor(dnsd, "exec", "roamer", "cat", "/etc/resolv.conf").stdout

        dnsd.stop()
        dnsd.start()
        assert ask(dnsd, "anchor", "roamer", tcp=True)["answers"] == [roamer_ip]
        assert ask(dnsd, "roamer", "anchor")["answers"] == [address(dnsd, "anchor", "joinnet")]

        assert moor(dnsd, "network", "disconnect", "joinnet", "roamer").returncode == 0
        assert ask(dnsd, "anchor", "wanderer")["rcode"] == wire.NXDOMAIN
        pid = inspect(dnsd, "roamer")["State"]["Pid"]
        closed = subprocess.run(["nsenter", "-t", str(pid), "-n", "cat", "/proc/net/udp"], capture_output=True,
                                text=True).stdout
        assert ":0035" not in closed  # no listener left on port 53 in the container that left

        joined = moor(dnsd, "run", "--rm", "--network", "container:anchor", "busybox", "sh", "-c",
                      "cat /etc/resolv.conf; nslookup anchor")
        assert "nameserver 127.0.0.11" in joined.stdout and address(dnsd, "anchor", "joinnet") in joined.stdout
        assert moor(dnsd, "rename", "anchor", "keel").returncode == 0
        assert ask(dnsd, "keel", "keel")["answers"] == [address(dnsd, "keel", "joinnet")]
        assert ask(dnsd, "keel", "anchor")["rcode"] == wire.NXDOMAIN
    finally:
        moor(dnsd, "rm", "-f", "anchor", "keel", "roamer")
        moor(dnsd, "network", "rm", "joinnet")
