"""The monitor's userland proxies (TCP and UDP) on 127.0.0.1, and the CLI's -p forms."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from moor.monitor import ports
from moor.monitor.ports import open_proxy


@pytest.fixture
def udp_echo() -> Iterator[int]:
    """A UDP server on 127.0.0.1 answering each datagram with ``<data> from <peer port>``."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                data, peer = server.recvfrom(2048)
                server.sendto(data + f" from {peer[1]}".encode(), peer)
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def client() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(5)
    return sock


def test_udp_proxy_relays_each_client_through_its_own_upstream(udp_echo: int) -> None:
    proxy = open_proxy("udp", "127.0.0.1", 0, "127.0.0.1", udp_echo)
    try:
        with client() as first, client() as second:
            answers = []
            for sock, word in ((first, b"a"), (second, b"b"), (first, b"c")):
                sock.sendto(word, ("127.0.0.1", proxy.port))
                answers.append(sock.recvfrom(2048)[0].decode().split(" from "))
            assert [a[0] for a in answers] == ["a", "b", "c"]
            assert answers[0][1] == answers[2][1] != answers[1][1]  # one upstream socket per client address
            assert len(proxy.upstreams) == 2
    finally:
        proxy.close()


def test_idle_udp_upstreams_are_dropped(udp_echo: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "UDP_IDLE_TIMEOUT", 0.2)
    proxy = open_proxy("udp", "127.0.0.1", 0, "127.0.0.1", udp_echo)
    try:
        with client() as sock:
            sock.sendto(b"x", ("127.0.0.1", proxy.port))
            assert sock.recvfrom(2048)[0].startswith(b"x from ")
            for _ in range(100):
                if not proxy.upstreams:
                    break
                time.sleep(0.05)
            assert proxy.upstreams == {}
            sock.sendto(b"y", ("127.0.0.1", proxy.port))  # a new upstream for the next datagram
            assert sock.recvfrom(2048)[0].startswith(b"y from ")
    finally:
        proxy.close()


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_a_taken_port_is_refused_with_dockers_words(protocol: str) -> None:
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        with pytest.raises(OSError) as caught:
            open_proxy(protocol, "127.0.0.1", port, "127.0.0.1", 9)
        assert str(caught.value) == (f"Error starting userland proxy: listen {protocol}4 127.0.0.1:{port}: bind: "
                                     "address already in use")  # docker-proxy's words
    if socket.has_ipv6:
        with socket.socket(socket.AF_INET6, kind) as holder:
            holder.bind(("::1", 0))
            port = holder.getsockname()[1]
            with pytest.raises(OSError) as caught:
                open_proxy(protocol, "::1", port, "127.0.0.1", 9)
            assert str(caught.value) == (f"Error starting userland proxy: listen {protocol}6 [::1]:{port}: bind: "
                                         "address already in use")
    with pytest.raises(OSError, match="unsupported protocol"):
        open_proxy("sctp", "127.0.0.1", 0, "127.0.0.1", 9)


def test_ipv6_twin_shares_the_port_with_ipv4(udp_echo: int) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this host")
    four = open_proxy("udp", "", 0, "127.0.0.1", udp_echo)
    six = open_proxy("udp", "::", four.port, "127.0.0.1", udp_echo)
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            sock.sendto(b"six", ("::1", six.port))
            assert sock.recvfrom(2048)[0].startswith(b"six from ")
    finally:
        four.close()
        six.close()


def test_tcp_proxy_relays() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        conn.sendall(conn.recv(100).upper())
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    proxy = open_proxy("tcp", "127.0.0.1", 0, "127.0.0.1", server.getsockname()[1])
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as conn:
            conn.sendall(b"hello")
            assert conn.recv(100) == b"HELLO"
    finally:
        proxy.close()
        server.close()


def test_cli_publish_forms() -> None:
    from moor.cli.createflags import port_bindings as _port_bindings

    assert _port_bindings(("5353:53/udp", "53/udp", "8000-8002:80-82", "127.0.0.1::9000", "10.0.0.1:7:7/tcp",
                           "9100-9110:91")) == {
        "53/udp": [{"HostIp": "", "HostPort": "5353"}, {"HostIp": "", "HostPort": ""}],
        "80/tcp": [{"HostIp": "", "HostPort": "8000"}],
        "81/tcp": [{"HostIp": "", "HostPort": "8001"}],
        "82/tcp": [{"HostIp": "", "HostPort": "8002"}],
        "9000/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
        "7/tcp": [{"HostIp": "10.0.0.1", "HostPort": "7"}],
        "91/tcp": [{"HostIp": "", "HostPort": "9100-9110"}],
    }


def test_cli_refuses_mismatched_ranges(capsys: pytest.CaptureFixture[str]) -> None:
    from moor.cli.createflags import port_bindings as _port_bindings

    with pytest.raises(SystemExit):
        _port_bindings(("8000-8010:80-81",))
    assert "Invalid ranges specified for container and host Ports: 80-81 and 8000-8010" in capsys.readouterr().err


def test_port_bindings_are_checked_as_docker_does() -> None:
    from moor.containers import portspec
    from moor.errors import InvalidParameter

    assert portspec.host_ports("") == [0] and portspec.host_ports("8080") == [8080]
    assert portspec.host_ports("8000-8002") == [8000, 8001, 8002]
    portspec.validate({"53/udp": [{"HostIp": "", "HostPort": "5353"}], "80": None, "81/tcp": [{}]})
    for bad in ({"x/tcp": []}, {"0/tcp": []}, {"80/sctp": []}, {"80/tcp": [{"HostPort": "70000"}]},
                {"80/tcp": [{"HostPort": "9-8"}]}, {"80/tcp": [{"HostPort": "a"}]}):
        with pytest.raises(InvalidParameter):
            portspec.validate(bad)


def test_ps_shows_ports_as_docker_does() -> None:
    from moor.cli.portdisplay import display_ports

    def port(private: int, public: int = 0, ip: str = "", kind: str = "tcp") -> dict[str, object]:
        return {"PrivatePort": private, "Type": kind, **({"IP": ip, "PublicPort": public} if ip else {})}

    assert display_ports([]) == ""
    assert display_ports([port(80, 8080, "::"), port(80, 8080, "0.0.0.0")]) == \
        "0.0.0.0:8080->80/tcp, :::8080->80/tcp"
    assert display_ports([port(81), port(80), port(443), port(53, kind="udp")]) == "80-81/tcp, 53/udp, 443/tcp"
    assert display_ports([port(p, p, "0.0.0.0") for p in (8000, 8001, 8002)] + [port(53, 5353, "127.0.0.1", "udp")]) \
        == "0.0.0.0:8000-8002->8000-8002/tcp, 127.0.0.1:5353->53/udp"
