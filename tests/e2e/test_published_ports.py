"""Published ports end to end: kernel NAT for other hosts, the userland proxy (TCP and UDP) for the host
itself, and the clean-up of both, also across a killed moord.

"Another host" is a network namespace of the test's own, joined to this host by a veth pair on a private /30;
it reaches the host-side address of that pair. Traffic goes only to 127.0.0.1, to that namespace and to the
test's containers.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from e2e.containerhelpers import import_busybox, inspect, moor, moord  # noqa: F401 - fixture
from e2e.test_networking import fetch, free_port
from moor.containers.portspec import host_has_ipv6
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

HTTPD = "mkdir -p /www && echo served-by-moor > /www/index.html && httpd -f -p 80 -h /www"

#: a GET from the other host's namespace: argv = url; prints the body or "failed"
GET = ("import sys, urllib.request\ntry: print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode(),"
       " end='')\nexcept OSError as err: print('failed', err)")

#: a UDP echo server, run in a container's network namespace: argv = port
UDP_ECHO = ("import socket, sys\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.bind(('0.0.0.0', int(sys.argv[1])))\nprint('ready', flush=True)\nwhile True:\n"
            "    data, peer = s.recvfrom(2048)\n    s.sendto(b'echo ' + data, peer)")


def sh(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def iptables(counters: bool = False) -> list[str]:
    """The nat and filter rules as ``iptables-save`` prints them (``[packets:bytes]`` first with counters)."""
    lines = []
    for table in ("nat", "filter"):
        output = sh("iptables-save", *(["-c"] if counters else []), "-t", table).stdout
        lines += [f"{table} {line}" for line in output.splitlines() if not line.startswith("#")]
    return lines


def unused_subnet(second_octet: int) -> str:
    """A random /24 under 10.<second_octet>.0.0/16 that no interface of the host uses."""
    used = sh("ip", "-o", "-4", "addr", "show").stdout
    for _ in range(100):
        subnet = f"10.{second_octet}.{secrets.randbelow(250)}.0/24"
        if f" {subnet.rsplit('.', 1)[0]}." not in used:
            return subnet
    raise RuntimeError("no free test subnet")


@contextlib.contextmanager
def other_host() -> Iterator[tuple[str, str, str]]:
    """A namespace joined to the host by a veth pair; yields (namespace name, host-side address, its address)."""
    name, near, far = (f"mt{secrets.token_hex(4)}" for _ in range(3))
    pair = next(ipaddress.IPv4Network(unused_subnet(213)).subnets(new_prefix=30))
    host_address, own = str(pair.network_address + 1), str(pair.network_address + 2)
    try:
        for command in (("ip", "netns", "add", name),
                        ("ip", "link", "add", near, "type", "veth", "peer", "name", far, "netns", name),
                        ("ip", "addr", "add", f"{host_address}/30", "dev", near), ("ip", "link", "set", near, "up"),
                        ("ip", "-n", name, "addr", "add", f"{own}/30", "dev", far),
                        ("ip", "-n", name, "link", "set", far, "up")):
            result = sh(*command)
            assert result.returncode == 0, f"{command}: {result.stderr}"
        yield name, host_address, own
    finally:
        sh("ip", "link", "del", near)
        sh("ip", "netns", "del", name)


def get_from(namespace: str, url: str) -> str:
    return sh("ip", "netns", "exec", namespace, sys.executable, "-c", GET, url).stdout


def dnat_packets(port: int) -> int:
    """Packets the DNAT rules for host port ``port`` matched so far."""
    total = 0
    for line in iptables(counters=True):
        if f"--dport {port} " in line and "-j DNAT" in line:
            total += int(re.search(r"\[(\d+):\d+\]", line).group(1))  # type: ignore[union-attr]
    return total


def make_network(daemon: DaemonProcess, name: str) -> tuple[str, str]:
    """A user network on its own bridge and subnet; returns (bridge, subnet)."""
    subnet, bridge = unused_subnet(212), f"mt{secrets.token_hex(4)}"
    result = moor(daemon, "network", "create", "--subnet", subnet, "-o", f"com.docker.network.bridge.name={bridge}",
                  name)
    assert result.returncode == 0, result.stderr
    return bridge, subnet


def address_of(daemon: DaemonProcess, container: str) -> str:
    networks = inspect(daemon, container)["NetworkSettings"]["Networks"]
    return next(iter(networks.values()))["IPAddress"]


def rules_for(address: str) -> list[str]:
    return sorted(line.split(" ", 1)[1] for line in iptables() if f"{address}/32" in line or f"{address}:" in line)


def test_another_host_reaches_a_published_port_through_nat(moord: DaemonProcess) -> None:
    make_network(moord, "natnet")
    port = free_port()
    try:
        started = moor(moord, "run", "-d", "--name", "natweb", "--network", "natnet", "-p", f"{port}:80",
                       "busybox", "sh", "-c", HTTPD)
        assert started.returncode == 0, started.stderr
        address = address_of(moord, "natweb")
        assert fetch(f"http://127.0.0.1:{port}/") == b"served-by-moor\n"  # the host itself: the proxy
        before = dnat_packets(port)
        with other_host() as (namespace, host_address, _own):
            assert get_from(namespace, f"http://{host_address}:{port}/") == "served-by-moor\n"
        assert dnat_packets(port) > before  # it went through the kernel's DNAT, not the proxy
        rules = rules_for(address)
        assert any(f"--dport {port} " in rule and f"--to-destination {address}:80" in rule for rule in rules)
        assert any(rule.startswith("-A MOOR-FORWARD") and "--dport 80 " in rule for rule in rules)
    finally:
        moor(moord, "rm", "-f", "natweb")
        moor(moord, "network", "rm", "natnet")
    assert rules_for(address) == []
    assert dnat_packets(port) == 0 and not any(f"--dport {port} " in line for line in iptables())


def test_udp_ranges_and_mixed_protocols(moord: DaemonProcess) -> None:
    make_network(moord, "udpnet")
    udp_port = free_port()
    low = next(p for p in iter(free_port, None) if p < 65535 and _free(p + 1))
    busy = next(p for p in iter(free_port, None) if p < 65535 and _free(p + 1) and abs(p - low) > 2)
    echo = None
    holder = socket.socket()
    try:
        holder.bind(("0.0.0.0", busy))  # -p busy-(busy+1):82 takes the first free port of the range
        started = moor(moord, "run", "-d", "--name", "udpbox", "--network", "udpnet",
                       "-p", f"127.0.0.1:{udp_port}:5353/udp", "-p", f"{low}-{low + 1}:80-81", "-p", "53/udp",
                       "-p", f"{busy}-{busy + 1}:82", "--expose", "7000-7001", "busybox", "sleep", "300")
        assert started.returncode == 0, started.stderr
        info = inspect(moord, "udpbox")
        ports = info["NetworkSettings"]["Ports"]
        assert ports["5353/udp"] == [{"HostIp": "127.0.0.1", "HostPort": str(udp_port)}]
        both = ("0.0.0.0", "::") if host_has_ipv6() else ("0.0.0.0",)  # Docker 20.10 adds [::] when it can
        assert ports["80/tcp"] == [{"HostIp": ip, "HostPort": str(low)} for ip in both]
        assert ports["81/tcp"] == [{"HostIp": ip, "HostPort": str(low + 1)} for ip in both]
        assert ports["82/tcp"] == [{"HostIp": ip, "HostPort": str(busy + 1)} for ip in both]
        random_port = ports["53/udp"][0]["HostPort"]
        assert [b["HostPort"] for b in ports["53/udp"]] == [random_port] * len(both)
        assert info["HostConfig"]["PortBindings"]["53/udp"] == [{"HostIp": "", "HostPort": ""}]
        listed = moor(moord, "port", "udpbox").stdout.splitlines()
        assert f"5353/udp -> 127.0.0.1:{udp_port}" in listed and f"53/udp -> 0.0.0.0:{random_port}" in listed
        assert f"81/tcp -> 0.0.0.0:{low + 1}" in listed
        if host_has_ipv6():
            assert f"81/tcp -> :::{low + 1}" in listed
            with socket.create_connection(("::1", low), timeout=5):  # the [::] twin is served by the proxy
                pass
        assert moor(moord, "port", "udpbox", "5353/udp").stdout.strip() == f"127.0.0.1:{udp_port}"
        shown = moor(moord, "ps", "--format", "{{.Ports}}", "--filter", "name=udpbox").stdout
        assert shown.startswith("7000-7001/tcp, ") and f"0.0.0.0:{low}->80/tcp, " in shown
        assert shown.strip().endswith(f"127.0.0.1:{udp_port}->5353/udp")
        pid = info["State"]["Pid"]
        echo = subprocess.Popen(["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", UDP_ECHO, "5353"],
                                stdout=subprocess.PIPE, text=True)
        assert echo.stdout is not None and echo.stdout.readline().strip() == "ready"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            for word in (b"one", b"two"):  # the same client twice: one upstream socket answers both
                client.sendto(word, ("127.0.0.1", udp_port))
                assert client.recvfrom(2048)[0] == b"echo " + word
        taken = moor(moord, "run", "--rm", "--network", "udpnet", "-p", f"127.0.0.1:{udp_port}:53/udp",
                     "busybox", "true")
        assert taken.returncode == 125 and f"Bind for 127.0.0.1:{udp_port} failed: port is already allocated" \
            in taken.stderr
        refused = moor(moord, "run", "--rm", "-p", "80/sctp", "busybox", "true")
        assert refused.returncode == 125 and "sctp" in refused.stderr
    finally:
        holder.close()
        if echo is not None:
            echo.kill()
            echo.wait()
        moor(moord, "rm", "-f", "udpbox")
        moor(moord, "network", "rm", "udpnet")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind(("127.0.0.1", udp_port))  # the proxy let go of the port


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False


def test_rules_survive_a_killed_moord_and_go_with_the_containers() -> None:
    before = iptables()
    daemon = DaemonProcess()
    daemon.start()
    bridge = subnet = ""
    try:
        import_busybox(daemon)
        bridge, subnet = make_network(daemon, "keepnet")
        port, short_port = free_port(), free_port()
        assert moor(daemon, "run", "-d", "--name", "keepweb", "--network", "keepnet", "-p", f"{port}:80",
                    "busybox", "sh", "-c", HTTPD).returncode == 0
        assert moor(daemon, "run", "-d", "--name", "brief", "--network", "keepnet", "-p", f"{short_port}:80",
                    "busybox", "sleep", "300").returncode == 0
        web, brief = address_of(daemon, "keepweb"), address_of(daemon, "brief")
        brief_pid = inspect(daemon, "brief")["State"]["Pid"]
        kept = rules_for(web)
        assert len(kept) == 3 and len(rules_for(brief)) == 3
        daemon.kill()
        sh("kill", "-9", str(brief_pid))  # "brief" exits while moord is down
        daemon.start()
        assert rules_for(web) == kept
        for _ in range(100):  # recorded as exited at start-up (or just after): its rules go with it
            if not rules_for(brief):
                break
            time.sleep(0.1)
        assert rules_for(brief) == []
        assert fetch(f"http://127.0.0.1:{port}/") == b"served-by-moor\n"
        with other_host() as (namespace, host_address, _own):
            assert get_from(namespace, f"http://{host_address}:{port}/") == "served-by-moor\n"
        assert moor(daemon, "stop", "-t", "1", "keepweb").returncode == 0
        assert rules_for(web) == []
        assert moor(daemon, "rm", "keepweb", "brief").returncode == 0
        assert moor(daemon, "network", "rm", "keepnet").returncode == 0
        assert daemon.stop() == 0
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            moor(daemon, "rm", "-f", "keepweb", "brief")
            moor(daemon, "network", "rm", "keepnet")
        daemon.cleanup()
    after = iptables()
    prefix = subnet.rsplit(".", 1)[0] + "."
    assert [line for line in after if bridge in line or prefix in line] == []
    assert _chains_in_use(after), [line for line in after if "MOOR" in line]
    if not any("MOOR" in line for line in before + iptables()):  # no other run uses moor's chains right now
        assert not any("MOOR" in line for line in after)


def _chains_in_use(lines: list[str]) -> bool:
    """Whether moor's chains of each table are there only with rules in them (other runs may be using them)."""
    for table in ("nat", "filter"):
        chains = [line.split()[1][1:] for line in lines if line.startswith(f"{table} :MOOR")]
        rules = [line for line in lines if any(line.startswith(f"{table} -A {chain} ") for chain in chains)]
        jumps = [line for line in lines if line.startswith(f"{table} -A ") and " -j MOOR" in line
                 and not line.split()[2].startswith("MOOR")]
        if not rules and (chains or jumps):
            return False
    return True


def test_docker_cli_publishes_udp_and_ranges(moord: DaemonProcess, docker_cli: str) -> None:
    import os

    env = {**os.environ, "DOCKER_HOST": moord.host, "DOCKER_CONFIG": moord.root}
    udp_port = free_port()
    low = next(p for p in iter(free_port, None) if p < 65535 and _free(p + 1))
    try:
        run = subprocess.run([docker_cli, "run", "-d", "--name", "dkports", "-p", f"127.0.0.1:{udp_port}:53/udp",
                              "-p", f"{low}-{low + 1}:80-81/tcp", "busybox", "sleep", "300"],
                             capture_output=True, text=True, env=env)
        assert run.returncode == 0, run.stderr
        listed = subprocess.run([docker_cli, "port", "dkports"], capture_output=True, text=True, env=env).stdout
        assert {f"53/udp -> 127.0.0.1:{udp_port}", f"80/tcp -> 0.0.0.0:{low}", f"81/tcp -> 0.0.0.0:{low + 1}"} \
            <= set(listed.splitlines()), listed
    finally:
        subprocess.run([docker_cli, "rm", "-f", "dkports"], capture_output=True, env=env)


#: a one-request HTTP server in the other host's namespace answering with the peer's address: argv = address
WHO_IS_ASKING = ("import socket, sys\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                 "s.bind((sys.argv[1], 0)); s.listen(4); print(s.getsockname()[1], flush=True)\nwhile True:\n"
                 "    c, peer = s.accept(); c.recv(1000)\n"
                 "    c.sendall(b'HTTP/1.0 200 OK\\r\\n\\r\\n' + peer[0].encode()); c.close()")


def test_outbound_masquerade_and_internal_networks(moord: DaemonProcess) -> None:
    make_network(moord, "outnet")
    assert moor(moord, "network", "create", "--internal", "--subnet", unused_subnet(212),
                "-o", f"com.docker.network.bridge.name=mt{secrets.token_hex(4)}", "innet").returncode == 0
    port = free_port()
    try:
        with other_host() as (namespace, host_address, own):
            server = subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable, "-c", WHO_IS_ASKING, own],
                                      stdout=subprocess.PIPE, text=True)
            try:
                assert server.stdout is not None
                ask = f"echo GET / | nc -w 3 {own} {server.stdout.readline().strip()}"
                seen = moor(moord, "run", "--rm", "--network", "outnet", "busybox", "sh", "-c", ask)
                assert seen.stdout.splitlines()[-1:] == [host_address], seen.stderr  # it left with the host's address
                cut_off = moor(moord, "run", "--rm", "--network", "innet", "busybox", "sh", "-c", ask)
                assert cut_off.returncode != 0 and cut_off.stdout == ""
            finally:
                server.kill()
                server.wait()
        started = moor(moord, "run", "-d", "--name", "inweb", "--network", "innet", "-p", f"127.0.0.1:{port}:80",
                       "busybox", "sh", "-c", HTTPD)
        assert started.returncode == 0, started.stderr
        ports = inspect(moord, "inweb")["NetworkSettings"]["Ports"]
        assert ports == {"80/tcp": None}  # an internal network publishes nothing, as in Docker
        assert moor(moord, "port", "inweb").stdout == ""
        assert _free(port) and rules_for(address_of(moord, "inweb")) == []
    finally:
        moor(moord, "rm", "-f", "inweb")
        for name in ("outnet", "innet"):
            moor(moord, "network", "rm", name)


def test_a_container_that_does_not_run_shows_no_ports(moord: DaemonProcess) -> None:
    make_network(moord, "idlenet")
    port = free_port()
    try:
        created = moor(moord, "create", "--name", "idle", "--network", "idlenet", "-p", "80", "--expose", "90",
                       "busybox", "true")
        assert created.returncode == 0, created.stderr
        assert inspect(moord, "idle")["NetworkSettings"]["Ports"] == {}  # as Docker
        holder = moor(moord, "run", "-d", "--name", "holder", "--network", "idlenet", "-p", f"127.0.0.1:{port}:80",
                      "busybox", "sleep", "300")
        assert holder.returncode == 0, holder.stderr
        # 7000/tcp (published first) gets a random port, then 80/tcp finds its port taken: the start fails
        clash = moor(moord, "run", "-d", "--name", "clash", "--network", "idlenet", "--expose", "7000", "-P",
                     "-p", f"127.0.0.1:{port}:80", "busybox", "sleep", "300")
        assert clash.returncode == 125 and "port is already allocated" in clash.stderr
        assert inspect(moord, "clash")["NetworkSettings"]["Ports"] == {}
        rows = moor(moord, "ps", "-a", "--filter", "name=clash", "--format", "{{.Ports}}").stdout
        assert rows == "\n"  # no port of the failed start is left behind
    finally:
        moor(moord, "rm", "-f", "idle", "holder", "clash")
        moor(moord, "network", "rm", "idlenet")


def test_a_port_another_process_holds_is_refused_with_docker_proxys_words(moord: DaemonProcess) -> None:
    make_network(moord, "heldnet")
    try:
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen(1)
            port = holder.getsockname()[1]
            refused = moor(moord, "run", "-d", "--name", "heldout", "--network", "heldnet", "-p",
                           f"127.0.0.1:{port}:80", "busybox", "sleep", "300")
        endpoint = inspect(moord, "heldout")
        assert refused.returncode == 125
        assert ("driver failed programming external connectivity on endpoint heldout (" in refused.stderr
                and f"): Error starting userland proxy: listen tcp4 127.0.0.1:{port}: bind: address already in use"
                in refused.stderr), refused.stderr
        assert endpoint["State"]["Status"] == "created"
    finally:
        moor(moord, "rm", "-f", "heldout")
        moor(moord, "network", "rm", "heldnet")
