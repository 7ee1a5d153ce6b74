"""Embedded DNS benchmark: query latency through 127.0.0.11 inside a container, side by side with Docker.

* a container's name (answered by the embedded server), UDP, median and 99th percentile of N queries
  sent one after another from the container's network namespace (nsenter -n, so the client's own cost
  is a Python loop, the same for both engines);
* the same over TCP (one connection per query);
* a name the server forwards to an upstream: a fake DNS server run by this script on an address of the
  host made for it (198.18.x.y, see moor.testing.dnsupstream.host_address), which both engines reach
  from the container's namespace (moor through ``[network] dns_upstreams``, Docker through ``--dns``),
  and that upstream asked directly from the host, for the forwarding overhead.

Only 127.0.0.0/8, the benchmark's own containers and its own fake upstream are queried.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))

from common import docker_cli, import_busybox, moor_cli, print_side_by_side, private_daemon

from moor.testing.dnsupstream import FakeUpstream, host_address

QUERIES = int(os.environ.get("BENCH_DNS_QUERIES", "2000"))

CLIENT = r"""
import json, socket, struct, sys, time
server, name, count, tcp = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "tcp"
host, port = server.rsplit(":", 1)
query = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0)
query += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
times = []
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.settimeout(5)
for i in range(count):
    start = time.perf_counter()
    if tcp:
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(struct.pack("!H", len(query)) + query)
            size = struct.unpack("!H", conn.recv(2))[0]
            data = b""
            while len(data) < size:
                data += conn.recv(size - len(data))
    else:
        udp.sendto(query, (host, int(port)))
        data = udp.recv(4096)
    times.append(time.perf_counter() - start)
    assert struct.unpack("!H", data[6:8])[0] >= 1, "no answer"
times.sort()
print(json.dumps({"median": times[len(times) // 2], "p99": times[int(len(times) * 0.99)]}))
"""


def ask(pid: int | None, server: str, name: str, tcp: bool = False) -> dict[str, float]:
    command = [sys.executable, "-c", CLIENT, server, name, str(QUERIES), "tcp" if tcp else "udp"]
    if pid is not None:
        command = ["nsenter", "-t", str(pid), "-n", *command]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def measure(cli: list[str], env: dict[str, str], upstream: FakeUpstream, dns_flag: bool) -> dict[str, float]:
    """The latencies through one engine; ``dns_flag``: name the upstream with --dns (Docker), else the
    engine's config names it (moor)."""
    def run(*args: str) -> str:
        return subprocess.run([*cli, *args], env=env, capture_output=True, check=True, text=True).stdout.strip()

    import_busybox(cli, env)
    subnet = f"10.207.{os.getpid() % 250}.0/24"
    bridge = "mb" + os.urandom(4).hex()
    run("network", "create", "--subnet", subnet, "-o", f"com.docker.network.bridge.name={bridge}", "benchdns")
    results: dict[str, float] = {}
    try:
        run("run", "-d", "--name", "dnsbench-target", "--network", "benchdns", "busybox", "sleep", "600")
        dns = ["--dns", upstream.address] if dns_flag else []
        run("run", "-d", "--name", "dnsbench-client", "--network", "benchdns", *dns, "busybox", "sleep", "600")
        pid = int(run("inspect", "-f", "{{.State.Pid}}", "dnsbench-client"))
        local = ask(pid, "127.0.0.11:53", "dnsbench-target")
        results["container name, UDP: median (us)"] = local["median"] * 1e6
        results["container name, UDP: p99 (us)"] = local["p99"] * 1e6
        over_tcp = ask(pid, "127.0.0.11:53", "dnsbench-target", tcp=True)
        results["container name, TCP: median (us)"] = over_tcp["median"] * 1e6
        forwarded = ask(pid, "127.0.0.11:53", "example.test")
        direct = ask(None, f"{upstream.address}:{upstream.port}", "example.test")
        results["forwarded name, UDP: median (us)"] = forwarded["median"] * 1e6
        results["forwarded name, UDP: p99 (us)"] = forwarded["p99"] * 1e6
        results["upstream asked directly: median (us)"] = direct["median"] * 1e6
    finally:
        subprocess.run([*cli, "rm", "-f", "dnsbench-target", "dnsbench-client"], env=env, capture_output=True)
        subprocess.run([*cli, "network", "rm", "benchdns"], env=env, capture_output=True)
    return results


def main() -> None:
    with host_address() as where:
        upstream = FakeUpstream(address=where, port=53)
        try:
            with private_daemon(f'[network]\ndns_upstreams = ["{where}"]\n') as daemon:
                moor = measure(moor_cli(daemon), dict(os.environ), upstream, dns_flag=False)
            docker = None
            with docker_cli() as docker_side:
                try:
                    docker = measure(*docker_side, upstream, dns_flag=True) if docker_side else None
                except subprocess.CalledProcessError as err:
                    print(f"  (docker side failed: {err.stderr.strip() if err.stderr else err})")
        finally:
            upstream.close()
    print_side_by_side(f"embedded DNS benchmark ({QUERIES} queries each)", moor, docker, width=42, precision=0)


if __name__ == "__main__":
    main()
